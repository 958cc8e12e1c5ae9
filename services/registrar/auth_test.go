package registrar_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
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
	// Both algorithms offered to everyone, SHA-256 first (RFC 8760), as
	// auth_algorithms [SHA-256, MD5] configures; the default is MD5 alone
	// (TestAuthDefaultMD5).
	b := newBench(t, state, func(c *registrar.Config) { c.AuthAlgorithms = []string{"SHA-256", "MD5"} })
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
	old := challengeOf(t, rep, "MD5")
	b.clock.Shift(0)
	rep = u.register("Contact: <sip:alice@192.0.2.4>", u.authorization(old))
	if rep.StatusCode != 401 {
		t.Fatalf("stale nonce: %s, want 401", status(rep))
	}
	chs := challenges(t, rep)
	if len(chs) != 1 || chs[0]["stale"] != "true" || chs[0]["nonce"] == old["nonce"] {
		t.Fatalf("stale challenges %v", chs)
	}
	if rep = u.register("Contact: <sip:alice@192.0.2.4>", u.authorization(chs[0])); rep.StatusCode != 200 {
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

// TestAuthDefaultMD5: by default one MD5 challenge per realm (which every
// client answers: sipsak takes the first challenge whatever its algorithm,
// baresip 1.0 gives up on any SHA-256 one), and a SHA-256 answer is
// refused as never offered.
func TestAuthDefaultMD5(t *testing.T) {
	b := newBench(t, "", nil)
	b.addUser("alice@example.com", "alice-secret")
	u := b.ua("alice@example.com")
	u.pw = "alice-secret"
	rep := u.register("Contact: <sip:alice@192.0.2.4>")
	chs := challenges(t, rep)
	if len(chs) != 1 || chs[0]["algorithm"] != "MD5" || chs[0]["qop"] != "auth" {
		t.Fatalf("challenges %v, want one MD5, qop auth", chs)
	}
	forged := maps.Clone(chs[0])
	forged["algorithm"] = "SHA-256"
	if rep := u.register("Contact: <sip:alice@192.0.2.4>", u.authorization(forged)); rep.StatusCode != 400 || !strings.Contains(rep.Str(rep.Reason), `parameter "algorithm"`) {
		t.Errorf("SHA-256 answer to an MD5-only challenge: %s", status(rep))
	}
	if rep := u.register("Contact: <sip:alice@192.0.2.4>", u.authorization(chs[0])); rep.StatusCode != 200 {
		t.Errorf("MD5 answer: %s", status(rep))
	}
	b.expect("added")
}

// TestAuthSHA256Policy: clients of a listed domain, or whose User-Agent
// matches a listed pattern, are offered SHA-256 first, then MD5 (RFC 8760
// §2.3); everyone else MD5 alone. Both answers register.
func TestAuthSHA256Policy(t *testing.T) {
	b := newBench(t, "", func(c *registrar.Config) {
		c.Domains = []string{"example.com", "example.org"}
		c.AuthSHA256Domains = []string{"Example.ORG"}
		c.AuthSHA256UserAgents = []string{"^Linphone/[5-9]"}
	})
	b.addUser("alice@example.com", "alice-secret")
	b.addUser("olga@example.org", "olga-secret")
	i := 0
	for _, tc := range []struct {
		name, aor, pw, ua string
		want              []string
	}{
		{"other phones", "alice@example.com", "alice-secret", "", []string{"MD5"}},
		{"matching User-Agent", "alice@example.com", "alice-secret", "User-Agent: Linphone/5.2.5 (belle-sip/5.2.0)", []string{"SHA-256", "MD5"}},
		{"listed domain", "olga@example.org", "olga-secret", "", []string{"SHA-256", "MD5"}},
	} {
		i++
		u := b.ua(tc.aor)
		u.pw = tc.pw
		extra := []string{fmt.Sprintf("Contact: <sip:%s@192.0.2.4:%d>", u.user, 5060+i)}
		if tc.ua != "" {
			extra = append(extra, tc.ua)
		}
		chs := challenges(t, u.register(extra...))
		var algs []string
		for _, ch := range chs {
			algs = append(algs, ch["algorithm"])
		}
		if !slices.Equal(algs, tc.want) {
			t.Fatalf("%s: challenges %v, want %v", tc.name, algs, tc.want)
		}
		if rep := u.register(append(extra, u.authorization(chs[0]))...); rep.StatusCode != 200 {
			t.Fatalf("%s: %s answer: %s", tc.name, chs[0]["algorithm"], status(rep))
		}
		b.expect("added")
	}
}

// TestAuthBruteForce: wrong passwords for one user from one source block
// that user from that source: answered 403 "Too many failed
// authentications", the right password too, while the right password from
// another source registers. On both engines.
func TestAuthBruteForce(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			b := newBench(t, stateURL(t, engine), func(c *registrar.Config) { c.AuthFailPerUser = 5 })
			b.addUser("alice@example.com", "alice-secret")
			guesser := b.ua("alice@example.com")
			guesser.remote = "203.0.113.66:5060"
			ch := challenges(t, guesser.register("Contact: <sip:mallory@203.0.113.66>"))[0]
			for i := 1; i <= 8; i++ {
				guesser.pw = fmt.Sprintf("guess-%d", i)
				rep := guesser.register("Contact: <sip:mallory@203.0.113.66>", guesser.authorization(ch))
				want, reason := 401, "Unauthorized"
				if i >= 5 {
					want, reason = 403, "Too many failed authentications"
				}
				if rep.StatusCode != want || rep.Str(rep.Reason) != reason {
					t.Fatalf("guess %d: %s, want %d %s", i, status(rep), want, reason)
				}
			}
			guesser.pw = "alice-secret"
			if rep := guesser.register("Contact: <sip:mallory@203.0.113.66>", guesser.authorization(ch)); rep.StatusCode != 403 {
				t.Fatalf("the right password from the blocked source: %s, want 403", status(rep))
			}
			phone := b.ua("alice@example.com")
			phone.pw = "alice-secret"
			if rep := phone.login("MD5", "Contact: <sip:alice@192.0.2.4>"); rep.StatusCode != 200 {
				t.Fatalf("the right password from another source: %s, want 200", status(rep))
			}
			b.expect("added")
			if bs := b.show("alice@example.com"); len(bs) != 1 || bs[0].Contact != "sip:alice@192.0.2.4" {
				t.Errorf("alice's bindings %+v, want only her phone's", bs)
			}
		})
	}
}
