package digest_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/sipbus/sipbus/pkg/digest"
)

// A registrar answers a REGISTER without credentials with one MD5
// challenge by default, which every user agent answers; a client known to
// handle SHA-256 is offered it first (RFC 8760 §2.3).
func ExampleAuthenticator_Challenges() {
	a, err := digest.New(digest.Options{
		Realm:      "example.com",
		Secret:     []byte("32 random bytes shared by pods.."),
		Counter:    digest.NewMemoryCounter(nil), // NewRedisCounter with replicas
		Algorithms: []digest.Algorithm{digest.MD5, digest.SHA256},
	})
	if err != nil {
		panic(err)
	}
	res, _ := a.Verify(context.Background(), "REGISTER", "sip:example.com", digest.Credentials{}, "")
	code, stale := a.Status(res)
	fmt.Println(res, code, stale)
	show := func(chs []digest.Challenge) {
		for _, ch := range chs {
			v := ch.String()
			// The nonce is random; show the rest.
			start := strings.Index(v, `nonce="`) + len(`nonce="`)
			fmt.Println(v[:start] + "..." + v[start+75:])
		}
	}
	show(a.ChallengesFor(stale, []digest.Algorithm{digest.MD5}))
	show(a.ChallengesFor(stale, []digest.Algorithm{digest.SHA256, digest.MD5}))
	// Output:
	// missing 401 false
	// Digest realm="example.com", nonce="...", algorithm=MD5, qop="auth"
	// Digest realm="example.com", nonce="...", algorithm=SHA-256, qop="auth"
	// Digest realm="example.com", nonce="...", algorithm=MD5, qop="auth"
}

// A directory stores HA1 values, never passwords.
func ExampleHA1() {
	fmt.Println(digest.HA1(digest.SHA256, "Mufasa", "http-auth@example.org", "Circle of Life"))
	// Output: 7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232
}

func ExampleParseCredentials() {
	cr, err := digest.ParseCredentials(`Digest username="bob", realm="biloxi.com", nonce="n", uri="sip:bob@biloxi.com", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b"`)
	fmt.Println(cr.Username, cr.Realm, cr.HashAlgorithm(), cr.QOP, cr.NC, err)

	_, err = digest.ParseCredentials(`Digest username="bob", nc=1`)
	fmt.Println(err)
	// Output:
	// bob biloxi.com MD5 auth 00000001 <nil>
	// digest: malformed credentials: parameter "nc": want 8 hex digits, got "1"
}
