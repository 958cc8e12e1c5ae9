package app

import "testing"

func TestCallbackURI(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"sip:alice@example.com", "sip:alice@example.com", true},
		{"sips:alice@Example.COM:5061;transport=tls", "sips:alice@example.com:5061", true},
		{"sip:alice:secret@example.com", "sip:alice@example.com", true},
		{"sip:%2B33%201%2023@example.com", "sip:+33%201%2023@example.com", true},
		{"sip:eve@evil.example?Bcc=mallory@evil.example", "sip:eve@evil.example", true},
		{"sip:%22%3E%3Cscript%3E@evil.example", "sip:%22%3E%3Cscript%3E@evil.example", true},
		{"sip:bob@[2001:db8::1]:5060", "sip:bob@[2001:db8::1]:5060", true},
		{"sip:bob@192.0.2.1", "sip:bob@192.0.2.1", true},
		{"sip:example.com", "sip:example.com", true},
		{"tel:+1-201-555-0123;phone-context=x", "tel:+1-201-555-0123", true},
		{"tel:+1<script>", "", false},
		{"javascript:alert(1)", "", false},
		{"http://example.com", "", false},
		{"sip:bob@exa mple.com", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := CallbackURI(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("CallbackURI(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzCallbackURI(f *testing.F) {
	for _, s := range []string{"sip:alice@example.com", "sips:a@[::1]:5061", "tel:+1", "sip:\"><x@y", "sip:a@b?c=d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := CallbackURI(s)
		if !ok {
			return
		}
		for i := 0; i < len(got); i++ {
			c := got[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c != 0 && contains("-_.!~*+%:@[]()", c)) {
				t.Fatalf("CallbackURI(%q) = %q: byte %q", s, got, c)
			}
		}
	})
}

func contains(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}
