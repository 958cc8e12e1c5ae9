package sipfsm_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipfsm"
)

// Names used by the tables.
const (
	ICT  = sipfsm.ClientInvite
	NICT = sipfsm.ClientNonInvite
	IST  = sipfsm.ServerInvite
	NIST = sipfsm.ServerNonInvite

	ms = time.Millisecond
	s  = time.Second
)

var (
	udp = sipfsm.Env{}
	tcp = sipfsm.Env{Reliable: true}
)

func act(k sipfsm.ActionKind) sipfsm.Action { return sipfsm.Action{Kind: k} }
func armT(t sipfsm.Timer, d time.Duration) sipfsm.Action {
	return sipfsm.Action{Kind: sipfsm.ArmTimer, Timer: t, After: d}
}
func cancelT(t sipfsm.Timer) sipfsm.Action {
	return sipfsm.Action{Kind: sipfsm.CancelTimer, Timer: t}
}

var (
	sendReq    = act(sipfsm.SendRequest)
	sendACK    = act(sipfsm.SendACK)
	toTU       = act(sipfsm.PassToTU)
	sendResp   = act(sipfsm.SendResponse)
	resendResp = act(sipfsm.ResendResponse)
	timeout    = act(sipfsm.TimeoutToTU)
	tpErr      = act(sipfsm.TransportErrorToTU)
	destroy    = act(sipfsm.Destroy)
)

func acts(a ...sipfsm.Action) []sipfsm.Action { return a }

// transitionCase is one expected transition. Its name starts with the RFC
// section that the table row cites.
type transitionCase struct {
	name string
	kind sipfsm.Kind
	from sipfsm.State
	in   sipfsm.Input
	env  sipfsm.Env
	to   sipfsm.State
	acts []sipfsm.Action
}

// transitionCases holds one case per arrow (or absorbed input) of Figures
// 5 to 8 as amended by RFC 6026, on UDP with the default timers: T1 500ms,
// 64*T1 32s, T2 4s, T4 5s.
var transitionCases = []transitionCase{
	// Figure 5, client INVITE.
	{"RFC 3261 §17.1.1.2 ICT initial: Start sends INVITE, arms A=T1 and B=64*T1", ICT, sipfsm.Initial, sipfsm.Start, udp,
		sipfsm.Calling, acts(sendReq, armT(sipfsm.A, 500*ms), armT(sipfsm.B, 32*s))},
	{"RFC 3261 §17.1.1.2 ICT calling: Timer A retransmits and doubles", ICT, sipfsm.Calling, sipfsm.TimerA, udp,
		sipfsm.Calling, acts(sendReq, armT(sipfsm.A, 1*s))},
	{"RFC 3261 §17.1.1.2 ICT calling: Timer B informs the TU of the timeout", ICT, sipfsm.Calling, sipfsm.TimerB, udp,
		sipfsm.Terminated, acts(cancelT(sipfsm.A), timeout, destroy)},
	{"RFC 3261 §17.1.1.2 ICT calling: transport error informs the TU", ICT, sipfsm.Calling, sipfsm.TransportError, udp,
		sipfsm.Terminated, acts(cancelT(sipfsm.A), cancelT(sipfsm.B), tpErr, destroy)},
	{"RFC 3261 §17.1.1.2 ICT calling: 1xx stops retransmissions, goes to TU", ICT, sipfsm.Calling, sipfsm.Recv1xx, udp,
		sipfsm.Proceeding, acts(cancelT(sipfsm.A), cancelT(sipfsm.B), toTU)},
	{"RFC 6026 §8.4 ICT calling: 2xx goes to TU, Accepted arms M=64*T1", ICT, sipfsm.Calling, sipfsm.Recv2xx, udp,
		sipfsm.Accepted, acts(cancelT(sipfsm.A), cancelT(sipfsm.B), toTU, armT(sipfsm.M, 32*s))},
	{"RFC 3261 §17.1.1.2 ICT calling: 300-699 is ACKed, goes to TU, arms D", ICT, sipfsm.Calling, sipfsm.Recv3xx6xx, udp,
		sipfsm.Completed, acts(cancelT(sipfsm.A), cancelT(sipfsm.B), sendACK, toTU, armT(sipfsm.D, 32*s))},
	{"RFC 3261 §17.1.1.2 ICT proceeding: further 1xx go to TU", ICT, sipfsm.Proceeding, sipfsm.Recv1xx, udp,
		sipfsm.Proceeding, acts(toTU)},
	{"RFC 6026 §8.4 ICT proceeding: 2xx goes to TU, Accepted arms M", ICT, sipfsm.Proceeding, sipfsm.Recv2xx, udp,
		sipfsm.Accepted, acts(toTU, armT(sipfsm.M, 32*s))},
	{"RFC 3261 §17.1.1.2 ICT proceeding: 300-699 is ACKed, goes to TU, arms D", ICT, sipfsm.Proceeding, sipfsm.Recv3xx6xx, udp,
		sipfsm.Completed, acts(sendACK, toTU, armT(sipfsm.D, 32*s))},
	{"RFC 3261 §17.1.1.2 ICT completed: retransmitted 300-699 is ACKed again, not passed up", ICT, sipfsm.Completed, sipfsm.Recv3xx6xx, udp,
		sipfsm.Completed, acts(sendACK)},
	{"RFC 3261 §17.1.1.2 ICT completed: transport error informs the TU", ICT, sipfsm.Completed, sipfsm.TransportError, udp,
		sipfsm.Terminated, acts(cancelT(sipfsm.D), tpErr, destroy)},
	{"RFC 3261 §17.1.1.2 ICT completed: Timer D terminates", ICT, sipfsm.Completed, sipfsm.TimerD, udp,
		sipfsm.Terminated, acts(destroy)},
	{"RFC 6026 §8.4 ICT accepted: 2xx retransmissions go to TU", ICT, sipfsm.Accepted, sipfsm.Recv2xx, udp,
		sipfsm.Accepted, acts(toTU)},
	{"RFC 6026 §8.4 ICT accepted: Timer M terminates", ICT, sipfsm.Accepted, sipfsm.TimerM, udp,
		sipfsm.Terminated, acts(destroy)},

	// Figure 6, client non-INVITE.
	{"RFC 3261 §17.1.2.2 NICT initial: Start sends the request, arms E=T1 and F=64*T1", NICT, sipfsm.Initial, sipfsm.Start, udp,
		sipfsm.Trying, acts(sendReq, armT(sipfsm.E, 500*ms), armT(sipfsm.F, 32*s))},
	{"RFC 3261 §17.1.2.2 NICT trying: Timer E retransmits, MIN(2*T1, T2)", NICT, sipfsm.Trying, sipfsm.TimerE, udp,
		sipfsm.Trying, acts(sendReq, armT(sipfsm.E, 1*s))},
	{"RFC 3261 §17.1.2.2 NICT trying: Timer F informs the TU of the timeout", NICT, sipfsm.Trying, sipfsm.TimerF, udp,
		sipfsm.Terminated, acts(cancelT(sipfsm.E), timeout, destroy)},
	{"RFC 3261 §17.1.2.2 NICT trying: transport error informs the TU", NICT, sipfsm.Trying, sipfsm.TransportError, udp,
		sipfsm.Terminated, acts(cancelT(sipfsm.E), cancelT(sipfsm.F), tpErr, destroy)},
	{"RFC 3261 §17.1.2.2 NICT trying: 1xx goes to TU", NICT, sipfsm.Trying, sipfsm.Recv1xx, udp,
		sipfsm.Proceeding, acts(toTU)},
	{"RFC 3261 §17.1.2.2 NICT trying: 2xx goes to TU, arms K=T4", NICT, sipfsm.Trying, sipfsm.Recv2xx, udp,
		sipfsm.Completed, acts(cancelT(sipfsm.E), cancelT(sipfsm.F), toTU, armT(sipfsm.K, 5*s))},
	{"RFC 3261 §17.1.2.2 NICT trying: 300-699 goes to TU, arms K=T4", NICT, sipfsm.Trying, sipfsm.Recv3xx6xx, udp,
		sipfsm.Completed, acts(cancelT(sipfsm.E), cancelT(sipfsm.F), toTU, armT(sipfsm.K, 5*s))},
	{"RFC 3261 §17.1.2.2 NICT proceeding: Timer E retransmits at T2", NICT, sipfsm.Proceeding, sipfsm.TimerE, udp,
		sipfsm.Proceeding, acts(sendReq, armT(sipfsm.E, 4*s))},
	{"RFC 3261 §17.1.2.2 NICT proceeding: Timer F informs the TU of the timeout", NICT, sipfsm.Proceeding, sipfsm.TimerF, udp,
		sipfsm.Terminated, acts(cancelT(sipfsm.E), timeout, destroy)},
	{"RFC 3261 §17.1.2.2 NICT proceeding: transport error informs the TU", NICT, sipfsm.Proceeding, sipfsm.TransportError, udp,
		sipfsm.Terminated, acts(cancelT(sipfsm.E), cancelT(sipfsm.F), tpErr, destroy)},
	{"RFC 3261 §17.1.2.2 NICT proceeding: further 1xx go to TU", NICT, sipfsm.Proceeding, sipfsm.Recv1xx, udp,
		sipfsm.Proceeding, acts(toTU)},
	{"RFC 3261 §17.1.2.2 NICT proceeding: 2xx goes to TU, arms K", NICT, sipfsm.Proceeding, sipfsm.Recv2xx, udp,
		sipfsm.Completed, acts(cancelT(sipfsm.E), cancelT(sipfsm.F), toTU, armT(sipfsm.K, 5*s))},
	{"RFC 3261 §17.1.2.2 NICT proceeding: 300-699 goes to TU, arms K", NICT, sipfsm.Proceeding, sipfsm.Recv3xx6xx, udp,
		sipfsm.Completed, acts(cancelT(sipfsm.E), cancelT(sipfsm.F), toTU, armT(sipfsm.K, 5*s))},
	{"RFC 3261 §17.1.2.2 NICT completed: 1xx retransmission absorbed", NICT, sipfsm.Completed, sipfsm.Recv1xx, udp,
		sipfsm.Completed, nil},
	{"RFC 3261 §17.1.2.2 NICT completed: 2xx retransmission absorbed", NICT, sipfsm.Completed, sipfsm.Recv2xx, udp,
		sipfsm.Completed, nil},
	{"RFC 3261 §17.1.2.2 NICT completed: 300-699 retransmission absorbed", NICT, sipfsm.Completed, sipfsm.Recv3xx6xx, udp,
		sipfsm.Completed, nil},
	{"RFC 3261 §17.1.2.2 NICT completed: Timer K terminates", NICT, sipfsm.Completed, sipfsm.TimerK, udp,
		sipfsm.Terminated, acts(destroy)},

	// Figure 7, server INVITE.
	{"RFC 3261 §17.2.1 IST initial: INVITE creates the transaction, goes to TU", IST, sipfsm.Initial, sipfsm.RecvRequest, udp,
		sipfsm.Proceeding, acts(toTU)},
	{"RFC 3261 §17.2.1 IST proceeding: INVITE retransmission resends the last 1xx", IST, sipfsm.Proceeding, sipfsm.RecvRequest, udp,
		sipfsm.Proceeding, acts(resendResp)},
	{"RFC 3261 §17.2.1 IST proceeding: 1xx from TU is sent", IST, sipfsm.Proceeding, sipfsm.Send1xx, udp,
		sipfsm.Proceeding, acts(sendResp)},
	{"RFC 6026 §8.5 IST proceeding: 2xx from TU is sent, Accepted arms L=64*T1", IST, sipfsm.Proceeding, sipfsm.Send2xx, udp,
		sipfsm.Accepted, acts(sendResp, armT(sipfsm.L, 32*s))},
	{"RFC 3261 §17.2.1 IST proceeding: 300-699 from TU is sent, arms G=T1 and H=64*T1", IST, sipfsm.Proceeding, sipfsm.Send3xx6xx, udp,
		sipfsm.Completed, acts(sendResp, armT(sipfsm.G, 500*ms), armT(sipfsm.H, 32*s))},
	{"RFC 6026 §8.8 IST proceeding: transport error informs the TU, state kept", IST, sipfsm.Proceeding, sipfsm.TransportError, udp,
		sipfsm.Proceeding, acts(tpErr)},
	{"RFC 3261 §17.2.1 IST completed: INVITE retransmission resends the final response", IST, sipfsm.Completed, sipfsm.RecvRequest, udp,
		sipfsm.Completed, acts(resendResp)},
	{"RFC 3261 §17.2.1 IST completed: Timer G resends, MIN(2*T1, T2)", IST, sipfsm.Completed, sipfsm.TimerG, udp,
		sipfsm.Completed, acts(resendResp, armT(sipfsm.G, 1*s))},
	{"RFC 3261 §17.2.1 IST completed: ACK confirms, arms I=T4", IST, sipfsm.Completed, sipfsm.RecvACK, udp,
		sipfsm.Confirmed, acts(cancelT(sipfsm.G), cancelT(sipfsm.H), armT(sipfsm.I, 5*s))},
	{"RFC 3261 §17.2.1 IST completed: Timer H informs the TU, no ACK came", IST, sipfsm.Completed, sipfsm.TimerH, udp,
		sipfsm.Terminated, acts(cancelT(sipfsm.G), timeout, destroy)},
	{"RFC 6026 §8.8 IST completed: transport error informs the TU, state kept", IST, sipfsm.Completed, sipfsm.TransportError, udp,
		sipfsm.Completed, acts(tpErr)},
	{"RFC 3261 §17.2.1 IST confirmed: ACK retransmission absorbed", IST, sipfsm.Confirmed, sipfsm.RecvACK, udp,
		sipfsm.Confirmed, nil},
	{"RFC 3261 §17.2.1 IST confirmed: Timer I terminates", IST, sipfsm.Confirmed, sipfsm.TimerI, udp,
		sipfsm.Terminated, acts(destroy)},
	{"RFC 6026 §8.7 IST accepted: INVITE retransmission absorbed", IST, sipfsm.Accepted, sipfsm.RecvRequest, udp,
		sipfsm.Accepted, nil},
	{"RFC 6026 §8.7 IST accepted: ACK goes to TU", IST, sipfsm.Accepted, sipfsm.RecvACK, udp,
		sipfsm.Accepted, acts(toTU)},
	{"RFC 6026 §8.7 IST accepted: 2xx retransmission from TU is sent", IST, sipfsm.Accepted, sipfsm.Send2xx, udp,
		sipfsm.Accepted, acts(sendResp)},
	{"RFC 6026 §8.7 IST accepted: Timer L terminates", IST, sipfsm.Accepted, sipfsm.TimerL, udp,
		sipfsm.Terminated, acts(destroy)},
	{"RFC 6026 §8.8 IST accepted: transport error informs the TU, state kept", IST, sipfsm.Accepted, sipfsm.TransportError, udp,
		sipfsm.Accepted, acts(tpErr)},

	// Figure 8, server non-INVITE.
	{"RFC 3261 §17.2.2 NIST initial: request creates the transaction, goes to TU", NIST, sipfsm.Initial, sipfsm.RecvRequest, udp,
		sipfsm.Trying, acts(toTU)},
	{"RFC 3261 §17.2.2 NIST trying: request retransmission discarded", NIST, sipfsm.Trying, sipfsm.RecvRequest, udp,
		sipfsm.Trying, nil},
	{"RFC 3261 §17.2.2 NIST trying: 1xx from TU is sent", NIST, sipfsm.Trying, sipfsm.Send1xx, udp,
		sipfsm.Proceeding, acts(sendResp)},
	{"RFC 3261 §17.2.2 NIST trying: 2xx from TU is sent, arms J=64*T1", NIST, sipfsm.Trying, sipfsm.Send2xx, udp,
		sipfsm.Completed, acts(sendResp, armT(sipfsm.J, 32*s))},
	{"RFC 3261 §17.2.2 NIST trying: 300-699 from TU is sent, arms J", NIST, sipfsm.Trying, sipfsm.Send3xx6xx, udp,
		sipfsm.Completed, acts(sendResp, armT(sipfsm.J, 32*s))},
	{"RFC 3261 §17.2.2 NIST proceeding: request retransmission resends the last 1xx", NIST, sipfsm.Proceeding, sipfsm.RecvRequest, udp,
		sipfsm.Proceeding, acts(resendResp)},
	{"RFC 3261 §17.2.2 NIST proceeding: further 1xx from TU are sent", NIST, sipfsm.Proceeding, sipfsm.Send1xx, udp,
		sipfsm.Proceeding, acts(sendResp)},
	{"RFC 3261 §17.2.2 NIST proceeding: 2xx from TU is sent, arms J", NIST, sipfsm.Proceeding, sipfsm.Send2xx, udp,
		sipfsm.Completed, acts(sendResp, armT(sipfsm.J, 32*s))},
	{"RFC 3261 §17.2.2 NIST proceeding: 300-699 from TU is sent, arms J", NIST, sipfsm.Proceeding, sipfsm.Send3xx6xx, udp,
		sipfsm.Completed, acts(sendResp, armT(sipfsm.J, 32*s))},
	{"RFC 6026 §8.8 NIST proceeding: transport error informs the TU, state kept", NIST, sipfsm.Proceeding, sipfsm.TransportError, udp,
		sipfsm.Proceeding, acts(tpErr)},
	{"RFC 3261 §17.2.2 NIST completed: request retransmission resends the final response", NIST, sipfsm.Completed, sipfsm.RecvRequest, udp,
		sipfsm.Completed, acts(resendResp)},
	{"RFC 3261 §17.2.2 NIST completed: another 2xx from TU discarded", NIST, sipfsm.Completed, sipfsm.Send2xx, udp,
		sipfsm.Completed, nil},
	{"RFC 3261 §17.2.2 NIST completed: another 300-699 from TU discarded", NIST, sipfsm.Completed, sipfsm.Send3xx6xx, udp,
		sipfsm.Completed, nil},
	{"RFC 6026 §8.8 NIST completed: transport error informs the TU, state kept", NIST, sipfsm.Completed, sipfsm.TransportError, udp,
		sipfsm.Completed, acts(tpErr)},
	{"RFC 3261 §17.2.2 NIST completed: Timer J terminates", NIST, sipfsm.Completed, sipfsm.TimerJ, udp,
		sipfsm.Terminated, acts(destroy)},
}

// reliableCases are transitions whose actions change on a reliable
// transport: no A, E, G; D, I, J, K zero.
var reliableCases = []transitionCase{
	{"RFC 3261 §17.1.1.2 ICT initial over TCP: no Timer A", ICT, sipfsm.Initial, sipfsm.Start, tcp,
		sipfsm.Calling, acts(sendReq, armT(sipfsm.B, 32*s))},
	{"RFC 3261 §17.1.1.2 ICT calling over TCP: Timer B cancels nothing else", ICT, sipfsm.Calling, sipfsm.TimerB, tcp,
		sipfsm.Terminated, acts(timeout, destroy)},
	{"RFC 3261 §17.1.1.2 ICT calling over TCP: 1xx cancels B only", ICT, sipfsm.Calling, sipfsm.Recv1xx, tcp,
		sipfsm.Proceeding, acts(cancelT(sipfsm.B), toTU)},
	{"RFC 3261 §17.1.1.2 ICT calling over TCP: 300-699 arms D=0", ICT, sipfsm.Calling, sipfsm.Recv3xx6xx, tcp,
		sipfsm.Completed, acts(cancelT(sipfsm.B), sendACK, toTU, armT(sipfsm.D, 0))},
	{"RFC 6026 §8.4 ICT calling over TCP: 2xx arms M=64*T1", ICT, sipfsm.Calling, sipfsm.Recv2xx, tcp,
		sipfsm.Accepted, acts(cancelT(sipfsm.B), toTU, armT(sipfsm.M, 32*s))},
	{"RFC 3261 §17.1.2.2 NICT initial over TCP: no Timer E", NICT, sipfsm.Initial, sipfsm.Start, tcp,
		sipfsm.Trying, acts(sendReq, armT(sipfsm.F, 32*s))},
	{"RFC 3261 §17.1.2.2 NICT trying over TCP: final arms K=0", NICT, sipfsm.Trying, sipfsm.Recv2xx, tcp,
		sipfsm.Completed, acts(cancelT(sipfsm.F), toTU, armT(sipfsm.K, 0))},
	{"RFC 3261 §17.1.2.2 NICT proceeding over TCP: Timer F cancels nothing else", NICT, sipfsm.Proceeding, sipfsm.TimerF, tcp,
		sipfsm.Terminated, acts(timeout, destroy)},
	{"RFC 3261 §17.2.1 IST proceeding over TCP: 300-699 arms H only", IST, sipfsm.Proceeding, sipfsm.Send3xx6xx, tcp,
		sipfsm.Completed, acts(sendResp, armT(sipfsm.H, 32*s))},
	{"RFC 3261 §17.2.1 IST completed over TCP: ACK arms I=0", IST, sipfsm.Completed, sipfsm.RecvACK, tcp,
		sipfsm.Confirmed, acts(cancelT(sipfsm.H), armT(sipfsm.I, 0))},
	{"RFC 3261 §17.2.1 IST completed over TCP: Timer H cancels nothing else", IST, sipfsm.Completed, sipfsm.TimerH, tcp,
		sipfsm.Terminated, acts(timeout, destroy)},
	{"RFC 3261 §17.2.2 NIST trying over TCP: final arms J=0", NIST, sipfsm.Trying, sipfsm.Send2xx, tcp,
		sipfsm.Completed, acts(sendResp, armT(sipfsm.J, 0))},
}

func runCases(t *testing.T, cases []transitionCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			to, got, err := sipfsm.Next(c.kind, c.from, c.in, c.env)
			if err != nil {
				t.Fatalf("Next(%s, %q, %s) error %v", c.kind, c.from, c.in, err)
			}
			if to != c.to {
				t.Errorf("state %q, want %q", to, c.to)
			}
			if !slices.Equal(got, c.acts) {
				t.Errorf("actions\n got %v\nwant %v", got, c.acts)
			}
		})
	}
}

func TestNext(t *testing.T)         { runCases(t, transitionCases) }
func TestNextReliable(t *testing.T) { runCases(t, reliableCases) }

type tuple struct {
	kind sipfsm.Kind
	from sipfsm.State
	in   sipfsm.Input
}

// TestTransitionCoverage checks that transitionCases holds exactly one case
// per table row, named after the row's section.
func TestTransitionCoverage(t *testing.T) {
	rows := map[tuple]sipfsm.Transition{}
	for _, tr := range sipfsm.Transitions() {
		rows[tuple{tr.Kind, tr.From, tr.Input}] = tr
	}
	hit := map[tuple]string{}
	for _, c := range transitionCases {
		k := tuple{c.kind, c.from, c.in}
		tr, ok := rows[k]
		switch {
		case !ok:
			t.Errorf("case %q: no row for %s/%q/%s", c.name, c.kind, c.from, c.in)
		case hit[k] != "":
			t.Errorf("case %q repeats %q", c.name, hit[k])
		case !strings.HasPrefix(c.name, tr.Section+" "):
			t.Errorf("case %q: row cites %q", c.name, tr.Section)
		}
		hit[k] = c.name
	}
	for k, tr := range rows {
		if hit[k] == "" {
			t.Errorf("row %s %s/%q+%s -> %q has no test case", tr.Section, k.kind, k.from, k.in, tr.To)
		}
	}
	if len(rows) != len(sipfsm.Transitions()) {
		t.Errorf("Transitions has duplicate rows: %d unique of %d", len(rows), len(sipfsm.Transitions()))
	}
}

// TestTransitionsMatchNext checks the documented table against Next.
func TestTransitionsMatchNext(t *testing.T) {
	for _, tr := range sipfsm.Transitions() {
		to, got, err := sipfsm.Next(tr.Kind, tr.From, tr.Input, udp)
		if err != nil || to != tr.To {
			t.Errorf("%s %s/%q+%s: Next = %q, %v; table says %q", tr.Section, tr.Kind, tr.From, tr.Input, to, err, tr.To)
			continue
		}
		kinds := make([]sipfsm.ActionKind, len(got))
		for i, a := range got {
			kinds[i] = a.Kind
		}
		if !slices.Equal(kinds, tr.Actions) {
			t.Errorf("%s %s/%q+%s: Next actions %v; table says %v", tr.Section, tr.Kind, tr.From, tr.Input, kinds, tr.Actions)
		}
		if !strings.HasPrefix(tr.Section, "RFC 3261 §17.") && !strings.HasPrefix(tr.Section, "RFC 6026 §") {
			t.Errorf("%s/%q+%s: section %q", tr.Kind, tr.From, tr.Input, tr.Section)
		}
		if (tr.To == sipfsm.Terminated) != slices.Contains(tr.Actions, sipfsm.Destroy) {
			t.Errorf("%s/%q+%s: Destroy must come exactly with Terminated", tr.Kind, tr.From, tr.Input)
		}
		if tr.To == sipfsm.Terminated && tr.Actions[len(tr.Actions)-1] != sipfsm.Destroy {
			t.Errorf("%s/%q+%s: Destroy must be the last action", tr.Kind, tr.From, tr.Input)
		}
	}
	// Transitions returns a copy.
	trs := sipfsm.Transitions()
	trs[0].Actions[0] = sipfsm.Destroy
	if sipfsm.Transitions()[0].Actions[0] == sipfsm.Destroy {
		t.Error("Transitions shares its slices with the table")
	}
}

var allStates = []sipfsm.State{
	sipfsm.Initial, sipfsm.Calling, sipfsm.Trying, sipfsm.Proceeding,
	sipfsm.Completed, sipfsm.Confirmed, sipfsm.Accepted, sipfsm.Terminated,
}

func retransmitInput(in sipfsm.Input) bool {
	return in == sipfsm.TimerA || in == sipfsm.TimerE || in == sipfsm.TimerG
}

// TestUnexpected checks every (kind, state, input) outside the table,
// including unknown kinds, states and inputs, and the retransmission timers
// on reliable transports.
func TestUnexpected(t *testing.T) {
	inTable := map[tuple]bool{}
	for _, tr := range sipfsm.Transitions() {
		inTable[tuple{tr.Kind, tr.From, tr.Input}] = true
	}
	states := append(slices.Clone(allStates), "bogus", "Calling")
	checked := 0
	for k := sipfsm.Kind(0); k <= sipfsm.ServerNonInvite+1; k++ {
		for _, st := range states {
			for in := sipfsm.Input(0); in <= sipfsm.TimerL+2; in++ {
				for _, env := range []sipfsm.Env{udp, tcp} {
					if inTable[tuple{k, st, in}] && !(env.Reliable && retransmitInput(in)) {
						continue
					}
					checked++
					to, got, err := sipfsm.Next(k, st, in, env)
					if err != sipfsm.ErrUnexpected || to != st || got != nil {
						t.Errorf("Next(%s, %q, %s, reliable=%v) = %q, %v, %v; want %q, nil, ErrUnexpected",
							k, st, in, env.Reliable, to, got, err, st)
					}
				}
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d combinations checked", checked)
	}
	// Stale timers named by the package documentation.
	for _, c := range []tuple{
		{ICT, sipfsm.Proceeding, sipfsm.TimerA},
		{ICT, sipfsm.Proceeding, sipfsm.TimerB},
		{ICT, sipfsm.Completed, sipfsm.TimerB},
		{NICT, sipfsm.Completed, sipfsm.TimerE},
		{IST, sipfsm.Confirmed, sipfsm.TimerG},
		{IST, sipfsm.Confirmed, sipfsm.TimerH},
	} {
		if _, _, err := sipfsm.Next(c.kind, c.from, c.in, udp); !errors.Is(err, sipfsm.ErrUnexpected) {
			t.Errorf("stale %s in %s/%q: err %v", c.in, c.kind, c.from, err)
		}
	}
}

// TestTimerBookkeeping walks every reachable (state, running timers) pair of
// each machine, on UDP and TCP, and checks that the actions keep the
// caller's deadlines exact: a timer is cancelled only while running, armed
// only while stopped (or re-armed when it fired), every running timer's
// input is accepted and no stopped timer's is, and nothing runs after
// Destroy. It also checks that every row is reachable from Initial.
func TestTimerBookkeeping(t *testing.T) {
	timers := []sipfsm.Timer{sipfsm.A, sipfsm.B, sipfsm.D, sipfsm.E, sipfsm.F, sipfsm.G, sipfsm.H, sipfsm.I, sipfsm.J, sipfsm.K, sipfsm.L, sipfsm.M}
	timerInput := map[sipfsm.Timer]sipfsm.Input{
		sipfsm.A: sipfsm.TimerA, sipfsm.B: sipfsm.TimerB, sipfsm.D: sipfsm.TimerD, sipfsm.E: sipfsm.TimerE,
		sipfsm.F: sipfsm.TimerF, sipfsm.G: sipfsm.TimerG, sipfsm.H: sipfsm.TimerH, sipfsm.I: sipfsm.TimerI,
		sipfsm.J: sipfsm.TimerJ, sipfsm.K: sipfsm.TimerK, sipfsm.L: sipfsm.TimerL, sipfsm.M: sipfsm.TimerM,
	}
	inputTimer := map[sipfsm.Input]sipfsm.Timer{}
	for tm, in := range timerInput {
		inputTimer[in] = tm
	}
	type config struct {
		state   sipfsm.State
		running string // sorted timer names
	}
	key := func(set map[sipfsm.Timer]bool) string {
		var b strings.Builder
		for _, tm := range timers {
			if set[tm] {
				b.WriteString(string(tm))
			}
		}
		return b.String()
	}
	reached := map[tuple]bool{}
	for _, kind := range []sipfsm.Kind{ICT, NICT, IST, NIST} {
		for _, env := range []sipfsm.Env{udp, tcp} {
			seen := map[config]bool{}
			queue := []config{{state: sipfsm.Initial}}
			for len(queue) > 0 {
				c := queue[0]
				queue = queue[1:]
				if seen[c] {
					continue
				}
				seen[c] = true
				for in := sipfsm.Start; in <= sipfsm.TimerL; in++ {
					where := fmt.Sprintf("%s reliable=%v %q running [%s] + %s", kind, env.Reliable, c.state, c.running, in)
					fired, isTimer := inputTimer[in]
					running := isTimer && strings.Contains(c.running, string(fired))
					to, got, err := sipfsm.Next(kind, c.state, in, env)
					if err != nil {
						if running {
							t.Errorf("%s: timer %s is running but its input is unexpected", where, fired)
						}
						continue
					}
					reached[tuple{kind, c.state, in}] = true
					if isTimer && !running {
						t.Errorf("%s: timer %s is not running but its input is accepted", where, fired)
					}
					set := map[sipfsm.Timer]bool{}
					for _, r := range c.running {
						set[sipfsm.Timer(string(r))] = true
					}
					if isTimer {
						delete(set, fired)
					}
					destroyed := false
					for _, a := range got {
						if destroyed {
							t.Errorf("%s: %v after Destroy", where, a)
						}
						switch a.Kind {
						case sipfsm.CancelTimer:
							if !set[a.Timer] {
								t.Errorf("%s: cancels %s, which is not running", where, a.Timer)
							}
							delete(set, a.Timer)
						case sipfsm.ArmTimer:
							if set[a.Timer] {
								t.Errorf("%s: arms %s, which is running", where, a.Timer)
							}
							set[a.Timer] = true
						case sipfsm.Destroy:
							destroyed = true
							if len(set) != 0 {
								t.Errorf("%s: Destroy leaves timers running: %v", where, set)
							}
						}
					}
					if destroyed != (to == sipfsm.Terminated) {
						t.Errorf("%s: to %q, Destroy %v", where, to, destroyed)
					}
					if !destroyed {
						queue = append(queue, config{to, key(set)})
					}
				}
			}
		}
	}
	for _, tr := range sipfsm.Transitions() {
		if !reached[tuple{tr.Kind, tr.From, tr.Input}] {
			t.Errorf("row %s/%q+%s is not reachable from Initial", tr.Kind, tr.From, tr.Input)
		}
	}
}

func TestStrings(t *testing.T) {
	cases := []struct{ got, want string }{
		{sipfsm.ClientInvite.String(), "ClientInvite"},
		{sipfsm.ServerNonInvite.String(), "ServerNonInvite"},
		{sipfsm.Kind(0).String(), "Kind(0)"},
		{sipfsm.Kind(9).String(), "Kind(9)"},
		{sipfsm.Start.String(), "Start"},
		{sipfsm.Recv3xx6xx.String(), "Recv3xx6xx"},
		{sipfsm.TransportError.String(), "TransportError"},
		{sipfsm.TimerL.String(), "TimerL"},
		{sipfsm.Input(0).String(), "Input(0)"},
		{sipfsm.Input(200).String(), "Input(200)"},
		{sipfsm.SendRequest.String(), "SendRequest"},
		{sipfsm.Destroy.String(), "Destroy"},
		{sipfsm.ActionKind(0).String(), "ActionKind(0)"},
		{sipfsm.ActionKind(11).String(), "ActionKind(11)"},
		{armT(sipfsm.A, 500*ms).String(), "ArmTimer(A, 500ms)"},
		{cancelT(sipfsm.B).String(), "CancelTimer(B)"},
		{destroy.String(), "Destroy"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	// Every constant has a name.
	for in := sipfsm.Start; in <= sipfsm.TimerL; in++ {
		if strings.Contains(in.String(), "(") {
			t.Errorf("input %d has no name", in)
		}
	}
	for a := sipfsm.SendRequest; a <= sipfsm.Destroy; a++ {
		if strings.Contains(a.String(), "(") {
			t.Errorf("action kind %d has no name", a)
		}
	}
}
