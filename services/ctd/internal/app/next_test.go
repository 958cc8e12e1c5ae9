package app

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// step is one input of a scenario with what Next must do with it.
type step struct {
	in    Input
	phase Phase    // phase after the input
	acts  []string // the actions, as Action.String; nil: none
}

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// Inputs of the usual shapes. Leg 0 and 1 are caller phones (Seq 1, 2)
// when two contacts start the call, leg 0 (Seq 1) with one.
func start(contacts ...string) Input { return Input{Kind: InStart, Now: t0, Contacts: contacts} }
func prov(leg, seq, st int) Input {
	return Input{Kind: InProvisional, Now: at(1), Leg: leg, Seq: seq, Status: st, Dialog: "d"}
}
func fin(leg, seq, st int, sec int) Input {
	return Input{Kind: InFinal, Now: at(sec), Leg: leg, Seq: seq, Status: st, Reason: "R", Dialog: "d"}
}
func notify(st int, sec int) Input {
	return Input{Kind: InNotify, Now: at(sec), Frag: Sipfrag{Status: st, Reason: "R"}}
}

// answered is the call after one caller phone answered: REFER Seq 2 out.
var answered = []step{
	{start("sip:alice@127.0.0.1:5070"), PhaseTrying, []string{"emit trying 0", "invite leg 0"}},
	{prov(0, 1, 180), PhaseTrying, nil},
	{fin(0, 1, 200, 2), PhaseCallerAnswered, []string{"ack leg 0", "emit caller_answered 200", "refer leg 0"}},
}

// referred adds the 202.
var referred = append(append([]step{}, answered...),
	step{fin(0, 2, 202, 3), PhaseReferred, []string{"emit referred 202"}})

func seq(base []step, more ...step) []step { return append(append([]step{}, base...), more...) }

func TestNext(t *testing.T) {
	fallbackOff := DefaultPolicy()
	fallbackOff.Fallback = nil
	noNotify3PCC := DefaultPolicy()
	noNotify3PCC.FallbackNoNotify = true
	cases := []struct {
		name   string
		policy *Policy
		steps  []step
		reason string // final Reason contains
	}{
		{"RFC 3515 §2.4 / RFC 5589 §6: full transfer, 100 180 200 in sipfrag", nil, seq(referred,
			step{notify(100, 4), PhaseReferred, nil},
			step{notify(180, 5), PhaseCalleeRinging, []string{"emit callee_ringing 180"}},
			step{notify(200, 9), PhaseConnected, []string{"bye leg 0", "emit connected 200"}},
		), ""},
		{"RFC 3515 §2.4.5: callee busy, 486 in the sipfrag", nil, seq(referred,
			step{notify(100, 4), PhaseReferred, nil},
			step{notify(486, 5), PhaseFailed, []string{"bye leg 0", "emit failed 486"}},
		), "the callee answered 486"},
		{"RFC 3515 §2.4.7: NOTIFY before the 202, then the late 202 is ignored", nil, seq(answered,
			step{notify(100, 3), PhaseReferred, []string{"emit referred 202"}},
			step{fin(0, 2, 202, 3), PhaseReferred, nil},
			step{notify(180, 4), PhaseCalleeRinging, []string{"emit callee_ringing 180"}},
		), ""},
		{"RFC 5589 §6.1: NOTIFY after our BYE changes nothing", nil, seq(referred,
			step{notify(200, 5), PhaseConnected, []string{"bye leg 0", "emit connected 200"}},
			step{notify(200, 6), PhaseConnected, nil},
			step{Input{Kind: InNotify, Now: at(7), Frag: Sipfrag{Status: 200}, Terminated: true}, PhaseConnected, nil},
		), ""},
		{"RFC 6665 §4.1.3: subscription terminated without a final status", nil, seq(referred,
			step{Input{Kind: InNotify, Now: at(5), Frag: Sipfrag{Status: 100}, Terminated: true}, PhaseFailed, []string{"bye leg 0", "emit failed 487"}},
		), "without a final response"},
		{"RFC 3515 §2.4.2: REFER refused 501, 3PCC flow I (RFC 3725 §5) connects", nil, seq(answered,
			step{fin(0, 2, 501, 3), PhaseCallerAnswered, []string{"emit caller_answered 0", "reinvite leg 0"}},
			step{Input{Kind: InFinal, Now: at(4), Leg: 0, Seq: 3, Status: 200, Body: []byte("v=0 offer")}, PhaseCallerAnswered, []string{"invite leg 1"}},
			step{prov(1, 4, 180), PhaseCalleeRinging, []string{"emit callee_ringing 180"}},
			step{Input{Kind: InFinal, Now: at(6), Leg: 1, Seq: 4, Status: 200, Body: []byte("v=0 answer")}, PhaseConnected, []string{"ack leg 1", "ack leg 0", "emit connected 200"}},
			step{Input{Kind: InBye, Now: at(60), Leg: 1}, PhaseEnded, []string{"bye leg 0", "emit ended 0"}},
		), "the callee hung up"},
		{"RFC 3725 §5: 3PCC, callee busy: ACK the caller on hold, BYE", nil, seq(answered,
			step{fin(0, 2, 405, 3), PhaseCallerAnswered, []string{"emit caller_answered 0", "reinvite leg 0"}},
			step{Input{Kind: InFinal, Now: at(4), Leg: 0, Seq: 3, Status: 200, Body: []byte("v=0 offer")}, PhaseCallerAnswered, []string{"invite leg 1"}},
			step{fin(1, 4, 486, 5), PhaseFailed, []string{"ack leg 0", "bye leg 0", "emit failed 486"}},
		), "the callee answered 486"},
		{"RFC 3725 §5: 3PCC, re-INVITE 200 without an offer", nil, seq(answered,
			step{fin(0, 2, 603, 3), PhaseCallerAnswered, []string{"emit caller_answered 0", "reinvite leg 0"}},
			step{fin(0, 3, 200, 4), PhaseFailed, []string{"ack leg 0", "bye leg 0", "emit failed 488"}},
		), "no SDP offer"},
		{"RFC 3725 §5 / RFC 3261 §9: DELETE while the 3PCC callee rings: CANCEL it, ACK the caller on hold, BYE", nil, seq(answered,
			step{fin(0, 2, 501, 3), PhaseCallerAnswered, []string{"emit caller_answered 0", "reinvite leg 0"}},
			step{Input{Kind: InFinal, Now: at(4), Leg: 0, Seq: 3, Status: 200, Body: []byte("v=0 offer")}, PhaseCallerAnswered, []string{"invite leg 1"}},
			step{prov(1, 4, 180), PhaseCalleeRinging, []string{"emit callee_ringing 180"}},
			step{Input{Kind: InDelete, Now: at(6)}, PhaseCancelled, []string{"cancel leg 1", "ack leg 0", "bye leg 0", "emit cancelled 0"}},
			step{fin(1, 4, 200, 7), PhaseCancelled, []string{"ack leg 1", "bye leg 1"}}, // the callee's 2xx crossed the CANCEL
		), "API"},
		{"RFC 3725 §5: 3PCC, the caller hangs up while the callee rings", nil, seq(answered,
			step{fin(0, 2, 489, 3), PhaseCallerAnswered, []string{"emit caller_answered 0", "reinvite leg 0"}},
			step{Input{Kind: InFinal, Now: at(4), Leg: 0, Seq: 3, Status: 200, Body: []byte("v=0 offer")}, PhaseCallerAnswered, []string{"invite leg 1"}},
			step{Input{Kind: InBye, Now: at(5), Leg: 0}, PhaseFailed, []string{"cancel leg 1", "emit failed 0"}},
		), "the caller hung up"},
		{"REFER refused 603, fallback off: BYE", &fallbackOff, seq(answered,
			step{fin(0, 2, 603, 3), PhaseFailed, []string{"bye leg 0", "emit failed 603"}},
		), "refused REFER: 603 R"},
		{"REFER 481: the caller hung up (dialog gone)", nil, seq(answered,
			step{fin(0, 2, 481, 3), PhaseFailed, []string{"emit failed 481"}},
		), "hung up"},
		{"RFC 3261 §15: caller hangs up before the REFER is accepted", nil, seq(answered,
			step{Input{Kind: InBye, Now: at(3), Leg: 0}, PhaseFailed, []string{"emit failed 0"}},
			step{fin(0, 2, 481, 3), PhaseFailed, nil},
			step{notify(100, 4), PhaseFailed, nil},
		), "hung up before the transfer"},
		{"RFC 5057 §5.5: caller's BYE after the 202 keeps the subscription", nil, seq(referred,
			step{Input{Kind: InBye, Now: at(4), Leg: 0}, PhaseReferred, nil},
			step{notify(200, 5), PhaseConnected, []string{"emit connected 200"}},
		), ""},
		{"no NOTIFY within 32 s after the 202: BYE", nil, seq(referred,
			step{Input{Kind: InTimeout, Now: at(20)}, PhaseReferred, nil},
			step{Input{Kind: InTimeout, Now: at(35)}, PhaseFailed, []string{"bye leg 0", "emit failed 408"}},
		), "no NOTIFY within 32s"},
		{"no NOTIFY within 32 s, policy: 3PCC", &noNotify3PCC, seq(referred,
			step{Input{Kind: InTimeout, Now: at(35)}, PhaseReferred, []string{"emit caller_answered 0", "reinvite leg 0"}},
		), ""},
		{"RFC 3261 §17.1.2.2 Timer F: REFER unanswered is sent again (replica takeover), then 3PCC", nil, seq(answered,
			step{Input{Kind: InTimeout, Now: at(34)}, PhaseCallerAnswered, []string{"refer leg 0"}},
			step{fin(0, 2, 202, 35), PhaseCallerAnswered, nil}, // the first REFER's answer is stale
			step{Input{Kind: InTimeout, Now: at(67)}, PhaseCallerAnswered, []string{"emit caller_answered 0", "reinvite leg 0"}},
		), ""},
		{"RFC 3261 §9: DELETE during callee ringing: BYE the caller", nil, seq(referred,
			step{notify(180, 4), PhaseCalleeRinging, []string{"emit callee_ringing 180"}},
			step{Input{Kind: InDelete, Now: at(5)}, PhaseCancelled, []string{"bye leg 0", "emit cancelled 0"}},
			step{Input{Kind: InDelete, Now: at(6)}, PhaseCancelled, nil},
			step{notify(200, 7), PhaseCancelled, nil},
		), "API"},
		{"RFC 3261 §9.1: DELETE while the caller rings: CANCEL; the crossing 200 gets ACK and BYE", nil, []step{
			{start("sip:a@1"), PhaseTrying, []string{"emit trying 0", "invite leg 0"}},
			{Input{Kind: InDelete, Now: at(1)}, PhaseCancelled, []string{"cancel leg 0", "emit cancelled 0"}},
			{fin(0, 1, 200, 2), PhaseCancelled, []string{"ack leg 0", "bye leg 0"}},
		}, ""},
		{"RFC 3261 §16.7: two phones, the first 2xx wins, the other is CANCELled", nil, []step{
			{start("sip:a@1", "sip:a@2"), PhaseTrying, []string{"emit trying 0", "invite leg 0", "invite leg 1"}},
			{prov(1, 2, 180), PhaseTrying, nil},
			{fin(1, 2, 200, 2), PhaseCallerAnswered, []string{"ack leg 1", "cancel leg 0", "emit caller_answered 200", "refer leg 1"}},
			{fin(0, 1, 487, 3), PhaseCallerAnswered, nil},
		}, ""},
		{"RFC 3261 §13.2.2.4: two phones answer at once: the second gets ACK and BYE", nil, []step{
			{start("sip:a@1", "sip:a@2"), PhaseTrying, []string{"emit trying 0", "invite leg 0", "invite leg 1"}},
			{fin(0, 1, 200, 2), PhaseCallerAnswered, []string{"ack leg 0", "cancel leg 1", "emit caller_answered 200", "refer leg 0"}},
			{fin(1, 2, 200, 2), PhaseCallerAnswered, []string{"ack leg 1", "bye leg 1"}},
		}, ""},
		{"caller's phones all refuse: failed with the status", nil, []step{
			{start("sip:a@1", "sip:a@2"), PhaseTrying, []string{"emit trying 0", "invite leg 0", "invite leg 1"}},
			{fin(0, 1, 486, 2), PhaseTrying, nil},
			{fin(1, 2, 603, 3), PhaseFailed, []string{"emit failed 603"}},
		}, "answered 603"},
		{"caller does not answer: CANCEL at the ring timeout", nil, []step{
			{start("sip:a@1"), PhaseTrying, []string{"emit trying 0", "invite leg 0"}},
			{Input{Kind: InTimeout, Now: at(31)}, PhaseFailed, []string{"cancel leg 0", "emit failed 408"}},
		}, "did not answer"},
		{"no registered phone", nil, []step{
			{start(), PhaseFailed, []string{"emit failed 480"}},
		}, "no registered phone"},
		{"stale and foreign inputs change nothing", nil, seq(referred,
			step{fin(0, 1, 200, 4), PhaseReferred, []string{"ack leg 0"}}, // RFC 3261 §13.2.2.4: a retransmitted 2xx of the winner is ACKed again
			step{fin(7, 9, 200, 4), PhaseReferred, nil},
			step{Input{Kind: InBye, Now: at(4), Leg: 9}, PhaseReferred, nil},
			step{start("sip:x@1"), PhaseReferred, nil},
		), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultPolicy()
			if c.policy != nil {
				p = *c.policy
			}
			s := NewState("c1", "alice@example.com", "sip:alice@example.com", "sip:bob@example.com", p, t0)
			for i, st := range c.steps {
				var acts []Action
				before := s.Clone()
				s, acts = Next(s, st.in)
				if s.Phase != st.phase {
					t.Fatalf("step %d (%s): phase %s, want %s", i, st.in.Kind, s.Phase, st.phase)
				}
				var got []string
				for _, a := range acts {
					got = append(got, a.String())
				}
				if strings.Join(got, ", ") != strings.Join(st.acts, ", ") {
					t.Fatalf("step %d (%s): actions [%s], want [%s]", i, st.in.Kind, strings.Join(got, ", "), strings.Join(st.acts, ", "))
				}
				if acts == nil && s.Phase == before.Phase && len(s.Progress) != len(before.Progress) {
					t.Fatalf("step %d: progress without an emit", i)
				}
			}
			if !strings.Contains(s.Reason, c.reason) {
				t.Fatalf("reason %q, want it to contain %q", s.Reason, c.reason)
			}
			if s.Phase.Terminal() && s.Phase != PhaseConnected && !s.Done {
				t.Fatalf("terminal phase %s not Done", s.Phase)
			}
			if s.Done && !s.Deadline.IsZero() {
				t.Fatal("done with a deadline")
			}
		})
	}
}

// TestProgressOrder: the SSE sequence of the done-when test, numbered.
func TestProgressOrder(t *testing.T) {
	s := NewState("c1", "a", "sip:a@x", "sip:b@x", DefaultPolicy(), t0)
	for _, st := range seq(referred, step{in: notify(180, 4)}, step{in: notify(200, 5)}) {
		s, _ = Next(s, st.in)
	}
	var got []string
	for i, p := range s.Progress {
		if p.N != i+1 {
			t.Fatalf("progress %d numbered %d", i, p.N)
		}
		got = append(got, string(p.Phase))
	}
	if want := "trying caller_answered referred callee_ringing connected"; strings.Join(got, " ") != want {
		t.Fatalf("progress %q, want %q", strings.Join(got, " "), want)
	}
}

// FuzzNext: any sequence of inputs keeps the machine's invariants.
func FuzzNext(f *testing.F) {
	f.Add([]byte{0, 2, 3, 4, 4, 4}, []byte{50, 51, 40, 50})
	f.Add([]byte{0, 1, 2, 6, 5, 3}, []byte{40, 50, 0, 193})
	f.Fuzz(func(t *testing.T, kinds []byte, statuses []byte) {
		kindsOf := []InputKind{InStart, InProvisional, InFinal, InNotify, InBye, InTimeout, InDelete}
		s := NewState("c", "a", "sip:a@x", "sip:b@x", DefaultPolicy(), t0)
		for i, k := range kinds {
			if i > 64 {
				break
			}
			st := 100
			if i < len(statuses) {
				st = 100 + int(statuses[i])*2
			}
			in := Input{Kind: kindsOf[int(k)%len(kindsOf)], Now: at(i * 10), Leg: int(k>>4) % 3, Seq: int(k>>6) + 1,
				Status: st, Frag: Sipfrag{Status: st}, Contacts: []string{"sip:a@1", "sip:a@2"}, Body: []byte("v=0")}
			s, _ = Next(s, in)
			if s.Done && !s.Deadline.IsZero() || s.Winner >= len(s.Legs) || s.Callee >= len(s.Legs) {
				t.Fatalf("bad state after %v: %+v", in.Kind, s)
			}
		}
	})
}

// TestTimeoutBeforeStart: a call stored with its ring deadline but never
// started (the replica died between Create and the INVITE) ends failed.
func TestTimeoutBeforeStart(t *testing.T) {
	s := NewState("c1", "a", "sip:a@x", "sip:b@x", DefaultPolicy(), t0)
	s.Timer, s.Deadline = TimerRing, at(30)
	s, acts := Next(s, Input{Kind: InTimeout, Now: at(31)})
	if s.Phase != PhaseFailed || !s.Done || len(acts) != 1 || acts[0].Kind != ActEmit {
		t.Fatalf("%s %v %v", s.Phase, s.Done, acts)
	}
}
