package adapters

import (
	"bytes"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// The header fields of every mail, whatever the caller.
var wantHeaders = []string{"auto-submitted", "content-type", "date", "from", "message-id", "mime-version", "reply-to",
	"subject", "to", "user-agent", "x-mailer", "x-sipbus-event", "x-sipbus-key"}

// FuzzMessage: whatever the caller's display name and URI (and the
// subscriber's name, which an operator typed), the message built for the
// SMTP server has exactly the header fields above, one recipient in To and
// a subject on one line.
func FuzzMessage(f *testing.F) {
	for _, s := range []string{"Alice", "Eve\r\nBcc: m@evil.example", `Eve" <m@evil.example>, "x`, "=?utf-8?q?x=0D=0ABcc:_y?=",
		"\xff\xfe", strings.Repeat("A", 10240), "<script>", "\u202Ex"} {
		f.Add(s, "sip:eve@example.net", "Bob")
	}
	f.Add("x", "sip:a@b?Bcc=c@d", `Bob "B" <x@y>`)
	tm, err := app.LoadTemplates("")
	if err != nil {
		f.Fatal(err)
	}
	from, _ := mail.ParseAddress("sipbus <sipbus@example.net>")
	s := &SMTP{From: from, ReplyTo: "help@example.net"}
	f.Fuzz(func(t *testing.T, display, uri, name string) {
		sub := subscriber.Subscriber{AOR: "bob@example.com", Name: name, Email: "bob@example.org", Enabled: true}
		m := &events.CallMissed{Caller: events.Party{Display: display, URI: uri}, Callee: events.Party{URI: "sip:bob@example.com"},
			EndedAt: time.Unix(1e9, 0), Reason: events.MissedBusy, Status: 486}
		ml, err := tm.Missed("call.terminal.x", m, sub, app.Options{Domain: "example.net"})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := s.message(ml)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		parsed, err := mail.ReadMessage(&buf)
		if err != nil {
			t.Fatalf("the message does not parse: %v", err)
		}
		var names []string
		for k := range parsed.Header {
			names = append(names, strings.ToLower(k))
		}
		slices.Sort(names)
		if !slices.Equal(names, wantHeaders) {
			t.Fatalf("header fields %v, want %v", names, wantHeaders)
		}
		to, err := parsed.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Address != "bob@example.org" {
			t.Fatalf("To %q: %v %v", parsed.Header.Get("To"), to, err)
		}
		if rcpts, err := msg.GetRecipients(); err != nil || !slices.Equal(rcpts, []string{"<bob@example.org>"}) {
			t.Fatalf("envelope recipients %v %v", rcpts, err)
		}
		if len(parsed.Header["Subject"]) != 1 {
			t.Fatalf("subjects %q", parsed.Header["Subject"])
		}
	})
}
