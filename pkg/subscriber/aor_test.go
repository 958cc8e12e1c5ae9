package subscriber_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/subscriber"
)

func TestParseAOR(t *testing.T) {
	tests := []struct {
		in           string
		user, domain string
	}{
		{"alice@example.com", "alice", "example.com"},
		{"sip:alice@example.com", "alice", "example.com"},
		{"SIP:alice@example.com", "alice", "example.com"},
		{"sips:alice@example.com", "alice", "example.com"},
		{"sip:Alice@EXAMPLE.Com", "Alice", "example.com"},
		{"sip:alice@example.com;transport=tcp;lr", "alice", "example.com"},
		{"sip:alice@example.com?subject=hi", "alice", "example.com"},
		{"alice@example.com.", "alice", "example.com"},
		{"alice@localhost", "alice", "localhost"},
		{"alice@a-b.c0.example", "alice", "a-b.c0.example"},
		{"+15551234567;npdi@example.com", "+15551234567;npdi", "example.com"},
		{"a.b-c_d!e~f*g'h(i)j&k=l+m$n,o;p?q/r@example.com", "a.b-c_d!e~f*g'h(i)j&k=l+m$n,o;p?q/r", "example.com"},
		{"al%20ice@example.com", "al%20ice", "example.com"},
		{"alice@192.0.2.1", "alice", "192.0.2.1"},
		{"alice@[2001:DB8::0:1]", "alice", "[2001:db8::1]"},
		{"sip:alice@[::1];transport=tls", "alice", "[::1]"},
		{"alice@" + strings.Repeat("a", 63) + ".example", "alice", strings.Repeat("a", 63) + ".example"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			user, domain, err := subscriber.ParseAOR(tt.in)
			if err != nil || user != tt.user || domain != tt.domain {
				t.Fatalf("ParseAOR(%q) = %q, %q, %v; want %q, %q", tt.in, user, domain, err, tt.user, tt.domain)
			}
		})
	}
}

func TestParseAORErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "no '@'"},
		{"alice", "no '@'"},
		{"sip:alice", "no '@'"},
		{"@example.com", "empty user part"},
		{"alice@", "empty domain"},
		{"al ice@example.com", "invalid character ' '"},
		{"a{b}@example.com", "invalid character '{'"},
		{"sip:alice:secret@example.com", "invalid character ':'"},
		{"tel:+15551234567@example.com", "invalid character ':'"},
		{"ali%2@example.com", "%-escape"},
		{"ali%zz@example.com", "%-escape"},
		{strings.Repeat("u", 257) + "@example.com", "longer than 256"},
		{"alice@example.com:5060", "port"},
		{"alice@[::1]:5060", "port"},
		{"alice@[::1", "unterminated"},
		{"alice@[fe80::1%eth0]", "IPv6"},
		{"alice@[192.0.2.1]", "IPv6"},
		{"alice@-example.com", "'-'"},
		{"alice@example-.com", "'-'"},
		{"alice@exa_mple.com", "invalid character '_'"},
		{"alice@example..com", "label"},
		{"alice@" + strings.Repeat("a", 64) + ".example", "label"},
		{"alice@" + strings.Repeat("abcdefghi.", 26) + "com", "1 to 253"},
		{"alice@192.0.2.256", "neither an IP address nor a hostname"},
		{"alice@example.123", "neither an IP address nor a hostname"},
		{"alice@exämple.com", "invalid character"},
		{"alice@example.com\r\nX-Y", "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			user, domain, err := subscriber.ParseAOR(tt.in)
			if err == nil {
				t.Fatalf("ParseAOR(%q) = %q, %q; want an error", tt.in, user, domain)
			}
			if !errors.Is(err, subscriber.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if len(tt.in) <= 80 && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) {
				t.Errorf("error %q does not quote the input", err)
			}
		})
	}
}

// FuzzParseAOR: ParseAOR never panics, its output is canonical (parsing
// user@domain again gives the same parts), and it never lets through what
// would break the Redis hash tag or a header.
func FuzzParseAOR(f *testing.F) {
	for _, s := range []string{"alice@example.com", "sip:Alice@EXAMPLE.com;transport=tcp", "a@[::1]", "a@192.0.2.1", "a%41@b.c", "x@y.", "@", "sips:@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		user, domain, err := subscriber.ParseAOR(s)
		if err != nil {
			if !errors.Is(err, subscriber.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		aor := user + "@" + domain
		if strings.ContainsAny(aor, "{}\r\n\x00 \"<>") {
			t.Fatalf("ParseAOR(%q) let through %q", s, aor)
		}
		u2, d2, err := subscriber.ParseAOR(aor)
		if err != nil || u2 != user || d2 != domain {
			t.Fatalf("ParseAOR(%q) = %q, %q; re-parsing %q gives %q, %q, %v", s, user, domain, aor, u2, d2, err)
		}
	})
}
