package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
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

// buildExample builds examples/NAME (its own module: it needs only the
// SDK) and returns the binary.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..", "examples", name)
	cmd.Env = append(os.Environ(), "GOWORK=off") // a user's module: it builds with the SDK module alone
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/%s: %v\n%s", name, err, out)
	}
	return bin
}

// startExample runs an example binary with env until the test ends
// (SIGINT, then kill), and waits for its durable consumer.
func startExample(t *testing.T, bin, natsURL, consumer string, env ...string) *strings.Builder {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append([]string{"SIPBUS_NATS_URL=" + natsURL}, env...)...)
	logs := new(strings.Builder)
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: logs}, &lockedWriter{w: logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	nc, js := testenv.Connect(t, natsURL)
	_ = nc
	testenv.Eventually(t, 15*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.Consumer(ctx, bus.DefaultStream, consumer)
		return err == nil
	}, "%s did not create its consumer %s", bin, consumer)
	return logs
}

// redisDo sends one command (RESP) and returns the first reply line.
func redisDo(t *testing.T, redisURL string, args ...string) string {
	t.Helper()
	u, _ := url.Parse(redisURL)
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(line, "$") && line != "$-1\r\n" {
		v, _ := r.ReadString('\n')
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(line)
}

func routes(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExampleCallScreening: examples/call-screening against `sipbus up`:
// a caller on the Redis block list gets 603 (SIPp uac_603.xml); once off
// it, the call rings bob's registered phone and connects (uac.xml, uas.xml).
func TestExampleCallScreening(t *testing.T) {
	sippPath(t)
	redisURL := testenv.RedisURL(t)
	bin := buildExample(t, "call-screening")
	s := startUp(t, "--redis", redisURL, "--routes", routes(t, "routes:\n  - match: {method: INVITE, user: bob}\n    app: screen\n"))
	logs := startExample(t, bin, s.nats, "app-screen", "SIPBUS_REDIS_URL="+redisURL)
	bobPort, uacPort := testenv.FreePort(t, "udp"), strconv.Itoa(testenv.FreePort(t, "udp"))
	cli(t, s.nats, "ul", "add", "bob@localhost", fmt.Sprintf("sip:bob@127.0.0.1:%d", bobPort), "--expires", "0")
	bob := runSIPp(t, "uas bob", "uas.xml", "-p", strconv.Itoa(bobPort))

	redisDo(t, redisURL, "SADD", "screen:blocked", "sip:caller@localhost")
	runSIPp(t, "uac blocked", "uac_603.xml", s.sip, "-p", uacPort, "-s", "bob", "-key", "domain", "localhost", "-m", "1").wait(t, 30*time.Second)
	redisDo(t, redisURL, "SREM", "screen:blocked", "sip:caller@localhost")
	runSIPp(t, "uac allowed", "uac.xml", s.sip, "-p", uacPort, "-s", "bob", "-key", "domain", "localhost", "-m", "1").wait(t, 30*time.Second)
	bob.stopClean(t)
	if t.Failed() {
		t.Logf("app logs:\n%s", logs.String())
	}
}

// TestExampleAfterHours: examples/after-hours forwards bob's calls to
// night@localhost outside office hours (a window that excludes now).
func TestExampleAfterHours(t *testing.T) {
	sippPath(t)
	bin := buildExample(t, "after-hours")
	s := startUp(t, "--routes", routes(t, "routes:\n  - match: {method: INVITE, user: bob}\n    app: after-hours\n"))
	now := time.Now()
	closed := fmt.Sprintf("%02d:00-%02d:00", (now.Hour()+2)%24, (now.Hour()+3)%24) // an hour that is not now
	if (now.Hour()+3)%24 < (now.Hour()+2)%24 {
		closed = "01:00-01:00"
	}
	startExample(t, bin, s.nats, "app-after-hours", "OFFICE_HOURS="+closed, "FORWARD_TO=sip:night@localhost")
	nightPort, uacPort := testenv.FreePort(t, "udp"), strconv.Itoa(testenv.FreePort(t, "udp"))
	cli(t, s.nats, "ul", "add", "night@localhost", fmt.Sprintf("sip:night@127.0.0.1:%d", nightPort), "--expires", "0")
	night := runSIPp(t, "uas night", "uas.xml", "-p", strconv.Itoa(nightPort))
	runSIPp(t, "uac to bob", "uac.xml", s.sip, "-p", uacPort, "-s", "bob", "-key", "domain", "localhost", "-m", "1").wait(t, 30*time.Second)
	night.stopClean(t)
}

// TestExampleMissedCounter: examples/missed-counter counts bob's missed
// calls (SIPp uac_480.xml: bob is a subscriber with no phone registered)
// once per call.
func TestExampleMissedCounter(t *testing.T) {
	sippPath(t)
	redisURL := testenv.RedisURL(t)
	bin := buildExample(t, "missed-counter")
	s := startUp(t, "--redis", redisURL)
	startExample(t, bin, s.nats, "app-missed-counter-call", "SIPBUS_REDIS_URL="+redisURL)
	cli(t, s.nats, "user", "add", "bob@localhost", "--password", "bob-secret")
	runSIPp(t, "uac 480", "uac_480.xml", s.sip, "-p", strconv.Itoa(testenv.FreePort(t, "udp")), "-s", "bob",
		"-key", "domain", "localhost", "-m", "2").wait(t, 30*time.Second)
	testenv.Eventually(t, 10*time.Second, func() bool { return redisDo(t, redisURL, "HGET", "missed", "sip:bob@localhost") == "2" },
		"missed[sip:bob@localhost] = %q, want 2", redisDo(t, redisURL, "HGET", "missed", "sip:bob@localhost"))

	// The app is a managed instance, and a replay re-drives it dry-run:
	// it reports the count it would make, and the count stays.
	if ps := cli(t, s.nats, "ps", "app-missed-counter"); !strings.Contains(ps, "app-missed-counter") {
		t.Errorf("ps app-missed-counter:\n%s", ps)
	}
	var call struct {
		CallID string `json:"call_id"`
	}
	line, _, _ := strings.Cut(cli(t, s.nats, "calls", "--since", "10m", "--missed", "--json"), "\n")
	if err := json.Unmarshal([]byte(line), &call); err != nil || call.CallID == "" {
		t.Fatalf("calls --json: %q %v", line, err)
	}
	out := cli(t, s.nats, "replay", call.CallID, "--to", "app:missed-counter")
	if !strings.Contains(out, "effect") || !strings.Contains(out, "count a missed call for sip:bob@localhost") {
		t.Errorf("replay --to app:missed-counter:\n%s", out)
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n := redisDo(t, redisURL, "HGET", "missed", "sip:bob@localhost"); n != "2" {
			t.Fatalf("after the dry-run replay missed = %q, want 2", n)
		}
	}
}
