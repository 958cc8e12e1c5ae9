package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

var (
	bob    = subscriber.Subscriber{AOR: "bob@example.com", Name: "Bob", Email: "bob@example.org", Enabled: true, TZ: "Asia/Tokyo"}
	missed = &events.CallMissed{CallID: "c@h", CallKey: "0123456789abcdef", Caller: events.Party{Display: "Alice", URI: "sip:alice@example.net"},
		Callee: events.Party{URI: "sip:bob@example.com"}, RequestURI: "sip:bob@example.com;user=phone",
		EndedAt: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC), Reason: events.MissedNoAnswer, Status: 408}
)

func TestMessageID(t *testing.T) {
	id := MessageID("mail.call.terminal.0123.4567", "example.net")
	if id != "mail.call.terminal.0123.4567@example.net" || MessageID("mail.call.terminal.0123.4567", "example.net") != id {
		t.Errorf("MessageID = %q", id)
	}
	for _, key := range []string{"mail.with space", "mail..x", strings.Repeat("k", 200), "mail.<x>"} {
		got := MessageID(key, "example.net")
		if !strings.HasPrefix(got, "h.") || len(got) != len("h.")+32+len("@example.net") || got != MessageID(key, "example.net") {
			t.Errorf("MessageID(%q) = %q, want a stable hash", key, got)
		}
	}
	if FailureID("k") != FailureID("k") || FailureID("k") == FailureID("l") || len(FailureID("k")) != 19 {
		t.Errorf("FailureID = %q", FailureID("k"))
	}
}

func TestCalleeAOR(t *testing.T) {
	if aor, ok := CalleeAOR(missed); !ok || aor != "bob@example.com" {
		t.Errorf("Request-URI: %q %v", aor, ok)
	}
	m := *missed
	m.RequestURI = ""
	m.Callee.URI = "sips:Carol@EXAMPLE.com"
	if aor, ok := CalleeAOR(&m); !ok || aor != "Carol@example.com" {
		t.Errorf("To: %q %v", aor, ok)
	}
	m.Callee.URI = "tel:+1234"
	if _, ok := CalleeAOR(&m); ok {
		t.Error("a tel: callee has an AOR")
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name  string
		s     subscriber.Subscriber
		found bool
		want  Verdict
	}{
		{"mail", bob, true, Verdict{Mail: true}},
		{"not a subscriber", subscriber.Subscriber{}, false, Verdict{Why: "no subscriber"}},
		{"no address", subscriber.Subscriber{AOR: "x@y", Enabled: true}, true, Verdict{Why: "no e-mail address"}},
		{"opted out", subscriber.Subscriber{AOR: "x@y", Email: "x@y", Enabled: true, MissedCallOptOut: true}, true, Verdict{Why: "opted out"}},
		{"disabled", subscriber.Subscriber{AOR: "x@y", Email: "x@y"}, true, Verdict{Why: "disabled"}},
	}
	for _, tc := range tests {
		if got := Decide(tc.s, tc.found); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestReasonWords(t *testing.T) {
	for reason, want := range map[string]string{
		events.MissedOffline: "was offline", events.MissedBusy: "was busy", events.MissedNoAnswer: "did not answer",
		events.MissedCancelled: "caller hung up", events.MissedDeclined: "declined", events.MissedRejected: "could not be reached",
		events.MissedError: "call failed", "unknown": "call failed",
	} {
		if got := ReasonWords(reason); got != want {
			t.Errorf("ReasonWords(%s) = %q, want %q", reason, got, want)
		}
	}
}

func TestMissedMail(t *testing.T) {
	tm, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	m, err := tm.Missed("call.terminal.x", missed, bob, Options{Domain: "example.net", WebURL: "https://pbx.example.net/calls"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Key != "mail.call.terminal.x" || m.MessageID != "mail.call.terminal.x@example.net" || m.To != (Address{Name: "Bob", Addr: "bob@example.org"}) ||
		m.Subject != "Missed call from Alice (did not answer)" {
		t.Errorf("mail %+v", m)
	}
	for _, want := range []string{"Sun, 1 Mar 2026 21:30:00 JST (Asia/Tokyo)", "Call back: sip:alice@example.net", "Your calls: https://pbx.example.net/calls"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, `href="https://pbx.example.net/calls"`) {
		t.Errorf("HTML lacks the web link:\n%s", m.HTML)
	}
}

func TestTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(TmplMissedSubject, "Anruf verpasst: {{.Caller.Name}}\nX-Injected: {{.Reason}}")
	tm, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tm.From[TmplMissedSubject] != filepath.Join(dir, TmplMissedSubject) || tm.From[TmplMissedText] != "embedded "+TmplMissedText {
		t.Errorf("sources %v", tm.From)
	}
	m, err := tm.Missed("e", missed, bob, Options{Domain: "example.net"})
	if err != nil || m.Subject != "Anruf verpasst: Alice X-Injected: did not answer" {
		t.Errorf("subject %q %v: want the override, on one line", m.Subject, err)
	}

	write("missed.subjet.tmpl", "typo")
	if _, err := LoadTemplates(dir); !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), "missed.subjet.tmpl: not a template name") {
		t.Errorf("unknown file: %v", err)
	}
	os.Remove(filepath.Join(dir, "missed.subjet.tmpl"))
	write(TmplDigestHTML, "{{.NoSuchField}}")
	if _, err := LoadTemplates(dir); !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), filepath.Join(dir, TmplDigestHTML)) {
		t.Errorf("broken template: %v", err)
	}
	write(TmplDigestHTML, "{{if}}")
	if _, err := LoadTemplates(dir); !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), TmplDigestHTML) {
		t.Errorf("template that does not parse: %v", err)
	}
	if _, err := LoadTemplates(filepath.Join(dir, "nope")); !errors.Is(err, ErrTemplate) {
		t.Errorf("missing folder: %v", err)
	}
}

func TestDigestMail(t *testing.T) {
	tm, _ := LoadTemplates("")
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var calls []Folded
	for range 25 {
		calls = append(calls, FoldedOf(missed))
	}
	m, err := tm.Digest(bob, 7, start, start.Add(time.Hour), 30, calls, Options{Domain: "example.net", Limit: 10, Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "And 30 more missed calls" || m.MessageID != "digest."+events.AORKey("bob@example.com")+".7@example.net" {
		t.Errorf("digest %q %q", m.Subject, m.MessageID)
	}
	if strings.Count(m.Text, "Alice <sip:alice@example.net>: did not answer") != MaxDigestCalls || !strings.Contains(m.Text, "... and 10 more") {
		t.Errorf("digest text:\n%s", m.Text)
	}
}

func TestWindow(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 34, 56, 0, time.UTC)
	w, start, end := Window(at, time.Hour)
	if !start.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) || !end.Equal(start.Add(time.Hour)) {
		t.Errorf("window %d: %v - %v", w, start, end)
	}
	if s, e := WindowBounds(w, time.Hour); !s.Equal(start) || !e.Equal(end) {
		t.Errorf("bounds %v %v", s, e)
	}
}
