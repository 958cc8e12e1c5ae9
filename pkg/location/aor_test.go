package location_test

import (
	"errors"
	"testing"

	"github.com/sipbus/sipbus/pkg/location"
)

func TestParseAOR(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"user case kept, host lowered", "sip:Alice@Example.COM", "Alice@example.com"},
		{"port and params dropped", "sip:alice@example.com:5070;transport=udp;user=phone", "alice@example.com"},
		{"sips is the same AOR", "sips:alice@example.com", "alice@example.com"},
		{"password dropped", "sip:alice:secret@example.com", "alice@example.com"},
		{"headers dropped", "sip:alice@example.com?subject=x", "alice@example.com"},
		{"escapes made canonical", "sip:%61lice@example.com", "alice@example.com"},
		{"escaped @ stays escaped", "sip:a%40b@example.com", "a%40b@example.com"},
		{"user-unreserved kept", "sip:+1-555;ext=2@example.com", "+1-555;ext=2@example.com"},
		{"IPv6 host", "sip:alice@[2001:DB8::1]:5060", "alice@[2001:db8::1]"},
		{"bare user@host", "Alice@Example.com", "Alice@example.com"},
		{"name-addr", `"Alice" <sip:alice@example.com>;tag=1`, "alice@example.com"},
		{"surrounding space", "  sip:alice@example.com ", "alice@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := location.ParseAOR(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("ParseAOR(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			again, err := location.ParseAOR(got)
			if err != nil || again != got {
				t.Errorf("ParseAOR(%q) = %q, %v; not idempotent", got, again, err)
			}
		})
	}
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"no user", "sip:example.com"},
		{"tel", "tel:+15551234"},
		{"other scheme", "mailto:alice@example.com"},
		{"IPv6 without brackets", "sip:alice@2001:db8::1"},
		{"garbage", "<<>>"},
	} {
		t.Run("invalid "+tc.name, func(t *testing.T) {
			got, err := location.ParseAOR(tc.in)
			if !errors.Is(err, location.ErrInvalid) {
				t.Errorf("ParseAOR(%q) = %q, %v; want ErrInvalid", tc.in, got, err)
			}
		})
	}
}

func TestSameContact(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"identical", "sip:alice@192.0.2.1:5060", "sip:alice@192.0.2.1:5060", true},
		{"host and scheme case", "SIP:alice@HOST.example.com", "sip:alice@host.example.com", true},
		{"user case differs", "sip:Alice@host", "sip:alice@host", false},
		{"escaped user", "sip:%61lice@host", "sip:alice@host", true},
		{"port absent vs 5060", "sip:alice@host", "sip:alice@host:5060", false},
		{"port differs", "sip:alice@host:5060", "sip:alice@host:5062", false},
		{"sip vs sips", "sip:alice@host", "sips:alice@host", false},
		{"transport value case", "sip:alice@host;transport=TCP", "sip:alice@host;transport=tcp", true},
		{"transport absent", "sip:alice@host;transport=udp", "sip:alice@host", false},
		{"maddr absent", "sip:alice@host;maddr=239.255.255.1", "sip:alice@host", false},
		{"user param absent", "sip:+1555@host;user=phone", "sip:+1555@host", false},
		{"param order", "sip:alice@host;user=ip;transport=tcp", "sip:alice@host;transport=tcp;user=ip", true},
		{"other params ignored", "sip:alice@host;ob;line=abc", "sip:alice@host;rinstance=7", true},
		{"headers differ", "sip:alice@host?x=1", "sip:alice@host?x=2", false},
		{"password differs", "sip:alice:a@host", "sip:alice:b@host", false},
		{"IPv6 case", "sip:alice@[2001:DB8::1]", "sip:alice@[2001:db8::1]", true},
		{"tel", "tel:+1555", "TEL:+1555", true},
		{"not URIs, equal", "garbage", "garbage", true},
		{"not URIs, different", "garbage", "Garbage", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := location.SameContact(tc.a, tc.b); got != tc.same {
				t.Errorf("SameContact(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
			}
			if got := location.SameContact(tc.b, tc.a); got != tc.same {
				t.Errorf("SameContact(%q, %q) = %v, want %v (not symmetric)", tc.b, tc.a, got, tc.same)
			}
		})
	}
}

func FuzzParseAOR(f *testing.F) {
	for _, s := range []string{"sip:Alice@Example.COM", "sips:a%40b@[::1]:5", "alice@example.com", `"A" <sip:a@b>`, "tel:1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		aor, err := location.ParseAOR(s)
		if err != nil {
			if !errors.Is(err, location.ErrInvalid) {
				t.Fatalf("ParseAOR(%q): error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		again, err := location.ParseAOR(aor)
		if err != nil || again != aor {
			t.Fatalf("ParseAOR(%q) = %q; ParseAOR of that = %q, %v", s, aor, again, err)
		}
		// A parsed AOR is always a usable key.
		if _, _, err := location.NewMemory().Apply(t.Context(), location.Update{AOR: aor, CallID: "c", CSeq: 1, Now: locationT0}); err != nil {
			t.Fatalf("AOR %q from %q is not a valid key: %v", aor, s, err)
		}
	})
}

func FuzzSameContact(f *testing.F) {
	for _, p := range [][2]string{
		{"sip:alice@host;transport=TCP", "sip:alice@HOST;transport=tcp"},
		{"sip:%61@h", "sip:a@h"},
		{"tel:+1", "x"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !location.SameContact(a, a) {
			t.Fatalf("SameContact(%q, itself) = false", a)
		}
		if location.SameContact(a, b) != location.SameContact(b, a) {
			t.Fatalf("SameContact(%q, %q) not symmetric", a, b)
		}
	})
}
