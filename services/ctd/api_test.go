package ctd_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/ctd"
)

// TestAPIErrors: every bad request gets a 4xx with a JSON body
// {"error","field"} naming what is wrong.
func TestAPIErrors(t *testing.T) {
	w := newWorld(t)
	newScriptedTM(t, w.url, func(n int, req tmapi.UAC) []tmapi.Response {
		if req.Method == "INVITE" {
			return []tmapi.Response{{Status: 180, Reason: "Ringing"}} // rings until cancelled
		}
		return []tmapi.Response{final(200, "OK", req.DialogID)}
	})
	s, _ := w.replica(t, "ctd-1", nil)
	srv := serve(t, s)
	ctx := context.Background()
	alice, _ := s.CreateToken(ctx, "alice@example.com")
	carol, _ := s.CreateToken(ctx, "carol@example.com") // a token whose AOR is no subscriber
	ok := `{"from":"sip:alice@example.com","to":"sip:bob@example.com"}`
	cases := []struct {
		name, method, path, token, body string
		status                          int
		field, msg                      string
	}{
		{"no token", "POST", "/v1/calls", "", ok, 401, "Authorization", "token"},
		{"unknown token", "POST", "/v1/calls", "ctd_nope", ok, 401, "Authorization", "token"},
		{"from not owned", "POST", "/v1/calls", alice, `{"from":"sip:bob@example.com","to":"sip:alice@example.com"}`, 403, "from", "own"},
		{"unknown user", "POST", "/v1/calls", carol, `{"from":"sip:carol@example.com","to":"sip:bob@example.com"}`, 404, "from", "no subscriber"},
		{"from malformed", "POST", "/v1/calls", alice, `{"from":"sip:alice@","to":"sip:bob@example.com"}`, 400, "from", "from"},
		{"from tel", "POST", "/v1/calls", alice, `{"from":"tel:+123","to":"sip:bob@example.com"}`, 400, "from", "sip"},
		{"to missing", "POST", "/v1/calls", alice, `{"from":"sip:alice@example.com"}`, 400, "to", "required"},
		{"to with headers", "POST", "/v1/calls", alice, `{"from":"sip:alice@example.com","to":"sip:bob@example.com?Subject=x"}`, 400, "to", "headers"},
		{"to with CRLF", "POST", "/v1/calls", alice, `{"from":"sip:alice@example.com","to":"sip:bob@example.com\r\nVia: x"}`, 400, "to", ""},
		{"to wrong type", "POST", "/v1/calls", alice, `{"from":"sip:alice@example.com","to":7}`, 400, "to", "string"},
		{"unknown field", "POST", "/v1/calls", alice, `{"from":"sip:alice@example.com","to":"sip:bob@example.com","x":1}`, 400, "", "unknown field"},
		{"body over the limit", "POST", "/v1/calls", alice, `{"from":"sip:alice@example.com","to":"sip:bob@example.com","x":"` + strings.Repeat("a", 5000) + `"}`, 413, "", "body over"},
		{"bad id", "GET", "/v1/calls/a.b", alice, "", 400, "id", "call id"},
		{"unknown call", "GET", "/v1/calls/c000", alice, "", 404, "id", "no such call"},
		{"delete unknown call", "DELETE", "/v1/calls/c000", alice, "", 404, "id", "no such call"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(t, c.method, srv.URL+c.path, c.token, c.body)
			if code != c.status {
				t.Fatalf("status %d, want %d: %v", code, c.status, body)
			}
			if f, _ := body["field"].(string); f != c.field {
				t.Fatalf("field %q, want %q: %v", f, c.field, body)
			}
			if e, _ := body["error"].(string); e == "" || !strings.Contains(e, c.msg) {
				t.Fatalf("error %q, want it to contain %q", e, c.msg)
			}
		})
	}
	// Another user's call is not found for alice; bob may not hang it up.
	bob, _ := s.CreateToken(ctx, "bob@example.com")
	code, body := do(t, "POST", srv.URL+"/v1/calls", bob, `{"from":"sip:bob@example.com","to":"sip:alice@example.com"}`)
	if code != 201 {
		t.Fatalf("bob's call: %d %v", code, body)
	}
	id := body["id"].(string)
	if code, _ := do(t, "GET", srv.URL+"/v1/calls/"+id, alice, ""); code != 404 {
		t.Fatalf("alice GETs bob's call: %d", code)
	}
	if code, _ := do(t, "DELETE", srv.URL+"/v1/calls/"+id, alice, ""); code != 404 {
		t.Fatalf("alice DELETEs bob's call: %d", code)
	}
	// The admin token may dial from any AOR.
	a2, _ := w.replica(t, "ctd-admin", func(c *ctd.Config) { c.AdminToken = "operator-secret-123" })
	srv2 := serve(t, a2)
	if code, body := do(t, "POST", srv2.URL+"/v1/calls", "operator-secret-123", `{"from":"sip:alice@example.com","to":"sip:bob@example.com"}`); code != 201 {
		t.Fatalf("admin POST: %d %v", code, body)
	}
	if code, body := do(t, "DELETE", srv.URL+"/v1/calls/"+id, bob, ""); code != 200 || body["phase"] != "cancelled" {
		t.Fatalf("DELETE: %d %v", code, body)
	}
}
