package app

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/sipbus/sipbus/pkg/digest"
)

func TestAuthPolicy(t *testing.T) {
	md5 := []digest.Algorithm{digest.MD5}
	policy := AuthPolicy{
		Default:          md5,
		SHA256Domains:    []string{"secure.example"},
		SHA256UserAgents: []*regexp.Regexp{regexp.MustCompile(`^Linphone/[5-9]`), regexp.MustCompile(`(?i)zoiper`)},
	}
	tests := []struct {
		name      string
		p         AuthPolicy
		realm, ua string
		want      string
	}{
		{"default: MD5 alone", AuthPolicy{Default: md5}, "example.com", "baresip v1.0.0", "[MD5]"},
		{"listed domain", policy, "secure.example", "", "[SHA-256 MD5]"},
		{"other domain", policy, "example.com", "", "[MD5]"},
		{"matching User-Agent", policy, "example.com", "Linphone/5.2.0 (belle-sip/5.2.0)", "[SHA-256 MD5]"},
		{"User-Agent too old", policy, "example.com", "Linphone/4.4.0", "[MD5]"},
		{"case-insensitive pattern", policy, "example.com", "Z 5.6.1 rv2.10.19.9-mod (ZOIPER)", "[SHA-256 MD5]"},
		{"SHA-256 already in default", AuthPolicy{Default: []digest.Algorithm{digest.MD5, digest.SHA256}, SHA256Domains: []string{"d"}}, "d", "", "[SHA-256 MD5]"},
		{"SHA-256 alone by default", AuthPolicy{Default: []digest.Algorithm{digest.SHA256}}, "d", "", "[SHA-256]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(tt.p.Offer(tt.realm, tt.ua)); got != tt.want {
				t.Errorf("Offer(%q, %q) = %s, want %s", tt.realm, tt.ua, got, tt.want)
			}
		})
	}
	for _, tc := range []struct {
		p    AuthPolicy
		want string
	}{
		{AuthPolicy{Default: md5}, "[MD5]"},
		{policy, "[MD5 SHA-256]"},
		{AuthPolicy{Default: md5, SHA256UserAgents: policy.SHA256UserAgents}, "[MD5 SHA-256]"},
		{AuthPolicy{Default: []digest.Algorithm{digest.SHA256, digest.MD5}, SHA256Domains: []string{"d"}}, "[SHA-256 MD5]"},
	} {
		if got := fmt.Sprint(tc.p.Accepted()); got != tc.want {
			t.Errorf("Accepted() of %+v = %s, want %s", tc.p, got, tc.want)
		}
	}
}
