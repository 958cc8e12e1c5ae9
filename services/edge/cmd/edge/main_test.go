package main

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestMainServesHealth runs the edge binary against a real NATS server,
// configured from the environment as in Kubernetes: it answers /healthz,
// /readyz and /metrics, counts a real OPTIONS it received, and exits
// cleanly on SIGTERM.
func TestMainServesHealth(t *testing.T) {
	srv := testenv.NATS(t)
	bin := testenv.BuildMain(t, ".")
	sip := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	p := testenv.StartProc(t, bin, []string{"-http", httpAddr},
		"SIPBUS_NATS_URL="+srv.ClientURL(), "SIPBUS_EDGE_UDP="+sip, "SIPBUS_EDGE_TCP=-", "SIPBUS_EDGE_ID=edge-main-test")
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

	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !p.Wait(20 * time.Second) {
		t.Fatalf("edge did not exit within 20s of SIGTERM\n%s", p.Output())
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("edge exited %d after SIGTERM\n%s", code, p.Output())
	}
}
