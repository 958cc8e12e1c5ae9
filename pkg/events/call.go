package events

import (
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// Party is one end of a call: the From (caller) or To (callee) of the
// initial INVITE.
type Party struct {
	Display string `json:"display,omitempty"` // display name, unquoted; "" when none
	URI     string `json:"uri"`               // URI as written, without display name or tag
}

// Values of CallMissed.Reason.
const (
	MissedOffline   = "offline"   // 480: callee not registered / unavailable
	MissedBusy      = "busy"      // 486, 600
	MissedNoAnswer  = "no-answer" // ring timeout, 408
	MissedCancelled = "cancelled" // caller sent CANCEL
	MissedDeclined  = "declined"  // 603 Decline, 607 Unwanted: the callee said no
	MissedRejected  = "rejected"  // other 3xx, 4xx and 6xx
	MissedError     = "error"     // 5xx, loops (482, 483), no final status
)

// Values of CallEnded.HangupBy.
const (
	HangupCaller = "caller" // the caller sent BYE
	HangupCallee = "callee" // the callee sent BYE
	HangupSystem = "system" // timeout or failure: sipbus tore the call down
)

// CallStarted is TypeCallStarted: a new INVITE (outside a dialog) was
// accepted for routing. Subject call.started.<p>.
type CallStarted struct {
	CallID     string    `json:"call_id"`
	CallKey    string    `json:"call_key"` // sipmsg.CallKey(CallID)
	Caller     Party     `json:"caller"`
	Callee     Party     `json:"callee"`
	RequestURI string    `json:"request_uri"`
	StartedAt  time.Time `json:"started_at"`
	Edge       string    `json:"edge,omitempty"`   // edge instance that received the INVITE
	Source     string    `json:"source,omitempty"` // remote ip:port
}

// CallRinging is TypeCallRinging: the callee side answered 180 or 183.
// Subject call.ringing.<p>.
type CallRinging struct {
	CallID  string    `json:"call_id"`
	CallKey string    `json:"call_key"`
	Caller  Party     `json:"caller"`
	Callee  Party     `json:"callee"`
	Status  int       `json:"status"` // 180 or 183
	At      time.Time `json:"at"`
}

// CallAnswered is TypeCallAnswered: a branch answered with a 2xx.
// Subject call.answered.<p>.
type CallAnswered struct {
	CallID     string    `json:"call_id"`
	CallKey    string    `json:"call_key"`
	Caller     Party     `json:"caller"`
	Callee     Party     `json:"callee"`
	Contact    string    `json:"contact,omitempty"` // Contact URI of the branch that answered
	StartedAt  time.Time `json:"started_at"`
	AnsweredAt time.Time `json:"answered_at"`
}

// CallEnded is TypeCallEnded, terminal: an answered call ended.
// Subject call.ended.<p>.
type CallEnded struct {
	CallID     string    `json:"call_id"`
	CallKey    string    `json:"call_key"`
	Caller     Party     `json:"caller"`
	Callee     Party     `json:"callee"`
	StartedAt  time.Time `json:"started_at"`
	AnsweredAt time.Time `json:"answered_at"`
	EndedAt    time.Time `json:"ended_at"`
	HangupBy   string    `json:"hangup_by"`        // HangupCaller, HangupCallee, HangupSystem
	Reason     string    `json:"reason,omitempty"` // "bye", "timeout", ...
}

// CallMissed is TypeCallMissed, terminal: a call ended without being
// answered. Subject call.missed.<p>.
type CallMissed struct {
	CallID    string    `json:"call_id"`
	CallKey   string    `json:"call_key"`
	Caller    Party     `json:"caller"`
	Callee    Party     `json:"callee"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	Reason    string    `json:"reason"`     // Missed...; see MissedReason
	Status    int       `json:"status"`     // final status sent upstream, 300-699
	LocalUser bool      `json:"local_user"` // the callee is a local subscriber
	// RequestURI is the Request-URI of the initial INVITE: the address
	// tm routed on, which names the local user the call was for (the To
	// header is the caller's to write). Optional: events logged before it
	// appeared lack it; use Callee.URI then.
	RequestURI string `json:"request_uri,omitempty"`
}

// MissedReason maps how an unanswered call ended to CallMissed.Reason, in
// this order:
//
//	cancelled                            MissedCancelled
//	timedOut, or 408                     MissedNoAnswer
//	480                                  MissedOffline
//	486, 600                             MissedBusy
//	603, 607                             MissedDeclined
//	482, 483                             MissedError (loop, too many hops)
//	other 4xx and 6xx (403, 404, 604)    MissedRejected
//	3xx                                  MissedRejected
//	5xx, anything else (0: no status)    MissedError
//
// status is the final status sent upstream.
func MissedReason(status int, cancelled, timedOut bool) string {
	switch {
	case cancelled:
		return MissedCancelled
	case timedOut || status == 408:
		return MissedNoAnswer
	}
	switch status {
	case 480:
		return MissedOffline
	case 486, 600:
		return MissedBusy
	case 603, 607:
		return MissedDeclined
	case 482, 483:
		return MissedError
	}
	if status >= 300 && status < 500 || status >= 600 && status < 700 {
		return MissedRejected
	}
	return MissedError
}

func (*CallStarted) CEType() string    { return TypeCallStarted }
func (*CallStarted) CESchema() string  { return SchemaURL(TypeCallStarted) }
func (*CallRinging) CEType() string    { return TypeCallRinging }
func (*CallRinging) CESchema() string  { return SchemaURL(TypeCallRinging) }
func (*CallAnswered) CEType() string   { return TypeCallAnswered }
func (*CallAnswered) CESchema() string { return SchemaURL(TypeCallAnswered) }
func (*CallEnded) CEType() string      { return TypeCallEnded }
func (*CallEnded) CESchema() string    { return SchemaURL(TypeCallEnded) }
func (*CallMissed) CEType() string     { return TypeCallMissed }
func (*CallMissed) CESchema() string   { return SchemaURL(TypeCallMissed) }

var (
	_ bus.Typed = (*CallStarted)(nil)
	_ bus.Typed = (*CallRinging)(nil)
	_ bus.Typed = (*CallAnswered)(nil)
	_ bus.Typed = (*CallEnded)(nil)
	_ bus.Typed = (*CallMissed)(nil)
)
