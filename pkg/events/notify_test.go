package events_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

// notifySamples is one filled value of every notifier type, for
// TestRoundTripAndValidate.
func notifySamples() map[string]bus.Typed {
	missed, _ := json.Marshal(callSamples()["call missed"])
	return map[string]bus.Typed{
		"notify failed mail": &events.NotifyFailed{ID: "nf-0123456789abcdef", Kind: events.NotifyMail,
			Key: "mail.call.terminal.x", Permanent: true, Code: 550, Error: "550 5.1.1 mailbox unavailable",
			Attempts: 1, FailedAt: when, MessageID: "call.terminal.x@example.com", To: "bob@example.com",
			AOR: "bob@biloxi.example.com", Event: &events.NotifyEvent{ID: "call.terminal.x", Type: events.TypeCallMissed,
				Source: "sipbus/tm/tm-1", Subject: callID, Time: when, Data: missed}},
		"notify failed digest": &events.NotifyFailed{ID: "nf-fedcba9876543210", Kind: events.NotifyDigest,
			Key: "digest.bob@biloxi.example.com.1", Error: "dial tcp 127.0.0.1:25: connect: connection refused",
			Attempts: 12, FailedAt: when, MessageID: "digest.x@example.com", To: "bob@example.com",
			Window: &events.NotifyWindow{Start: when, End: when.Add(3600e9)}},
		"notify failed exec": &events.NotifyFailed{ID: "nf-00000000000000aa", Kind: events.NotifyExec,
			Key: "exec.script.call.terminal.x", Permanent: true, Code: -1, Error: "killed at its timeout (10s)",
			Attempts: 1, FailedAt: when, Rule: "script", Event: &events.NotifyEvent{ID: "call.terminal.x",
				Type: events.TypeCallMissed, Source: "sipbus/tm/tm-1", Data: missed}},
		"notifier failed": &events.NotifierFailed{Limit: 10},
		"notifier retry":  &events.NotifierRetry{ID: "nf-0123456789abcdef"},
		"notifier replay": &events.NotifierReplay{DryRun: true, Events: []json.RawMessage{json.RawMessage(
			`{"specversion":"1.0","id":"call.terminal.x","source":"sipbus/tm/tm-1","type":"sipbus.call.missed.v1","data":` + string(missed) + `}`)}},
		"registrar set":    &events.RegistrarUserSet{AOR: "bob@biloxi.example.com", TZ: ptr("Europe/Paris"), MissedCallEmail: ptr(false)},
		"registrar set no": &events.RegistrarUserSet{AOR: "bob@biloxi.example.com"},
	}
}

func ptr[T any](v T) *T { return &v }

func TestNotifyValidateRejects(t *testing.T) {
	edit := func(f func(m map[string]any)) *bus.Event {
		v := notifySamples()["notify failed mail"]
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
		{"unknown kind", edit(func(m map[string]any) { m["kind"] = "sms" })},
		{"id with a dot", edit(func(m map[string]any) { m["id"] = "a.b" })},
		{"no key", edit(func(m map[string]any) { delete(m, "key") })},
		{"no attempts", edit(func(m map[string]any) { m["attempts"] = 0 })},
		{"event without data", edit(func(m map[string]any) { delete(m["event"].(map[string]any), "data") })},
		{"code 600", edit(func(m map[string]any) { m["code"] = 600 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := events.Validate(tc.ev); !errors.Is(err, events.ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid\n%s", err, tc.ev.Data)
			}
		})
	}
	if got, want := bus.SubjectNotify(bus.NotifyEventFailed, "nf-1"), "notify.failed.nf-1"; got != want {
		t.Errorf("SubjectNotify = %q, want %q", got, want)
	}
}
