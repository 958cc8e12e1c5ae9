package sipmsg

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseURI: no panic, and the canonical form is a fixed point.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"sip:alice@atlanta.com:5060;transport=tcp?subject=x",
		"sips:[2001:db8::10]:5070;lr",
		"sip:user;par=u%40example.net@example.com",
		"sip:%61lice:pw%20d@h",
		"tel:+1-201-555-0123;phone-context=example.com",
		"sip:2001:db8::10",
		"urn:service:sos",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		c := u.String()
		u2, err := ParseURI(c)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", c, s, err)
		}
		if c2 := u2.String(); c2 != c {
			t.Fatalf("canonical form not stable: %q -> %q -> %q", s, c, c2)
		}
	})
}

// FuzzParseNameAddr: no panic, and String() parses back to the same value.
func FuzzParseNameAddr(f *testing.F) {
	for _, s := range []string{
		`"Alice \"A\"" <sip:alice@atlanta.com>;tag=1`,
		`Bob <sip:bob@[::1]:5060;lr>;expires=60;q=0.5`,
		`sip:user@example.com;tag=81x2`,
		`<tel:+1234>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNameAddr(s)
		if err != nil {
			return
		}
		c := n.String()
		n2, err := ParseNameAddr(c)
		if err != nil {
			t.Fatalf("String %q of %q does not parse: %v", c, s, err)
		}
		if c2 := n2.String(); c2 != c {
			t.Fatalf("String not stable: %q -> %q -> %q", s, c, c2)
		}
	})
}

// FuzzParseVia: no panic; a parsed Via has a host and a valid rport.
func FuzzParseVia(f *testing.F) {
	for _, s := range []string{
		"SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
		"SIP / 2.0 / TCP [2001:db8::9:1]:6050;received=[2001:db8::9:255];rport",
		`SIP/2.0/UDP h;x="a,b";rport=5060`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVia(s)
		if err != nil {
			return
		}
		if v.Host == "" || v.RPort < -1 || v.RPort > 65535 || v.Port < 0 || v.Port > 65535 {
			t.Fatalf("ParseVia(%q) = %+v", s, v)
		}
	})
}

// FuzzReply: whatever the request and reason, the reply is one well-formed
// header section that indexes again, with no injected line.
func FuzzReply(f *testing.F) {
	f.Add([]byte(strings.ReplaceAll(replyReq, "\n", "\r\n")), "Busy\r\nX: y", "192.0.2.1")
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nTo: a\r\n\r\n"), "", "")
	f.Fuzz(func(t *testing.T, raw []byte, reason, received string) {
		req, err := Parse(raw, Datagram)
		if err != nil || !req.Request {
			return
		}
		out := Reply(req, 400, reason, ReplyOptions{Received: received, RPort: 5060, Headers: []string{reason}})
		end := bytes.Index(out, []byte("\r\n\r\n"))
		if end != len(out)-4 {
			t.Fatalf("reply header section does not end once at the end:\n%q", out)
		}
		for _, line := range bytes.Split(out[:end], []byte("\r\n")) {
			if bytes.ContainsAny(line, "\r\n\x00") {
				t.Fatalf("control byte in reply line %q", line)
			}
		}
		m, err := Parse(out, Datagram)
		if err != nil {
			t.Fatalf("reply does not index: %v\n%q", err, out)
		}
		if m.Request || m.StatusCode != 400 {
			t.Fatalf("reply status %d", m.StatusCode)
		}
	})
}
