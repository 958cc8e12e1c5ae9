package replay

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

// Summary is one call of `sipbus calls`, from its call.* events.
type Summary struct {
	CallID     string    `json:"call_id"`
	CallKey    string    `json:"call_key"`
	Caller     string    `json:"caller"`
	Callee     string    `json:"callee"`
	StartedAt  time.Time `json:"started_at"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	// State: "ringing", "answered", "ended" (answered, then hung up),
	// "missed", or "started" (nothing more yet).
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"` // missed reason, or who hung up
	Status int    `json:"status,omitempty"` // a missed call's final status
}

// Filter selects calls: User matches caller or callee URI (an AOR
// "bob@localhost" matches "sip:bob@localhost"), Missed only missed calls.
type Filter struct {
	User   string
	Missed bool
}

// Calls lists the calls whose events the stream holds since since,
// oldest first.
func Calls(ctx context.Context, js jetstream.JetStream, stream string, since time.Time, f Filter) ([]Summary, error) {
	msgs, err := readFiltered(ctx, js, stream, []string{"call.>"}, "", since)
	if err != nil {
		return nil, err
	}
	var evs []*bus.Event
	for _, jm := range msgs {
		it, ok := decode(jm, "")
		if ok && it.Call != nil {
			evs = append(evs, it.Call)
		}
	}
	return Summarize(evs, f), nil
}

// Summarize folds call events into one Summary per call key.
func Summarize(evs []*bus.Event, f Filter) []Summary {
	by := map[string]*Summary{}
	var order []string
	for _, ev := range evs {
		var d struct {
			CallID     string       `json:"call_id"`
			CallKey    string       `json:"call_key"`
			Caller     events.Party `json:"caller"`
			Callee     events.Party `json:"callee"`
			StartedAt  time.Time    `json:"started_at"`
			AnsweredAt time.Time    `json:"answered_at"`
			EndedAt    time.Time    `json:"ended_at"`
			HangupBy   string       `json:"hangup_by"`
			Reason     string       `json:"reason"`
			Status     int          `json:"status"`
			At         time.Time    `json:"at"`
		}
		if json.Unmarshal(ev.Data, &d) != nil {
			continue
		}
		key := d.CallKey
		if key == "" {
			key = ev.CallKey
		}
		if key == "" {
			continue
		}
		s, ok := by[key]
		if !ok {
			s = &Summary{CallKey: key, State: "started"}
			by[key] = s
			order = append(order, key)
		}
		if s.CallID == "" {
			s.CallID = d.CallID
		}
		if s.Caller == "" {
			s.Caller = d.Caller.URI
		}
		if s.Callee == "" {
			s.Callee = d.Callee.URI
		}
		if s.StartedAt.IsZero() {
			s.StartedAt = firstTime(d.StartedAt, d.At, ev.Time)
		}
		switch ev.Type {
		case events.TypeCallRinging:
			if s.State == "started" {
				s.State = "ringing"
			}
		case events.TypeCallAnswered:
			s.State, s.AnsweredAt = "answered", d.AnsweredAt
		case events.TypeCallEnded:
			s.State, s.EndedAt, s.Reason = "ended", d.EndedAt, d.HangupBy
		case events.TypeCallMissed:
			s.State, s.EndedAt, s.Reason, s.Status = "missed", d.EndedAt, d.Reason, d.Status
		}
	}
	out := make([]Summary, 0, len(order))
	for _, k := range order {
		s := by[k]
		if f.Missed && s.State != "missed" {
			continue
		}
		if f.User != "" && !matchUser(s.Caller, f.User) && !matchUser(s.Callee, f.User) {
			continue
		}
		out = append(out, *s)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].StartedAt.Before(out[b].StartedAt) })
	return out
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// matchUser: uri is user's AOR, with or without its scheme and
// parameters (case-insensitive host).
func matchUser(uri, user string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(s), "sip:"), "sips:")
		if i := strings.IndexAny(s, ";?>"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	return uri != "" && norm(uri) == norm(user)
}
