package app

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
)

func TestExecFilters(t *testing.T) {
	tests := []struct {
		events []string
		want   []string
	}{
		{[]string{"sipbus.call.missed.v1"}, []string{"call.missed.*"}},
		{[]string{"sipbus.call.missed.v1", "sipbus.call.*"}, []string{"call.*.*"}},
		{[]string{"sipbus.reg.contact.added.v1", "sipbus.notify.failed.v1"}, []string{"reg.contact.added.*", "notify.failed.*"}},
		{[]string{"*"}, []string{"call.*.*", "reg.contact.*.*", "notify.*.*"}},
		{[]string{"sipbus.reg.*"}, []string{"reg.contact.*.*"}},
	}
	for _, tc := range tests {
		got, err := ExecFilters(tc.events)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ExecFilters(%v) = %v, %v; want %v", tc.events, got, err, tc.want)
		}
	}
	for _, bad := range []string{"sipbus.sip.request.received.v2", "sipbus.sip.*", "call.missed", ""} {
		if _, err := ExecFilters([]string{bad}); !errors.Is(err, ErrExecEvents) {
			t.Errorf("ExecFilters(%q) = %v, want ErrExecEvents", bad, err)
		}
	}
	if !MatchType([]string{"sipbus.call.*"}, "sipbus.call.missed.v1") || MatchType([]string{"sipbus.call.missed.v1"}, "sipbus.call.ended.v1") {
		t.Error("MatchType")
	}
}

func TestExecEnv(t *testing.T) {
	data, _ := json.Marshal(&events.CallMissed{CallID: "c@h", CallKey: "0123456789abcdef",
		Caller: events.Party{Display: "Eve \"the\" $(rm -rf /);\r\nX: y", URI: "sip:eve@example.net"}, Callee: events.Party{URI: "sip:bob@example.com"},
		RequestURI: "sip:bob@example.com", Reason: events.MissedBusy, Status: 486, LocalUser: true})
	env := ExecEnv(EventInfo{ID: "id1", Type: events.TypeCallMissed, Source: "sipbus/tm/1", Subject: "c@h", Time: time.Unix(0, 0)},
		data, &bob)
	got := map[string]string{}
	name := regexp.MustCompile(`^[A-Z0-9_]+$`)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !name.MatchString(k) || strings.ContainsAny(v, "\x00\r\n") {
			t.Errorf("variable %q", kv)
		}
		got[k] = v
	}
	want := map[string]string{
		"SIP_EVENT_ID": "id1", "SIP_EVENT_TIME": "1970-01-01T00:00:00Z", "SIP_CALLER_DISPLAY": `Eve "the" $(rm -rf /);  X: y`,
		"SIP_HF_FROM": `"Eve \"the\" $(rm -rf /);  X: y" <sip:eve@example.net>`, "SIP_HF_TO": "<sip:bob@example.com>",
		"SIP_HF_CALLID": "c@h", "SIP_RURI": "sip:bob@example.com", "SIP_USER": "bob", "SIP_REASON": "busy",
		"SIP_REASON_TEXT": "was busy", "SIP_STATUS": "486", "SIP_LOCAL_USER": "true", "SIP_CALLEE_EMAIL": "bob@example.org",
		"SIP_CALLEE_TZ": "Asia/Tokyo", "SIP_CALL_KEY": "0123456789abcdef",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	if in := EventJSON(EventInfo{ID: "id1", Type: events.TypeCallMissed, Source: "s"}, data); !json.Valid(in) || !strings.Contains(string(in), `"data":{"call_id":"c@h"`) {
		t.Errorf("EventJSON = %s", in)
	}
}

func FuzzExecEnv(f *testing.F) {
	f.Add("sipbus.call.missed.v1", `{"call_id":"c","caller":{"display":"a\r\nb","uri":"sip:a@b"},"x":{"y":1}}`)
	f.Add("sipbus.reg.contact.added.v1", `{"aor":"a@b","contact":"sip:a@1.2.3.4","q":0.5}`)
	f.Add("sipbus.call.ended.v1", `[1,2]`)
	name := regexp.MustCompile(`^[A-Z0-9_]+$`)
	f.Fuzz(func(t *testing.T, typ, data string) {
		env := ExecEnv(EventInfo{ID: "x", Type: typ}, []byte(data), nil)
		if len(env) > maxEnvVars {
			t.Fatalf("%d variables", len(env))
		}
		seen := map[string]bool{}
		for _, kv := range env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !name.MatchString(k) || seen[k] || strings.ContainsAny(v, "\x00\r\n") || len(v) > maxEnvValue+3 {
				t.Fatalf("variable %q", kv)
			}
			seen[k] = true
		}
		if !json.Valid(EventJSON(EventInfo{ID: "x", Type: typ}, []byte(data))) {
			t.Fatal("EventJSON is not JSON")
		}
	})
}
