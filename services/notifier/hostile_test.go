package notifier_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sipbus/sipbus/pkg/events"
)

// TestHostileCallers: display names and URIs come from the network. None
// of these adds a header or a recipient (checked in the raw message and in
// Mailpit's own reading of the envelope), and the HTML part shows them
// escaped. Control characters cannot reach a SIP display name through the
// edge (a CRLF ends the header line there), but an event may come from any
// producer on the bus: the notifier does not rely on the edge.
func TestHostileCallers(t *testing.T) {
	b := newBench(t)
	cfg := b.config("n1")
	cfg.RateLimit = 0 // every one of them is mailed
	b.start(cfg)
	control := b.missed("bob@localhost", alice, events.MissedBusy, 486)
	ctl := b.mailsFor("mail."+control+"@example.net", 1, 0)[0]
	_, wantNames := headers(t, b.mp.Raw(t, ctl.ID))
	slices.Sort(wantNames)

	long := strings.Repeat("A", 10240)
	tests := []struct {
		name   string
		caller events.Party
	}{
		{"CRLF and Bcc", events.Party{Display: "Eve\r\nBcc: mallory@evil.example", URI: "sip:eve@evil.example"}},
		{"LF headers", events.Party{Display: "Eve\nBcc: mallory@evil.example\nX-Injected: yes\n\nbody", URI: "sip:eve@evil.example"}},
		{"Bcc text", events.Party{Display: "Bcc: mallory@evil.example", URI: "sip:eve@evil.example"}},
		{"encoded word", events.Party{Display: "=?utf-8?q?Eve=0D=0ABcc:_mallory@evil.example?=", URI: "sip:eve@evil.example"}},
		{"encoded word base64", events.Party{Display: "=?UTF-8?B?RXZlDQpCY2M6IG1hbGxvcnlAZXZpbC5leGFtcGxl?=", URI: "sip:eve@evil.example"}},
		{"8-bit bytes", events.Party{Display: "Ev\xe9 \xff\xfe\xc3 M\xfcller", URI: "sip:eve@evil.example"}},
		{"10 kB", events.Party{Display: long, URI: "sip:" + long + "@evil.example"}},
		{"HTML", events.Party{Display: `<script>alert(1)</script>"><img src=x onerror=alert(1)>`, URI: "sip:eve@evil.example"}},
		{"quotes and address", events.Party{Display: `Eve" <mallory@evil.example>, "x`, URI: "sip:eve@evil.example"}},
		{"bidi override", events.Party{Display: "\u202Egnp.exe", URI: "sip:eve@evil.example"}},
		{"URI with headers", events.Party{Display: "Eve", URI: "sip:eve@evil.example?Bcc=mallory@evil.example&Subject=x%0d%0aBcc:y"}},
		{"javascript URI", events.Party{Display: "Eve", URI: "javascript:alert(1)"}},
		{"URI breaking the attribute", events.Party{Display: "Eve", URI: `sip:"><script>alert(1)</script>@evil.example`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := b.on(t)
			id := b.missed("bob@localhost", tc.caller, events.MissedBusy, 486)
			got := b.mailsFor("mail."+id+"@example.net", 1, 0)[0]
			if len(got.To) != 1 || got.To[0].Address != "bob@example.com" || len(got.Cc) != 0 || len(got.Bcc) != 0 || len(got.ReplyTo) != 0 {
				t.Errorf("recipients To %v Cc %v Bcc %v Reply-To %v: want bob alone", got.To, got.Cc, got.Bcc, got.ReplyTo)
			}
			raw := b.mp.Raw(t, got.ID)
			h, names := headers(t, raw)
			slices.Sort(names)
			if !slices.Equal(names, wantNames) {
				t.Errorf("header fields %v, want those of a plain mail %v", names, wantNames)
			}
			for _, line := range strings.Split(string(raw), "\r\n") {
				if low := strings.ToLower(line); strings.HasPrefix(low, "bcc:") || strings.HasPrefix(low, "x-injected:") {
					t.Errorf("raw message has the line %q", line)
				}
				if len(line) > 998 {
					t.Errorf("raw line of %d bytes (RFC 5322 §2.1.1: at most 998)", len(line))
				}
			}
			if strings.ContainsAny(got.Subject, "\r\n") || utf8.RuneCountInString(got.Subject) > 160 || !utf8.ValidString(got.Subject) {
				t.Errorf("subject %q", got.Subject)
			}
			if strings.HasPrefix(tc.caller.Display, "=?") && !strings.Contains(got.Subject, tc.caller.Display[:10]) {
				t.Errorf("an encoded word in the name was decoded: subject %q", got.Subject)
			}
			if h.Get("To") == "" || strings.Contains(h.Get("To"), "evil") {
				t.Errorf("To: %q", h.Get("To"))
			}
			full := b.mp.Message(t, got.ID)
			if strings.Contains(full.HTML, "<script>") || strings.Contains(full.HTML, "<img") || strings.Contains(full.HTML, `href="javascript`) {
				t.Errorf("HTML part is not escaped:\n%s", full.HTML)
			}
			for _, line := range strings.Split(full.Text, "\n") {
				if strings.HasPrefix(strings.ToLower(line), "bcc:") || strings.HasPrefix(line, "X-Injected") {
					t.Errorf("text part has the line %q", line)
				}
			}
			// The URI is shown as text as it came; the call-back link is
			// scheme, user and host only.
			for _, line := range strings.Split(full.Text, "\n") {
				if strings.HasPrefix(line, "Call back:") && (strings.ContainsAny(line, "?;<>\"") || strings.Contains(line, "javascript")) {
					t.Errorf("call-back link %q", line)
				}
			}
			if _, rest, ok := strings.Cut(full.HTML, `<a href="`); ok {
				if href, _, _ := strings.Cut(rest, `"`); href != "sip:eve@evil.example" {
					t.Errorf("call-back href %q, want sip:eve@evil.example", href)
				}
			} else if tc.name != "javascript URI" && tc.name != "URI breaking the attribute" && tc.name != "10 kB" {
				t.Errorf("no call-back link in the HTML part:\n%s", full.HTML)
			}
		})
	}
}
