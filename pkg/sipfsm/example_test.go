package sipfsm_test

import (
	"errors"
	"fmt"

	"github.com/sipbus/sipbus/pkg/sipfsm"
)

// A client INVITE over UDP: the INVITE is retransmitted once, a 180 and a
// 486 arrive, the 486 is retransmitted, Timer D ends the transaction. A
// stale Timer B (cancelled by the 180, but its deadline fired anyway) is
// ignored. The caller stores state and attempt between steps.
func Example() {
	state, attempt := sipfsm.Initial, 0
	for _, in := range []sipfsm.Input{
		sipfsm.Start, sipfsm.TimerA, sipfsm.Recv1xx, sipfsm.TimerB,
		sipfsm.Recv3xx6xx, sipfsm.Recv3xx6xx, sipfsm.TimerD,
	} {
		next, actions, err := sipfsm.Next(sipfsm.ClientInvite, state, in, sipfsm.Env{Attempt: attempt})
		if errors.Is(err, sipfsm.ErrUnexpected) {
			fmt.Printf("%-10s %-10s ignored\n", state, in)
			continue
		}
		if in == sipfsm.TimerA {
			attempt++
		}
		fmt.Printf("%-10s %-10s -> %-10s %v\n", state, in, next, actions)
		state = next
	}
	// Output:
	//            Start      -> calling    [SendRequest ArmTimer(A, 500ms) ArmTimer(B, 32s)]
	// calling    TimerA     -> calling    [SendRequest ArmTimer(A, 1s)]
	// calling    Recv1xx    -> proceeding [CancelTimer(A) CancelTimer(B) PassToTU]
	// proceeding TimerB     ignored
	// proceeding Recv3xx6xx -> completed  [SendACK PassToTU ArmTimer(D, 32s)]
	// completed  Recv3xx6xx -> completed  [SendACK]
	// completed  TimerD     -> terminated [Destroy]
}

// Over a reliable transport Timer I is zero: the shell feeds it at once
// instead of storing a deadline.
func ExampleNext_reliable() {
	env := sipfsm.Env{Reliable: true}
	state, actions, _ := sipfsm.Next(sipfsm.ServerInvite, sipfsm.Completed, sipfsm.RecvACK, env)
	fmt.Println(state, actions)
	for _, a := range actions {
		if a.Kind == sipfsm.ArmTimer && a.After == 0 && a.Timer == sipfsm.I {
			state, actions, _ = sipfsm.Next(sipfsm.ServerInvite, state, sipfsm.TimerI, env)
			fmt.Println(state, actions)
		}
	}
	// Output:
	// confirmed [CancelTimer(H) ArmTimer(I, 0s)]
	// terminated [Destroy]
}
