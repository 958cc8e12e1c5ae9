package digest_test

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
)

// This file is a test-only digest client, written from RFC 7616 §3.4.1
// independently of the package's own code, plus helpers shared by the tests.

// hashHex is H(data) of RFC 7616 §3.4 in lower-case hex.
func hashHex(alg digest.Algorithm, data string) string {
	switch alg {
	case digest.MD5, "":
		s := md5.Sum([]byte(data))
		return hex.EncodeToString(s[:])
	case digest.SHA256:
		s := sha256.Sum256([]byte(data))
		return hex.EncodeToString(s[:])
	}
	panic("test client: unsupported algorithm " + string(alg))
}

// clientResponse computes the response parameter the way a user agent does.
// qop "" is the RFC 2069 form.
func clientResponse(alg digest.Algorithm, user, realm, password, method, uri, nonce, nc, cnonce, qop string) string {
	ha1 := hashHex(alg, user+":"+realm+":"+password)
	ha2 := hashHex(alg, method+":"+uri)
	if qop == "" {
		return hashHex(alg, ha1+":"+nonce+":"+ha2)
	}
	return hashHex(alg, strings.Join([]string{ha1, nonce, nc, cnonce, qop, ha2}, ":"))
}

// client is a user agent that answers challenges, counting nc per nonce.
type client struct {
	user, password string
	cnonce         string
	noQOP          bool // answer in the RFC 2069 form
	nc             map[string]uint32
}

func newClient(user, password string) *client {
	return &client{user: user, password: password, cnonce: "0a4f113b", nc: map[string]uint32{}}
}

// authorize returns the Authorization header value answering ch for a
// request of method to uri.
func (c *client) authorize(ch digest.Challenge, method, uri string) string {
	c.nc[ch.Nonce]++
	nc := fmt.Sprintf("%08x", c.nc[ch.Nonce])
	qop := ch.QOP
	if c.noQOP {
		qop = ""
	}
	resp := clientResponse(ch.Algorithm, c.user, ch.Realm, c.password, method, uri, ch.Nonce, nc, c.cnonce, qop)
	v := fmt.Sprintf("Digest username=%s, realm=%s, nonce=%s, uri=%s, response=%s, algorithm=%s",
		quote(c.user), quote(ch.Realm), quote(ch.Nonce), quote(uri), quote(resp), ch.Algorithm)
	if qop != "" {
		v += fmt.Sprintf(", qop=%s, nc=%s, cnonce=%s", qop, nc, quote(c.cnonce))
	}
	return v
}

// quote makes a quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// format writes cr back as a header value (every known parameter).
func format(cr digest.Credentials) string {
	v := fmt.Sprintf("%s username=%s, realm=%s, nonce=%s, uri=%s, response=%s",
		cr.Scheme, quote(cr.Username), quote(cr.Realm), quote(cr.Nonce), quote(cr.URI), quote(cr.Response))
	if cr.Algorithm != "" {
		v += ", algorithm=" + quote(cr.Algorithm)
	}
	if cr.CNonce != "" {
		v += ", cnonce=" + quote(cr.CNonce)
	}
	if cr.Opaque != "" {
		v += ", opaque=" + quote(cr.Opaque)
	}
	if cr.QOP != "" {
		v += ", qop=" + cr.QOP
	}
	if cr.NC != "" {
		v += ", nc=" + cr.NC
	}
	if cr.Userhash {
		v += ", userhash=true"
	}
	return v
}

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	testRealm  = "example.com"
	testUser   = "alice"
	testPass   = "correct horse"
	testMethod = "REGISTER"
	testURI    = "sip:example.com"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// newAuth returns an Authenticator on a fake clock; edit adjusts the options.
func newAuth(t testing.TB, edit func(*digest.Options)) (*digest.Authenticator, *clock) {
	t.Helper()
	clk := newClock()
	// Both algorithms, SHA-256 first, unless edit says otherwise (the
	// default, MD5 alone, has its own test).
	opt := digest.Options{Realm: testRealm, Secret: testSecret, Now: clk.Now, Algorithms: []digest.Algorithm{digest.SHA256, digest.MD5}}
	if edit != nil {
		edit(&opt)
	}
	a, err := digest.New(opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, clk
}

// challenge returns a's challenge for alg.
func challenge(t testing.TB, a *digest.Authenticator, alg digest.Algorithm) digest.Challenge {
	t.Helper()
	for _, ch := range a.Challenges(false) {
		if ch.Algorithm == alg {
			return ch
		}
	}
	t.Fatalf("no %s challenge", alg)
	return digest.Challenge{}
}

// parse parses a header value or fails the test.
func parse(t testing.TB, v string) digest.Credentials {
	t.Helper()
	cr, err := digest.ParseCredentials(v)
	if err != nil {
		t.Fatalf("ParseCredentials(%q): %v", v, err)
	}
	return cr
}
