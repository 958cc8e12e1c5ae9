package sipmsg

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

const replyReq = `INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bK776asdhds,
 SIP/2.0/TCP proxy.example.com;branch=z9hG4bKprx
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKv6
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159
 INVITE
Contact: <sip:alice@pc33.atlanta.example.com>
Content-Length: 0

`

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestReplyGolden(t *testing.T) {
	req := mustParse(t, replyReq)
	tests := []struct {
		name   string
		status int
		reason string
		opt    ReplyOptions
		want   string
	}{
		{"100 Trying has no tag", 100, "", ReplyOptions{ToTag: "ignored"}, `SIP/2.0 100 Trying
Via: SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bK776asdhds, SIP/2.0/TCP proxy.example.com;branch=z9hG4bKprx
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKv6
From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774
To: Bob <sip:bob@biloxi.example.com>
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Content-Length: 0

`},
		{"486 with tag, server, headers, received and rport", 486, "Busy Here",
			ReplyOptions{ToTag: "sl-abc", Server: "sipbus", Headers: []string{"Retry-After: 5", "Content-Length: 99"},
				Received: "192.0.2.1", RPort: 9988}, `SIP/2.0 486 Busy Here
Via: SIP/2.0/UDP 10.1.1.1:4540;rport=9988;branch=z9hG4bK776asdhds;received=192.0.2.1, SIP/2.0/TCP proxy.example.com;branch=z9hG4bKprx
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKv6
From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774
To: Bob <sip:bob@biloxi.example.com>;tag=sl-abc
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Server: sipbus
Retry-After: 5
Content-Length: 0

`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(Reply(req, tt.status, tt.reason, tt.opt))
			if want := crlf(tt.want); got != want {
				t.Errorf("Reply:\n%s\nwant:\n%s", got, want)
			}
			// The reply must itself parse and give the same views.
			m, err := Parse([]byte(got), Datagram)
			if err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			if m.StatusCode != tt.status || m.CallID() != req.CallID() {
				t.Errorf("reparsed status %d, Call-ID %q", m.StatusCode, m.CallID())
			}
			if k, err := ClientTxKey(m); err != nil || k != RequestClientTxKey("z9hG4bK776asdhds", "INVITE") {
				t.Errorf("reply client key %q, %v", k, err)
			}
		})
	}
}

func TestReplyToTagRules(t *testing.T) {
	req := mustParse(t, replyReq)
	// Existing tag kept, none added.
	tagged := mustParse(t, strings.Replace(replyReq, "To: Bob <sip:bob@biloxi.example.com>",
		"To: Bob <sip:bob@biloxi.example.com>;TAG=have", 1))
	r := mustParse(t, string(Reply(tagged, 200, "", ReplyOptions{ToTag: "new"})))
	if to, _ := r.To(); to.Tag() != "have" || strings.Count(strings.ToLower(string(r.Raw)), "tag=") != 2 {
		t.Errorf("existing tag: To = %+v\n%s", to, r.Raw)
	}
	// Empty ToTag: a random tag.
	r = mustParse(t, string(Reply(req, 404, "", ReplyOptions{})))
	if to, _ := r.To(); len(to.Tag()) != 16 {
		t.Errorf("random tag = %q", to.Tag())
	}
	// Bare addr-spec To gets a header-parameter tag.
	bare := mustParse(t, strings.Replace(replyReq, "To: Bob <sip:bob@biloxi.example.com>",
		"To: sip:bob@biloxi.example.com", 1))
	r = mustParse(t, string(Reply(bare, 480, "", ReplyOptions{ToTag: "t1"})))
	if to, err := r.To(); err != nil || to.Tag() != "t1" || to.URI.Params != nil {
		t.Errorf("bare To = %+v, %v", to, err)
	}
	// Signed tag through Reply is recognised on the ACK.
	s := NewSigner([]byte("k"))
	resp := mustParse(t, string(Reply(req, 503, "", ReplyOptions{ToTag: s.ToTag(req)})))
	to, _ := resp.To()
	ack := mustParse(t, strings.NewReplacer(
		"INVITE sip:bob@biloxi.example.com SIP/2.0", "ACK sip:bob@biloxi.example.com SIP/2.0",
		"To: Bob <sip:bob@biloxi.example.com>", "To: Bob <sip:bob@biloxi.example.com>;tag="+to.Tag(),
		"CSeq: 314159\n INVITE", "CSeq: 314159 ACK").Replace(replyReq))
	if !s.IsStatelessACK(ack) {
		t.Error("ACK to a signed Reply not recognised")
	}
}

func TestReplyInjection(t *testing.T) {
	req := mustParse(t, replyReq)
	evil := "Bad Request\r\nContact: <sip:evil@attacker>\r\n\r\nINVITE sip:x SIP/2.0\x00\x7f"
	out := Reply(req, 400, evil, ReplyOptions{
		Server:  "x\r\nVia: SIP/2.0/UDP evil",
		Headers: []string{"Warning: 399 x \"y\"\r\nContact: <sip:evil>", "\n"},
	})
	s := string(out)
	lines := strings.Split(strings.TrimSuffix(s, "\r\n\r\n"), "\r\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "Contact") || strings.HasPrefix(l, "INVITE") {
			t.Errorf("injected line %q in\n%s", l, s)
		}
		if strings.ContainsAny(l, "\r\n\x00\x7f") {
			t.Errorf("control byte in line %q", l)
		}
	}
	if n := strings.Count(s, "\r\n\r\n"); n != 1 || !strings.HasSuffix(s, "Content-Length: 0\r\n\r\n") {
		t.Errorf("header section not closed exactly once:\n%s", s)
	}
	if !strings.HasPrefix(s, "SIP/2.0 400 Bad Request  Contact: <sip:evil@attacker>") {
		t.Errorf("status line = %q", lines[0])
	}
	m, err := Parse(out, Datagram)
	if err != nil {
		t.Fatal(err)
	}
	if vs, _ := m.Vias(); len(vs) != 3 {
		t.Errorf("Via count %d after injection attempt", len(vs))
	}
}

func TestReplyReason(t *testing.T) {
	req := mustParse(t, replyReq)
	statusLine := func(status int, reason string) string {
		s := string(Reply(req, status, reason, ReplyOptions{ToTag: "x"}))
		return s[:strings.Index(s, "\r\n")]
	}
	long := strings.Repeat("é", 100) // 200 bytes
	for _, tt := range []struct {
		name, reason string
		status       int
		want         string
	}{
		{"default phrase", "", 404, "SIP/2.0 404 Not Found"},
		{"class default", "", 499, "SIP/2.0 499 Client Error"},
		{"out of range status", "", 42, "SIP/2.0 500 Server Internal Error"},
		{"only controls", "\r\n\t", 403, "SIP/2.0 403 Forbidden"},
		{"trimmed", "  Missing Call-ID ", 400, "SIP/2.0 400 Missing Call-ID"},
		{"invalid UTF-8", "bad \xff byte", 400, "SIP/2.0 400 bad ? byte"},
		{"capped on rune boundary", long, 400, "SIP/2.0 400 " + strings.Repeat("é", maxReasonLen/2)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := statusLine(tt.status, tt.reason)
			if got != tt.want {
				t.Errorf("status line %q, want %q", got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Error("invalid UTF-8")
			}
		})
	}
}

func TestReplyMissingHeaders(t *testing.T) {
	req := mustParse(t, "OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nContent-Length: 0\n\n")
	got := string(Reply(req, 400, "Missing Call-ID", ReplyOptions{}))
	want := crlf("SIP/2.0 400 Missing Call-ID\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nContent-Length: 0\n\n")
	if got != want {
		t.Errorf("Reply:\n%q\nwant\n%q", got, want)
	}
}

func TestStatusText(t *testing.T) {
	for code, want := range map[int]string{100: "Trying", 200: "OK", 481: "Call/Transaction Does Not Exist",
		699: "Global Failure", 99: "", 700: ""} {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestTagParam(t *testing.T) {
	for _, tt := range []struct {
		in, tag string
		ok      bool
	}{
		{"<sip:a@b>;tag=abc", "abc", true},
		{"<sip:a@b;tag=uri>", "", false},
		{"sip:a@b;tag=x1;foo", "x1", true},
		{`"x;tag=no" <sip:a@b>`, "", false},
		{`"x\";tag=no" <sip:a@b> ; TAG = Yz`, "Yz", true},
		{"<sip:a@b>;tagx=1", "", false},
		{"<sip:a@b>;tag", "", true},
		{"<sip:a@b>;foo=\"a;tag=b\"", "", false},
		{"sip:a@b", "", false},
	} {
		tag, ok := tagParam([]byte(tt.in))
		if string(tag) != tt.tag || ok != tt.ok {
			t.Errorf("tagParam(%q) = %q, %v; want %q, %v", tt.in, tag, ok, tt.tag, tt.ok)
		}
	}
}

func TestStampTopVia(t *testing.T) {
	raw := "INVITE sip:b@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport, SIP/2.0/UDP p.example;branch=z9hG4bK0\r\n" +
		"Via: SIP/2.0/UDP q.example;branch=z9hG4bKq\r\n" +
		"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	m, err := Parse([]byte(raw), Datagram)
	if err != nil {
		t.Fatal(err)
	}
	i, v, ok := m.StampTopVia(netip.MustParseAddrPort("192.0.2.9:40000"))
	if !ok || i != 0 {
		t.Fatalf("StampTopVia: %d %q %v", i, v, ok)
	}
	want := "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport=40000;received=192.0.2.9, SIP/2.0/UDP p.example;branch=z9hG4bK0"
	if v != want {
		t.Errorf("stamped Via\n got %q\nwant %q", v, want)
	}
	// sent-by is the source and no rport asked: nothing to add.
	m2, _ := Parse([]byte(strings.Replace(raw, "10.0.0.5:5060;branch=z9hG4bK1;rport", "192.0.2.9:5060;branch=z9hG4bK1", 1)), Datagram)
	if _, v, ok := m2.StampTopVia(netip.MustParseAddrPort("192.0.2.9:5060")); ok {
		t.Errorf("nothing to stamp, got %q", v)
	}
	// sent-by is a name: received only.
	m3, _ := Parse([]byte(strings.Replace(raw, "10.0.0.5:5060;branch=z9hG4bK1;rport", "ua.example;branch=z9hG4bK1", 1)), Datagram)
	if _, v, _ := m3.StampTopVia(netip.MustParseAddrPort("192.0.2.9:5060")); !strings.HasPrefix(v, "SIP/2.0/UDP ua.example;branch=z9hG4bK1;received=192.0.2.9,") {
		t.Errorf("named sent-by: %q", v)
	}
}
