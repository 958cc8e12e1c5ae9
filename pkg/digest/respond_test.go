package digest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/digest"
)

// TestRespondVerifies: a challenge from the Authenticator, printed, parsed
// by ParseChallenge and answered by Respond, verifies (MD5 and SHA-256,
// RFC 7616 §3.4); a wrong password does not.
func TestRespondVerifies(t *testing.T) {
	a, _ := newAuth(t, nil)
	for _, alg := range []digest.Algorithm{digest.MD5, digest.SHA256} {
		t.Run(string(alg), func(t *testing.T) {
			ch, err := digest.ParseChallenge(challenge(t, a, alg).String())
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				pass string
				want digest.Result
			}{{testPass, digest.OK}, {"wrong", digest.Mismatch}} {
				v := digest.Respond(ch, digest.Answer{Method: testMethod, URI: testURI, User: testUser,
					HA1: digest.HA1(ch.Algorithm, testUser, ch.Realm, tc.pass), CNonce: "0a4f113b"})
				res, err := a.Verify(context.Background(), testMethod, testURI, parse(t, v), ha1For(alg))
				if res != tc.want || err != nil {
					t.Errorf("password %q: Verify = %v, %v (%s)", tc.pass, res, err, v)
				}
			}
		})
	}
}

func TestParseChallenge(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     digest.Challenge
		err      string
	}{
		{"kamailio", `Digest realm="example.com", nonce="Y1ab", qop="auth,auth-int", opaque="o"`,
			digest.Challenge{Realm: "example.com", Nonce: "Y1ab", QOP: "auth", Opaque: "o"}, ""},
		{"rfc2069", `digest realm="r",nonce="n"`, digest.Challenge{Realm: "r", Nonce: "n"}, ""},
		{"sha256 stale", `Digest realm="r", nonce="n", algorithm=SHA-256, stale=TRUE`,
			digest.Challenge{Realm: "r", Nonce: "n", Algorithm: digest.SHA256, Stale: true}, ""},
		{"basic", `Basic realm="r"`, digest.Challenge{}, "want Digest"},
		{"no nonce", `Digest realm="r"`, digest.Challenge{}, "without realm or nonce"},
		{"auth-int only", `Digest realm="r", nonce="n", qop="auth-int"`, digest.Challenge{}, "auth is not offered"},
		{"md5-sess", `Digest realm="r", nonce="n", algorithm=MD5-sess`, digest.Challenge{}, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := digest.ParseChallenge(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, digest.ErrMalformed) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("= %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzParseChallenge: any header value parses or fails cleanly, and a
// parsed challenge is answered without panicking.
func FuzzParseChallenge(f *testing.F) {
	f.Add(`Digest realm="example.com", nonce="abc", qop="auth", opaque="x", algorithm=MD5`)
	f.Add(`Digest realm="a\"b", nonce=""`)
	f.Add(`Digest ,,, realm=r`)
	f.Fuzz(func(t *testing.T, v string) {
		ch, err := digest.ParseChallenge(v)
		if err != nil {
			return
		}
		_ = digest.Respond(ch, digest.Answer{Method: "INVITE", URI: "sip:a@b", User: "u", HA1: "00", CNonce: "c"})
	})
}
