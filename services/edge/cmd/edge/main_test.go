package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestMainServesHealth runs the edge binary against a real NATS server,
// configured from the environment as in Kubernetes (SIPBUS_NATS_URL,
// SIPBUS_EDGE_*) and a flag: it prints its listeners and ready, answers
// /healthz, /readyz and /metrics, counts a real OPTIONS it received, and
// exits cleanly on SIGTERM.
func TestMainServesHealth(t *testing.T) {
	srv := testenv.NATS(t)
	bin := testenv.BuildMain(t, ".")
	sip := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	p := testenv.StartProc(t, bin, []string{"--http", httpAddr},
		"SIPBUS_NATS_URL="+srv.ClientURL(), "SIPBUS_EDGE_UDP="+sip, "SIPBUS_EDGE_TCP=off", "SIPBUS_EDGE_ID=edge-main-test")
	base := "http://" + httpAddr
	testenv.ServesHealth(t, p, base, 20*time.Second, "sipbus_edge_messages_received_total", "sipbus_nats_rtt_seconds", `sipbus_build_info{service="edge"} 1`)

	c, err := net.Dial("udp", sip)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	msg := "OPTIONS sip:ping@" + sip + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-main-test-1;rport\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:t@localhost>;tag=1\r\nTo: <sip:ping@localhost>\r\n" +
		"Call-ID: main-test-1@localhost\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	want := `sipbus_sip_requests_total{direction="in",method="OPTIONS"} 1`
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, body := testenv.HTTPGet(base + "/metrics")
		return strings.Contains(body, want)
	}, "/metrics never showed %s", want)

	p.Terminate(t, 20*time.Second)
	for _, want := range []string{"sipbus edge\n  sip    udp " + sip + ", tcp off, tls off, ws off, wss off\n  edge   edge-main-test\n", "ready\n", "stopped\n"} {
		if !strings.Contains(p.Output(), want) {
			t.Errorf("output lacks %q:\n%s", want, p.Output())
		}
	}
}

// TestMainBadSettings: a bad setting stops the edge before it listens,
// with exit status 2 and an error naming the key (from a flag, the file or
// a variable alike).
func TestMainBadSettings(t *testing.T) {
	bin := testenv.BuildMain(t, ".")
	file := filepath.Join(t.TempDir(), "edge.yaml")
	if err := os.WriteFile(file, []byte("udp: 127.0.0.1:5060\nudpp: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--wss", "192.0.2.1:7443"}, "", "tls_cert, tls_key: required for the wss listener on 192.0.2.1:7443"},
		{[]string{"--config", file}, "", `unknown key "udpp"`},
		{nil, "SIPBUS_EDGE_FLOOD_WINDOW=soon", `SIPBUS_EDGE_FLOOD_WINDOW: "soon" is not a duration`},
		{[]string{"--redis", "redis://127.0.0.1:1"}, "", "-redis"},
	} {
		if code, out := testenv.Run(t, bin, c.args, c.env); code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("%v %s: exit %d, output %q; want exit status 2 naming %q", c.args, c.env, code, out, c.want)
		}
	}
}

// TestMainListenerTaken: a listener that cannot be bound (the port is
// taken) stops the edge with exit status 1 and an error naming the
// transport and the address.
func TestMainListenerTaken(t *testing.T) {
	srv := testenv.NATS(t)
	bin := testenv.BuildMain(t, ".")
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.LocalAddr().String()
	if code, out := testenv.Run(t, bin, []string{"--udp", addr, "--tcp", "off", "--nats", srv.ClientURL()}); code != 1 || !strings.Contains(out, "udp listen "+addr) {
		t.Errorf("exit %d, output %q; want exit status 1 naming udp listen %s", code, out, addr)
	}
}
