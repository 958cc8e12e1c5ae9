package digest_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
)

var (
	ha1MD5    = digest.HA1(digest.MD5, testUser, testRealm, testPass)
	ha1SHA256 = digest.HA1(digest.SHA256, testUser, testRealm, testPass)
)

func ha1For(alg digest.Algorithm) string {
	if alg == digest.SHA256 {
		return ha1SHA256
	}
	return ha1MD5
}

// TestRoundTrip: a client answers each challenge, and the Authenticator
// (and another replica with the same secret) accepts the answer.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		alg   digest.Algorithm
		noQOP bool
	}{
		{"SHA-256 qop=auth", digest.SHA256, false},
		{"MD5 qop=auth", digest.MD5, false},
		{"MD5 RFC 2069 (no qop)", digest.MD5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, clk := newAuth(t, func(o *digest.Options) { o.Counter = digest.NewMemoryCounter(nil) })
			replica, err := digest.New(digest.Options{Realm: testRealm, Secret: testSecret, Now: clk.Now, Algorithms: []digest.Algorithm{digest.SHA256, digest.MD5}})
			if err != nil {
				t.Fatal(err)
			}
			c := newClient(testUser, testPass)
			c.noQOP = tt.noQOP
			ch := challenge(t, a, tt.alg)
			for i := range 3 { // the same nonce, nc 1, 2, 3
				cr := parse(t, c.authorize(ch, testMethod, testURI))
				if got := cr.HashAlgorithm(); got != tt.alg {
					t.Fatalf("HashAlgorithm = %s, want %s", got, tt.alg)
				}
				if res, err := a.Verify(ctx, testMethod, testURI, cr, ha1For(tt.alg)); res != digest.OK || err != nil {
					t.Fatalf("request %d: Verify = %v, %v; want ok", i+1, res, err)
				}
				if res, err := replica.Verify(ctx, testMethod, testURI, cr, ha1For(tt.alg)); res != digest.OK || err != nil {
					t.Fatalf("request %d on the replica: Verify = %v, %v; want ok", i+1, res, err)
				}
				clk.Advance(time.Minute)
			}
		})
	}
}

// flipBit returns nonce with one bit of its decoded bytes flipped.
func flipBit(t *testing.T, nonce string, bit int) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil {
		t.Fatalf("nonce %q is not base64url: %v", nonce, err)
	}
	raw[bit/8] ^= 1 << (bit % 8)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestVerifyResults(t *testing.T) {
	ctx := context.Background()
	otherRealm, _ := newAuth(t, func(o *digest.Options) { o.Realm = "other.example.com" })
	otherSecret, _ := newAuth(t, func(o *digest.Options) { o.Secret = []byte("another secret, 32 bytes long!!!") })

	type req struct {
		cr          digest.Credentials
		method, uri string
		ha1         string
		clk         *clock
	}
	tests := []struct {
		name string
		alg  digest.Algorithm
		opt  func(*digest.Options)
		edit func(t *testing.T, r *req) // changes the request after the client answered
		want digest.Result
	}{
		{name: "ok SHA-256", alg: digest.SHA256, want: digest.OK},
		{name: "ok MD5", alg: digest.MD5, want: digest.OK},
		{name: "missing", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr = digest.Credentials{} }, want: digest.Missing},
		{name: "other scheme", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Scheme = "Basic" }, want: digest.Malformed},
		{name: "wrong realm", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Realm = "example.org" }, want: digest.WrongRealm},
		{name: "realm differs in case", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Realm = "Example.com" }, want: digest.WrongRealm},
		{name: "wrong password", alg: digest.SHA256, edit: func(_ *testing.T, r *req) {
			r.ha1 = digest.HA1(digest.SHA256, testUser, testRealm, "wrong password")
		}, want: digest.Mismatch},
		{name: "wrong password MD5", alg: digest.MD5, edit: func(_ *testing.T, r *req) {
			r.ha1 = digest.HA1(digest.MD5, testUser, testRealm, "wrong password")
		}, want: digest.Mismatch},
		{name: "unknown user", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.ha1 = "" }, want: digest.UnknownUser},
		{name: "upper-case HA1 accepted", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.ha1 = strings.ToUpper(r.ha1) }, want: digest.OK},
		{name: "upper-case response accepted", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Response = strings.ToUpper(r.cr.Response) }, want: digest.OK},
		{name: "other method", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.method = "INVITE" }, want: digest.Mismatch},
		{name: "tampered cnonce", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.CNonce += "x" }, want: digest.Mismatch},
		{name: "tampered nc", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.NC = "00000002" }, want: digest.Mismatch},
		{name: "tampered username", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Username = "bob" }, want: digest.OK}, // HA1 is the caller's lookup; the username is not in the response
		{name: "uri differs", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.uri = "sip:example.org" }, want: digest.Malformed},
		{name: "uri differs in case", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.uri = "sip:EXAMPLE.com" }, want: digest.Malformed},
		{name: "uri white space trimmed", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.uri = " " + r.uri + "\t" }, want: digest.OK},
		{name: "flipped timestamp bit", alg: digest.SHA256, edit: func(t *testing.T, r *req) { r.cr.Nonce = flipBit(t, r.cr.Nonce, 3) }, want: digest.BadNonce},
		{name: "flipped random bit", alg: digest.SHA256, edit: func(t *testing.T, r *req) { r.cr.Nonce = flipBit(t, r.cr.Nonce, 100) }, want: digest.BadNonce},
		{name: "flipped MAC bit", alg: digest.SHA256, edit: func(t *testing.T, r *req) { r.cr.Nonce = flipBit(t, r.cr.Nonce, 447) }, want: digest.BadNonce},
		{name: "changed character", alg: digest.SHA256, edit: func(_ *testing.T, r *req) {
			b := []byte(r.cr.Nonce)
			b[10] ^= 0x01
			r.cr.Nonce = string(b)
		}, want: digest.BadNonce},
		{name: "non-canonical last character", alg: digest.SHA256, edit: func(_ *testing.T, r *req) {
			b := []byte(r.cr.Nonce)
			// The last character carries 4 data bits and 2 zero bits;
			// setting a zero bit decodes to the same bytes without Strict.
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			b[len(b)-1] = alphabet[strings.IndexByte(alphabet, b[len(b)-1])|1]
			r.cr.Nonce = string(b)
		}, want: digest.BadNonce},
		{name: "truncated", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Nonce = r.cr.Nonce[:40] }, want: digest.BadNonce},
		{name: "extended", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Nonce += "AAAA" }, want: digest.BadNonce},
		{name: "not base64", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Nonce = strings.Repeat("*", 75) }, want: digest.BadNonce},
		{name: "nonce of another realm", alg: digest.SHA256, edit: func(t *testing.T, r *req) {
			r.cr = parse(t, newClient(testUser, testPass).authorize(withRealm(challenge(t, otherRealm, digest.SHA256), testRealm), testMethod, testURI))
		}, want: digest.BadNonce},
		{name: "nonce of another secret", alg: digest.SHA256, edit: func(t *testing.T, r *req) {
			r.cr = parse(t, newClient(testUser, testPass).authorize(challenge(t, otherSecret, digest.SHA256), testMethod, testURI))
		}, want: digest.BadNonce},
		{name: "stale after TTL", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.clk.Advance(digest.DefaultNonceTTL + time.Millisecond) }, want: digest.Stale},
		{name: "fresh at TTL", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.clk.Advance(digest.DefaultNonceTTL) }, want: digest.OK},
		{name: "custom TTL", alg: digest.SHA256, opt: func(o *digest.Options) { o.NonceTTL = 30 * time.Second },
			edit: func(_ *testing.T, r *req) { r.clk.Advance(31 * time.Second) }, want: digest.Stale},
		{name: "stale with wrong password", alg: digest.SHA256, edit: func(_ *testing.T, r *req) {
			r.clk.Advance(time.Hour)
			r.ha1 = digest.HA1(digest.SHA256, testUser, testRealm, "wrong")
		}, want: digest.Mismatch},
		{name: "stale unknown user", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.clk.Advance(time.Hour); r.ha1 = "" }, want: digest.UnknownUser},
		{name: "nonce from the future within skew", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.clk.Advance(-digest.ClockSkew) }, want: digest.OK},
		{name: "nonce from the future beyond skew", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.clk.Advance(-digest.ClockSkew - time.Second) }, want: digest.Stale},
		{name: "MD5 not offered", alg: digest.MD5, opt: func(o *digest.Options) { o.Algorithms = []digest.Algorithm{digest.SHA256} }, want: digest.Malformed},
		{name: "SHA-256 not offered", alg: digest.SHA256, opt: func(o *digest.Options) { o.Algorithms = []digest.Algorithm{digest.MD5} }, want: digest.Malformed},
		{name: "MD5-sess", alg: digest.MD5, edit: func(_ *testing.T, r *req) { r.cr.Algorithm = "MD5-sess" }, want: digest.Malformed},
		{name: "SHA-256-sess", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Algorithm = "SHA-256-sess" }, want: digest.Malformed},
		{name: "SHA-512-256", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Algorithm = "SHA-512-256" }, want: digest.Malformed},
		{name: "SHA-256 without qop", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.QOP, r.cr.NC, r.cr.CNonce = "", "", "" }, want: digest.Malformed},
		{name: "auth-int", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.QOP = "auth-int" }, want: digest.Malformed},
		{name: "userhash", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Userhash = true }, want: digest.Malformed},
		{name: "response too short", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Response = r.cr.Response[:32] }, want: digest.Malformed},
		{name: "MD5-length response for SHA-256", alg: digest.MD5, edit: func(_ *testing.T, r *req) { r.cr.Algorithm = "SHA-256" }, want: digest.Malformed},
		{name: "qop without nc", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.NC = "" }, want: digest.Malformed},
		{name: "qop without cnonce", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.CNonce = "" }, want: digest.Malformed},
		{name: "empty nonce", alg: digest.SHA256, edit: func(_ *testing.T, r *req) { r.cr.Nonce = "" }, want: digest.Malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, clk := newAuth(t, tt.opt)
			// A replica offering both algorithms issues the challenge, so
			// the client can answer algorithms that a does not offer.
			issuer, err := digest.New(digest.Options{Realm: testRealm, Secret: testSecret, Now: clk.Now, Algorithms: []digest.Algorithm{digest.SHA256, digest.MD5}})
			if err != nil {
				t.Fatal(err)
			}
			r := &req{method: testMethod, uri: testURI, ha1: ha1For(tt.alg), clk: clk}
			r.cr = parse(t, newClient(testUser, testPass).authorize(challenge(t, issuer, tt.alg), testMethod, testURI))
			if tt.edit != nil {
				tt.edit(t, r)
			}
			got, err := a.Verify(ctx, r.method, r.uri, r.cr, r.ha1)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func withRealm(ch digest.Challenge, realm string) digest.Challenge {
	ch.Realm = realm
	return ch
}

func TestVerifyBadHA1(t *testing.T) {
	a, _ := newAuth(t, nil)
	cr := parse(t, newClient(testUser, testPass).authorize(challenge(t, a, digest.SHA256), testMethod, testURI))
	for _, ha1 := range []string{ha1MD5, "xyz", strings.Repeat("g", 64)} {
		res, err := a.Verify(context.Background(), testMethod, testURI, cr, ha1)
		if !errors.Is(err, digest.ErrInvalid) || res != digest.Mismatch {
			t.Errorf("Verify with HA1 %q = %v, %v; want mismatch, ErrInvalid", ha1, res, err)
		}
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		r             digest.Result
		code, code407 int
		stale         bool
	}{
		{digest.OK, 0, 0, false},
		{digest.Missing, 401, 407, false},
		{digest.Malformed, 400, 400, false},
		{digest.WrongRealm, 401, 407, false},
		{digest.BadNonce, 401, 407, false},
		{digest.Stale, 401, 407, true},
		{digest.Replay, 401, 407, false},
		{digest.Mismatch, 401, 407, false},
		{digest.UnknownUser, 401, 407, false},
		{digest.Disabled, 403, 403, false},
		{digest.Result(99), 500, 500, false},
	}
	registrar, _ := newAuth(t, nil)
	proxy, _ := newAuth(t, func(o *digest.Options) { o.Proxy = true })
	for _, tt := range tests {
		t.Run(tt.r.String(), func(t *testing.T) {
			if code, stale := registrar.Status(tt.r); code != tt.code || stale != tt.stale {
				t.Errorf("Status = %d, %t; want %d, %t", code, stale, tt.code, tt.stale)
			}
			if code, stale := proxy.Status(tt.r); code != tt.code407 || stale != tt.stale {
				t.Errorf("proxy Status = %d, %t; want %d, %t", code, stale, tt.code407, tt.stale)
			}
		})
	}
}

func TestResultString(t *testing.T) {
	want := []string{"ok", "missing", "malformed", "wrong-realm", "bad-nonce", "stale", "replay", "mismatch", "unknown-user", "disabled"}
	for i, w := range want {
		if got := digest.Result(i).String(); got != w {
			t.Errorf("Result(%d) = %q, want %q", i, got, w)
		}
	}
	if got := digest.Result(-1).String(); got != "Result(-1)" {
		t.Errorf("Result(-1) = %q", got)
	}
}
