package sipfsm_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipfsm"
)

// armed returns the duration of the first ArmTimer for tm in Next's result.
func armed(t *testing.T, k sipfsm.Kind, from sipfsm.State, in sipfsm.Input, env sipfsm.Env, tm sipfsm.Timer) time.Duration {
	t.Helper()
	_, got, err := sipfsm.Next(k, from, in, env)
	if err != nil {
		t.Fatalf("Next(%s, %q, %s): %v", k, from, in, err)
	}
	for _, a := range got {
		if a.Kind == sipfsm.ArmTimer && a.Timer == tm {
			return a.After
		}
	}
	t.Fatalf("Next(%s, %q, %s) arms no timer %s: %v", k, from, in, tm, got)
	return 0
}

func TestRetransmissionTimers(t *testing.T) {
	custom := sipfsm.Timers{T1: 100 * ms, T2: 1 * s, T4: 2 * s}
	cases := []struct {
		name    string
		kind    sipfsm.Kind
		from    sipfsm.State
		in      sipfsm.Input
		timers  sipfsm.Timers
		attempt int
		timer   sipfsm.Timer
		want    time.Duration
	}{
		{"A starts at T1", ICT, sipfsm.Initial, sipfsm.Start, sipfsm.Timers{}, 0, sipfsm.A, 500 * ms},
		{"A after 1st firing", ICT, sipfsm.Calling, sipfsm.TimerA, sipfsm.Timers{}, 0, sipfsm.A, 1 * s},
		{"A after 2nd firing", ICT, sipfsm.Calling, sipfsm.TimerA, sipfsm.Timers{}, 1, sipfsm.A, 2 * s},
		{"A after 3rd firing", ICT, sipfsm.Calling, sipfsm.TimerA, sipfsm.Timers{}, 2, sipfsm.A, 4 * s},
		{"A after 4th firing", ICT, sipfsm.Calling, sipfsm.TimerA, sipfsm.Timers{}, 3, sipfsm.A, 8 * s},
		{"A after 5th firing", ICT, sipfsm.Calling, sipfsm.TimerA, sipfsm.Timers{}, 4, sipfsm.A, 16 * s},
		{"A after 6th firing reaches 64*T1", ICT, sipfsm.Calling, sipfsm.TimerA, sipfsm.Timers{}, 5, sipfsm.A, 32 * s},
		{"A stays at 64*T1 (B has fired by then)", ICT, sipfsm.Calling, sipfsm.TimerA, sipfsm.Timers{}, 6, sipfsm.A, 32 * s},
		{"A with huge attempt", ICT, sipfsm.Calling, sipfsm.TimerA, sipfsm.Timers{}, math.MaxInt, sipfsm.A, 32 * s},
		{"A with negative attempt", ICT, sipfsm.Calling, sipfsm.TimerA, sipfsm.Timers{}, -3, sipfsm.A, 1 * s},
		{"A custom T1", ICT, sipfsm.Calling, sipfsm.TimerA, custom, 2, sipfsm.A, 800 * ms},
		{"E starts at T1", NICT, sipfsm.Initial, sipfsm.Start, sipfsm.Timers{}, 0, sipfsm.E, 500 * ms},
		{"E trying 1st", NICT, sipfsm.Trying, sipfsm.TimerE, sipfsm.Timers{}, 0, sipfsm.E, 1 * s},
		{"E trying 2nd", NICT, sipfsm.Trying, sipfsm.TimerE, sipfsm.Timers{}, 1, sipfsm.E, 2 * s},
		{"E trying 3rd reaches T2", NICT, sipfsm.Trying, sipfsm.TimerE, sipfsm.Timers{}, 2, sipfsm.E, 4 * s},
		{"E trying capped at T2", NICT, sipfsm.Trying, sipfsm.TimerE, sipfsm.Timers{}, 3, sipfsm.E, 4 * s},
		{"E trying capped at T2, huge attempt", NICT, sipfsm.Trying, sipfsm.TimerE, sipfsm.Timers{}, 1 << 40, sipfsm.E, 4 * s},
		{"E trying custom T1", NICT, sipfsm.Trying, sipfsm.TimerE, custom, 2, sipfsm.E, 800 * ms},
		{"E trying custom T2 cap", NICT, sipfsm.Trying, sipfsm.TimerE, custom, 3, sipfsm.E, 1 * s},
		{"E proceeding is T2 from the start", NICT, sipfsm.Proceeding, sipfsm.TimerE, sipfsm.Timers{}, 0, sipfsm.E, 4 * s},
		{"E proceeding is T2 later", NICT, sipfsm.Proceeding, sipfsm.TimerE, sipfsm.Timers{}, 7, sipfsm.E, 4 * s},
		{"G starts at T1", IST, sipfsm.Proceeding, sipfsm.Send3xx6xx, sipfsm.Timers{}, 0, sipfsm.G, 500 * ms},
		{"G 1st", IST, sipfsm.Completed, sipfsm.TimerG, sipfsm.Timers{}, 0, sipfsm.G, 1 * s},
		{"G 2nd", IST, sipfsm.Completed, sipfsm.TimerG, sipfsm.Timers{}, 1, sipfsm.G, 2 * s},
		{"G 3rd reaches T2", IST, sipfsm.Completed, sipfsm.TimerG, sipfsm.Timers{}, 2, sipfsm.G, 4 * s},
		{"G capped at T2", IST, sipfsm.Completed, sipfsm.TimerG, sipfsm.Timers{}, 9, sipfsm.G, 4 * s},
		{"G custom", IST, sipfsm.Completed, sipfsm.TimerG, custom, 1, sipfsm.G, 400 * ms},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := sipfsm.Env{Timers: c.timers, Attempt: c.attempt}
			if got := armed(t, c.kind, c.from, c.in, env, c.timer); got != c.want {
				t.Errorf("timer %s = %s, want %s", c.timer, got, c.want)
			}
		})
	}
}

func TestFixedTimers(t *testing.T) {
	custom := sipfsm.Timers{T1: 1 * s, T2: 8 * s, T4: 7 * s}
	cases := []struct {
		name  string
		kind  sipfsm.Kind
		from  sipfsm.State
		in    sipfsm.Input
		timer sipfsm.Timer
		udp   time.Duration // default timers, UDP
		tcp   time.Duration // default timers, TCP
		cust  time.Duration // custom timers, UDP
	}{
		{"B=64*T1", ICT, sipfsm.Initial, sipfsm.Start, sipfsm.B, 32 * s, 32 * s, 64 * s},
		{"D>=32s UDP, 0 TCP", ICT, sipfsm.Calling, sipfsm.Recv3xx6xx, sipfsm.D, 32 * s, 0, 32 * s},
		{"F=64*T1", NICT, sipfsm.Initial, sipfsm.Start, sipfsm.F, 32 * s, 32 * s, 64 * s},
		{"H=64*T1", IST, sipfsm.Proceeding, sipfsm.Send3xx6xx, sipfsm.H, 32 * s, 32 * s, 64 * s},
		{"I=T4 UDP, 0 TCP", IST, sipfsm.Completed, sipfsm.RecvACK, sipfsm.I, 5 * s, 0, 7 * s},
		{"J=64*T1 UDP, 0 TCP", NIST, sipfsm.Trying, sipfsm.Send3xx6xx, sipfsm.J, 32 * s, 0, 64 * s},
		{"K=T4 UDP, 0 TCP", NICT, sipfsm.Trying, sipfsm.Recv2xx, sipfsm.K, 5 * s, 0, 7 * s},
		{"L=64*T1", IST, sipfsm.Proceeding, sipfsm.Send2xx, sipfsm.L, 32 * s, 32 * s, 64 * s},
		{"M=64*T1", ICT, sipfsm.Proceeding, sipfsm.Recv2xx, sipfsm.M, 32 * s, 32 * s, 64 * s},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := armed(t, c.kind, c.from, c.in, udp, c.timer); got != c.udp {
				t.Errorf("UDP: %s = %s, want %s", c.timer, got, c.udp)
			}
			if got := armed(t, c.kind, c.from, c.in, sipfsm.Env{Timers: sipfsm.DefaultTimers()}, c.timer); got != c.udp {
				t.Errorf("explicit defaults: %s = %s, want %s", c.timer, got, c.udp)
			}
			if got := armed(t, c.kind, c.from, c.in, tcp, c.timer); got != c.tcp {
				t.Errorf("TCP: %s = %s, want %s", c.timer, got, c.tcp)
			}
			if got := armed(t, c.kind, c.from, c.in, sipfsm.Env{Timers: custom}, c.timer); got != c.cust {
				t.Errorf("custom: %s = %s, want %s", c.timer, got, c.cust)
			}
		})
	}
}

// TestReliableTransport checks every row over TCP: no A, E or G anywhere,
// D, I, J and K zero, and a zero timer fed at once leads to Terminated.
func TestReliableTransport(t *testing.T) {
	for _, tr := range sipfsm.Transitions() {
		to, got, err := sipfsm.Next(tr.Kind, tr.From, tr.Input, tcp)
		if retransmitInput(tr.Input) {
			if err != sipfsm.ErrUnexpected {
				t.Errorf("%s/%q+%s over TCP: err %v, want ErrUnexpected", tr.Kind, tr.From, tr.Input, err)
			}
			continue
		}
		if err != nil || to != tr.To {
			t.Fatalf("%s/%q+%s over TCP: %q, %v", tr.Kind, tr.From, tr.Input, to, err)
		}
		for _, a := range got {
			switch a.Timer {
			case sipfsm.A, sipfsm.E, sipfsm.G:
				t.Errorf("%s/%q+%s over TCP: %v", tr.Kind, tr.From, tr.Input, a)
			case sipfsm.D, sipfsm.I, sipfsm.J, sipfsm.K:
				if a.Kind != sipfsm.ArmTimer {
					continue
				}
				if a.After != 0 {
					t.Errorf("%s/%q+%s over TCP: %v, want 0", tr.Kind, tr.From, tr.Input, a)
				}
				fire := map[sipfsm.Timer]sipfsm.Input{
					sipfsm.D: sipfsm.TimerD, sipfsm.I: sipfsm.TimerI, sipfsm.J: sipfsm.TimerJ, sipfsm.K: sipfsm.TimerK,
				}[a.Timer]
				end, last, err := sipfsm.Next(tr.Kind, to, fire, tcp)
				if err != nil || end != sipfsm.Terminated || !slices.Equal(last, acts(destroy)) {
					t.Errorf("%s/%q then %s: %q %v %v, want terminated [Destroy]", tr.Kind, to, fire, end, last, err)
				}
			}
		}
	}
}

func TestTimersValidate(t *testing.T) {
	cases := []struct {
		name   string
		timers sipfsm.Timers
		want   []string // fields named in the error; none means valid
	}{
		{"defaults", sipfsm.DefaultTimers(), nil},
		{"T2 equal T1", sipfsm.Timers{T1: s, T2: s, T4: s}, nil},
		{"zero T1", sipfsm.Timers{T2: 4 * s, T4: 5 * s}, []string{"T1"}},
		{"negative T1", sipfsm.Timers{T1: -ms, T2: 4 * s, T4: 5 * s}, []string{"T1"}},
		{"T2 below T1", sipfsm.Timers{T1: 5 * s, T2: 4 * s, T4: 5 * s}, []string{"T2"}},
		{"zero T4", sipfsm.Timers{T1: 500 * ms, T2: 4 * s}, []string{"T4"}},
		{"zero value", sipfsm.Timers{}, []string{"T1", "T4"}},
		{"all wrong", sipfsm.Timers{T1: -s, T2: -2 * s, T4: -s}, []string{"T1", "T2", "T4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.timers.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %v", c.want)
			}
			for _, f := range c.want {
				if !strings.Contains(err.Error(), f+" must") {
					t.Errorf("Validate() = %q, does not name %s", err, f)
				}
			}
		})
	}
	if d := sipfsm.DefaultTimers(); d.T1 != 500*ms || d.T2 != 4*s || d.T4 != 5*s {
		t.Errorf("DefaultTimers() = %+v", d)
	}
}
