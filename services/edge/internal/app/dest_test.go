package app

import "testing"

func TestParseDestRoundTrip(t *testing.T) {
	for _, s := range []string{"udp:127.0.0.1:5060", "tcp:[::1]:5061/e1~7", "tcp:10.0.0.1:5060"} {
		d, err := ParseDest(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if d.String() != s {
			t.Fatalf("%s: round trip gives %s", s, d.String())
		}
	}
	for _, s := range []string{"", "udp", "sctp:1.2.3.4:5", "udp:host:5060", "udp:1.2.3.4"} {
		if _, err := ParseDest(s); err == nil {
			t.Errorf("%q: want an error", s)
		}
	}
}

func FuzzParseDest(f *testing.F) {
	for _, s := range []string{"udp:127.0.0.1:5060", "tcp:[::1]:5061/e1~7", "tcp:", ":::", "udp:[fe80::1%eth0]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDest(s)
		if err != nil {
			return
		}
		d2, err := ParseDest(d.String())
		if err != nil || d2 != d {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, d, d.String(), d2, err)
		}
	})
}
