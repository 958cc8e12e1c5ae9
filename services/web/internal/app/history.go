package app

import (
	"time"

	"github.com/sipbus/sipbus/pkg/events"
)

// Directions of a Call.
const (
	In  = "in"
	Out = "out"
)

// Call is one line of a user's call history.
type Call struct {
	// ID is unique per user and call: the call key and the direction,
	// so a redelivered event is recognised.
	ID        string        `json:"id"`
	Dir       string        `json:"dir"` // In or Out
	Peer      events.Party  `json:"peer"`
	StartedAt time.Time     `json:"started_at"`
	Answered  bool          `json:"answered"`
	Duration  time.Duration `json:"duration,omitempty"` // answered calls
	Missed    bool          `json:"missed"`             // an incoming call not answered
	Reason    string        `json:"reason,omitempty"`   // events.Missed...
	Status    int           `json:"status,omitempty"`
}

// Line is a history line for one user, named by the URI that picks the user
// (the caller's From URI, the callee's Request-URI).
type Line struct {
	UserURI string
	Call    Call
}

// FromMissed is the history a missed call makes: a missed incoming call
// for the callee (named by the Request-URI, else the To URI) and an
// unanswered outgoing one for the caller.
func FromMissed(ev *events.CallMissed) []Line {
	callee := ev.RequestURI
	if callee == "" {
		callee = ev.Callee.URI
	}
	return []Line{
		{UserURI: callee, Call: Call{ID: ev.CallKey + ":in", Dir: In, Peer: ev.Caller, StartedAt: ev.StartedAt,
			Missed: true, Reason: ev.Reason, Status: ev.Status}},
		{UserURI: ev.Caller.URI, Call: Call{ID: ev.CallKey + ":out", Dir: Out, Peer: ev.Callee, StartedAt: ev.StartedAt,
			Reason: ev.Reason, Status: ev.Status}},
	}
}

// FromEnded is the history an answered call makes, for both ends.
func FromEnded(ev *events.CallEnded) []Line {
	d := ev.EndedAt.Sub(ev.AnsweredAt).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return []Line{
		{UserURI: ev.Callee.URI, Call: Call{ID: ev.CallKey + ":in", Dir: In, Peer: ev.Caller, StartedAt: ev.StartedAt, Answered: true, Duration: d}},
		{UserURI: ev.Caller.URI, Call: Call{ID: ev.CallKey + ":out", Dir: Out, Peer: ev.Callee, StartedAt: ev.StartedAt, Answered: true, Duration: d}},
	}
}
