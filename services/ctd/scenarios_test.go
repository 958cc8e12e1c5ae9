package ctd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/ctd"
)

// TestScenarios: the phones of issue 15's list, each ending in the right
// state with the right requests sent. tm is scripted here (the e2e tests
// in cmd/sipbus use SIPp through the real tm).
func TestScenarios(t *testing.T) {
	w := newWorld(t)
	var script func(n int, req tmapi.UAC) []tmapi.Response
	tm := newScriptedTM(t, w.url, func(n int, req tmapi.UAC) []tmapi.Response { return script(n, req) })
	s, _ := w.replica(t, "ctd-1", func(c *ctd.Config) { c.NotifyTimeout = time.Second })
	srv := serve(t, s)
	tok, _ := s.CreateToken(context.Background(), "alice@example.com")
	frag := []string{"Event: refer", "Content-Type: message/sipfrag", "Subscription-State: active"}

	type check struct {
		phase  string
		reason string
		sent   map[string]int // requests of each method sent through tm in this call
	}
	cases := []struct {
		name   string
		script func(n int, req tmapi.UAC) []tmapi.Response
		drive  func(t *testing.T, id string)
		want   check
	}{
		{"callee busy: 486 in the sipfrag", referScript, func(t *testing.T, id string) {
			waitPhase(t, srv.URL, tok, id, "referred")
			tm.request(t, "d-caller", "NOTIFY", frag, "SIP/2.0 100 Trying\r\n")
			tm.request(t, "d-caller", "NOTIFY", frag, "SIP/2.0 486 Busy Here\r\n")
		}, check{"failed", "the callee answered 486 Busy Here", map[string]int{"INVITE": 1, "REFER": 1, "BYE": 1}}},
		{"REFER refused 501: 3PCC flow I connects", func(n int, req tmapi.UAC) []tmapi.Response {
			switch {
			case req.Method == "REFER":
				return []tmapi.Response{final(501, "Not Implemented", req.DialogID)}
			case req.Method == "INVITE" && req.DialogID != "": // re-INVITE without SDP: the offer in the 200
				r := final(200, "OK", req.DialogID)
				r.Message = "SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\nContent-Length: 17\r\n\r\nv=0\r\nm=audio 4000"
				return []tmapi.Response{r}
			case req.Method == "INVITE" && req.RequestURI == "sip:bob@example.com":
				r := final(200, "OK", "d-callee")
				r.Message = "SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\nContent-Length: 17\r\n\r\nv=0\r\nm=audio 5000"
				return []tmapi.Response{{Status: 180, Reason: "Ringing"}, r}
			}
			return referScript(n, req)
		}, func(t *testing.T, id string) {}, check{"connected", "", map[string]int{"INVITE": 3, "REFER": 1, "ACK": 1}}},
		{"never a NOTIFY: timeout, clean BYE", referScript, func(t *testing.T, id string) {},
			check{"failed", "no NOTIFY within 1s", map[string]int{"INVITE": 1, "REFER": 1, "BYE": 1}}},
		{"DELETE while the callee rings", referScript, func(t *testing.T, id string) {
			waitPhase(t, srv.URL, tok, id, "referred")
			tm.request(t, "d-caller", "NOTIFY", frag, "SIP/2.0 180 Ringing\n")
			waitPhase(t, srv.URL, tok, id, "callee_ringing")
			if code, b := do(t, "DELETE", srv.URL+"/v1/calls/"+id, tok, ""); code != 200 || b["phase"] != "cancelled" {
				t.Fatalf("DELETE: %d %v", code, b)
			}
			tm.request(t, "d-caller", "NOTIFY", frag, "SIP/2.0 200 OK\n") // after our BYE
		}, check{"cancelled", "API", map[string]int{"INVITE": 1, "REFER": 1, "BYE": 1}}},
		{"DELETE while the caller's phones ring: CANCEL", func(n int, req tmapi.UAC) []tmapi.Response {
			return []tmapi.Response{{Status: 180, Reason: "Ringing"}}
		}, func(t *testing.T, id string) {
			if code, b := do(t, "DELETE", srv.URL+"/v1/calls/"+id, tok, ""); code != 200 || b["phase"] != "cancelled" {
				t.Fatalf("DELETE: %d %v", code, b)
			}
			testenv.Eventually(t, 5*time.Second, func() bool {
				tm.mu.Lock()
				defer tm.mu.Unlock()
				return len(tm.cancels) > 0 && strings.HasPrefix(tm.cancels[len(tm.cancels)-1], id+"-")
			}, "CANCEL of the INVITE")
		}, check{"cancelled", "API", map[string]int{"INVITE": 1}}},
		{"caller hangs up before the REFER is answered", func(n int, req tmapi.UAC) []tmapi.Response {
			if req.Method == "REFER" {
				return nil
			}
			return referScript(n, req)
		}, func(t *testing.T, id string) {
			waitPhase(t, srv.URL, tok, id, "caller_answered")
			tm.request(t, "d-caller", "BYE", nil, "")
		}, check{"failed", "hung up before the transfer", map[string]int{"INVITE": 1, "REFER": 1}}},
		{"NOTIFY before the 202", func(n int, req tmapi.UAC) []tmapi.Response {
			if req.Method == "REFER" {
				return nil // the 202 is late (answered below by the NOTIFY)
			}
			return referScript(n, req)
		}, func(t *testing.T, id string) {
			waitPhase(t, srv.URL, tok, id, "caller_answered")
			tm.request(t, "d-caller", "NOTIFY", frag, "SIP/2.0 100 Trying\n")
			waitPhase(t, srv.URL, tok, id, "referred")
			tm.request(t, "d-caller", "NOTIFY", frag, "SIP/2.0 200 OK\n")
		}, check{"connected", "", map[string]int{"INVITE": 1, "REFER": 1, "BYE": 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script = c.script
			tm.mu.Lock()
			before := len(tm.reqs)
			tm.mu.Unlock()
			code, body := do(t, "POST", srv.URL+"/v1/calls", tok, `{"from":"sip:alice@example.com","to":"sip:bob@example.com"}`)
			if code != 201 {
				t.Fatalf("POST: %d %v", code, body)
			}
			id := body["id"].(string)
			c.drive(t, id)
			v := waitPhase(t, srv.URL, tok, id, c.want.phase)
			if r, _ := v["reason"].(string); !strings.Contains(r, c.want.reason) {
				t.Fatalf("reason %q, want %q", r, c.want.reason)
			}
			time.Sleep(300 * time.Millisecond) // late effects had their chance
			tm.mu.Lock()
			got := map[string]int{}
			for _, r := range tm.reqs[before:] {
				got[r.Method]++
			}
			tm.mu.Unlock()
			for m, n := range c.want.sent {
				if got[m] != n {
					t.Fatalf("sent %v, want %v", got, c.want.sent)
				}
			}
			if len(got) != len(c.want.sent) {
				t.Fatalf("sent %v, want %v", got, c.want.sent)
			}
		})
	}
}

func waitPhase(t *testing.T, base, tok, id, phase string) map[string]any {
	t.Helper()
	var v map[string]any
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, v = do(t, "GET", base+"/v1/calls/"+id, tok, "")
		return v["phase"] == phase
	}, "call %s in phase %s (last %v)", id, phase, &v)
	return v
}
