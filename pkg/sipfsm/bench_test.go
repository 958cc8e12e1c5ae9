package sipfsm_test

import (
	"testing"

	"github.com/sipbus/sipbus/pkg/sipfsm"
)

// TestNextDoesNotAllocate checks the claim of Next's documentation: inlined,
// Next returns its actions without a heap allocation.
func TestNextDoesNotAllocate(t *testing.T) {
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		_, got, err := sipfsm.Next(ICT, sipfsm.Calling, sipfsm.Recv3xx6xx, udp)
		if err == nil {
			n += len(got)
		}
		_, got, _ = sipfsm.Next(ICT, sipfsm.Proceeding, sipfsm.TimerA, udp) // stale timer
		n += len(got)
	})
	if allocs != 0 {
		t.Errorf("Next allocates %.1f times per call pair, want 0", allocs)
	}
	if n == 0 {
		t.Fatal("no actions")
	}
}

func BenchmarkNext(b *testing.B) {
	cases := []struct {
		name string
		kind sipfsm.Kind
		from sipfsm.State
		in   sipfsm.Input
		env  sipfsm.Env
	}{
		{"ICT_calling_3xx", ICT, sipfsm.Calling, sipfsm.Recv3xx6xx, udp},
		{"ICT_calling_TimerA", ICT, sipfsm.Calling, sipfsm.TimerA, sipfsm.Env{Attempt: 3}},
		{"IST_completed_ACK_tcp", IST, sipfsm.Completed, sipfsm.RecvACK, tcp},
		{"NIST_trying_retransmission", NIST, sipfsm.Trying, sipfsm.RecvRequest, udp},
		{"stale_timer", ICT, sipfsm.Proceeding, sipfsm.TimerB, udp},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for range b.N {
				st, got, _ := sipfsm.Next(c.kind, c.from, c.in, c.env)
				n += len(got) + len(st)
			}
			if n < 0 {
				b.Fatal(n)
			}
		})
	}
}
