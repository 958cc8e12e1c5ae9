package websession

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/subscriber"
)

// Names of the cookies, form field and header.
const (
	CookieName       = "sipbus_session"
	SignInCookieName = "sipbus_signin"
	CSRFField        = "csrf"
	CSRFHeader       = "X-CSRF-Token"
)

// Limits.
const (
	// MinKeyLen is the fewest bytes of Config.Key.
	MinKeyLen = 32
	// MaxCookieLen bounds what Decode reads.
	MaxCookieLen = 1024
	// DefaultTTL is the session lifetime when Config.TTL is 0.
	DefaultTTL = 12 * time.Hour
)

// ErrInvalid reports a bad Config or cookie.
var ErrInvalid = errors.New("websession: invalid")

// Users is the part of the subscriber directory sessions need.
type Users interface {
	Get(ctx context.Context, aor string) (subscriber.Subscriber, error)
}

// Generations keeps each user's session generation; a cookie issued under
// an older generation is refused.
type Generations interface {
	// Generation returns aor's generation (0 when never bumped) and keeps
	// it for at least ttl.
	Generation(ctx context.Context, aor string, ttl time.Duration) (uint64, error)
	// Bump increments aor's generation, keeping it for at least ttl.
	Bump(ctx context.Context, aor string, ttl time.Duration) (uint64, error)
}

// Config configures a Manager.
type Config struct {
	// Key signs the cookies: at least MinKeyLen bytes, the same on every
	// replica. Required.
	Key []byte
	// TTL is how long a session lasts from sign-in; default DefaultTTL.
	TTL time.Duration
	// Secure sets the Secure flag on every cookie, also over plain HTTP
	// (behind a TLS-terminating proxy). Without it the flag is set when
	// the request came over TLS.
	Secure bool
}

// Validate reports every problem of c, joined, naming the field.
func (c Config) Validate() error {
	var errs []error
	if len(c.Key) < MinKeyLen {
		errs = append(errs, fmt.Errorf("%w: Key has %d bytes, want at least %d", ErrInvalid, len(c.Key), MinKeyLen))
	}
	if c.TTL < 0 {
		errs = append(errs, fmt.Errorf("%w: TTL %v is negative", ErrInvalid, c.TTL))
	}
	return errors.Join(errs...)
}

// Manager issues and checks session cookies.
type Manager struct {
	cfg   Config
	users Users
	gens  Generations
	now   func() time.Time
}

// New validates cfg and returns a Manager; now is its clock (nil: time.Now).
func New(cfg Config, users Users, gens Generations, now func() time.Time) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if users == nil || gens == nil {
		return nil, errors.New("websession: users and generations are required")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Manager{cfg: cfg, users: users, gens: gens, now: now}, nil
}

// Session is a checked session.
type Session struct {
	AOR   string
	Admin bool
	Name  string
	// ID is the random session id; CSRF is its token.
	ID, CSRF string
	Expires  time.Time
}

// Payload is what a cookie carries (see the package doc).
type Payload struct {
	AOR     string `json:"a"`
	Expires int64  `json:"e"` // unix seconds
	Gen     uint64 `json:"g"`
	FP      string `json:"f"` // HA1 fingerprint, hex
	ID      string `json:"i"` // session id, hex
}

// Issue signs aor in: it sets the session cookie and returns the session.
// The caller has checked the password.
func (m *Manager) Issue(ctx context.Context, w http.ResponseWriter, r *http.Request, aor string) (Session, error) {
	s, err := m.users.Get(ctx, aor)
	if err != nil {
		return Session{}, fmt.Errorf("websession: issue: %w", err)
	}
	gen, err := m.gens.Generation(ctx, s.AOR, m.cfg.TTL)
	if err != nil {
		return Session{}, fmt.Errorf("websession: issue: %w", err)
	}
	exp := m.now().Add(m.cfg.TTL)
	p := Payload{AOR: s.AOR, Expires: exp.Unix(), Gen: gen, FP: fingerprint(s), ID: rand.Text()}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: m.Encode(p), Path: "/", Expires: exp, MaxAge: int(m.cfg.TTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: m.secure(r),
	})
	return Session{AOR: s.AOR, Admin: s.Admin, Name: s.Name, ID: p.ID, CSRF: m.csrf(p.ID), Expires: time.Unix(p.Expires, 0)}, nil
}

// Clear removes the session cookie (sign-out in this browser; Revoke ends
// the user's other sessions too).
func (m *Manager) Clear(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: m.secure(r)})
}

// Revoke ends every session of aor.
func (m *Manager) Revoke(ctx context.Context, aor string) error {
	if _, err := m.gens.Bump(ctx, aor, m.cfg.TTL); err != nil {
		return fmt.Errorf("websession: revoke %s: %w", aor, err)
	}
	return nil
}

// Check reports the signed-in user of r: its AOR and admin flag. It is the
// one call other handlers of the process (the click-to-dial API) need.
func (m *Manager) Check(r *http.Request) (aor string, admin bool, ok bool) {
	s, ok := m.Session(r)
	return s.AOR, s.Admin, ok
}

// Session returns the checked session of r (see the package doc for what
// is checked).
func (m *Manager) Session(r *http.Request) (Session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return Session{}, false
	}
	p, err := m.Decode(c.Value)
	if err != nil {
		return Session{}, false
	}
	if m.now().Unix() >= p.Expires {
		return Session{}, false
	}
	ctx := r.Context()
	s, err := m.users.Get(ctx, p.AOR)
	if err != nil || !s.Enabled || s.AOR != p.AOR {
		return Session{}, false
	}
	if subtle.ConstantTimeCompare([]byte(fingerprint(s)), []byte(p.FP)) != 1 {
		return Session{}, false
	}
	gen, err := m.gens.Generation(ctx, s.AOR, m.cfg.TTL)
	if err != nil || gen != p.Gen {
		return Session{}, false
	}
	return Session{AOR: s.AOR, Admin: s.Admin, Name: s.Name, ID: p.ID, CSRF: m.csrf(p.ID), Expires: time.Unix(p.Expires, 0)}, true
}

// CheckCSRF reports whether r carries s's CSRF token in the form field
// CSRFField or the header CSRFHeader. For a form, call it after
// ParseForm (or it parses the form itself).
func (m *Manager) CheckCSRF(r *http.Request, s Session) bool {
	tok := r.Header.Get(CSRFHeader)
	if tok == "" {
		tok = r.PostFormValue(CSRFField)
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRF)) == 1
}

// SignInToken returns the double-submit token of the sign-in form,
// setting its cookie when r has none.
func (m *Manager) SignInToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(SignInCookieName); err == nil && validToken(c.Value) {
		return m.mac("signin", c.Value)
	}
	v := rand.Text()
	http.SetCookie(w, &http.Cookie{Name: SignInCookieName, Value: v, Path: "/", MaxAge: 3600,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: m.secure(r)})
	return m.mac("signin", v)
}

// CheckSignInToken reports whether the sign-in form r posted echoes the
// token of its sign-in cookie.
func (m *Manager) CheckSignInToken(r *http.Request) bool {
	c, err := r.Cookie(SignInCookieName)
	if err != nil || !validToken(c.Value) {
		return false
	}
	tok := r.PostFormValue(CSRFField)
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(m.mac("signin", c.Value))) == 1
}

func validToken(v string) bool {
	if len(v) < 16 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func (m *Manager) secure(r *http.Request) bool { return m.cfg.Secure || r.TLS != nil }

func (m *Manager) csrf(id string) string { return m.mac("csrf", id) }

func (m *Manager) mac(purpose, v string) string {
	h := hmac.New(sha256.New, m.cfg.Key)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(v))
	return hex.EncodeToString(h.Sum(nil))
}

// Encode signs p into a cookie value.
func (m *Manager) Encode(p Payload) string {
	body, _ := json.Marshal(p)
	h := hmac.New(sha256.New, m.cfg.Key)
	h.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Decode verifies a cookie value and returns its payload; any fault is
// ErrInvalid. It checks the MAC before it parses anything.
func (m *Manager) Decode(v string) (Payload, error) {
	if len(v) > MaxCookieLen {
		return Payload{}, fmt.Errorf("%w: cookie over %d bytes", ErrInvalid, MaxCookieLen)
	}
	b64, sig, ok := strings.Cut(v, ".")
	if !ok {
		return Payload{}, fmt.Errorf("%w: cookie without a signature", ErrInvalid)
	}
	body, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return Payload{}, fmt.Errorf("%w: cookie payload is not base64url", ErrInvalid)
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return Payload{}, fmt.Errorf("%w: cookie signature is not base64url", ErrInvalid)
	}
	h := hmac.New(sha256.New, m.cfg.Key)
	h.Write(body)
	if !hmac.Equal(mac, h.Sum(nil)) {
		return Payload{}, fmt.Errorf("%w: bad cookie signature", ErrInvalid)
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		return Payload{}, fmt.Errorf("%w: cookie payload: %v", ErrInvalid, err)
	}
	if p.AOR == "" || p.ID == "" || p.Expires <= 0 {
		return Payload{}, fmt.Errorf("%w: cookie payload lacks a field", ErrInvalid)
	}
	return p, nil
}

// fingerprint ties a session to the HA1 it was issued under.
func fingerprint(s subscriber.Subscriber) string {
	sum := sha256.Sum256([]byte("websession\x00" + s.HA1SHA256 + "\x00" + s.HA1MD5))
	return hex.EncodeToString(sum[:8])
}
