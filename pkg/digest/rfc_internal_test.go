package digest

import (
	"strings"
	"testing"
)

// TestResponseRFC7616 checks the package's own response computation (which
// Verify compares against) with the example of RFC 7616 §3.9.1, whose nonce
// no Authenticator minted, so Verify itself cannot take it.
func TestResponseRFC7616(t *testing.T) {
	const (
		user, realm, password = "Mufasa", "http-auth@example.org", "Circle of Life"
		nonce                 = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
		cnonce                = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	)
	tests := []struct {
		alg  Algorithm
		want string
	}{
		{MD5, "8ca523f5e9506fed4657c9700eebdbec"},
		{SHA256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			ha1 := HA1(tt.alg, user, realm, password)
			got := string(responseHex(nil, tt.alg, ha1, nonce, "00000001", cnonce, "auth", "GET", "/dir/index.html"))
			if got != tt.want {
				t.Fatalf("response = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestResponseRFC2069 checks the no-qop form with the example of RFC 2069
// §2.4 (user Mufasa, password "CircleOfLife").
func TestResponseRFC2069(t *testing.T) {
	ha1 := HA1(MD5, "Mufasa", "testrealm@host.com", "CircleOfLife")
	got := string(responseHex(nil, MD5, ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "", "", "", "GET", "/dir/index.html"))
	if want := "1949323746fe6a43ef61f9606e7febea"; got != want {
		t.Fatalf("response = %s, want %s", got, want)
	}
}

// TestResponseLongInputs covers inputs longer than responseHex's stack buffer.
func TestResponseLongInputs(t *testing.T) {
	long := strings.Repeat("x", 1000)
	a := responseHex(nil, SHA256, HA1(SHA256, "u", "r", "p"), long, "00000001", long, "auth", "REGISTER", long)
	if len(a) != 64 {
		t.Fatalf("len = %d, want 64", len(a))
	}
}

// TestNonceLength pins the documented encoded length.
func TestNonceLength(t *testing.T) {
	if nonceLen != 75 {
		t.Fatalf("nonceLen = %d, want 75 (package doc)", nonceLen)
	}
}
