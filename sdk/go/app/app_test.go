package app_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/regapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/sdk/go/app"
)

// startSipbus builds cmd/sipbus and runs `sipbus up` with routes; it
// returns the SIP and NATS addresses.
func startSipbus(t *testing.T, routes string) (sipAddr, natsURL string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sipbus")
	b := exec.Command("go", "build", "-o", bin, ".")
	b.Dir = filepath.Join("..", "..", "..", "cmd", "sipbus")
	if out, err := b.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/sipbus: %v\n%s", err, out)
	}
	rf := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(rf, []byte(routes), 0o600); err != nil {
		t.Fatal(err)
	}
	sipAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	natsPort := testenv.FreePort(t, "tcp")
	cmd := exec.Command(bin, "up", "--sip", sipAddr, "--data", t.TempDir(), "--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort),
		"--log-level", "warn", "--routes", rf, "--http", "off")
	cmd.Env = append(os.Environ(), "NATS_URL=", "REDIS_URL=", "SIPBUS_NATS_URL=", "SIPBUS_REDIS_URL=")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("sipbus up: not ready within 60s")
	}
	return sipAddr, fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
}

// message sends a MESSAGE to user from a UDP socket and returns the
// final response's status.
func message(t *testing.T, proxy, user, callID string) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst, _ := net.ResolveUDPAddr("udp", proxy)
	raw := strings.ReplaceAll(fmt.Sprintf(`MESSAGE sip:%s@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s;rport
From: <sip:alice@localhost>;tag=a1
To: <sip:%s@localhost>
Call-ID: %s
CSeq: 1 MESSAGE
Max-Forwards: 70
Content-Type: text/plain
Content-Length: 2

hi`, user, c.LocalAddr(), strings.NewReplacer("@", "-", ".", "-").Replace(callID), user, callID), "\n", "\r\n")
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 65535)
	for time.Now().Before(deadline) {
		if _, err := c.WriteTo([]byte(raw), dst); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			m, err := sipmsg.Parse(buf[:n], sipmsg.Datagram)
			if err == nil && !m.Request && m.StatusCode >= 200 {
				t.Logf("%s: %s", user, m.Str(m.Reason))
				return m.StatusCode
			}
		}
	}
	t.Fatalf("MESSAGE to %s: no final response within 10s", user)
	return 0
}

// TestRunAgainstSipbus: handlers answer through tm; a handler that
// panics gets its transaction answered 500 (and the app keeps serving);
// Once is true once per key; UAC sends a request through tm; registration
// events arrive typed.
func TestRunAgainstSipbus(t *testing.T) {
	proxy, natsURL := startSipbus(t, "routes:\n  - match: {method: MESSAGE, user_regex: 'echo|boom'}\n    app: sdktest\n")
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	regs := make(chan *app.RegEvent, 4)
	a, err := app.New(app.Options{Name: "sdktest", NATS: natsURL, Timeout: 3 * time.Second,
		OnReg: func(ctx context.Context, ev *app.RegEvent) error { regs <- ev; return nil }},
		func(ctx context.Context, r *app.Request) app.Answer {
			calls.Add(1)
			if strings.HasPrefix(r.RequestURI(), "sip:boom@") {
				panic("boom: a bug in the handler")
			}
			first, err := app.Once(ctx, r.ID())
			if err != nil || !first {
				return app.Reply(500, "once failed")
			}
			if again, _ := app.Once(ctx, r.ID()); again {
				return app.Reply(500, "once twice")
			}
			req, err := r.Sipgo()
			if err != nil || req.Method.String() != "MESSAGE" || r.Header("content-type") != "text/plain" || r.From() != "sip:alice@localhost" {
				return app.Reply(500, "accessors")
			}
			return app.Reply(200, "Echoed", "X-App: sdktest")
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Shutdown(context.Background()) }()
	if st := message(t, proxy, "boom", "sdk-boom@test"); st != 500 {
		t.Errorf("a panicking handler: %d, want 500", st)
	}
	if st := message(t, proxy, "echo", "sdk-echo@test"); st != 200 {
		t.Errorf("echo after the panic: %d, want 200", st)
	}
	// UAC: a new request through tm, here to the proxy itself, whose
	// route hands it back to this application.
	uctx, ucancel := context.WithTimeout(ctx, 30*time.Second)
	defer ucancel()
	resp, err := a.UAC(uctx, &tmapi.UAC{Method: "MESSAGE", RequestURI: "sip:echo@localhost", NextHop: "sip:" + proxy,
		From: "sip:alice@localhost", Body: "hi", ContentType: "text/plain"}, nil)
	if err != nil || resp.Status != 200 {
		t.Errorf("UAC MESSAGE to echo: %+v, %v", resp, err)
	}
	if calls.Load() < 3 {
		t.Errorf("handler ran %d times", calls.Load())
	}

	// Registration events arrive as typed values.
	nc, _ := testenv.Connect(t, natsURL)
	if _, err := (&regapi.Client{NC: nc}).ULAdd(ctx, regapi.ULAddRequest{AOR: "carol@localhost", Contact: "sip:carol@127.0.0.1:5099", Expires: 60}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-regs:
		if ev.Kind != "added" || ev.Contact.AOR != "sip:carol@localhost" || ev.Contact.Contact != "sip:carol@127.0.0.1:5099" {
			t.Errorf("reg event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Error("no registration event")
	}
	if _, err := app.New(app.Options{Name: "bad name"}, nil, nil); err == nil || !strings.Contains(err.Error(), "Name") {
		t.Errorf("bad options: %v", err)
	}
}
