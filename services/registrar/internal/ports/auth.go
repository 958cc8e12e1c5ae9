package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// Reason phrases of the authentication step.
const (
	ReasonUnauthorized  = "Unauthorized"
	ReasonUserMismatch  = "Username does not match To"
	ReasonDisabled      = "Forbidden: account disabled"
	ReasonMalformedAuth = "Malformed Authorization"
	ReasonDirectoryDown = "Subscriber directory unavailable"
	ReasonNoRealm       = "Domain not served here"
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
// subscriber directory, with realm = the To AOR's domain, and the check
// that the authenticated user is the one whose bindings change.
type Auth struct {
	// Realms holds one Authenticator per local domain, keyed by the domain
	// in the form the AOR's host has (location.ParseAOR).
	Realms map[string]*digest.Authenticator
	// Algorithms are the algorithms the Authenticators offer (to name the
	// fault of credentials that use another).
	Algorithms []digest.Algorithm
	Directory  subscriber.Directory
	Log        *slog.Logger
}

// Check authenticates the REGISTER m for the address of record aor
// ("user@domain" of its To). redelivered says the event was delivered
// before: a nonce-count seen already (Replay) is then our own earlier
// attempt at this very message, and is accepted.
//
//   - no credentials for the realm (none, another scheme, another realm),
//     an unknown user, a wrong password, a nonce we did not mint or a
//     nonce-count seen before: 401 with one WWW-Authenticate per
//     algorithm (SHA-256 first, then MD5); a stale nonce: the same with
//     stale=true;
//   - credentials that cannot be checked: 400 naming the parameter;
//   - the right password of another user than the To's: 403 "Username
//     does not match To" (Kamailio's check_to);
//   - a disabled subscriber: 403, told only after the password was right;
//   - the directory or the nonce counter unavailable: 503, Retry-After.
func (a *Auth) Check(ctx context.Context, m *sipmsg.Msg, aor string, redelivered bool) Verdict {
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
		return Verdict{Status: 400, Reason: ReasonMalformedAuth + ": " + uncheckable(cr, ruri, a.Algorithms), Result: res}
	case 403:
		return Verdict{Status: 403, Reason: ReasonDisabled, Result: res}
	case 401, 407:
		chs := au.Challenges(stale)
		hdrs := make([]string, 0, len(chs))
		for _, ch := range chs {
			hdrs = append(hdrs, "WWW-Authenticate: "+ch.String())
		}
		return Verdict{Status: 401, Reason: ReasonUnauthorized, Headers: hdrs, Result: res}
	}
	return Verdict{Status: code, Reason: sipmsg.StatusText(code), Result: res}
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
func uncheckable(cr digest.Credentials, ruri string, offered []digest.Algorithm) string {
	alg := cr.HashAlgorithm()
	switch {
	case alg == "" || len(offered) > 0 && !slices.Contains(offered, alg):
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
