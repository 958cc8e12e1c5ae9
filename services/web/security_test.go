package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/websession"
)

// TestURLTampering: a signed-in user who puts another user's AOR in a URL
// gets 403 for every page, list, stream and action of it; an admin may.
func TestURLTampering(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "alice@example.com", "alice-secret", false)
	e.addUser(t, "mallory@example.com", "mallory-secret", false)
	e.addUser(t, "root@example.com", "root-secret", true)
	ctx := context.Background()
	alice := e.browser(t)
	_, aliceCSRF := alice.mustSignIn("alice@example.com", "alice-secret")
	if resp, _ := alice.do("POST", "/u/alice@example.com/phonebook", url.Values{"csrf": {aliceCSRF}, "name": {"Bob"}, "target": {"sip:bob@example.com"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice adds an entry: %d", resp.StatusCode)
	}
	entries, _ := e.st.Phonebook.Entries(ctx, "alice@example.com")
	if len(entries) != 1 {
		t.Fatalf("alice's phonebook %+v", entries)
	}
	id := entries[0].ID

	m := e.browser(t)
	_, csrf := m.mustSignIn("mallory@example.com", "mallory-secret")
	for _, tc := range []struct {
		name, method, path string
		form               url.Values
	}{
		{"page", "GET", "/u/alice@example.com/", nil},
		{"page, another spelling", "GET", "/u/sip:alice@EXAMPLE.com/", nil},
		{"bindings", "GET", "/u/alice@example.com/registrations.json", nil},
		{"calls", "GET", "/u/alice@example.com/calls.json", nil},
		{"phonebook", "GET", "/u/alice@example.com/phonebook.json", nil},
		{"event stream", "GET", "/u/alice@example.com/events", nil},
		{"add an entry", "POST", "/u/alice@example.com/phonebook", url.Values{"csrf": {csrf}, "name": {"x"}, "target": {"123"}}},
		{"edit an entry", "POST", "/u/alice@example.com/phonebook/" + id, url.Values{"csrf": {csrf}, "name": {"x"}, "target": {"123"}}},
		{"delete an entry", "POST", "/u/alice@example.com/phonebook/" + id + "/delete", url.Values{"csrf": {csrf}}},
		{"account", "POST", "/u/alice@example.com/account", url.Values{"csrf": {csrf}, "email": {"m@evil.example"}}},
		{"password", "POST", "/u/alice@example.com/password", url.Values{"csrf": {csrf}, "new": {"pwned123"}, "confirm": {"pwned123"}}},
		{"admin: add user", "POST", "/admin/users", url.Values{"csrf": {csrf}, "aor": {"evil@example.com"}, "password": {"evil123"}}},
		{"admin: reset password", "POST", "/admin/users/alice@example.com/password", url.Values{"csrf": {csrf}, "password": {"pwned123"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := m.do(tc.method, tc.path, tc.form)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%s %s = %d, want 403\n%s", tc.method, tc.path, resp.StatusCode, body)
			}
		})
	}
	if got, _ := e.st.Phonebook.Entries(ctx, "alice@example.com"); len(got) != 1 || got[0] != entries[0] {
		t.Fatalf("alice's phonebook changed: %+v", got)
	}
	if _, err := e.dir.Get(ctx, "evil@example.com"); err == nil {
		t.Fatal("mallory added a user")
	}
	e.browser(t).mustSignIn("alice@example.com", "alice-secret") // her password still works

	// Signed out: 401 for data, the sign-in page for pages.
	anon := e.browser(t)
	if resp, _ := anon.do("GET", "/u/alice@example.com/calls.json", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous calls.json = %d, want 401", resp.StatusCode)
	}
	if resp, _ := anon.do("GET", "/u/alice@example.com/", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Fatalf("anonymous page = %d %s, want 303 to /signin", resp.StatusCode, resp.Header.Get("Location"))
	}
	// An admin sees every user.
	root := e.browser(t)
	root.mustSignIn("root@example.com", "root-secret")
	if resp, body := root.do("GET", "/u/alice@example.com/phonebook.json", nil); resp.StatusCode != 200 || !strings.Contains(body, "sip:bob@example.com") {
		t.Fatalf("admin reads alice's phonebook: %d %s", resp.StatusCode, body)
	}
}

// TestCSRF: every POST without the session's token is refused with 403,
// and the sign-in form needs its own token.
func TestCSRF(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "alice@example.com", "alice-secret", true)
	b := e.browser(t)
	_, csrf := b.mustSignIn("alice@example.com", "alice-secret")
	other := e.browser(t)
	_, otherCSRF := other.mustSignIn("alice@example.com", "alice-secret") // another session's token
	for _, path := range []string{"/u/alice@example.com/phonebook", "/u/alice@example.com/account", "/u/alice@example.com/password",
		"/admin/users", "/signout"} {
		for _, tok := range []struct{ name, v string }{{"none", ""}, {"wrong", strings.Repeat("0", 64)}, {"another session's", otherCSRF}} {
			form := url.Values{"name": {"x"}, "target": {"123"}, "email": {"x@example.com"}, "aor": {"x@example.com"}, "password": {"xxxxxx"}}
			if tok.v != "" {
				form.Set("csrf", tok.v)
			}
			resp, body := b.do("POST", path, form)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
				t.Fatalf("POST %s with %s token = %d, want 403 naming CSRF\n%s", path, tok.name, resp.StatusCode, body)
			}
		}
	}
	if resp, _ := b.do("POST", "/u/alice@example.com/phonebook", url.Values{"csrf": {csrf}, "name": {"ok"}, "target": {"123"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("with the token: %d, want 303", resp.StatusCode)
	}
	// The sign-in form without its token.
	anon := e.browser(t)
	resp, body := anon.do("POST", "/signin", url.Values{"aor": {"alice@example.com"}, "password": {"alice-secret"}})
	if resp.StatusCode != http.StatusForbidden || cookieNamed(resp, websession.CookieName) != nil {
		t.Fatalf("sign-in without token = %d, cookie %v\n%s", resp.StatusCode, cookieNamed(resp, websession.CookieName), body)
	}
	// The API check (for click-to-dial) wants the token in a header.
	req, _ := http.NewRequest("POST", e.base+"/v1/calls", nil)
	for _, c := range b.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	if _, _, ok := e.svc.Authenticate(req); ok {
		t.Fatal("API POST without X-CSRF-Token authenticated")
	}
	req.Header.Set(websession.CSRFHeader, csrf)
	if aor, _, ok := e.svc.Authenticate(req); !ok || aor != "alice@example.com" {
		t.Fatalf("API POST with the token: %q %v", aor, ok)
	}
}

// TestScriptDisplayNameIsText: a missed call whose caller's display name
// is markup shows as text on the page and as a JSON string in the lists.
func TestScriptDisplayNameIsText(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "bob@example.com", "bob-secret", false)
	b := e.browser(t)
	b.mustSignIn("bob@example.com", "bob-secret")
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	e.publishMissed(t, "00000000000000aa", events.Party{Display: evil, URI: "sip:eve@example.net"}, "sip:bob@example.com")
	var page string
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, page = b.do("GET", "/u/bob@example.com/", nil)
		return strings.Contains(page, "eve@example.net")
	}, "the missed call is not listed")
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
		t.Fatalf("the display name reached the page as markup:\n%s", page)
	}
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Fatalf("the display name is not shown escaped:\n%s", page)
	}
	if !strings.Contains(page, "missed (no-answer)") {
		t.Fatal("the missed call lacks its reason")
	}
	_, js := b.do("GET", "/u/bob@example.com/calls.json", nil)
	if strings.Contains(js, "<script>") {
		t.Fatalf("calls.json carries raw markup: %s", js)
	}
}

// TestCookieFlags: the session cookie is HttpOnly, SameSite=Strict, Path=/,
// and Secure exactly when the page is served over TLS.
func TestCookieFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"http", false}, {"https", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.tls)
			e.addUser(t, "alice@example.com", "alice-secret", false)
			b := e.browser(t)
			resp, _ := b.signIn("alice@example.com", "alice-secret")
			c := cookieNamed(resp, websession.CookieName)
			if c == nil {
				t.Fatalf("no session cookie: %v", resp.Header["Set-Cookie"])
			}
			raw := strings.Join(resp.Header["Set-Cookie"], "\n")
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tc.tls {
				t.Fatalf("Set-Cookie %s: want HttpOnly, SameSite=Strict, Path=/, Secure=%v", raw, tc.tls)
			}
			if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("security headers missing: %v", resp.Header)
			}
		})
	}
}

// TestSignIn: a wrong password is refused, repeated failures lock the AOR
// out for the source (even with the right password), a password change
// ends the old sessions and the new password signs in.
func TestSignIn(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "alice@example.com", "alice-secret", false)
	e.addUser(t, "carol@example.com", "carol-secret", false)
	b := e.browser(t)
	resp, body := b.signIn("alice@example.com", "wrong-one")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong address or password") || cookieNamed(resp, websession.CookieName) != nil {
		t.Fatalf("wrong password: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := b.signIn("nobody@example.com", "whatever1"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d, want 401", resp.StatusCode)
	}
	// Password change: the old session ends, the new password works.
	old := e.browser(t)
	old.mustSignIn("carol@example.com", "carol-secret")
	cur := e.browser(t)
	_, csrf := cur.mustSignIn("carol@example.com", "carol-secret")
	if resp, body := cur.do("POST", "/u/carol@example.com/password", url.Values{"csrf": {csrf}, "current": {"wrong"}, "new": {"carol-new-1"}, "confirm": {"carol-new-1"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("change with a wrong current password: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = cur.do("POST", "/u/carol@example.com/password", url.Values{"csrf": {csrf}, "current": {"carol-secret"}, "new": {"carol-new-1"}, "confirm": {"carol-new-1"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?msg=password" {
		t.Fatalf("change password: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := old.do("GET", "/u/carol@example.com/calls.json", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old session after the password change: %d, want 401", resp.StatusCode)
	}
	if resp, _ := cur.signIn("carol@example.com", "carol-secret"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old password: %d, want 401", resp.StatusCode)
	}
	cur.mustSignIn("carol@example.com", "carol-new-1")
	u, _ := e.dir.Get(context.Background(), "carol@example.com")
	if u.HA1SHA256 == "" || strings.Contains(u.HA1SHA256+u.HA1MD5, "carol-new-1") {
		t.Fatal("the directory does not hold new HA1 values")
	}
	// Lockout: the third failure for alice from this address (the test
	// config; the first was above) blocks her from it, then even the
	// right password is 429.
	lb := e.browser(t)
	if resp, _ := lb.signIn("alice@example.com", "guess-guess"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second failure: %d, want 401", resp.StatusCode)
	}
	if resp, body := lb.signIn("alice@example.com", "guess-guess"); resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("third failure: %d, want 429\n%s", resp.StatusCode, body)
	}
	if resp, _ := lb.signIn("alice@example.com", "alice-secret"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right password after 3 failures: %d, want 429 (locked out)", resp.StatusCode)
	}
}

// TestRegistrationsStream: the event stream sends the bindings at once
// and again when a reg.contact event for the user arrives.
func TestRegistrationsStream(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "alice@example.com", "alice-secret", false)
	b := e.browser(t)
	b.mustSignIn("alice@example.com", "alice-secret")
	req, _ := http.NewRequest("GET", e.base+"/u/alice@example.com/events", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := b.c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				lines <- string(buf[:n])
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	var got strings.Builder // everything read so far
	wait := func(want string) {
		t.Helper()
		if strings.Contains(got.String(), want) {
			return
		}
		for {
			select {
			case s, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended before %q:\n%s", want, got.String())
				}
				got.WriteString(s)
				if strings.Contains(got.String(), want) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %q in the stream:\n%s", want, got.String())
			}
		}
	}
	wait("event: bindings\ndata: []")
	bnd := location.Binding{AOR: "alice@example.com", Contact: "sip:alice@192.0.2.1:5062", Q: 1, Expires: time.Now().Add(time.Minute),
		CallID: "c1", CSeq: 1, Received: "udp:198.51.100.7:40000", Transport: "udp", UserAgent: "Test <phone>"}
	if err := e.loc.Add(ctx, bnd); err != nil {
		t.Fatal(err)
	}
	rc := &events.RegContactAdded{RegContact: events.RegContact{AOR: bnd.AOR, AORKey: events.AORKey(bnd.AOR), Contact: bnd.Contact, At: time.Now()}}
	if err := e.pub.PublishData(ctx, bus.SubjectReg(bus.RegEventAdded, events.AORKey(bnd.AOR)), "reg-1", bnd.AOR, "", rc); err != nil {
		t.Fatal(err)
	}
	wait(`"contact":"sip:alice@192.0.2.1:5062"`)
	wait(`"nat":true`)
}
