package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// nodeExample prepares examples/NAME (a Node app): node and npm must be
// installed (the test fails saying so; .ci/run installs them), and
// `npm ci` runs once, cached in the example's node_modules until
// package-lock.json changes. It returns the example's directory.
func nodeExample(t *testing.T, name string) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install Node 20 and npm (Debian packages nodejs npm; .ci/run does): %v", tool, err)
		}
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatalf("examples/%s: %v", name, err)
	}
	if inst, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil && !inst.ModTime().Before(lock.ModTime()) {
		return dir // installed from this lock file already
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in examples/%s: %v\n%s", name, err, out)
	}
	return dir
}

// startNode runs `node index.js` in dir until the test ends (SIGINT,
// then kill) and waits for its durable consumer.
func startNode(t *testing.T, dir, natsURL, consumer string, env ...string) *strings.Builder {
	t.Helper()
	cmd := exec.Command("node", "index.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"SIPBUS_NATS_URL=" + natsURL}, env...)...)
	logs := new(strings.Builder)
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: logs}, &lockedWriter{w: logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	_, js := testenv.Connect(t, natsURL)
	testenv.Eventually(t, 20*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("node index.js exited early:\n%s", logs.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.Consumer(ctx, bus.DefaultStream, consumer)
		return err == nil
	}, "node index.js did not create its consumer %s", consumer)
	return logs
}

// TestExampleCallScreeningNode: examples/call-screening-node (Node,
// @nats-io/transport-node + @nats-io/jetstream) against `sipbus up`, the
// same scenario as TestExampleCallScreening: a caller on the Redis block
// list gets 603 (SIPp uac_603.xml); once off it, the call rings bob's
// registered phone and connects (uac.xml, uas.xml); while its Redis does
// not answer the caller gets 500 (uac_500.xml). The app is a managed
// instance: `sipbus ps` lists it with its last error (a message that is
// not a hand-over), its replay endpoint answers.
func TestExampleCallScreeningNode(t *testing.T) {
	sippPath(t)
	dir := nodeExample(t, "call-screening-node")
	redisURL, appRedis := testenv.RedisURL(t), testenv.RedisURL(t) // the app's own Redis: the test stalls it
	s := startUp(t, "--redis", redisURL, "--routes", routes(t, "routes:\n  - match: {method: INVITE, user: bob}\n    app: screen\n"))
	logs := startNode(t, dir, s.nats, "app-screen", "SIPBUS_REDIS_URL="+appRedis)
	defer func() {
		if t.Failed() {
			t.Logf("node app logs:\n%s", logs.String())
		}
	}()
	// A message on its subject that is not a hand-over is dropped, and
	// shows as the instance's last error; the app keeps serving.
	nc, js := testenv.Connect(t, s.nats)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, bus.SubjectApp("screen", "0000000000000000"), []byte("not a SIP message")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, func() bool {
		return strings.Contains(cli(t, s.nats, "ps", "app-screen", "--json"), "not a hand-over event, dropped")
	}, "sipbus ps app-screen --json does not show the dropped message as last error")

	bobPort, uacPort := testenv.FreePort(t, "udp"), strconv.Itoa(testenv.FreePort(t, "udp"))
	cli(t, s.nats, "ul", "add", "bob@localhost", fmt.Sprintf("sip:bob@127.0.0.1:%d", bobPort), "--expires", "0")
	bob := runSIPp(t, "uas bob", "uas.xml", "-p", strconv.Itoa(bobPort))

	redisDo(t, appRedis, "SADD", "screen:blocked", "sip:caller@localhost")
	runSIPp(t, "uac blocked", "uac_603.xml", s.sip, "-p", uacPort, "-s", "bob", "-key", "domain", "localhost", "-m", "1").wait(t, 30*time.Second)
	redisDo(t, appRedis, "SREM", "screen:blocked", "sip:caller@localhost")
	runSIPp(t, "uac allowed", "uac.xml", s.sip, "-p", uacPort, "-s", "bob", "-key", "domain", "localhost", "-m", "1").wait(t, 30*time.Second)
	bob.stopClean(t)

	// The block list does not answer (Redis paused): the caller gets 500
	// from the app's 3 s bound, not a call that hangs.
	// (for 8 s: the pause ends by itself; CLIENT UNPAUSE would wait too.)
	redisDo(t, appRedis, "CLIENT", "PAUSE", "8000", "ALL")
	start := time.Now()
	runSIPp(t, "uac redis stalled", "uac_500.xml", s.sip, "-p", uacPort, "-s", "bob", "-key", "domain", "localhost", "-m", "1").wait(t, 30*time.Second)
	if d := time.Since(start); d > 7*time.Second {
		t.Errorf("500 after %v, want it within the app's 3s bound (and SIPp's start), before Redis answers again", d)
	}

	if ps := cli(t, s.nats, "ps", "app-screen"); !strings.Contains(ps, "app-screen") || !strings.Contains(ps, "screen-") {
		t.Errorf("sipbus ps app-screen:\n%s", ps)
	}
	if which := cli(t, s.nats, "which"); !strings.Contains(which, "sipbus.app.screen.replay") {
		t.Errorf("sipbus which does not list the app's replay endpoint:\n%s", which)
	}
	for _, c := range []struct {
		req    string
		status int
		reason string
	}{
		{`{"dry_run":true,"events":[]}`, 200, "takes no call events"},
		{`{"dry_run":false}`, 400, "dry_run"},
		{`not json`, 400, "request: not a JSON object"},
		{`[1]`, 400, "request: not a JSON object"},
	} {
		m, err := nc.Request("sipbus.app.screen.replay", []byte(c.req), 5*time.Second)
		if err != nil {
			t.Fatalf("replay %s: %v", c.req, err)
		}
		var rep struct {
			Status int    `json:"status"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(m.Data, &rep); err != nil || rep.Status != c.status || !strings.Contains(rep.Reason, c.reason) {
			t.Errorf("replay %s = %s (%v), want status %d naming %q", c.req, m.Data, err, c.status, c.reason)
		}
	}
}
