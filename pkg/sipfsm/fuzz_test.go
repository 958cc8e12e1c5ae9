package sipfsm_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipfsm"
)

func validState(s sipfsm.State) bool { return slices.Contains(allStates, s) }

func FuzzNext(f *testing.F) {
	for _, tr := range sipfsm.Transitions() {
		f.Add(uint8(tr.Kind), string(tr.From), uint8(tr.Input), false, int64(0), int64(0), int64(0), 0)
		f.Add(uint8(tr.Kind), string(tr.From), uint8(tr.Input), true, int64(100*ms), int64(s), int64(s), 3)
	}
	f.Add(uint8(ICT), "calling", uint8(sipfsm.TimerA), false, int64(1), int64(math.MaxInt64), int64(-1), math.MaxInt)
	f.Add(uint8(0), "nope", uint8(255), true, int64(-5), int64(-9), int64(0), -1)
	f.Fuzz(func(t *testing.T, kind uint8, state string, in uint8, reliable bool, t1, t2, t4 int64, attempt int) {
		env := sipfsm.Env{
			Reliable: reliable,
			Timers:   sipfsm.Timers{T1: time.Duration(t1), T2: time.Duration(t2), T4: time.Duration(t4)},
			Attempt:  attempt,
		}
		from := sipfsm.State(state)
		to, got, err := sipfsm.Next(sipfsm.Kind(kind), from, sipfsm.Input(in), env)
		if err != nil {
			if err != sipfsm.ErrUnexpected || to != from || got != nil {
				t.Fatalf("error result %q, %v, %v", to, got, err)
			}
			return
		}
		if !validState(to) || to == sipfsm.Initial || !validState(from) {
			t.Fatalf("%q -> %q", from, to)
		}
		// Durations are sane when the timers are valid and small enough
		// for 64*T1 not to overflow.
		sane := env.Timers == sipfsm.Timers{} ||
			(env.Timers.Validate() == nil && env.Timers.T1 < time.Hour)
		destroyed := false
		for _, a := range got {
			if strings.Contains(a.Kind.String(), "(") {
				t.Fatalf("unknown action %v", a)
			}
			if (a.Kind == sipfsm.ArmTimer || a.Kind == sipfsm.CancelTimer) != (a.Timer != "") {
				t.Fatalf("timer on %v", a)
			}
			if a.Kind == sipfsm.ArmTimer && sane && a.After < 0 {
				t.Fatalf("negative duration %v", a)
			}
			if reliable && (a.Timer == sipfsm.A || a.Timer == sipfsm.E || a.Timer == sipfsm.G) {
				t.Fatalf("retransmission timer over a reliable transport: %v", a)
			}
			destroyed = destroyed || a.Kind == sipfsm.Destroy
		}
		if destroyed != (to == sipfsm.Terminated) {
			t.Fatalf("to %q with actions %v", to, got)
		}
	})
}
