package websession_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/websession"
)

var key = []byte("0123456789abcdef0123456789abcdef")

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// engines runs f on both Generations engines: Redis (a real redis-server)
// and memory.
func engines(t *testing.T, f func(t *testing.T, g websession.Generations)) {
	t.Run("memory", func(t *testing.T) { f(t, websession.NewMemory()) })
	t.Run("redis", func(t *testing.T) {
		c, prefix, err := store.OpenRedisClient(context.Background(), testenv.RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		f(t, websession.NewRedis(c, prefix))
	})
}

func setup(t *testing.T, g websession.Generations) (*websession.Manager, subscriber.Directory, *clock) {
	t.Helper()
	dir := subscriber.NewMemory()
	s := subscriber.Subscriber{AOR: "alice@example.com", Enabled: true}
	if err := s.SetPassword("secret1"); err != nil {
		t.Fatal(err)
	}
	if err := dir.Add(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	m, err := websession.New(websession.Config{Key: key, TTL: time.Hour}, dir, g, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return m, dir, clk
}

// signIn issues a session and returns a request carrying its cookie.
func signIn(t *testing.T, m *websession.Manager, r *http.Request) (*http.Cookie, websession.Session) {
	t.Helper()
	w := httptest.NewRecorder()
	s, err := m.Issue(context.Background(), w, r, "sip:alice@EXAMPLE.com")
	if err != nil {
		t.Fatal(err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != websession.CookieName {
		t.Fatalf("cookies %v, want one %s", cs, websession.CookieName)
	}
	return cs[0], s
}

func withCookie(c *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	return r
}

func TestCookieFlags(t *testing.T) {
	m, _, _ := setup(t, websession.NewMemory())
	for _, tc := range []struct {
		name   string
		tls    bool
		secure bool
	}{{"plain HTTP", false, false}, {"over TLS", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/signin", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			c, _ := signIn(t, m, r)
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tc.secure {
				t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, Secure=%v", c, tc.secure)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	engines(t, func(t *testing.T, g websession.Generations) {
		m, dir, clk := setup(t, g)
		c, s := signIn(t, m, httptest.NewRequest("POST", "/", nil))
		ctx := context.Background()
		aor, admin, ok := m.Check(withCookie(c))
		if !ok || aor != "alice@example.com" || admin {
			t.Fatalf("Check = %q %v %v, want alice@example.com, not admin", aor, admin, ok)
		}
		// The admin flag is read from the directory, not the cookie.
		u, _ := dir.Get(ctx, aor)
		u.Admin = true
		_ = dir.Update(ctx, u)
		if _, admin, ok := m.Check(withCookie(c)); !ok || !admin {
			t.Fatalf("after making alice admin: admin %v ok %v", admin, ok)
		}
		// Tampered.
		bad := *c
		bad.Value = strings.Replace(c.Value, c.Value[:4], "AAAA", 1)
		if _, _, ok := m.Check(withCookie(&bad)); ok {
			t.Fatal("tampered cookie accepted")
		}
		// A cookie for bob signed with another key.
		other, _ := websession.New(websession.Config{Key: []byte(strings.Repeat("k", 32))}, dir, g, nil)
		forged := &http.Cookie{Name: websession.CookieName, Value: other.Encode(websession.Payload{AOR: "alice@example.com", Expires: clk.t.Add(time.Hour).Unix(), ID: "x"})}
		if _, _, ok := m.Check(withCookie(forged)); ok {
			t.Fatal("cookie signed with another key accepted")
		}
		// CSRF.
		form := url.Values{"csrf": {s.CSRF}}
		r := httptest.NewRequest("POST", "/", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if !m.CheckCSRF(r, s) {
			t.Fatal("CSRF token refused")
		}
		r = httptest.NewRequest("POST", "/", strings.NewReader("csrf=nope"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if m.CheckCSRF(r, s) {
			t.Fatal("wrong CSRF token accepted")
		}
		// Expiry.
		clk.t = clk.t.Add(time.Hour + time.Second)
		if _, _, ok := m.Check(withCookie(c)); ok {
			t.Fatal("expired cookie accepted")
		}
	})
}

func TestRevocation(t *testing.T) {
	engines(t, func(t *testing.T, g websession.Generations) {
		ctx := context.Background()
		for _, tc := range []struct {
			name   string
			revoke func(m *websession.Manager, dir subscriber.Directory)
		}{
			{"Revoke (sign out everywhere)", func(m *websession.Manager, _ subscriber.Directory) { _ = m.Revoke(ctx, "alice@example.com") }},
			{"password changed elsewhere", func(_ *websession.Manager, dir subscriber.Directory) {
				u, _ := dir.Get(ctx, "alice@example.com")
				_ = u.SetPassword("another1")
				_ = dir.Update(ctx, u)
			}},
			{"disabled", func(_ *websession.Manager, dir subscriber.Directory) {
				u, _ := dir.Get(ctx, "alice@example.com")
				u.Enabled = false
				_ = dir.Update(ctx, u)
			}},
			{"removed", func(_ *websession.Manager, dir subscriber.Directory) { _ = dir.Remove(ctx, "alice@example.com") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m, dir, _ := setup(t, g)
				_ = m.Revoke(ctx, "alice@example.com") // a fresh generation for this case
				c, _ := signIn(t, m, httptest.NewRequest("POST", "/", nil))
				if _, _, ok := m.Check(withCookie(c)); !ok {
					t.Fatal("fresh session refused")
				}
				tc.revoke(m, dir)
				if _, _, ok := m.Check(withCookie(c)); ok {
					t.Fatal("session still accepted")
				}
			})
		}
	})
}

func TestSignInToken(t *testing.T) {
	m, _, _ := setup(t, websession.NewMemory())
	w := httptest.NewRecorder()
	tok := m.SignInToken(w, httptest.NewRequest("GET", "/signin", nil))
	cs := w.Result().Cookies()
	if len(cs) != 1 || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in cookie %v", cs)
	}
	post := func(tok string, c *http.Cookie) bool {
		r := httptest.NewRequest("POST", "/signin", strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c != nil {
			r.AddCookie(c)
		}
		return m.CheckSignInToken(r)
	}
	if !post(tok, cs[0]) {
		t.Fatal("token refused")
	}
	if post("", cs[0]) || post(tok, nil) || post(tok+"0", cs[0]) {
		t.Fatal("missing or wrong token accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	err := websession.Config{Key: []byte("short"), TTL: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "Key has 5 bytes") || !strings.Contains(err.Error(), "TTL") {
		t.Fatalf("Validate = %v, want Key and TTL named", err)
	}
}

func FuzzDecode(f *testing.F) {
	m, err := websession.New(websession.Config{Key: key}, subscriber.NewMemory(), websession.NewMemory(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m.Encode(websession.Payload{AOR: "a@b", Expires: 1, ID: "x"}))
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		p, err := m.Decode(v)
		if err != nil {
			return
		}
		// Whatever decodes must have been signed with the key: re-encoding
		// gives a value that decodes to the same payload.
		q, err := m.Decode(m.Encode(p))
		if err != nil || q != p {
			t.Fatalf("round trip %+v -> %+v, %v", p, q, err)
		}
	})
}
