package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// httpURL is the API address `sipbus up` printed on its http line.
func (s *upStack) httpURL(t *testing.T) string {
	t.Helper()
	for _, l := range s.p.seen {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "http "); ok && strings.HasPrefix(strings.TrimSpace(v), "http://") {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("sipbus up printed no http line: %q", s.p.seen)
	return ""
}

func waitRegistered(t *testing.T, natsURL, aor string) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() bool {
		var show regapi.AORBindings
		return json.Unmarshal([]byte(cli(t, natsURL, "ul", "show", aor, "--json")), &show) == nil && len(show.Bindings) == 1
	}, "%s registered", aor)
}

func apiDo(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, url, res.StatusCode, b)
	}
	return res.StatusCode, m
}

// sseSteps reads GET /v1/calls/{id}/events until it ends, as "phase".
func sseSteps(t *testing.T, url, token string, d time.Duration) <-chan string {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("SSE %s: %v %v", url, err, res)
	}
	ch := make(chan string, 32)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				ch <- v
			}
		}
	}()
	return ch
}

func collect(ch <-chan string, d time.Duration) []string {
	var out []string
	deadline := time.After(d)
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, s)
		case <-deadline:
			return out
		}
	}
}

// TestClickToDialBaresip: the first "done when": two Debian
// baresip phones registered as alice and bob (auto-answer), POST /v1/calls
// makes alice's phone answer, follow the REFER and call bob through
// sipbus; bob answers; the SSE stream shows trying -> caller_answered ->
// referred -> callee_ringing -> connected and the call.* events the
// alice -> bob call.
func TestClickToDialBaresip(t *testing.T) {
	s := startUp(t)
	api := s.httpURL(t)
	log := watchBus(t, s.nats)
	for _, u := range []string{"alice", "bob"} {
		cli(t, s.nats, "user", "add", u+"@localhost", "--password", u+"-secret")
	}
	alice := startBaresip(t, "alice", readmeAccount(t, "alice", s.sip)+";answermode=auto", "<sip:bob@localhost>")
	bob := startBaresip(t, "bob", readmeAccount(t, "bob", s.sip), "<sip:alice@localhost>")
	waitRegistered(t, s.nats, "alice@localhost")
	waitRegistered(t, s.nats, "bob@localhost")
	token := strings.TrimSpace(cli(t, s.nats, "ctd", "token", "alice@localhost"))

	code, body := apiDo(t, "POST", api+"/v1/calls", token, `{"from":"sip:alice@localhost","to":"sip:bob@localhost"}`)
	if code != 201 {
		t.Fatalf("POST /v1/calls: %d %v", code, body)
	}
	id := body["id"].(string)
	steps := collect(sseSteps(t, api+"/v1/calls/"+id+"/events", token, 40*time.Second), 40*time.Second)
	if got := strings.Join(steps, " "); got != "trying caller_answered referred callee_ringing connected" {
		_, v := apiDo(t, "GET", api+"/v1/calls/"+id, token, "")
		t.Fatalf("SSE steps %q, want trying caller_answered referred callee_ringing connected; call %v\nalice:\n%s", got, v, alice.output())
	}
	bob.waitEvent("CALL_ESTABLISHED", 10*time.Second)
	var answered events.CallAnswered
	_ = json.Unmarshal(log.waitEvent(10*time.Second, events.TypeCallAnswered, func(data []byte) bool {
		return strings.Contains(string(data), "sip:bob@localhost") && strings.Contains(string(data), "alice@localhost")
	}), &answered)
	if !strings.Contains(answered.Contact, "@"+bob.sip) {
		t.Errorf("call.answered %+v, want bob answering at %s", answered, bob.sip)
	}
	alice.command("hangup", "")
	log.waitEvent(10*time.Second, events.TypeCallEnded, func(data []byte) bool { return strings.Contains(string(data), answered.CallID) })
	fmt.Fprint(io.Discard, id)
}
