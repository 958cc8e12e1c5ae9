package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAdmin: an admin adds a user (in any domain when none is configured),
// disables one (its sessions end, it cannot sign in) and enables it again,
// and resets a password (the old one stops working).
func TestAdmin(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "root@example.com", "root-secret", true)
	e.addUser(t, "alice@example.com", "alice-secret", false)
	ctx := context.Background()
	root := e.browser(t)
	page, csrf := root.mustSignIn("root@example.com", "root-secret")
	if !contains(page, `id="admin"`) || !contains(page, "alice@example.com") {
		t.Fatal("the admin's page has no user list")
	}
	post := func(path string, form url.Values, want int) {
		t.Helper()
		form.Set("csrf", csrf)
		if resp, body := root.do("POST", path, form); resp.StatusCode != want {
			t.Fatalf("POST %s = %d, want %d\n%s", path, resp.StatusCode, want, body)
		}
	}
	post("/admin/users", url.Values{"aor": {"sip:dave@example.com"}, "password": {"dave-secret"}, "name": {"Dave"}}, http.StatusSeeOther)
	if u, err := e.dir.Get(ctx, "dave@example.com"); err != nil || !u.Enabled || u.Admin || u.Name != "Dave" {
		t.Fatalf("dave: %+v, %v", u, err)
	}
	post("/admin/users", url.Values{"aor": {"dave@example.com"}, "password": {"dave-secret"}}, http.StatusConflict)
	post("/admin/users", url.Values{"aor": {"eve@example.com"}, "password": {"short"}}, http.StatusBadRequest)
	post("/admin/users", url.Values{"aor": {"not an aor"}, "password": {"long-enough"}}, http.StatusBadRequest)

	alice := e.browser(t)
	alice.mustSignIn("alice@example.com", "alice-secret")
	post("/admin/users/alice@example.com/enabled", url.Values{}, http.StatusSeeOther) // no "enabled=on": disable
	if resp, _ := alice.do("GET", "/u/alice@example.com/calls.json", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a disabled user's session: %d, want 401", resp.StatusCode)
	}
	if resp, _ := e.browser(t).signIn("alice@example.com", "alice-secret"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a disabled user signs in: %d, want 401", resp.StatusCode)
	}
	post("/admin/users/alice@example.com/enabled", url.Values{"enabled": {"on"}}, http.StatusSeeOther)
	post("/admin/users/alice@example.com/password", url.Values{"password": {"reset-secret"}}, http.StatusSeeOther)
	if resp, _ := e.browser(t).signIn("alice@example.com", "alice-secret"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old password after a reset: %d, want 401", resp.StatusCode)
	}
	e.browser(t).mustSignIn("alice@example.com", "reset-secret")
	post("/admin/users/root@example.com/enabled", url.Values{}, http.StatusBadRequest) // not yourself
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
