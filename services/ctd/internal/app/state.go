package app

import (
	"slices"
	"time"
)

// Phase is where a click-to-dial is; the progress events and the SSE
// stream name these phases.
type Phase string

// The phases. Connected, Failed, Cancelled and Ended are terminal for the
// click-to-dial (a 3PCC call that is connected still holds its two legs
// until one hangs up: Ended).
const (
	PhaseTrying         Phase = "trying"          // INVITE (SDP on hold) to the caller's phones
	PhaseCallerAnswered Phase = "caller_answered" // a caller phone answered; REFER sent (or 3PCC under way)
	PhaseReferred       Phase = "referred"        // the caller's phone accepted the REFER (202, or a NOTIFY)
	PhaseCalleeRinging  Phase = "callee_ringing"  // NOTIFY 180/183, or the callee's 180 in 3PCC
	PhaseConnected      Phase = "connected"       // NOTIFY 2xx, or the callee's 2xx in 3PCC
	PhaseFailed         Phase = "failed"          // Reason says why
	PhaseCancelled      Phase = "cancelled"       // DELETE
	PhaseEnded          Phase = "ended"           // 3PCC: a connected call hung up
)

// Modes of a click-to-dial.
const (
	ModeRefer = "refer" // RFC 3515 / RFC 5589: the caller's phone calls the callee
	Mode3PCC  = "3pcc"  // RFC 3725 flow I: ctd bridges the two calls itself
)

// Roles of a leg.
const (
	RoleCaller = "caller"
	RoleCallee = "callee"
)

// Leg states.
const (
	LegInviting = "inviting" // INVITE sent, nothing heard
	LegEarly    = "early"    // a provisional
	LegUp       = "up"       // 2xx, ACKed
	LegEnded    = "ended"    // non-2xx final, CANCEL sent, BYE sent or received
)

// Timers: what State.Deadline is for.
const (
	TimerNone   = ""
	TimerRing   = "ring"   // the caller's phones ring (Policy.RingTimeout)
	TimerRefer  = "refer"  // the REFER's answer (Policy.ReferTimeout)
	TimerOffer  = "offer"  // 3PCC: the caller's answer to the re-INVITE (Policy.ReferTimeout)
	TimerNotify = "notify" // the first NOTIFY after the 202 (Policy.NotifyTimeout)
	TimerCallee = "callee" // the callee's final answer (Policy.CalleeTimeout)
)

// Policy is copied into every call at its start, so that every replica
// decides a call the same way whatever its own configuration.
type Policy struct {
	RingTimeout   time.Duration `json:"ring_timeout"`
	ReferTimeout  time.Duration `json:"refer_timeout"`
	NotifyTimeout time.Duration `json:"notify_timeout"`
	CalleeTimeout time.Duration `json:"callee_timeout"`
	// ReferTries is how often a REFER that got no answer is sent (a
	// replica that died with the REFER in flight loses its answer).
	ReferTries int `json:"refer_tries"`
	// Fallback lists the REFER final statuses that start 3PCC (408 stands
	// for no answer at all); empty: no fallback, BYE and failed.
	Fallback []int `json:"fallback,omitempty"`
	// FallbackNoNotify starts 3PCC when no NOTIFY came within NotifyTimeout
	// after the 202 (off by default: see the package doc).
	FallbackNoNotify bool `json:"fallback_no_notify,omitempty"`
}

// DefaultPolicy: ring 30 s, REFER 32 s (Timer F), NOTIFY 32 s, callee
// 120 s, REFER sent at most twice, 3PCC on 405, 408, 489, 501, 603.
func DefaultPolicy() Policy {
	return Policy{RingTimeout: 30 * time.Second, ReferTimeout: 32 * time.Second, NotifyTimeout: 32 * time.Second,
		CalleeTimeout: 120 * time.Second, ReferTries: 2, Fallback: []int{405, 408, 489, 501, 603}}
}

// Leg is one INVITE dialog of the call: one per caller phone, plus the
// callee in 3PCC.
type Leg struct {
	Role   string `json:"role"`
	Target string `json:"target"` // Request-URI: the phone's contact, or the callee
	Seq    int    `json:"seq"`    // the Seq of its INVITE
	Dialog string `json:"dialog,omitempty"`
	Status int    `json:"status,omitempty"` // last status heard
	State  string `json:"state"`
}

// Pending is the control request in flight on the caller's dialog (REFER,
// or the 3PCC re-INVITE).
type Pending struct {
	Method string `json:"method,omitempty"`
	Seq    int    `json:"seq,omitempty"`
}

// Progress is one step the call made: an SSE event and a ctd CloudEvent.
type Progress struct {
	N      int       `json:"n"` // 1, 2, ... in the order of the call
	Phase  Phase     `json:"phase"`
	Status int       `json:"status,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// State is one click-to-dial, as stored.
type State struct {
	ID       string    `json:"id"`
	Owner    string    `json:"owner"` // the AOR that asked (From's AOR)
	From     string    `json:"from"`
	To       string    `json:"to"`
	Phase    Phase     `json:"phase"`
	Mode     string    `json:"mode"`
	Reason   string    `json:"reason,omitempty"`
	Status   int       `json:"status,omitempty"`
	Legs     []Leg     `json:"legs"`
	Winner   int       `json:"winner"` // the caller leg that answered, -1
	Callee   int       `json:"callee"` // the callee leg in 3PCC, -1
	Pending  Pending   `json:"pending"`
	NextSeq  int       `json:"next_seq"`
	Deadline time.Time `json:"deadline,omitzero"`
	Timer    string    `json:"timer,omitempty"`
	// Refers is how many REFERs were sent.
	Refers int `json:"refers,omitempty"`
	// Offer is the caller's SDP offer in 3PCC, ACKed is true once the
	// caller's 200 to the re-INVITE was ACKed with an answer.
	Offer      []byte     `json:"offer,omitempty"`
	Acked      bool       `json:"acked,omitempty"`
	CallerGone bool       `json:"caller_gone,omitempty"`
	Done       bool       `json:"done,omitempty"`
	Progress   []Progress `json:"progress"`
	Policy     Policy     `json:"policy"`
	Created    time.Time  `json:"created"`
	Updated    time.Time  `json:"updated"`
	// Watch is a key the store indexes like a leg's dialog: the shell
	// sets it to find the call from the caller's call to the callee.
	Watch string `json:"watch,omitempty"`
	// Version is the store's compare-and-set version; Next leaves it.
	Version int64 `json:"version"`
}

// NewState is a call not started yet (Next with InStart starts it).
func NewState(id, owner, from, to string, p Policy, now time.Time) State {
	return State{ID: id, Owner: owner, From: from, To: to, Mode: ModeRefer, Winner: -1, Callee: -1, Policy: p,
		Created: now, Updated: now}
}

// Terminal is true for the phases after which the click-to-dial does not
// progress (a connected 3PCC call still ends: Ended).
func (p Phase) Terminal() bool {
	return p == PhaseConnected || p == PhaseFailed || p == PhaseCancelled || p == PhaseEnded
}

// Clone is a deep copy.
func (s State) Clone() State {
	s.Legs = slices.Clone(s.Legs)
	s.Progress = slices.Clone(s.Progress)
	s.Offer = slices.Clone(s.Offer)
	s.Policy.Fallback = slices.Clone(s.Policy.Fallback)
	return s
}
