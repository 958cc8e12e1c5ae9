package events_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

const callID = "a84b4c76e66710@pc33.atlanta.example.com"

var (
	alice = events.Party{Display: "Alice", URI: "sip:alice@atlanta.example.com"}
	bob   = events.Party{URI: "sip:bob@biloxi.example.com"}
)

// callSamples is one filled value of every call event type, for
// TestRoundTripAndValidate.
func callSamples() map[string]bus.Typed {
	ck := sipmsg.CallKey(callID)
	later := when.Add(5e9)
	end := when.Add(65e9)
	return map[string]bus.Typed{
		"call started": &events.CallStarted{CallID: callID, CallKey: ck, Caller: alice, Callee: bob,
			RequestURI: "sip:bob@biloxi.example.com", StartedAt: when, Edge: "edge-1", Source: "[2001:db8::2]:5060"},
		"call started minimal": &events.CallStarted{CallID: callID, CallKey: ck, Caller: bob, Callee: alice,
			RequestURI: "sip:alice@atlanta.example.com", StartedAt: when},
		"call ringing": &events.CallRinging{CallID: callID, CallKey: ck, Caller: alice, Callee: bob, Status: 183, At: when},
		"call answered": &events.CallAnswered{CallID: callID, CallKey: ck, Caller: alice, Callee: bob,
			Contact: "sip:bob@192.0.2.4:5060;transport=tcp", StartedAt: when, AnsweredAt: later},
		"call ended": &events.CallEnded{CallID: callID, CallKey: ck, Caller: alice, Callee: bob, StartedAt: when,
			AnsweredAt: later, EndedAt: end, HangupBy: events.HangupCallee, Reason: "bye"},
		"call missed": &events.CallMissed{CallID: callID, CallKey: ck, Caller: alice, Callee: bob, StartedAt: when,
			EndedAt: later, Reason: events.MissedBusy, Status: 486, LocalUser: true, RequestURI: "sip:bob@biloxi.example.com"},
		"call missed remote": &events.CallMissed{CallID: callID, CallKey: ck, Caller: alice, Callee: bob, StartedAt: when,
			EndedAt: later, Reason: events.MissedError, Status: 503},
	}
}

func TestMissedReason(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		cancelled bool
		timedOut  bool
		want      string
	}{
		{"cancelled", 487, true, false, events.MissedCancelled},
		{"cancelled wins over timeout", 408, true, true, events.MissedCancelled},
		{"timed out", 487, false, true, events.MissedNoAnswer},
		{"timed out without status", 0, false, true, events.MissedNoAnswer},
		{"408", 408, false, false, events.MissedNoAnswer},
		{"480", 480, false, false, events.MissedOffline},
		{"486", 486, false, false, events.MissedBusy},
		{"600", 600, false, false, events.MissedBusy},
		{"403", 403, false, false, events.MissedRejected},
		{"404", 404, false, false, events.MissedRejected},
		{"603", 603, false, false, events.MissedDeclined},
		{"607 unwanted", 607, false, false, events.MissedDeclined},
		{"other 4xx", 415, false, false, events.MissedRejected},
		{"487 not cancelled here", 487, false, false, events.MissedRejected},
		{"other 6xx", 604, false, false, events.MissedRejected},
		{"3xx", 302, false, false, events.MissedRejected},
		{"482 loop", 482, false, false, events.MissedError},
		{"483 too many hops", 483, false, false, events.MissedError},
		{"500", 500, false, false, events.MissedError},
		{"503", 503, false, false, events.MissedError},
		{"no status", 0, false, false, events.MissedError},
		{"2xx is not missed", 200, false, false, events.MissedError},
		{"out of range", 700, false, false, events.MissedError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := events.MissedReason(tc.status, tc.cancelled, tc.timedOut); got != tc.want {
				t.Errorf("MissedReason(%d, %v, %v) = %q, want %q", tc.status, tc.cancelled, tc.timedOut, got, tc.want)
			}
		})
	}
}

// TestMissedReasonInSchema: every value MissedReason returns is in the
// schema's enum (the Go constants and the schema do not drift apart).
func TestMissedReasonInSchema(t *testing.T) {
	m := callSamples()["call missed"].(*events.CallMissed)
	for _, r := range []string{events.MissedOffline, events.MissedBusy, events.MissedNoAnswer,
		events.MissedCancelled, events.MissedDeclined, events.MissedRejected, events.MissedError} {
		c := *m
		c.Reason = r
		b, _ := json.Marshal(&c)
		if err := events.Validate(&bus.Event{ID: "1", Type: events.TypeCallMissed, Data: b}); err != nil {
			t.Errorf("reason %q: %v", r, err)
		}
	}
	e := callSamples()["call ended"].(*events.CallEnded)
	for _, h := range []string{events.HangupCaller, events.HangupCallee, events.HangupSystem} {
		c := *e
		c.HangupBy = h
		b, _ := json.Marshal(&c)
		if err := events.Validate(&bus.Event{ID: "1", Type: events.TypeCallEnded, Data: b}); err != nil {
			t.Errorf("hangup_by %q: %v", h, err)
		}
	}
}

func TestCallValidateRejects(t *testing.T) {
	// edit marshals the sample of name, applies f to its JSON object, and
	// returns the event.
	edit := func(name string, f func(m map[string]any)) *bus.Event {
		v := callSamples()[name]
		b, _ := json.Marshal(v)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		f(m)
		b, _ = json.Marshal(m)
		return &bus.Event{ID: "1", Type: v.CEType(), Data: b}
	}
	tests := []struct {
		name string
		ev   *bus.Event
	}{
		{"ringing 200", edit("call ringing", func(m map[string]any) { m["status"] = 200 })},
		{"ringing 181", edit("call ringing", func(m map[string]any) { m["status"] = 181 })},
		{"missed unknown reason", edit("call missed", func(m map[string]any) { m["reason"] = "lost" })},
		{"missed status 200", edit("call missed", func(m map[string]any) { m["status"] = 200 })},
		{"missed no local_user", edit("call missed", func(m map[string]any) { delete(m, "local_user") })},
		{"ended unknown hangup_by", edit("call ended", func(m map[string]any) { m["hangup_by"] = "nobody" })},
		{"ended not answered", edit("call ended", func(m map[string]any) { delete(m, "answered_at") })},
		{"answered bad time", edit("call answered", func(m map[string]any) { m["answered_at"] = "soon" })},
		{"started bad call_key", edit("call started", func(m map[string]any) { m["call_key"] = "ABC" })},
		{"started party without uri", edit("call started", func(m map[string]any) { m["caller"] = map[string]any{"display": "A"} })},
		{"started party as string", edit("call started", func(m map[string]any) { m["callee"] = "sip:bob@b" })},
		{"started bad source", edit("call started", func(m map[string]any) { m["source"] = "somewhere" })},
		{"started no request_uri", edit("call started", func(m map[string]any) { delete(m, "request_uri") })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := events.Validate(tc.ev); !errors.Is(err, events.ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid\n%s", err, tc.ev.Data)
			}
		})
	}
}

// TestCallSubjects: the subject event names in pkg/bus match the type names.
func TestCallSubjects(t *testing.T) {
	ck := sipmsg.CallKey(callID)
	for typ, ev := range map[string]string{
		events.TypeCallStarted:  bus.CallEventStarted,
		events.TypeCallRinging:  bus.CallEventRinging,
		events.TypeCallAnswered: bus.CallEventAnswered,
		events.TypeCallEnded:    bus.CallEventEnded,
		events.TypeCallMissed:   bus.CallEventMissed,
	} {
		if want := "sipbus.call." + ev + ".v1"; typ != want {
			t.Errorf("type %q, subject event %q (want type %q)", typ, ev, want)
		}
		if got, want := bus.SubjectCall(ev, ck), "call."+ev+"."+ck[:2]; got != want {
			t.Errorf("SubjectCall = %q, want %q", got, want)
		}
	}
}
