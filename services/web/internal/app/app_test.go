package app_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/services/web/internal/app"
)

func TestCleanEntry(t *testing.T) {
	for _, tc := range []struct {
		name, entryName, target, field string
	}{
		{"SIP URI", "Bob", "sip:bob@example.com", ""},
		{"sips URI with port", " Bob ", "sips:bob@example.com:5061", ""},
		{"number", "Pizza", "+33 1", "target"},
		{"plain number", "Pizza", "+3312345678", ""},
		{"star code", "Voicemail", "*97", ""},
		{"empty name", "", "123", "name"},
		{"control in name", "Bo\x00b", "123", "name"},
		{"long name", strings.Repeat("é", 129), "123", "name"},
		{"empty target", "Bob", "", "target"},
		{"http URL", "Bob", "http://example.com", "target"},
		{"tel URI", "Bob", "tel:+331234", "target"},
		{"header injection", "Bob", "sip:bob@example.com\r\nX: y", "target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := app.CleanEntry(tc.entryName, tc.target)
			var fe *app.FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("CleanEntry = %v, want ok", err)
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, app.ErrInvalid)):
				t.Fatalf("CleanEntry = %+v, %v, want an error naming %s", e, err, tc.field)
			}
		})
	}
}

func TestBehindNAT(t *testing.T) {
	for _, tc := range []struct {
		contact, received string
		nat               bool
	}{
		{"sip:a@192.0.2.1:5062", "udp:192.0.2.1:5062", false},
		{"sip:a@192.0.2.1", "udp:192.0.2.1:5060", false},
		{"sip:a@10.0.0.5:5060", "udp:198.51.100.7:40000", true},
		{"sip:a@192.0.2.1:5062", "udp:192.0.2.1:6000", true},
		{"sip:a@phone.example.com", "udp:198.51.100.7:5060", false},
		{"sip:a@10.0.0.5", "tcp:flow1", false},
	} {
		if got := app.BehindNAT(tc.contact, tc.received); got != tc.nat {
			t.Errorf("BehindNAT(%q, %q) = %v, want %v", tc.contact, tc.received, got, tc.nat)
		}
	}
}

func TestHistoryLines(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := app.FromMissed(&events.CallMissed{CallKey: "k", Caller: events.Party{Display: "Eve", URI: "sip:eve@x"},
		Callee: events.Party{URI: "sip:bob@other"}, RequestURI: "sip:bob@x", StartedAt: t0, Reason: events.MissedBusy, Status: 486})
	if len(m) != 2 || m[0].UserURI != "sip:bob@x" || !m[0].Call.Missed || m[0].Call.Peer.Display != "Eve" ||
		m[1].UserURI != "sip:eve@x" || m[1].Call.Missed || m[1].Call.Dir != app.Out || m[0].Call.ID == m[1].Call.ID {
		t.Fatalf("FromMissed = %+v", m)
	}
	e := app.FromEnded(&events.CallEnded{CallKey: "k", Caller: events.Party{URI: "sip:eve@x"}, Callee: events.Party{URI: "sip:bob@x"},
		AnsweredAt: t0, EndedAt: t0.Add(61 * time.Second)})
	if len(e) != 2 || !e[0].Call.Answered || e[0].Call.Duration != 61*time.Second {
		t.Fatalf("FromEnded = %+v", e)
	}
}

// FuzzCleanEntry: the phonebook form's decoder never panics, and what it
// accepts is valid UTF-8 without control characters or line breaks.
func FuzzCleanEntry(f *testing.F) {
	f.Add("Bob", "sip:bob@example.com")
	f.Add("", "+3312")
	f.Add("<script>", "sip:a@b;x=<y>")
	f.Add("x", "sip:a@b\r\nX: y")
	f.Fuzz(func(t *testing.T, name, target string) {
		e, err := app.CleanEntry(name, target)
		if err != nil {
			return
		}
		if !utf8.ValidString(e.Name) || strings.ContainsAny(e.Name+e.Target, "\r\n\x00") || e.Name == "" || e.Target == "" {
			t.Fatalf("accepted %q %q", e.Name, e.Target)
		}
		if strings.ContainsAny(e.Target, " \t<>\"") && !strings.HasPrefix(e.Target, "sip") {
			t.Fatalf("accepted target %q", e.Target)
		}
	})
}
