package app

import (
	"fmt"
	"slices"
	"time"
)

// InputKind is what happened to a call.
type InputKind string

// The inputs.
const (
	InStart       InputKind = "start"       // Contacts: the caller's registered phones
	InProvisional InputKind = "provisional" // Leg, Seq, Status, Dialog: 1xx to an INVITE
	InFinal       InputKind = "final"       // Leg, Seq, Status, Reason, Dialog, Body: final to INVITE, re-INVITE or REFER
	InNotify      InputKind = "notify"      // Frag, Terminated: NOTIFY of the REFER subscription
	InBye         InputKind = "bye"         // Leg: the far end hung up
	InTimeout     InputKind = "timeout"     // Now: the deadline passed
	InDelete      InputKind = "delete"      // the API asked to hang up
)

// Input is one event for Next. Status 408 stands for a request that got
// no answer at all (a transaction timeout or a transport error).
type Input struct {
	Kind       InputKind
	Now        time.Time
	Contacts   []string
	Leg        int
	Seq        int
	Status     int
	Reason     string
	Dialog     string
	Body       []byte
	Frag       Sipfrag
	Terminated bool // Subscription-State: terminated
}

// ActionKind is what the shell does.
type ActionKind string

// The actions. Requests carry the Seq that their answers must carry back.
const (
	ActInvite   ActionKind = "invite"   // Leg, Seq, Target; Hold: SDP on hold, else Body (3PCC: the caller's offer)
	ActReInvite ActionKind = "reinvite" // Leg, Seq: re-INVITE without SDP (RFC 3725 flow I)
	ActAck      ActionKind = "ack"      // Leg; Body (3PCC answer) or Hold (an answer on hold) or neither
	ActCancel   ActionKind = "cancel"   // Leg
	ActRefer    ActionKind = "refer"    // Leg, Seq, Target = Refer-To
	ActBye      ActionKind = "bye"      // Leg
	ActEmit     ActionKind = "emit"     // Progress
)

// Action is one effect.
type Action struct {
	Kind     ActionKind
	Leg      int
	Seq      int
	Target   string
	Hold     bool
	Body     []byte
	Progress Progress
}

func (a Action) String() string {
	if a.Kind == ActEmit {
		return fmt.Sprintf("emit %s %d", a.Progress.Phase, a.Progress.Status)
	}
	return fmt.Sprintf("%s leg %d", a.Kind, a.Leg)
}

// Next is the click-to-dial state machine: the state after in and what to
// do. It is pure (no clock but in.Now, no I/O) and total: an input that
// does not apply (a stale answer, a NOTIFY after the end, a timeout before
// the deadline) returns s unchanged and no actions.
func Next(s State, in Input) (State, []Action) {
	s = s.Clone()
	m := &machine{s: s, now: in.Now}
	switch in.Kind {
	case InStart:
		m.start(in)
	case InProvisional:
		m.provisional(in)
	case InFinal:
		m.final(in)
	case InNotify:
		m.notify(in)
	case InBye:
		m.bye(in)
	case InTimeout:
		m.timeout(in)
	case InDelete:
		m.delete()
	}
	if m.acts != nil || m.changed {
		m.s.Updated = in.Now
	}
	return m.s, m.acts
}

type machine struct {
	s       State
	now     time.Time
	acts    []Action
	changed bool
}

func (m *machine) do(a Action) { m.acts = append(m.acts, a) }

func (m *machine) seq() int { m.s.NextSeq++; return m.s.NextSeq }

func (m *machine) arm(timer string, d time.Duration) {
	m.s.Timer, m.s.Deadline = timer, m.now.Add(d)
	m.changed = true
}

func (m *machine) emit(p Phase, status int, reason string) {
	pr := Progress{N: len(m.s.Progress) + 1, Phase: p, Status: status, Reason: reason, At: m.now}
	m.s.Progress = append(m.s.Progress, pr)
	m.do(Action{Kind: ActEmit, Progress: pr})
}

// enter moves to phase p and emits it.
func (m *machine) enter(p Phase, status int, reason string) {
	m.s.Phase = p
	m.emit(p, status, reason)
}

// finish ends the click-to-dial in phase p: no timer, Done.
func (m *machine) finish(p Phase, status int, reason string) {
	m.s.Status, m.s.Reason = status, reason
	m.s.Timer, m.s.Deadline, m.s.Done = TimerNone, time.Time{}, true
	m.s.Pending = Pending{}
	m.enter(p, status, reason)
}

// leg returns the leg in.Leg if in.Seq is its INVITE's.
func (m *machine) leg(in Input) *Leg {
	if in.Leg < 0 || in.Leg >= len(m.s.Legs) || m.s.Legs[in.Leg].Seq != in.Seq {
		return nil
	}
	return &m.s.Legs[in.Leg]
}

func live(l *Leg) bool { return l.State == LegInviting || l.State == LegEarly }

// cancelCallers CANCELs every caller leg still ringing but keep.
func (m *machine) cancelCallers(keep int) {
	for i := range m.s.Legs {
		l := &m.s.Legs[i]
		if i != keep && l.Role == RoleCaller && live(l) {
			l.State = LegEnded
			m.do(Action{Kind: ActCancel, Leg: i})
		}
	}
}

// byeCaller hangs up the caller's dialog if it is still up.
func (m *machine) byeCaller() {
	if m.s.Winner < 0 || m.s.CallerGone {
		return
	}
	l := &m.s.Legs[m.s.Winner]
	if l.State == LegUp {
		l.State = LegEnded
		m.do(Action{Kind: ActBye, Leg: m.s.Winner})
	}
}

// RFC 3725 §4 / RFC 3261 §13.2.2.4: a 2xx to an INVITE is ACKed even when
// the caller does not want the call any more, then BYE.
func (m *machine) ackBye(i int, l *Leg) {
	l.State = LegEnded
	m.do(Action{Kind: ActAck, Leg: i})
	m.do(Action{Kind: ActBye, Leg: i})
}

func statusText(status int, reason string) string {
	if reason == "" {
		return fmt.Sprint(status)
	}
	return fmt.Sprintf("%d %s", status, reason)
}

// start: RFC 3515 §2.4 needs a dialog with the caller's phone first; the
// INVITE offers SDP on hold (RFC 3264 §8.4) so that nothing plays while
// the phone sets up the call to the callee (RFC 5589 §7.1's transferor).
// All the caller's phones ring in parallel; the first 2xx wins.
func (m *machine) start(in Input) {
	if m.s.Phase != "" {
		return
	}
	m.s.Phase = PhaseTrying
	if len(in.Contacts) == 0 {
		m.finish(PhaseFailed, 480, "the caller has no registered phone")
		return
	}
	m.emit(PhaseTrying, 0, "")
	for _, c := range in.Contacts {
		l := Leg{Role: RoleCaller, Target: c, Seq: m.seq(), State: LegInviting}
		m.s.Legs = append(m.s.Legs, l)
		m.do(Action{Kind: ActInvite, Leg: len(m.s.Legs) - 1, Seq: l.Seq, Target: c, Hold: true})
	}
	m.arm(TimerRing, m.s.Policy.RingTimeout)
}

func (m *machine) provisional(in Input) {
	l := m.leg(in)
	if l == nil || !live(l) {
		return
	}
	l.State, l.Status, m.changed = LegEarly, in.Status, true
	if in.Dialog != "" {
		l.Dialog = in.Dialog
	}
	if l.Role == RoleCallee && !m.s.Phase.Terminal() && m.s.Phase != PhaseCalleeRinging && in.Status >= 180 {
		m.enter(PhaseCalleeRinging, in.Status, in.Reason)
	}
}

func (m *machine) final(in Input) {
	if l := m.leg(in); l != nil {
		if l.Role == RoleCaller {
			m.callerFinal(in, l)
		} else {
			m.calleeFinal(in, l)
		}
		return
	}
	if m.s.Pending.Seq == 0 || m.s.Pending.Seq != in.Seq {
		return
	}
	p := m.s.Pending
	m.s.Pending, m.changed = Pending{}, true
	switch p.Method {
	case "REFER":
		m.referFinal(in)
	case "INVITE":
		m.reinviteFinal(in)
	}
}

func (m *machine) callerFinal(in Input, l *Leg) {
	i := in.Leg
	wasLive := live(l)
	l.Status, m.changed = in.Status, true
	if in.Dialog != "" {
		l.Dialog = in.Dialog
	}
	if in.Status < 300 {
		if i == m.s.Winner {
			if l.State == LegUp {
				m.do(Action{Kind: ActAck, Leg: i}) // a retransmitted 2xx (RFC 3261 §13.2.2.4)
			}
			return
		}
		if m.s.Phase != PhaseTrying || m.s.Winner >= 0 {
			// Lost the race (two phones answered) or answered after the
			// end (a CANCEL crossed the 200): ACK and BYE it.
			m.ackBye(i, l)
			return
		}
		l.State, m.s.Winner = LegUp, i
		m.do(Action{Kind: ActAck, Leg: i})
		m.cancelCallers(i)
		m.enter(PhaseCallerAnswered, in.Status, "")
		m.sendRefer()
		return
	}
	l.State = LegEnded
	if !wasLive || m.s.Phase != PhaseTrying {
		return
	}
	for j := range m.s.Legs {
		if m.s.Legs[j].Role == RoleCaller && live(&m.s.Legs[j]) {
			return // another phone still rings
		}
	}
	m.finish(PhaseFailed, in.Status, "the caller's phone answered "+statusText(in.Status, in.Reason))
}

// sendRefer: RFC 3515 §2.4.1 REFER in the caller's dialog with Refer-To
// the callee (RFC 5589 §6: the transferor's role).
func (m *machine) sendRefer() {
	seq := m.seq()
	m.s.Pending = Pending{Method: "REFER", Seq: seq}
	m.s.Refers++
	m.do(Action{Kind: ActRefer, Leg: m.s.Winner, Seq: seq, Target: m.s.To})
	m.arm(TimerRefer, m.s.Policy.ReferTimeout)
}

func (m *machine) referFinal(in Input) {
	if m.s.Phase != PhaseCallerAnswered || m.s.Mode != ModeRefer {
		return // a NOTIFY came first (RFC 3515 §2.4.7), or the call ended
	}
	if in.Status < 300 {
		// RFC 3515 §2.4.2: 202 Accepted; NOTIFYs follow (§2.4.4).
		m.enter(PhaseReferred, in.Status, in.Reason)
		m.arm(TimerNotify, m.s.Policy.NotifyTimeout)
		return
	}
	m.referRefused(in.Status, in.Reason)
}

// referRefused: RFC 3515 §2.4.2 lets the phone refuse; 481 means its
// dialog is gone (it hung up).
func (m *machine) referRefused(status int, reason string) {
	if status == 481 {
		m.s.CallerGone = true
		m.finish(PhaseFailed, status, "the caller hung up before the transfer")
		return
	}
	if slices.Contains(m.s.Policy.Fallback, status) {
		m.start3PCC(fmt.Sprintf("REFER refused (%s): third-party call control (RFC 3725)", statusText(status, reason)))
		return
	}
	m.byeCaller()
	m.finish(PhaseFailed, status, "the caller's phone refused REFER: "+statusText(status, reason))
}

// start3PCC: RFC 3725 §5 flow I over the caller's held dialog: a
// re-INVITE without SDP asks the caller for a fresh offer.
func (m *machine) start3PCC(why string) {
	m.s.Mode = Mode3PCC
	seq := m.seq()
	m.s.Pending = Pending{Method: "INVITE", Seq: seq}
	m.emit(PhaseCallerAnswered, 0, why)
	m.do(Action{Kind: ActReInvite, Leg: m.s.Winner, Seq: seq})
	m.arm(TimerOffer, m.s.Policy.ReferTimeout)
}

// reinviteFinal: flow I step 2: the caller's 200 carries offer1; step 3
// sends it to the callee. The ACK to the caller waits for the callee's
// answer (step 6).
func (m *machine) reinviteFinal(in Input) {
	if m.s.Phase.Terminal() {
		if in.Status < 300 {
			m.do(Action{Kind: ActAck, Leg: m.s.Winner, Hold: true})
		}
		return
	}
	if in.Status >= 300 {
		m.byeCaller()
		m.finish(PhaseFailed, in.Status, "the caller's phone refused the re-INVITE: "+statusText(in.Status, in.Reason))
		return
	}
	if len(in.Body) == 0 {
		m.do(Action{Kind: ActAck, Leg: m.s.Winner, Hold: true})
		m.s.Acked = true
		m.byeCaller()
		m.finish(PhaseFailed, 488, "the caller's 200 to the re-INVITE carried no SDP offer")
		return
	}
	m.s.Offer = slices.Clone(in.Body)
	l := Leg{Role: RoleCallee, Target: m.s.To, Seq: m.seq(), State: LegInviting}
	m.s.Legs = append(m.s.Legs, l)
	m.s.Callee = len(m.s.Legs) - 1
	m.do(Action{Kind: ActInvite, Leg: m.s.Callee, Seq: l.Seq, Target: l.Target, Body: m.s.Offer})
	m.arm(TimerCallee, m.s.Policy.CalleeTimeout)
}

// ackCaller answers the caller's offer in the ACK (flow I step 6), on
// hold when the callee gave no answer.
func (m *machine) ackCaller(body []byte) {
	if m.s.Acked || m.s.Offer == nil || m.s.Winner < 0 {
		return
	}
	m.s.Acked = true
	m.do(Action{Kind: ActAck, Leg: m.s.Winner, Body: body, Hold: body == nil})
}

func (m *machine) calleeFinal(in Input, l *Leg) {
	i := in.Leg
	l.Status, m.changed = in.Status, true
	if in.Dialog != "" {
		l.Dialog = in.Dialog
	}
	if in.Status < 300 {
		if m.s.Phase.Terminal() || l.State == LegEnded {
			m.ackBye(i, l)
			return
		}
		l.State = LegUp
		m.do(Action{Kind: ActAck, Leg: i})
		m.ackCaller(slices.Clone(in.Body))
		m.s.Status, m.s.Timer, m.s.Deadline = in.Status, TimerNone, time.Time{}
		m.enter(PhaseConnected, in.Status, in.Reason)
		return
	}
	l.State = LegEnded
	if m.s.Phase.Terminal() {
		return
	}
	m.ackCaller(nil)
	m.byeCaller()
	m.finish(PhaseFailed, in.Status, "the callee answered "+statusText(in.Status, in.Reason))
}

// notify: RFC 3515 §2.4.5 / RFC 5589 §6: the sipfrag's status line is the
// progress of the caller's call to the callee.
func (m *machine) notify(in Input) {
	if m.s.Mode != ModeRefer || m.s.Phase.Terminal() || m.s.Winner < 0 {
		return // after our BYE, or before there is a dialog: answered, ignored
	}
	if m.s.Phase == PhaseCallerAnswered {
		// RFC 3515 §2.4.7: the NOTIFY may overtake the 202.
		m.s.Pending = Pending{}
		m.enter(PhaseReferred, 202, "NOTIFY before the 202")
	}
	st := in.Frag.Status
	switch {
	case st >= 300:
		m.byeCaller()
		m.finish(PhaseFailed, st, "the callee answered "+statusText(st, in.Frag.Reason))
	case st >= 200:
		m.byeCaller() // RFC 5589 §6.1: the transferor ends its dialog
		m.finish(PhaseConnected, st, in.Frag.Reason)
	case in.Terminated:
		m.byeCaller()
		m.finish(PhaseFailed, 487, "the REFER subscription ended without a final response")
	case st >= 180:
		if m.s.Phase != PhaseCalleeRinging {
			m.enter(PhaseCalleeRinging, st, in.Frag.Reason)
		}
		m.arm(TimerCallee, m.s.Policy.CalleeTimeout)
	default:
		m.arm(TimerCallee, m.s.Policy.CalleeTimeout)
	}
}

func (m *machine) bye(in Input) {
	if in.Leg < 0 || in.Leg >= len(m.s.Legs) {
		return
	}
	l := &m.s.Legs[in.Leg]
	if l.State == LegEnded {
		return
	}
	l.State, m.changed = LegEnded, true
	if in.Leg == m.s.Winner {
		m.s.CallerGone = true
		switch {
		case m.s.Phase.Terminal() && m.s.Mode == Mode3PCC && m.s.Phase == PhaseConnected:
			m.byeLeg(m.s.Callee)
			m.finish(PhaseEnded, 0, "the caller hung up")
		case m.s.Phase.Terminal():
		case m.s.Mode == Mode3PCC:
			m.cancelCallee()
			m.finish(PhaseFailed, 0, "the caller hung up")
		case m.s.Phase == PhaseCallerAnswered:
			m.finish(PhaseFailed, 0, "the caller hung up before the transfer")
		}
		// referred / callee_ringing: phones end the transferor's call
		// themselves; the NOTIFYs still come (package doc).
		return
	}
	if in.Leg == m.s.Callee && m.s.Phase == PhaseConnected {
		m.byeLeg(m.s.Winner)
		m.finish(PhaseEnded, 0, "the callee hung up")
	}
}

func (m *machine) byeLeg(i int) {
	if i < 0 {
		return
	}
	if l := &m.s.Legs[i]; l.State == LegUp {
		l.State = LegEnded
		m.do(Action{Kind: ActBye, Leg: i})
	}
}

func (m *machine) cancelCallee() {
	if m.s.Callee < 0 {
		return
	}
	if l := &m.s.Legs[m.s.Callee]; live(l) {
		l.State = LegEnded
		m.do(Action{Kind: ActCancel, Leg: m.s.Callee})
	}
}

func (m *machine) timeout(in Input) {
	if m.s.Done || m.s.Timer == TimerNone || in.Now.Before(m.s.Deadline) {
		return
	}
	p := m.s.Policy
	switch m.s.Timer {
	case TimerRing:
		m.cancelCallers(-1)
		m.finish(PhaseFailed, 408, fmt.Sprintf("the caller did not answer within %s", p.RingTimeout))
	case TimerRefer:
		// No answer to the REFER: lost, or the replica that sent it died
		// with the answer. Send it again (a new transaction), then give up.
		m.s.Pending = Pending{}
		if m.s.Refers < p.ReferTries {
			m.sendRefer()
			return
		}
		m.referRefused(408, "no answer to REFER")
	case TimerOffer:
		m.s.Pending = Pending{}
		m.byeCaller()
		m.finish(PhaseFailed, 408, "the caller's phone did not answer the re-INVITE")
	case TimerNotify:
		if p.FallbackNoNotify {
			m.start3PCC(fmt.Sprintf("no NOTIFY within %s: third-party call control (RFC 3725)", p.NotifyTimeout))
			return
		}
		m.byeCaller()
		m.finish(PhaseFailed, 408, fmt.Sprintf("no NOTIFY within %s after the REFER was accepted", p.NotifyTimeout))
	case TimerCallee:
		m.cancelCallee()
		m.ackCaller(nil)
		m.byeCaller()
		m.finish(PhaseFailed, 408, fmt.Sprintf("the callee did not answer within %s", p.CalleeTimeout))
	}
}

// delete: the API's hang-up. Before an answer, CANCEL (RFC 3261 §9);
// after, BYE (§15).
func (m *machine) delete() {
	switch {
	case m.s.Done || m.s.Phase == "":
		return
	case m.s.Phase == PhaseConnected && m.s.Mode == Mode3PCC:
		m.byeLeg(m.s.Winner)
		m.byeLeg(m.s.Callee)
		m.finish(PhaseEnded, 0, "hung up through the API")
		return
	}
	m.cancelCallers(-1)
	m.cancelCallee()
	m.ackCaller(nil)
	m.byeCaller()
	m.finish(PhaseCancelled, 0, "hung up through the API")
}
