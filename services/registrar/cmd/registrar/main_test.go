package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestMainServesHealth runs the registrar binary against real NATS and
// Redis, configured from the environment as in Kubernetes
// (SIPBUS_REGISTRAR_*, the shared SIPBUS_NATS_URL, SIPBUS_REDIS_URL,
// SIPBUS_DOMAINS and SIPBUS_AUTH_SECRET): /healthz, /readyz and /metrics
// answer; SIGTERM ends it cleanly; the secret is never printed.
func TestMainServesHealth(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	srv := testenv.NATS(t)
	redis := testenv.RedisURL(t)
	bin := testenv.BuildMain(t, ".")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	p := testenv.StartProc(t, bin, nil,
		"SIPBUS_NATS_URL="+srv.ClientURL(), "SIPBUS_REDIS_URL="+redis, "SIPBUS_DOMAINS=localhost", "SIPBUS_AUTH_SECRET="+secret,
		"SIPBUS_REGISTRAR_ID=registrar-main-test", "SIPBUS_REGISTRAR_HTTP="+httpAddr, "SIPBUS_REGISTRAR_LOG_LEVEL=debug")
	testenv.ServesHealth(t, p, "http://"+httpAddr, 20*time.Second,
		"sipbus_redis_rtt_seconds", `sipbus_build_info{service="registrar"} 1`, `sipbus_registrar_registers_total{result="ok"} 0`,
		"sipbus_registrar_queue_delay_seconds 0", "sipbus_registrar_overloaded 0")
	p.Terminate(t, 20*time.Second)
	out := p.Output()
	for _, w := range []string{"registrar-main-test: domains localhost, auth required", "ready", "stopped"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, secret) {
		t.Errorf("the auth secret was printed:\n%s", out)
	}
}

// TestMainUsageErrors: a missing or bad setting exits 2 naming it, before
// anything connects.
func TestMainUsageErrors(t *testing.T) {
	bin := testenv.BuildMain(t, ".")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--redis", "redis://127.0.0.1:1"}, `domains: required when auth is "required"`},
		{[]string{"--redis", "redis://127.0.0.1:1", "--domains", "localhost", "--min-expires", "2h"}, "min_expires: 2h0m0s: must be at most 1h"},
		{[]string{"--redis", "redis://127.0.0.1:1", "--domains", "localhost", "--workers", "many"}, `--workers: "many" is not an integer`},
		{[]string{"--domains", "localhost"}, "redis (--redis, SIPBUS_REDIS_URL): required"},
	} {
		if code, out := testenv.Run(t, bin, c.args); code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want 2 saying %q:\n%s", c.args, code, c.want, out)
		}
	}
}
