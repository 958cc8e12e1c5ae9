package digest

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
)

// Result is the outcome of Verify.
type Result int

// Results. Status maps each to a SIP response.
const (
	// OK: the credentials are valid (the caller still checks Enabled).
	OK Result = iota
	// Missing: no credentials (the zero Credentials).
	Missing
	// Malformed: credentials Verify cannot check: another scheme, an
	// algorithm not offered or -sess, qop other than auth (or none with
	// SHA-256), userhash, a response of the wrong length, a uri parameter
	// that is not the request-URI (RFC 7616 §3.4.6), missing fields.
	Malformed
	// WrongRealm: credentials for another realm (RFC 3261 §22.3).
	WrongRealm
	// BadNonce: a nonce this Authenticator did not mint (forged, garbled,
	// another realm or secret).
	BadNonce
	// Stale: the digest is right but the nonce is older than NonceTTL.
	Stale
	// Replay: the digest is right but the nonce-count was seen before.
	Replay
	// Mismatch: wrong password or a bad digest.
	Mismatch
	// UnknownUser: the caller passed an empty HA1.
	UnknownUser
	// Disabled: never returned by Verify; the caller sets it for a
	// disabled subscriber after Verify returned OK.
	Disabled
)

var resultNames = [...]string{
	OK: "ok", Missing: "missing", Malformed: "malformed", WrongRealm: "wrong-realm",
	BadNonce: "bad-nonce", Stale: "stale", Replay: "replay", Mismatch: "mismatch",
	UnknownUser: "unknown-user", Disabled: "disabled",
}

// String returns the result's name ("ok", "bad-nonce", ...), fit for a
// metric label.
func (r Result) String() string {
	if r >= 0 && int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// Verify checks cr, sent with a request of method to requestURI, against
// ha1, the HA1 of cr.Username for cr.HashAlgorithm() that the caller looked
// up; "" when there is no such user (the digest is still computed against
// an HA1 derived from the secret, so unknown users cost as much time as
// known ones). The steps, in order:
//
//   - zero Credentials: Missing;
//   - scheme, realm (exact): Malformed, WrongRealm;
//   - algorithm offered and not -sess, no userhash, qop=auth with cnonce
//     and nc (or no qop with MD5), a response of the algorithm's length, a
//     uri equal to requestURI after trimming white space (case-sensitive):
//     otherwise Malformed;
//   - the nonce's MAC: BadNonce;
//   - the digest, compared in constant time: UnknownUser when ha1 is "",
//     Mismatch when it differs;
//   - the nonce's age: Stale;
//   - with qop and a Counter, the nonce-count: Replay.
//
// The error is non-nil only for an ha1 that is not hex of the algorithm's
// length (ErrInvalid; Result Mismatch) and when the Counter fails (wrapping
// its error, ErrUnavailable for Redis outages; Result Replay, because the
// request could not be proved fresh): answer 500, or 503 for
// ErrUnavailable.
func (a *Authenticator) Verify(ctx context.Context, method, requestURI string, cr Credentials, ha1 string) (Result, error) {
	if cr.Scheme == "" {
		return Missing, nil
	}
	if !strings.EqualFold(cr.Scheme, schemeDigest) {
		return Malformed, nil
	}
	if cr.Realm != a.realm {
		return WrongRealm, nil
	}
	alg := cr.HashAlgorithm()
	if !a.checkable(alg, cr) || strings.TrimSpace(cr.URI) != strings.TrimSpace(requestURI) {
		return Malformed, nil
	}
	issued, ok := a.checkNonce(cr.Nonce)
	if !ok {
		return BadNonce, nil
	}

	known := ha1 != ""
	if !known {
		ha1 = a.dummyHA1[alg]
	} else if len(ha1) != alg.hexLen() || !isHex(ha1) {
		return Mismatch, fmt.Errorf("%w: HA1 of user %q for %s is not %d hex digits", ErrInvalid, truncate(cr.Username), alg, alg.hexLen())
	}
	var wantBuf, gotBuf [maxHashHexLength]byte
	want := responseHex(wantBuf[:0], alg, strings.ToLower(ha1), cr.Nonce, cr.NC, cr.CNonce, cr.QOP, method, cr.URI)
	got := gotBuf[:len(cr.Response)]
	for i := 0; i < len(cr.Response); i++ {
		c := cr.Response[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		got[i] = c
	}
	match := subtle.ConstantTimeCompare(want, got) == 1
	switch {
	case !known:
		return UnknownUser, nil
	case !match:
		return Mismatch, nil
	}

	now := a.now()
	if age := now.Sub(issued); age > a.ttl || age < -ClockSkew {
		return Stale, nil
	}
	if cr.QOP == "" || a.counter == nil {
		return OK, nil
	}
	nc, err := strconv.ParseUint(cr.NC, 16, 32)
	if err != nil { // checkable saw 8 hex digits; unreachable
		return Malformed, nil
	}
	fresh, err := a.counter.Advance(ctx, cr.Nonce, uint32(nc), issued.Add(a.ttl+ClockSkew).Sub(now))
	if err != nil {
		return Replay, fmt.Errorf("digest: check nonce-count of user %q: %w", truncate(cr.Username), err)
	}
	if !fresh {
		return Replay, nil
	}
	return OK, nil
}

// checkable reports whether cr has what Verify needs under alg, nothing it
// refuses (see Malformed), and a response of the right length.
func (a *Authenticator) checkable(alg Algorithm, cr Credentials) bool {
	if !a.offers(alg) || cr.Userhash || cr.Nonce == "" || cr.URI == "" {
		return false
	}
	switch cr.QOP {
	case "":
		if alg != MD5 {
			return false
		}
	case qopAuth:
		if cr.CNonce == "" || len(cr.NC) != 8 || !isHex(cr.NC) {
			return false
		}
	default:
		return false
	}
	return len(cr.Response) == alg.hexLen() && isHex(cr.Response)
}

// Status maps a Result to the SIP response a registrar or proxy sends:
// code 0 for OK (go on), 401 (407 with Options.Proxy) with a.Challenges(stale)
// for Missing, WrongRealm, BadNonce, Stale, Replay, Mismatch and UnknownUser
// (stale only for Stale), 400 for Malformed, 403 for Disabled, and 500 for
// a Result it does not know. See the package doc for why.
func (a *Authenticator) Status(r Result) (code int, stale bool) {
	challenge := 401
	if a.proxy {
		challenge = 407
	}
	switch r {
	case OK:
		return 0, false
	case Stale:
		return challenge, true
	case Missing, WrongRealm, BadNonce, Replay, Mismatch, UnknownUser:
		return challenge, false
	case Malformed:
		return 400, false
	case Disabled:
		return 403, false
	}
	return 500, false
}
