package digest

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Errors.
var (
	// ErrMalformed wraps every ParseCredentials error.
	ErrMalformed = errors.New("digest: malformed credentials")
	// ErrInvalid reports a bad argument: Options that New refuses, an HA1
	// given to Verify that is not hex of the algorithm's length, an empty
	// nonce or a non-positive ttl given to a NonceCounter. A bug in the
	// caller or corrupt data, not the client's fault.
	ErrInvalid = errors.New("digest: invalid argument")
	// ErrUnavailable reports that the NonceCounter cannot answer now
	// (Redis down, timeout); Verify returns it wrapped.
	ErrUnavailable = errors.New("digest: nonce counter unavailable")
)

// Defaults and limits of Options.
const (
	DefaultNonceTTL = 5 * time.Minute
	// MinSecretLen is the shortest Options.Secret New accepts.
	MinSecretLen = 16
	// ClockSkew is how far the replicas' clocks may disagree: a nonce up to
	// ClockSkew in the future is fresh, and the nonce-count record lives
	// ClockSkew longer than its nonce stays fresh.
	ClockSkew = time.Minute
)

// Options configures an Authenticator.
type Options struct {
	// Realm is the realm of the challenges and the only realm Verify
	// accepts (for a registrar, the domain). Required; no control
	// characters, valid UTF-8.
	Realm string
	// Secret is the HMAC key of the nonces, shared by every replica that
	// must verify them; at least MinSecretLen (16) bytes, 32 random bytes
	// recommended. New copies it. Never printed (see the package doc).
	Secret []byte `json:"-" yaml:"-"`
	// NonceTTL is how long a nonce stays fresh; older ones are Stale and
	// answered with stale=true. Default DefaultNonceTTL (5m).
	NonceTTL time.Duration
	// Algorithms are the only ones Verify accepts, and Challenges offers
	// them in this order, one challenge each; ChallengesFor offers a
	// subset, per client. Default [MD5]: one challenge, which every SIP
	// user agent answers (see the package doc, Algorithms). Each must be
	// MD5 or SHA256, once.
	Algorithms []Algorithm
	// Counter provides nonce-count replay protection across replicas
	// (NewRedisCounter). nil disables it: a captured request can be
	// replayed until its nonce goes stale. See the package doc.
	Counter NonceCounter
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Proxy makes Status answer 407 (Proxy-Authenticate, RFC 3261 §22.3)
	// instead of 401 (WWW-Authenticate, §22.2). Default false.
	Proxy bool
}

// Validate reports every problem of o, joined; each names its field.
func (o Options) Validate() error {
	var errs []error
	switch {
	case o.Realm == "":
		errs = append(errs, fmt.Errorf("%w: Options.Realm is empty", ErrInvalid))
	case !utf8.ValidString(o.Realm) || strings.ContainsFunc(o.Realm, isControl):
		errs = append(errs, fmt.Errorf("%w: Options.Realm %q has control characters or invalid UTF-8", ErrInvalid, o.Realm))
	}
	if len(o.Secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("%w: Options.Secret has %d bytes, want at least %d", ErrInvalid, len(o.Secret), MinSecretLen))
	}
	if o.NonceTTL < 0 {
		errs = append(errs, fmt.Errorf("%w: Options.NonceTTL %v is negative", ErrInvalid, o.NonceTTL))
	}
	for i, a := range o.Algorithms {
		if !a.supported() {
			errs = append(errs, fmt.Errorf("%w: Options.Algorithms[%d] %q: want %s or %s", ErrInvalid, i, a, SHA256, MD5))
		} else if slices.Contains(o.Algorithms[:i], a) {
			errs = append(errs, fmt.Errorf("%w: Options.Algorithms[%d] %s is listed twice", ErrInvalid, i, a))
		}
	}
	return errors.Join(errs...)
}

// String describes o without its Secret.
func (o Options) String() string {
	return fmt.Sprintf("digest.Options{Realm:%q Secret:[redacted %d bytes] NonceTTL:%v Algorithms:%v Counter:%t Proxy:%t}",
		o.Realm, len(o.Secret), o.NonceTTL, o.Algorithms, o.Counter != nil, o.Proxy)
}

// GoString is String, so %#v does not print the Secret either.
func (o Options) GoString() string { return o.String() }

// LogValue keeps the Secret out of slog output.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("realm", o.Realm), slog.Duration("nonce_ttl", o.NonceTTL),
		slog.Any("algorithms", o.Algorithms), slog.Bool("counter", o.Counter != nil), slog.Bool("proxy", o.Proxy))
}

// Authenticator issues challenges and verifies credentials for one realm.
// It is safe for concurrent use.
type Authenticator struct {
	realm    string
	realmB   []byte
	ttl      time.Duration
	algs     []Algorithm
	counter  NonceCounter
	now      func() time.Time
	proxy    bool
	macs     sync.Pool // of hash.Hash: HMAC-SHA256 keyed with the secret
	dummyHA1 map[Algorithm]string
}

// New checks opt (see Options.Validate) and returns an Authenticator.
func New(opt Options) (*Authenticator, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if opt.NonceTTL == 0 {
		opt.NonceTTL = DefaultNonceTTL
	}
	if len(opt.Algorithms) == 0 {
		opt.Algorithms = []Algorithm{MD5}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	secret := slices.Clone(opt.Secret)
	a := &Authenticator{
		realm:    opt.Realm,
		realmB:   []byte(opt.Realm),
		ttl:      opt.NonceTTL,
		algs:     slices.Clone(opt.Algorithms),
		counter:  opt.Counter,
		now:      opt.Now,
		proxy:    opt.Proxy,
		dummyHA1: make(map[Algorithm]string, 2),
	}
	a.macs.New = func() any { return hmac.New(sha256.New, secret) }
	// The HA1 Verify uses for unknown users, so they cost what known ones
	// do; derived from the secret, so nobody can compute a response to it.
	for _, alg := range []Algorithm{MD5, SHA256} {
		m := a.macs.Get().(hash.Hash)
		m.Reset()
		m.Write([]byte("digest: unknown user HA1 "))
		m.Write([]byte(alg))
		a.dummyHA1[alg] = string(alg.sumHex(nil, m.Sum(nil)))
		a.macs.Put(m)
	}
	return a, nil
}

// Realm returns the realm of a.
func (a *Authenticator) Realm() string { return a.realm }

// Challenges returns one challenge per offered algorithm, in Options order,
// each with a fresh nonce (see the package doc for its format) and
// qop="auth"; stale sets stale=true (after a Stale result). Each becomes
// one WWW-Authenticate (Proxy-Authenticate) header field.
func (a *Authenticator) Challenges(stale bool) []Challenge {
	now := a.now()
	out := make([]Challenge, len(a.algs))
	for i, alg := range a.algs {
		out[i] = Challenge{Realm: a.realm, Nonce: a.newNonce(now), Algorithm: alg, QOP: qopAuth, Stale: stale}
	}
	return out
}

// ChallengesFor returns one challenge per algorithm of algs that a
// accepts (Options.Algorithms), in the order of algs, skipping the others
// and repeats; when that leaves none, Challenges(stale). It serves a
// policy that offers some clients more (SHA-256 first, RFC 8760 §2.3)
// than the default set.
func (a *Authenticator) ChallengesFor(stale bool, algs []Algorithm) []Challenge {
	now := a.now()
	out := make([]Challenge, 0, len(algs))
	for i, alg := range algs {
		if a.offers(alg) && !slices.Contains(algs[:i], alg) {
			out = append(out, Challenge{Realm: a.realm, Nonce: a.newNonce(now), Algorithm: alg, QOP: qopAuth, Stale: stale})
		}
	}
	if len(out) == 0 {
		return a.Challenges(stale)
	}
	return out
}

// Accepts reports whether Verify accepts credentials computed with alg.
func (a *Authenticator) Accepts(alg Algorithm) bool { return a.offers(alg) }

// offers reports whether alg is among the accepted algorithms.
func (a *Authenticator) offers(alg Algorithm) bool {
	return alg != "" && slices.Contains(a.algs, alg)
}

// String describes a without its secret.
func (a *Authenticator) String() string {
	return fmt.Sprintf("digest.Authenticator{Realm:%q NonceTTL:%v Algorithms:%v Counter:%t Proxy:%t}",
		a.realm, a.ttl, a.algs, a.counter != nil, a.proxy)
}

// GoString is String, so %#v does not print the secret either.
func (a *Authenticator) GoString() string { return a.String() }

// LogValue keeps the secret out of slog output.
func (a *Authenticator) LogValue() slog.Value {
	return slog.GroupValue(slog.String("realm", a.realm), slog.Duration("nonce_ttl", a.ttl),
		slog.Any("algorithms", a.algs), slog.Bool("counter", a.counter != nil), slog.Bool("proxy", a.proxy))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
