package digest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
)

// FuzzVerify: whatever header value, method, request-URI and HA1 arrive,
// ParseCredentials and Verify never panic, Status maps every result, and
// Verify accepts nothing the test client did not compute.
func FuzzVerify(f *testing.F) {
	a, clk := newAuth(f, func(o *digest.Options) { o.Counter = digest.NewMemoryCounter(nil) })
	c := newClient(testUser, testPass)
	valid := map[string]bool{}
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.MD5} {
		v := c.authorize(challenge(f, a, alg), testMethod, testURI)
		valid[v] = true
		f.Add(v, testMethod, testURI, ha1For(alg))
		f.Add(v, testMethod, testURI, "")
		f.Add(strings.Replace(v, "response=\"", "response=\"0", 1), testMethod, testURI, ha1For(alg))
	}
	for _, v := range rfcVectors {
		f.Add(v.header, "GET", "/dir/index.html", digest.HA1(v.alg, rfcUser, rfcRealm, rfcPassword))
	}
	f.Add("Digest", "", "", "zz")
	f.Fuzz(func(t *testing.T, value, method, uri, ha1 string) {
		clk.Advance(time.Millisecond)
		cr, err := digest.ParseCredentials(value)
		if err != nil {
			cr = digest.Credentials{}
		}
		res, err := a.Verify(context.Background(), method, uri, cr, ha1)
		if code, _ := a.Status(res); code == 500 {
			t.Fatalf("Verify returned %v, which Status does not know", res)
		}
		if res == digest.OK && err != nil {
			t.Fatalf("Verify = ok with error %v", err)
		}
		if res == digest.OK && !(valid[value] && method == testMethod && strings.TrimSpace(uri) == testURI) {
			// The only way to OK is the client's answer; anything else
			// would have had to compute a response without the password.
			if want := clientResponse(cr.HashAlgorithm(), testUser, testRealm, testPass, method, cr.URI, cr.Nonce, cr.NC, cr.CNonce, cr.QOP); !strings.EqualFold(cr.Response, want) {
				t.Fatalf("Verify accepted %q (method %q, uri %q) without the right response", value, method, uri)
			}
		}
	})
}
