// Package digest is SIP HTTP Digest authentication for a registrar or proxy
// (RFC 3261 §22, RFC 7616, RFC 8760) with stateless nonces that any replica
// sharing the secret can verify.
//
// # Flow
//
//	a, err := digest.New(digest.Options{Realm: "example.com", Secret: secret, Counter: counter})
//	...
//	cr, err := digest.ParseCredentials(authorizationValue) // no header: cr = Credentials{}
//	if err != nil { /* 400, like Result Malformed */ }
//	ha1 := lookUp(cr.Username, cr.HashAlgorithm()) // "" when there is no such user
//	res, err := a.Verify(ctx, method, requestURI, cr, ha1)
//	if err != nil { /* the Counter failed: 500, or 503 when errors.Is(err, ErrUnavailable) */ }
//	if res == digest.OK && !enabled { res = digest.Disabled }
//	code, stale := a.Status(res) // 0: go on; 401/407: add a.Challenges(stale)
//
// # Nonces
//
// A nonce is base64url without padding (RFC 4648 §5, 75 characters) of 56
// bytes:
//
//	timestamp  8 bytes  unix milliseconds when it was issued, big-endian
//	random    16 bytes  from crypto/rand
//	mac       32 bytes  HMAC-SHA256(Options.Secret, timestamp || random || realm)
//
// Nothing is stored when a nonce is issued: any replica with the same Secret
// and Realm checks the MAC (a forged, truncated or garbled nonce, or one
// minted for another realm or with another secret, is BadNonce) and the age
// (older than Options.NonceTTL is Stale; more than ClockSkew in the future is
// Stale too). Replicas' clocks must agree within ClockSkew. No opaque is
// issued: the nonce already carries all the state, so Challenges leave
// Opaque empty and Verify ignores the opaque a client returns.
//
// # Replay protection
//
// With qop=auth every request carries a nonce-count (nc); Options.Counter
// records the highest nc seen per nonce, shared by all replicas
// (NewRedisCounter), and a request whose nc is not greater is Replay. The nc
// is recorded only after the digest matched, so forged requests cannot burn
// counts, and the record lives ClockSkew longer than the nonce stays fresh.
// The nc must grow in arrival order: a client that sends requests in
// parallel under one nonce may have a reordered one answered with a new
// challenge.
//
// With a nil Counter there is no nc check: a captured request (a REGISTER,
// say) can be replayed verbatim until its nonce goes stale (NonceTTL). Use a
// nil Counter only in tests or behind a transport that already prevents
// replays (TLS with mutual authentication).
//
// A response without qop (the RFC 2069 form) is accepted for MD5 only, for
// old user agents; it has no nc, so it can be replayed until the nonce goes
// stale whatever the Counter. RFC 8760 requires qop with SHA-256.
//
// # Algorithms
//
// MD5 and SHA-256 are supported. Options.Algorithms are the ones Verify
// accepts; Challenges offers them all, in that order, and ChallengesFor
// offers a subset chosen per client. The default is MD5 alone, one
// challenge per realm, as Kamailio, OpenSIPS and Asterisk challenge: RFC
// 8760 §2.3 has a client take the first challenge whose algorithm it
// supports, but the clients people have do not all read further than the
// first (sipsak 0.9.8 answers the first, whatever its algorithm), and some
// give up on any challenge they cannot compute (baresip 1.0 fails the
// REGISTER with ENOSYS when one WWW-Authenticate says SHA-256). So
// SHA-256 goes to clients known to handle it: accept [MD5, SHA256] and
// offer ChallengesFor(stale, [SHA256, MD5]) to those (RFC 8760 §2.3
// order), [MD5] to the rest. Credentials computed with any accepted
// algorithm verify, whatever was offered to that client: a nonce does not
// record what it was offered with, and a stronger hash than offered is no
// harm.
//
// The -sess variants (MD5-sess, SHA-256-sess) are rejected as
// Malformed: they need the client's cnonce in HA1, so the stored HA1 cannot
// be used directly, and no SIP deployment depends on them. Neither are
// qop=auth-int (this package never sees the body), userhash=true and
// algorithms not in Options.Algorithms (never offered, so a client that uses
// them is broken, or is being downgraded).
//
// # Brute force
//
// A FailureCounter counts failed authentications (a wrong password or an
// unknown user: the results that follow a guess) per (user, source
// address) and per source address, in a fixed window (Limits.Window,
// starting at the first failure), shared by every replica
// (NewRedisFailures: one Lua script of INCR and PEXPIRE per failure, one
// MGET to ask) or in one process (NewMemoryFailures). A count that
// reaches its limit blocks for Limits.Block: Limits.PerUser blocks that
// user from that source only, so a guesser never locks the user out for
// the user's own phones elsewhere (that would hand every attacker a
// denial of service), and a household or office behind one NAT keeps its
// other users; Limits.PerSource blocks the source for every user (a
// guesser spraying many users). An IPv6 source counts by its /64.
// Successes write nothing and reset nothing. The caller asks Blocked
// before it accepts credentials that verified (otherwise the guess that
// hits would still get in), counts with Fail after a failure, and answers
// a blocked source without checking; see services/registrar for the SIP
// side.
//
// # Statuses
//
// Status maps a Result to the SIP response: 401 (407 with Options.Proxy) with
// fresh challenges for Missing, WrongRealm, BadNonce, Stale (stale=true),
// Replay, Mismatch and UnknownUser; 400 for Malformed; 403 for Disabled.
// WrongRealm is a challenge, not 403: RFC 3261 §22.3 says credentials for
// another realm belong to another server and must not be consumed, so for
// this realm the request carries no credentials. UnknownUser and Mismatch
// look the same on the wire, so the answers do not reveal which users exist.
// Check Enabled after Verify returned OK (not before): answering 403 without
// the right password would tell anyone which accounts exist and are disabled.
//
// # Secrets
//
// Neither Options nor Authenticator prints its Secret: both implement
// fmt.Stringer, fmt.GoStringer and slog.LogValuer without it, and
// Options.Secret is not marshalled to JSON.
package digest
