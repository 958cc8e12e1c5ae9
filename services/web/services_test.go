package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/mgmt"
)

// TestAdminServices: the admin's "running services" page lists the
// instances that answer on NATS micro (what `sipbus ps` lists), with the
// last error as text; a user who is not an admin gets 403, and so does
// the JSON form.
func TestAdminServices(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "root@example.com", "root-secret", true)
	e.addUser(t, "alice@example.com", "alice-secret", false)

	inst := mgmt.New("tm", "tm-under-test")
	svc, err := micro.AddService(e.js.Conn(), inst.Config(micro.Config{Name: "sipbus-tm"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	// An instance's status travels in its endpoints' stats.
	if err := svc.AddEndpoint("command", micro.HandlerFunc(func(r micro.Request) { _ = r.Respond(nil) }),
		micro.WithEndpointSubject("test.web.services.command")); err != nil {
		t.Fatal(err)
	}
	inst.RecordError(`<script>alert(1)</script> redis down`)

	root := e.browser(t)
	page, _ := root.mustSignIn("root@example.com", "root-secret")
	if !strings.Contains(page, `href="/admin/services"`) {
		t.Fatal("the admin's page has no link to the running services")
	}
	resp, body := root.do("GET", "/admin/services", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/services = %d\n%s", resp.StatusCode, body)
	}
	for _, w := range []string{"tm-under-test", mgmt.Version, "&lt;script&gt;alert(1)&lt;/script&gt; redis down"} {
		if !strings.Contains(body, w) {
			t.Errorf("services page lacks %q:\n%s", w, body)
		}
	}
	if strings.Contains(body, "<script>alert") {
		t.Error("a service's last error reached the page unescaped")
	}
	resp, body = root.do("GET", "/admin/services", nil, "Accept", "application/json")
	var found []mgmt.Found
	if err := json.Unmarshal([]byte(body), &found); resp.StatusCode != http.StatusOK || err != nil || len(found) != 1 || found[0].ID != "tm-under-test" {
		t.Errorf("GET /admin/services (JSON) = %d %v: %s", resp.StatusCode, err, body)
	}

	alice := e.browser(t)
	alice.mustSignIn("alice@example.com", "alice-secret")
	if resp, body := alice.do("GET", "/admin/services", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a non-admin's GET /admin/services = %d, want 403\n%s", resp.StatusCode, body)
	}
	if resp, body := alice.do("GET", "/admin/services", nil, "Accept", "application/json"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"error"`) {
		t.Errorf("a non-admin's JSON GET /admin/services = %d, want a 403 JSON error\n%s", resp.StatusCode, body)
	}
}
