package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
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

// TestClickToDialSIPp: SIPp phones through `sipbus up` and tm's uac: a
// caller whose callee is busy (486 in the sipfrag), one that refuses
// REFER with 501 (the RFC 3725 fallback connects the call to a SIPp
// callee), one that never sends NOTIFY (timeout, clean BYE), and a DELETE
// while the callee rings. Each ends in the right state, and each SIPp
// exits 0: every request it expected came, every one it sent was
// answered, nothing was left retransmitting.
func TestClickToDialSIPp(t *testing.T) {
	sippPath(t)
	s := startUp(t, "--ctd-notify-timeout", "3s")
	api := s.httpURL(t)
	for _, u := range []string{"alice", "bob"} {
		cli(t, s.nats, "user", "add", u+"@localhost", "--password", u+"-secret")
	}
	token := strings.TrimSpace(cli(t, s.nats, "ctd", "token", "alice@localhost"))
	bind := func(aor string, port int) {
		_, _, _ = cliExit(t, s.nats, "ul", "rm", aor)
		cli(t, s.nats, "ul", "add", aor, fmt.Sprintf("sip:%s@127.0.0.1:%d", strings.Split(aor, "@")[0], port))
	}
	dial := func(t *testing.T) string {
		code, body := apiDo(t, "POST", api+"/v1/calls", token, `{"from":"sip:alice@localhost","to":"sip:bob@localhost"}`)
		if code != 201 {
			t.Fatalf("POST: %d %v", code, body)
		}
		return body["id"].(string)
	}
	phase := func(t *testing.T, id, want string, d time.Duration) map[string]any {
		t.Helper()
		var v map[string]any
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if _, v = apiDo(t, "GET", api+"/v1/calls/"+id, token, ""); v["phase"] == want {
				return v
			}
		}
		t.Fatalf("call not in phase %s within %s: %v", want, d, v)
		return nil
	}
	callerPort := func() int { return freeSIPPort(t) }

	t.Run("486 in the sipfrag", func(t *testing.T) {
		p := callerPort()
		caller := runSIPp(t, "ctd_caller_486", "ctd_caller_486.xml", "-p", fmt.Sprint(p), "-m", "1")
		bind("alice@localhost", p)
		id := dial(t)
		v := phase(t, id, "failed", 15*time.Second)
		if r, _ := v["reason"].(string); !strings.Contains(r, "486 Busy Here") {
			t.Errorf("reason %q", r)
		}
		caller.wait(t, 15*time.Second)
	})
	t.Run("operator CLI prints the steps", func(t *testing.T) {
		p := callerPort()
		caller := runSIPp(t, "ctd_caller_486", "ctd_caller_486.xml", "-p", fmt.Sprint(p), "-m", "1")
		bind("alice@localhost", p)
		out, errOut, code := cliExit(t, s.nats, "ctd", "sip:alice@localhost", "sip:bob@localhost")
		if code != 1 || !strings.Contains(errOut, "486 Busy Here") {
			t.Errorf("sipbus ctd: exit %d, stderr %q", code, errOut)
		}
		var phases []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			phases = append(phases, strings.Fields(l)[0])
		}
		if got := strings.Join(phases, " "); got != "trying caller_answered referred failed" {
			t.Errorf("sipbus ctd printed %q:\n%s", got, out)
		}
		caller.wait(t, 15*time.Second)
		for _, bad := range [][]string{{"ctd", "token", "nobody@localhost"}, {"ctd", "sip:alice@localhost"}, {"ctd", "sip:alice@", "sip:bob@localhost"}} {
			if _, errOut, code := cliExit(t, s.nats, bad...); code != 2 {
				t.Errorf("sipbus %s: exit %d, want 2 (usage): %s", strings.Join(bad, " "), code, errOut)
			} else {
				t.Logf("sipbus %s: %s", strings.Join(bad, " "), strings.TrimSpace(errOut))
			}
		}
	})
	t.Run("two phones: the first answer wins, the other gets CANCEL", func(t *testing.T) {
		p, q := callerPort(), callerPort()
		answers := runSIPp(t, "ctd_caller_486", "ctd_caller_486.xml", "-p", fmt.Sprint(p), "-m", "1")
		rings := runSIPp(t, "uas_cancel", "uas_cancel.xml", "-p", fmt.Sprint(q), "-m", "1")
		bind("alice@localhost", p)
		cli(t, s.nats, "ul", "add", "alice@localhost", fmt.Sprintf("sip:alice@127.0.0.1:%d", q))
		id := dial(t)
		phase(t, id, "failed", 15*time.Second)
		answers.wait(t, 15*time.Second)
		rings.wait(t, 15*time.Second) // CANCEL, 200, 487, ACK
	})
	t.Run("never a NOTIFY", func(t *testing.T) {
		p := callerPort()
		caller := runSIPp(t, "ctd_caller_nonotify", "ctd_caller_nonotify.xml", "-p", fmt.Sprint(p), "-m", "1")
		bind("alice@localhost", p)
		id := dial(t)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("sipp:\n%s\nsipbus:\n%s", caller.logs(), s.p.stderrString())
			}
		})
		v := phase(t, id, "failed", 15*time.Second)
		if r, _ := v["reason"].(string); !strings.Contains(r, "no NOTIFY within 3s") {
			t.Errorf("reason %q", r)
		}
		caller.wait(t, 15*time.Second)
	})
	t.Run("DELETE while the callee rings", func(t *testing.T) {
		p := callerPort()
		caller := runSIPp(t, "ctd_caller_ringing", "ctd_caller_ringing.xml", "-p", fmt.Sprint(p), "-m", "1")
		bind("alice@localhost", p)
		id := dial(t)
		phase(t, id, "callee_ringing", 15*time.Second)
		if code, v := apiDo(t, "DELETE", api+"/v1/calls/"+id, token, ""); code != 200 || v["phase"] != "cancelled" {
			t.Fatalf("DELETE: %d %v", code, v)
		}
		caller.wait(t, 15*time.Second) // including the 481 to its NOTIFY after our BYE
		if v := phase(t, id, "cancelled", time.Second); len(v["progress"].([]any)) != 5 {
			t.Errorf("progress after the late NOTIFY: %v", v["progress"])
		}
	})
	t.Run("501 to REFER: 3PCC connects", func(t *testing.T) {
		p, q := callerPort(), callerPort()
		caller := runSIPp(t, "ctd_caller_501", "ctd_caller_501.xml", "-p", fmt.Sprint(p), "-m", "1")
		callee := runSIPp(t, "uas", "uas.xml", "-p", fmt.Sprint(q), "-m", "1")
		bind("alice@localhost", p)
		bind("bob@localhost", q)
		id := dial(t)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("caller sipp:\n%s\ncallee sipp:\n%s\nsipbus:\n%s", caller.logs(), callee.logs(), s.p.stderrString())
			}
		})
		v := phase(t, id, "connected", 15*time.Second)
		if v["mode"] != "3pcc" {
			t.Errorf("mode %v", v["mode"])
		}
		if code, v := apiDo(t, "DELETE", api+"/v1/calls/"+id, token, ""); code != 200 || v["phase"] != "ended" {
			t.Fatalf("DELETE: %d %v", code, v)
		}
		caller.wait(t, 15*time.Second)
		callee.wait(t, 15*time.Second)
	})
	// Each click-to-dial above counted once by how it ended, on
	// `sipbus up`'s /metrics: four failed (486 twice, two phones, no
	// NOTIFY), one cancelled, one connected (its later "ended" not again).
	m := scrape(t, api)
	for k, v := range map[string]float64{
		`sipbus_ctd_calls_total{outcome="failed"}`:    4,
		`sipbus_ctd_calls_total{outcome="cancelled"}`: 1,
		`sipbus_ctd_calls_total{outcome="connected"}`: 1,
		`sipbus_ctd_calls_total{outcome="ended"}`:     0,
	} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
}

// TestClickToDialReplicaKilled: three ctd replicas on one Redis (the one
// in `sipbus up` and two `sipbus ctd serve`); the replica that took the
// POST is SIGKILLed after the caller's phone answered, with its REFER
// unanswered. Another replica claims the call when the REFER's deadline
// passes, sends the REFER again, follows the NOTIFY and sends the BYE:
// the call connects and the SIPp phone saw every request answered.
func TestClickToDialReplicaKilled(t *testing.T) {
	sippPath(t)
	redis := testenv.RedisURL(t)
	s := startUp(t, "--redis", redis, "--ctd-refer-timeout", "3s")
	for _, u := range []string{"alice", "bob"} {
		cli(t, s.nats, "user", "add", u+"@localhost", "--password", u+"-secret")
	}
	replica := func(id string) (*proc, string) {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
		p := start(t, "ctd", "serve", "--nats", s.nats, "--redis", redis, "--http", addr, "--id", id, "--refer-timeout", "3s", "--log-level", "warn")
		p.waitLine(t, "ready", 20*time.Second)
		return p, "http://" + addr
	}
	a, apiA := replica("ctd-a")
	_, apiB := replica("ctd-b")
	token := strings.TrimSpace(cli(t, s.nats, "ctd", "token", "alice@localhost"))
	port := freeSIPPort(t)
	caller := runSIPp(t, "ctd_caller_takeover", "ctd_caller_takeover.xml", "-p", fmt.Sprint(port), "-m", "1")
	cli(t, s.nats, "ul", "add", "alice@localhost", fmt.Sprintf("sip:alice@127.0.0.1:%d", port))

	code, body := apiDo(t, "POST", apiA+"/v1/calls", token, `{"from":"sip:alice@localhost","to":"sip:bob@localhost"}`)
	if code != 201 {
		t.Fatalf("POST to replica A: %d %v", code, body)
	}
	id := body["id"].(string)
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, v := apiDo(t, "GET", apiB+"/v1/calls/"+id, token, "")
		return v["phase"] == "caller_answered"
	}, "the caller answered")
	if err := a.cmd.Process.Kill(); err != nil { // SIGKILL: no Shutdown, nothing cleaned up
		t.Fatal(err)
	}
	var v map[string]any
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end) && v["phase"] != "connected"; time.Sleep(100 * time.Millisecond) {
		_, v = apiDo(t, "GET", apiB+"/v1/calls/"+id, token, "")
	}
	if v["phase"] != "connected" {
		t.Fatalf("after replica A died: %v\nsipp:\n%s", v, caller.logs())
	}
	caller.wait(t, 15*time.Second)
}

// TestCtdFlagsNameTheFlag: bad click-to-dial flags stop `sipbus up` before
// anything listens, naming the flag.
func TestCtdFlagsNameTheFlag(t *testing.T) {
	for _, args := range [][]string{
		{"up", "--ctd-fallback", "501,abc"},
		{"up", "--ctd-fallback", "200"},
		{"up", "--ctd-ring-timeout", "0s"},
		{"ctd", "serve", "--redis", "memory://"},
	} {
		cmd := exec.Command(sipbusBinary(t), args...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--") {
			t.Errorf("sipbus %s: %v, want exit 2 naming the flag:\n%s", strings.Join(args, " "), err, out)
		}
	}
}
