package app

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestParseSipfrag: RFC 3420 bodies as phones send them (RFC 3515 §2.4.5:
// the body starts with a status line), CRLF, bare LF, bare CR.
func TestParseSipfrag(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		status int
		reason string
		err    bool
	}{
		{"trying CRLF", "SIP/2.0 100 Trying\r\n", 100, "Trying", false},
		{"ringing bare LF", "SIP/2.0 180 Ringing\n", 180, "Ringing", false},
		{"ok bare CR", "SIP/2.0 200 OK\r", 200, "OK", false},
		{"busy with headers", "SIP/2.0 486 Busy Here\nContent-Length: 0\n\n", 486, "Busy Here", false},
		{"no newline", "SIP/2.0 603 Declined", 603, "Declined", false},
		{"lower-case version", "sip/2.0 200 OK\r\n", 200, "OK", false},
		{"leading blank line", "\r\nSIP/2.0 183 Session Progress\r\n", 183, "Session Progress", false},
		{"no reason", "SIP/2.0 200\r\n", 200, "", false},
		{"control chars dropped", "SIP/2.0 486 Busy\x1b[31m\x00Here\r\n", 486, "Busy[31mHere", false},
		{"empty", "", 0, "", true},
		{"request line", "INVITE sip:bob@example.com SIP/2.0\r\n", 0, "", true},
		{"code too short", "SIP/2.0 20 OK\r\n", 0, "", true},
		{"code out of range", "SIP/2.0 700 Odd\r\n", 0, "", true},
		{"code not digits", "SIP/2.0 2x0 OK\r\n", 0, "", true},
		{"over limit", "SIP/2.0 200 OK\r\n" + strings.Repeat("a", MaxSipfrag), 0, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseSipfrag([]byte(c.body))
			if c.err {
				if !errors.Is(err, ErrSipfrag) {
					t.Fatalf("err = %v, want ErrSipfrag", err)
				}
				return
			}
			if err != nil || f.Status != c.status || f.Reason != c.reason {
				t.Fatalf("got %+v %v, want %d %q", f, err, c.status, c.reason)
			}
		})
	}
}

// FuzzParseSipfrag: no panic; a parsed status is in range and its reason
// printable.
func FuzzParseSipfrag(f *testing.F) {
	for _, s := range []string{"SIP/2.0 180 Ringing\n", "SIP/2.0 200 OK\r\n", "\r\n\rSIP/2.0 486 Busy Here", "SIP/2.0  100", "sip/2.0 699 \xff\xfe"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSipfrag(b)
		if err != nil {
			return
		}
		if s.Status < 100 || s.Status > 699 || len(s.Reason) > 128 || !utf8.ValidString(s.Reason) {
			t.Fatalf("%q -> %+v", b, s)
		}
		for _, r := range s.Reason {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("control character in %q", s.Reason)
			}
		}
	})
}
