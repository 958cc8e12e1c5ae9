package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/registrar/internal/app"
)

// Reason phrases of the authentication step.
const (
	ReasonUnauthorized  = "Unauthorized"
	ReasonUserMismatch  = "Username does not match To"
	ReasonDisabled      = "Forbidden: account disabled"
	ReasonMalformedAuth = "Malformed Authorization"
	ReasonDirectoryDown = "Subscriber directory unavailable"
	ReasonNoRealm       = "Domain not served here"
	// ReasonBlocked answers credentials from a source blocked after too
	// many failed authentications, without checking them.
	ReasonBlocked   = "Too many failed authentications"
	ReasonLimitDown = "Authentication limits unavailable"
)

// Verdict is the outcome of Auth.Check: Status 0 lets the REGISTER go on;
// otherwise answer Status/Reason with Headers (the challenges of a 401,
// Retry-After of a 503).
type Verdict struct {
	Status  int
	Reason  string
	Headers []string
	Result  digest.Result // what digest said (a metric label)
}

// Auth is RFC 3261 §10.3 steps 3 and 4 for the registrar: digest
// authentication (RFC 3261 §22, RFC 7616, RFC 8760) against the
// subscriber directory, with realm = the To AOR's domain, the check that
// the authenticated user is the one whose bindings change, and limits on
// password guessing.
type Auth struct {
	// Realms holds one Authenticator per local domain, keyed by the domain
	// in the form the AOR's host has (location.ParseAOR); each accepts
	// Policy.Accepted().
	Realms map[string]*digest.Authenticator
	// Policy picks the challenges of each client.
	Policy    app.AuthPolicy
	Directory subscriber.Directory
	// Failures counts failed authentications under Limits; nil (or Limits
	// off): no limits.
	Failures digest.FailureCounter
	Limits   digest.Limits
	Log      *slog.Logger
}

// Check authenticates the REGISTER m, received from src, for the address
// of record aor ("user@domain" of its To). redelivered says the event was
// delivered before: a nonce-count seen already (Replay) is then our own
// earlier attempt at this very message, and is accepted.
//
//   - no credentials for the realm (none, another scheme, another realm),
//     an unknown user, a wrong password, a nonce we did not mint or a
//     nonce-count seen before: 401 with one WWW-Authenticate per
//     algorithm of Policy.Offer (MD5 alone by default); a stale nonce:
//     the same with stale=true;
//   - credentials from a source blocked after too many failed
//     authentications (a wrong password or an unknown user, counted per
//     user and source and per source): 403 "Too many failed
//     authentications", right or wrong;
//   - credentials that cannot be checked: 400 naming the parameter;
//   - the right password of another user than the To's: 403 "Username
//     does not match To" (Kamailio's check_to);
//   - a disabled subscriber: 403, told only after the password was right;
//   - the directory, the nonce counter or the failure counter (when the
//     password was right) unavailable: 503, Retry-After.
func (a *Auth) Check(ctx context.Context, m *sipmsg.Msg, src netip.Addr, aor string, redelivered bool) Verdict {
	realm := aor[strings.LastIndexByte(aor, '@')+1:]
	au := a.Realms[realm]
	if au == nil {
		return Verdict{Status: 403, Reason: ReasonNoRealm}
	}
	cr, bad := credentials(m, realm)
	if bad != "" {
		return Verdict{Status: 400, Reason: ReasonMalformedAuth + ": " + bad, Result: digest.Malformed}
	}
	var (
		sub  subscriber.Subscriber
		user string // the credentials' user as an AOR of the realm
		ha1  string
	)
	if cr.Scheme != "" && cr.Realm == realm && cr.HashAlgorithm() != "" {
		if u, err := location.ParseAOR(cr.Username + "@" + realm); err == nil {
			user = u
			s, err := a.Directory.Get(ctx, u)
			switch {
			case err == nil:
				sub, ha1 = s, s.HA1(cr.HashAlgorithm())
			case errors.Is(err, subscriber.ErrNotFound), errors.Is(err, subscriber.ErrInvalid):
			default:
				a.Log.Warn("registrar: subscriber lookup", "aor", u, "err", err)
				return unavailable(ReasonDirectoryDown)
			}
		}
	}
	ruri := m.Str(m.RequestURI)
	res, err := au.Verify(ctx, m.Str(m.Method), ruri, cr, ha1)
	if err != nil {
		a.Log.Warn("registrar: verify credentials", "aor", aor, "err", err)
		if errors.Is(err, digest.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			return unavailable("Nonce counter unavailable")
		}
		return Verdict{Status: 500, Reason: "Server Internal Error", Result: res}
	}
	if res == digest.Replay && redelivered {
		res = digest.OK
	}
	if v, stop := a.limit(ctx, res, failUser(user, cr, realm), src); stop {
		return v
	}
	if res == digest.OK {
		if user != aor {
			return Verdict{Status: 403, Reason: ReasonUserMismatch, Result: res}
		}
		if !sub.Enabled {
			res = digest.Disabled
		}
	}
	code, stale := au.Status(res)
	switch code {
	case 0:
		return Verdict{Result: res}
	case 400:
		return Verdict{Status: 400, Reason: ReasonMalformedAuth + ": " + uncheckable(cr, ruri, au), Result: res}
	case 403:
		return Verdict{Status: 403, Reason: ReasonDisabled, Result: res}
	case 401, 407:
		chs := au.ChallengesFor(stale, a.Policy.Offer(realm, m.Value(sipmsg.HUserAgent)))
		hdrs := make([]string, 0, len(chs))
		for _, ch := range chs {
			hdrs = append(hdrs, "WWW-Authenticate: "+ch.String())
		}
		return Verdict{Status: 401, Reason: ReasonUnauthorized, Headers: hdrs, Result: res}
	}
	return Verdict{Status: code, Reason: sipmsg.StatusText(code), Result: res}
}

// limit applies the brute-force limits: after a failed guess (a wrong
// password, an unknown user) it counts the failure, and before accepting
// right credentials it asks whether the source is blocked (else the guess
// that hits would get in). A blocked source is answered 403 without
// more. One log line tells when a block starts (the Fail that reached the
// limit, on whichever replica). A failure that cannot be counted is
// logged and answered as usual; right credentials whose source cannot be
// checked get 503.
func (a *Auth) limit(ctx context.Context, res digest.Result, user string, src netip.Addr) (Verdict, bool) {
	if a.Failures == nil || !a.Limits.On() || !src.IsValid() {
		return Verdict{}, false
	}
	var (
		b   digest.Block
		err error
	)
	switch res {
	case digest.Mismatch, digest.UnknownUser:
		if b, err = a.Failures.Fail(ctx, user, src, a.Limits); err != nil {
			a.Log.Warn("registrar: count failed authentication", "user", user, "source", digest.SourceKey(src), "err", err)
			return Verdict{}, false
		}
		if b.Started {
			a.Log.Warn("registrar: blocking after failed authentications", "user", user, "source", digest.SourceKey(src),
				"scope", b.Scope.String(), "failures", b.Failures, "window", a.Limits.Window, "block", a.Limits.Block)
		}
	case digest.OK:
		if b, err = a.Failures.Blocked(ctx, user, src, a.Limits); err != nil {
			a.Log.Warn("registrar: read failed authentications", "user", user, "source", digest.SourceKey(src), "err", err)
			return unavailable(ReasonLimitDown), true
		}
	default:
		return Verdict{}, false
	}
	if b.Scope == digest.NotBlocked {
		return Verdict{}, false
	}
	return Verdict{Status: 403, Reason: ReasonBlocked, Result: res}, true
}

// failUser names the user a guess was for: the credentials' user as an
// AOR of the realm, or, when that is no valid AOR, the username as sent
// (truncated; it is only a counter's key and a log field).
func failUser(user string, cr digest.Credentials, realm string) string {
	if user != "" {
		return user
	}
	return truncate(cr.Username, 128) + "@" + realm
}

func unavailable(reason string) Verdict {
	return Verdict{Status: 503, Reason: reason, Headers: []string{"Retry-After: 5"}}
}

// credentials picks the Authorization header for realm: the Digest one
// whose realm is ours, else the first Digest one (Verify says WrongRealm),
// else none (Missing). Headers of other schemes are ignored, so a UA that
// tried Basic gets a Digest challenge. A Digest header that does not parse
// is reported: the reason names the parameter.
func credentials(m *sipmsg.Msg, realm string) (digest.Credentials, string) {
	var first digest.Credentials
	for _, v := range m.Values(sipmsg.HAuthorization) {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Digest") {
			continue
		}
		cr, err := digest.ParseCredentials(v)
		if err != nil {
			return digest.Credentials{}, strings.TrimPrefix(err.Error(), digest.ErrMalformed.Error()+": ")
		}
		if cr.Realm == realm {
			return cr, ""
		}
		if first.Scheme == "" {
			first = cr
		}
	}
	return first, ""
}

// uncheckable names why Verify found parseable credentials Malformed (its
// checks, in its order).
func uncheckable(cr digest.Credentials, ruri string, au *digest.Authenticator) string {
	alg := cr.HashAlgorithm()
	switch {
	case alg == "" || !au.Accepts(alg):
		return fmt.Sprintf("parameter \"algorithm\": %q is not offered", cr.Algorithm)
	case cr.Userhash:
		return "parameter \"userhash\": not supported"
	case cr.QOP == "" && alg != digest.MD5:
		return fmt.Sprintf("parameter \"qop\": required with %s", alg)
	case cr.QOP != "" && cr.QOP != "auth":
		return fmt.Sprintf("parameter \"qop\": %q is not offered", cr.QOP)
	case len(cr.Response) != len(digest.HA1(alg, "", "", "")):
		return fmt.Sprintf("parameter \"response\": wrong length for %s", alg)
	case strings.TrimSpace(cr.URI) != strings.TrimSpace(ruri):
		return fmt.Sprintf("parameter \"uri\": %q is not the Request-URI", truncate(cr.URI, 200))
	}
	return "credentials cannot be checked"
}
