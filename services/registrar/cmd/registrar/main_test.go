package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestMainServesHealth runs the registrar binary against real NATS and Redis,
// configured from the environment as in Kubernetes: /healthz, /readyz
// and /metrics answer; SIGTERM ends it cleanly.
func TestMainServesHealth(t *testing.T) {
	srv := testenv.NATS(t)
	redis := testenv.RedisURL(t)
	bin := testenv.BuildMain(t, ".")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	p := testenv.StartProc(t, bin, []string{"-http", httpAddr},
		"SIPBUS_NATS_URL="+srv.ClientURL(), "REDIS_URL="+redis, "SIPBUS_DOMAINS=localhost", "SIPBUS_AUTH_SECRET=0123456789abcdef0123456789abcdef", "SIPBUS_REGISTRAR_ID=registrar-main-test")
	testenv.ServesHealth(t, p, "http://"+httpAddr, 20*time.Second,
		"sipbus_redis_rtt_seconds", `sipbus_build_info{service="registrar"} 1`, `sipbus_registrar_registers_total{result="ok"} 0`)
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !p.Wait(20 * time.Second) {
		t.Fatalf("registrar did not exit within 20s of SIGTERM\n%s", p.Output())
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("registrar exited %d after SIGTERM\n%s", code, p.Output())
	}
}
