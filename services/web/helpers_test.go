package web_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/web"
)

// env is a web page on real NATS JetStream and a real redis-server.
type env struct {
	t    *testing.T
	js   jetstream.JetStream
	dir  subscriber.Directory
	loc  *location.Redis
	st   web.State
	svc  *web.Service
	srv  *httptest.Server
	pub  *bus.Publisher
	base string
}

func newEnv(t testing.TB, useTLS bool) *env {
	t.Helper()
	ctx := testenv.Context(t, 2*time.Minute)
	ns := testenv.NATS(t)
	nc, js := testenv.Connect(t, ns.ClientURL())
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	c, prefix, err := store.OpenRedisClient(ctx, testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	e := &env{js: js, dir: subscriber.NewRedis(c, prefix), loc: location.NewRedis(c, prefix), st: web.StateOn(c, prefix)}
	cfg := web.DefaultConfig()
	cfg.SessionKey = []byte(strings.Repeat("s", 32))
	cfg.LockoutFailures = 3
	e.svc, err = web.New(cfg, web.Deps{NC: nc, JS: js, Directory: e.dir, Locations: e.loc, State: e.st,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.svc.Shutdown(context.Background()) })
	mux := http.NewServeMux()
	e.svc.Mount(mux)
	if useTLS {
		e.srv = httptest.NewTLSServer(mux)
	} else {
		e.srv = httptest.NewServer(mux)
	}
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL
	e.pub = bus.NewPublisher(js, "sipbus/test/1", bus.PublisherOptions{})
	return e
}

func (e *env) addUser(t testing.TB, aor, password string, admin bool) {
	t.Helper()
	s := subscriber.Subscriber{AOR: aor, Enabled: true, Admin: admin}
	if err := s.SetPassword(password); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.Add(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t   testing.TB
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, // requests are bounded by the test's contexts and the server's limits
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if tr, ok := e.srv.Client().Transport.(*http.Transport); ok {
		c.Transport = tr.Clone()
		c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // httptest's own certificate
	}
	return &browser{t: t, e: e, c: c, jar: jar}
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(data)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// signIn signs in and returns the user's page and its CSRF token.
func (b *browser) signIn(aor, password string) (*http.Response, string) {
	b.t.Helper()
	_, form := b.do("GET", "/signin", nil)
	return b.do("POST", "/signin", url.Values{"csrf": {csrfOf(b.t, form)}, "aor": {aor}, "password": {password}})
}

func (b *browser) mustSignIn(aor, password string) (page, csrf string) {
	b.t.Helper()
	resp, body := b.signIn(aor, password)
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in %s: %d\n%s", aor, resp.StatusCode, body)
	}
	resp, page = b.do("GET", "/u/"+aor+"/", nil)
	if resp.StatusCode != 200 {
		b.t.Fatalf("page of %s: %d\n%s", aor, resp.StatusCode, page)
	}
	return page, csrfOf(b.t, page)
}

func (e *env) publishMissed(t testing.TB, callKey string, caller events.Party, calleeURI string) {
	t.Helper()
	ctx := testenv.Context(t, 10*time.Second)
	now := time.Now()
	d := &events.CallMissed{CallID: callKey + "@test", CallKey: callKey, Caller: caller, Callee: events.Party{URI: calleeURI},
		StartedAt: now.Add(-5 * time.Second), EndedAt: now, Reason: events.MissedNoAnswer, Status: 408, LocalUser: true, RequestURI: calleeURI}
	if err := e.pub.PublishData(ctx, bus.SubjectCall(bus.CallEventMissed, callKey), "missed-"+callKey, d.CallID, callKey, d); err != nil {
		t.Fatal(err)
	}
	if err := e.pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var _ = fmt.Sprint
