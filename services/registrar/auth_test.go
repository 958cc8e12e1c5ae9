package registrar_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/registrar"
)

// TestAuth is digest authentication of REGISTER (RFC 3261 §22, RFC 7616,
// RFC 8760) against the subscriber directory, on both engines.
func TestAuth(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { testAuth(t, stateURL(t, engine)) })
	}
}

func testAuth(t *testing.T, state string) {
	b := newBench(t, state, nil)
	b.addUser("alice@example.com", "alice-secret")
	b.addUser("bob@example.com", "bob-secret")
	const contact = "Contact: <sip:alice@192.0.2.4>"

	// No credentials: 401 with two challenges, SHA-256 first.
	u := b.ua("alice@example.com")
	u.pw = "alice-secret"
	rep := u.register(contact)
	if rep.StatusCode != 401 || rep.Str(rep.Reason) != "Unauthorized" {
		t.Fatalf("no credentials: %s", status(rep))
	}
	chs := challenges(t, rep)
	if len(chs) != 2 || chs[0]["algorithm"] != "SHA-256" || chs[1]["algorithm"] != "MD5" {
		t.Fatalf("challenges %v, want SHA-256 then MD5", chs)
	}
	for _, ch := range chs {
		if ch["realm"] != domain || ch["qop"] != "auth" || ch["nonce"] == "" || ch["stale"] != "" {
			t.Errorf("challenge %v", ch)
		}
	}
	if len(contacts(t, rep)) != 0 || b.show("alice@example.com") != nil {
		t.Error("an unauthenticated REGISTER bound a contact")
	}

	// SHA-256 credentials register.
	rep = u.register(contact, u.authorization(chs[0]))
	if rep.StatusCode != 200 || len(contacts(t, rep)) != 1 {
		t.Fatalf("SHA-256 credentials: %s", status(rep))
	}
	b.expect("added")
	sha := chs[0]

	// MD5 credentials refresh (the same Call-ID, a new challenge).
	rep = u.login("MD5", contact)
	if rep.StatusCode != 200 {
		t.Fatalf("MD5 credentials: %s", status(rep))
	}
	b.expect("refreshed")

	// The next request under the same nonce with nc+1 passes (qop=auth).
	if rep = u.register(contact, u.authorization(sha)); rep.StatusCode != 200 {
		t.Errorf("nc 2 under the SHA-256 nonce: %s", status(rep))
	}
	b.expect("refreshed")

	// A replayed nonce-count: 401, never 200.
	if rep = u.register(contact, u.authorizationNC(sha, 1)); rep.StatusCode != 401 {
		t.Errorf("replayed nc: %s, want 401", status(rep))
	}

	// A wrong password never registers, whatever the algorithm.
	mallory := b.ua("alice@example.com")
	mallory.pw = "guess-guess"
	for _, alg := range []string{"SHA-256", "MD5"} {
		rep := mallory.login(alg, "Contact: <sip:mallory@203.0.113.66>")
		if rep.StatusCode != 401 || len(challenges(t, rep)) != 2 {
			t.Errorf("wrong password (%s): %s, want 401 with fresh challenges", alg, status(rep))
		}
	}

	// An unknown user looks like a wrong password.
	nobody := b.ua("nobody@example.com")
	nobody.pw = "whatever1"
	if rep := nobody.login("SHA-256", "Contact: <sip:nobody@192.0.2.8>"); rep.StatusCode != 401 {
		t.Errorf("unknown user: %s, want 401", status(rep))
	}

	// Bob's right password for Alice's AOR: 403.
	bob := b.ua("alice@example.com")
	bob.user, bob.pw = "bob", "bob-secret"
	if rep := bob.login("SHA-256", "Contact: <sip:bob@192.0.2.5>"); rep.StatusCode != 403 || rep.Str(rep.Reason) != "Username does not match To" {
		t.Errorf("username mismatch: %s", status(rep))
	}

	// Malformed credentials: 400 naming the parameter.
	malformed := []struct{ line, reason string }{
		{`Authorization: Digest username="alice", realm="example.com"`, `missing parameter "nonce"`},
		{strings.Replace(u.authorization(sha), `uri="sip:example.com"`, `uri="sip:elsewhere.example.com"`, 1), `parameter "uri": "sip:elsewhere.example.com" is not the Request-URI`},
		{strings.Replace(u.authorization(sha), "nc=", "nc=zz", 1), `parameter "nc"`},
		{strings.Replace(u.authorization(sha), "algorithm=SHA-256", "algorithm=SHA-512-256", 1), `parameter "algorithm"`},
	}
	for _, m := range malformed {
		rep := u.register(contact, m.line)
		if rep.StatusCode != 400 || !strings.Contains(rep.Str(rep.Reason), m.reason) || !strings.HasPrefix(rep.Str(rep.Reason), "Malformed Authorization: ") {
			t.Errorf("%s\n  => %s; want 400 naming %s", m.line, status(rep), m.reason)
		}
	}

	// Credentials of another scheme or realm are no credentials.
	for _, line := range []string{"Authorization: Basic YWxpY2U6YWxpY2Utc2VjcmV0",
		strings.Replace(u.authorization(sha), `realm="example.com"`, `realm="other.example"`, 1)} {
		if rep := u.register(contact, line); rep.StatusCode != 401 {
			t.Errorf("%s: %s, want 401", line, status(rep))
		}
	}

	// A disabled subscriber: 403, after the password was right.
	s, err := b.dir.Get(b.ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	s.Enabled = false
	if err := b.dir.Update(b.ctx, s); err != nil {
		t.Fatal(err)
	}
	if rep := u.login("SHA-256", contact); rep.StatusCode != 403 || rep.Str(rep.Reason) != "Forbidden: account disabled" {
		t.Errorf("disabled: %s", status(rep))
	}
	if rep := mallory.login("SHA-256", contact); rep.StatusCode != 401 {
		t.Errorf("disabled with a wrong password: %s, want 401 (do not reveal the account)", status(rep))
	}

	// A foreign domain is refused before any challenge.
	if rep := b.ua("carol@example.net").register("Contact: <sip:carol@192.0.2.9>"); rep.StatusCode != 403 || len(challenges(t, rep)) != 0 {
		t.Errorf("foreign domain: %s", status(rep))
	}
	// Policy (423) is told only after authentication.
	if rep := b.ua("bob@example.com").register("Contact: <sip:bob@192.0.2.5>", "Expires: 10"); rep.StatusCode != 401 {
		t.Errorf("423 before authentication: %s, want 401", status(rep))
	}

	b.quiet(200 * time.Millisecond)
	if bs := b.show("alice@example.com"); len(bs) != 1 || bs[0].Contact != "sip:alice@192.0.2.4" {
		t.Errorf("alice's bindings %+v", bs)
	}
}

// TestAuthStaleNonce: a nonce older than nonce_ttl is answered with new
// challenges marked stale=true, and the UA's retry with them registers.
func TestAuthStaleNonce(t *testing.T) {
	b := newBench(t, "", nil)
	b.addUser("alice@example.com", "alice-secret")
	u := b.ua("alice@example.com")
	u.pw = "alice-secret"
	b.clock.Shift(-6 * time.Minute) // the nonce is minted 6 minutes ago
	rep := u.register("Contact: <sip:alice@192.0.2.4>")
	old := challengeOf(t, rep, "SHA-256")
	b.clock.Shift(0)
	rep = u.register("Contact: <sip:alice@192.0.2.4>", u.authorization(old))
	if rep.StatusCode != 401 {
		t.Fatalf("stale nonce: %s, want 401", status(rep))
	}
	chs := challenges(t, rep)
	if len(chs) != 2 || chs[0]["stale"] != "true" || chs[1]["stale"] != "true" || chs[0]["nonce"] == old["nonce"] {
		t.Fatalf("stale challenges %v", chs)
	}
	if rep = u.register("Contact: <sip:alice@192.0.2.4>", u.authorization(chs[1])); rep.StatusCode != 200 {
		t.Errorf("retry with the fresh nonce: %s", status(rep))
	}
	b.expect("added")
}

// TestAuthDirectoryDown: with the subscriber directory unavailable, a
// REGISTER with credentials gets 503 with Retry-After, not a challenge that
// would look like a wrong password to the UA.
func TestAuthDirectoryDown(t *testing.T) {
	b := newBench(t, "", nil)
	b.addUser("alice@example.com", "alice-secret")
	u := b.ua("alice@example.com")
	u.pw = "alice-secret"
	ch := challengeOf(t, u.register("Contact: <sip:alice@192.0.2.4>"), "MD5")
	b.stop()
	b.wrapDir = func(d subscriber.Directory) subscriber.Directory { return downDirectory{d} }
	b.start()
	rep := u.register("Contact: <sip:alice@192.0.2.4>", u.authorization(ch))
	if rep.StatusCode != 503 || rep.Value(sipmsg.HRetryAfter) != "5" || len(challenges(t, rep)) != 0 {
		t.Errorf("directory down: %s\n%s", status(rep), rep.Raw)
	}
}

// downDirectory is a subscriber directory whose Redis is down.
type downDirectory struct{ subscriber.Directory }

func (downDirectory) Get(context.Context, string) (subscriber.Subscriber, error) {
	return subscriber.Subscriber{}, fmt.Errorf("get: %w: dial tcp 127.0.0.1:6379: connection refused", subscriber.ErrUnavailable)
}

// TestAuthAlgorithms: auth_algorithms [MD5] offers one MD5 challenge (for
// UAs that answer the first challenge whatever its algorithm), and a
// SHA-256 answer is then refused as never offered.
func TestAuthAlgorithms(t *testing.T) {
	b := newBench(t, "", func(c *registrar.Config) { c.AuthAlgorithms = []string{"MD5"} })
	b.addUser("alice@example.com", "alice-secret")
	u := b.ua("alice@example.com")
	u.pw = "alice-secret"
	rep := u.register("Contact: <sip:alice@192.0.2.4>")
	chs := challenges(t, rep)
	if len(chs) != 1 || chs[0]["algorithm"] != "MD5" {
		t.Fatalf("challenges %v, want one MD5", chs)
	}
	forged := chs[0]
	forged["algorithm"] = "SHA-256"
	if rep := u.register("Contact: <sip:alice@192.0.2.4>", u.authorization(forged)); rep.StatusCode != 400 || !strings.Contains(rep.Str(rep.Reason), `parameter "algorithm"`) {
		t.Errorf("SHA-256 answer to an MD5-only challenge: %s", status(rep))
	}
	chs[0]["algorithm"] = "MD5"
	if rep := u.register("Contact: <sip:alice@192.0.2.4>", u.authorization(chs[0])); rep.StatusCode != 200 {
		t.Errorf("MD5 answer: %s", status(rep))
	}
	b.expect("added")
}
