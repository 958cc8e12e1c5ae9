package sipmsg

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  URI // Raw is not compared
		canon string
	}{
		{"host only", "sip:example.com",
			URI{Scheme: "sip", Host: "example.com"}, "sip:example.com"},
		{"user host port", "sip:alice@atlanta.com:5060",
			URI{Scheme: "sip", User: "alice", Host: "atlanta.com", Port: 5060}, "sip:alice@atlanta.com:5060"},
		{"sips upper scheme and host", "SIPS:Bob@BILOXI.example.COM",
			URI{Scheme: "sips", User: "Bob", Host: "biloxi.example.com"}, "sips:Bob@biloxi.example.com"},
		{"password", "sip:alice:secretword@atlanta.com;transport=tcp",
			URI{Scheme: "sip", User: "alice", Password: "secretword", Host: "atlanta.com",
				Params: Params{{"transport", "tcp"}}}, "sip:alice:secretword@atlanta.com;transport=tcp"},
		{"lr flag and names lower-cased", "sip:proxy.example.com;LR;Maddr=10.0.0.1",
			URI{Scheme: "sip", Host: "proxy.example.com", Params: Params{{"lr", ""}, {"maddr", "10.0.0.1"}}},
			"sip:proxy.example.com;lr;maddr=10.0.0.1"},
		{"headers", "sip:bob@biloxi.com?subject=project%20x&priority=urgent",
			URI{Scheme: "sip", User: "bob", Host: "biloxi.com", Headers: "subject=project%20x&priority=urgent"},
			"sip:bob@biloxi.com?subject=project%20x&priority=urgent"},
		{"escaped user (RFC 4475 esc01)", "sip:sips%3Auser%40example.com@example.net",
			URI{Scheme: "sip", User: "sips:user@example.com", Host: "example.net"},
			"sip:sips%3Auser%40example.com@example.net"},
		{"user with semicolon (RFC 4475 semiuri)", "sip:user;par=u%40example.net@example.com",
			URI{Scheme: "sip", User: "user;par=u@example.net", Host: "example.com"},
			"sip:user;par=u%40example.net@example.com"},
		{"telephone user", "sip:+1-212-555-1212:1234@gateway.com;user=phone",
			URI{Scheme: "sip", User: "+1-212-555-1212", Password: "1234", Host: "gateway.com",
				Params: Params{{"user", "phone"}}}, "sip:+1-212-555-1212:1234@gateway.com;user=phone"},
		{"IPv6 (RFC 5118 4.1)", "sip:[2001:db8::10]",
			URI{Scheme: "sip", Host: "2001:db8::10"}, "sip:[2001:db8::10]"},
		{"IPv6 with port (4.4)", "sip:[2001:db8::10]:5070",
			URI{Scheme: "sip", Host: "2001:db8::10", Port: 5070}, "sip:[2001:db8::10]:5070"},
		{"IPv6 port-like last group (4.3)", "sip:[2001:db8::10:5070]",
			URI{Scheme: "sip", Host: "2001:db8::10:5070"}, "sip:[2001:db8::10:5070]"},
		{"IPv6 user and params", "sip:user@[2001:db8::192.0.2.1];transport=udp",
			URI{Scheme: "sip", User: "user", Host: "2001:db8::192.0.2.1", Params: Params{{"transport", "udp"}}},
			"sip:user@[2001:db8::192.0.2.1];transport=udp"},
		{"IPv6 three colons tolerated (4.10)", "sip:user@[2001:db8:::192.0.2.1]",
			URI{Scheme: "sip", User: "user", Host: "2001:db8:::192.0.2.1"}, "sip:user@[2001:db8:::192.0.2.1]"},
		{"IPv4-mapped", "sip:ted@[::ffff:192.0.2.2]",
			URI{Scheme: "sip", User: "ted", Host: "::ffff:192.0.2.2"}, "sip:ted@[::ffff:192.0.2.2]"},
		{"surrounding LWS", "  sip:a@b  ",
			URI{Scheme: "sip", User: "a", Host: "b"}, "sip:a@b"},
		{"tel", "tel:+1-201-555-0123;phone-context=example.com",
			URI{Scheme: "tel", User: "+1-201-555-0123", Params: Params{{"phone-context", "example.com"}},
				Opaque: "+1-201-555-0123;phone-context=example.com"},
			"tel:+1-201-555-0123;phone-context=example.com"},
		{"other scheme opaque", "mailto:alice@example.com",
			URI{Scheme: "mailto", Opaque: "alice@example.com"}, "mailto:alice@example.com"},
		{"user escaping canonical", "sip:a%20b@h",
			URI{Scheme: "sip", User: "a b", Host: "h"}, "sip:a%20b@h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURI(tt.in)
			if err != nil {
				t.Fatalf("ParseURI(%q): %v", tt.in, err)
			}
			if got.Raw != strings.TrimSpace(tt.in) {
				t.Errorf("Raw = %q", got.Raw)
			}
			got.Raw = ""
			if !equalURI(got, tt.want) {
				t.Errorf("ParseURI(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.canon {
				t.Errorf("String() = %q, want %q", s, tt.canon)
			}
		})
	}
}

func equalURI(a, b URI) bool {
	if a.Scheme != b.Scheme || a.User != b.User || a.Password != b.Password || a.Host != b.Host ||
		a.Port != b.Port || a.Headers != b.Headers || a.Opaque != b.Opaque || a.Raw != b.Raw ||
		len(a.Params) != len(b.Params) {
		return false
	}
	for i := range a.Params {
		if a.Params[i] != b.Params[i] {
			return false
		}
	}
	return true
}

func TestParseURIErrors(t *testing.T) {
	tests := []struct {
		name, in, fault string
	}{
		{"empty", "", "missing scheme"},
		{"no scheme", "example.com", "missing scheme"},
		{"bad scheme", "s_p:x", "bad scheme"},
		{"IPv6 without brackets (RFC 5118 4.2)", "sip:2001:db8::10", "IPv6 address without brackets"},
		{"IPv6 without brackets with user", "sip:user@2001:db8::10", "IPv6 address without brackets"},
		{"unclosed IPv6", "sip:[2001:db8::10", "without closing bracket"},
		{"junk IPv6", "sip:[2001:db8::zz]", "malformed IPv6 reference"},
		{"junk after IPv6", "sip:[2001:db8::10]x", "junk after IPv6 reference"},
		{"port too large", "sip:host:65536", "port out of range"},
		{"port zero", "sip:host:0", "port out of range"},
		{"port not a number", "sip:host:50a", "bad port"},
		{"empty host", "sip:user@", "missing host"},
		{"empty user", "sip:@host", "empty user"},
		{"bad escape", "sip:us%4@host", "bad %-escape in user"},
		{"space inside", "sip:user@ho st", "bad byte in URI"},
		{"bad host char", "sip:user@ho$t", "bad host"},
		{"bad param", "sip:host;=x", "bad parameter name"},
		{"empty tel", "tel:", "empty telephone number"},
		{"empty opaque", "urn:", "empty URI after scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseURI(tt.in)
			if err == nil {
				t.Fatalf("ParseURI(%q) succeeded", tt.in)
			}
			if !errors.Is(err, ErrBadURI) {
				t.Errorf("error %v is not ErrBadURI", err)
			}
			if !strings.Contains(err.Error(), tt.fault) {
				t.Errorf("error %q does not name %q", err, tt.fault)
			}
		})
	}
}

func TestParamsGet(t *testing.T) {
	p := Params{{"transport", "tcp"}, {"lr", ""}}
	for _, tt := range []struct {
		name, want string
		ok         bool
	}{
		{"transport", "tcp", true},
		{"TRANSPORT", "tcp", true},
		{"Lr", "", true},
		{"maddr", "", false},
	} {
		v, ok := p.Get(tt.name)
		if v != tt.want || ok != tt.ok {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.name, v, ok, tt.want, tt.ok)
		}
	}
	if Params(nil).Has("x") {
		t.Error("nil Params has x")
	}
}
