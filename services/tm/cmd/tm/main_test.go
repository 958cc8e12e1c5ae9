package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestMainServesHealth runs the tm binary against real NATS and Redis,
// configured from the environment as in Kubernetes (SIPBUS_TM_*, the
// shared SIPBUS_NATS_URL and SIPBUS_REDIS_URL): /healthz, /readyz and
// /metrics answer; SIGTERM ends it cleanly.
func TestMainServesHealth(t *testing.T) {
	srv := testenv.NATS(t)
	redis := testenv.RedisURL(t)
	bin := testenv.BuildMain(t, ".")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	p := testenv.StartProc(t, bin, nil,
		"SIPBUS_NATS_URL="+srv.ClientURL(), "SIPBUS_REDIS_URL="+redis, "SIPBUS_TM_ADVERTISE=127.0.0.1:5060",
		"SIPBUS_TM_ID=tm-main-test", "SIPBUS_TM_HTTP="+httpAddr)
	testenv.ServesHealth(t, p, "http://"+httpAddr, 20*time.Second,
		"sipbus_tm_decision_seconds_bucket", "sipbus_tm_transactions_total", "sipbus_redis_rtt_seconds", `sipbus_build_info{service="tm"} 1`)
	p.Terminate(t, 20*time.Second)
	for _, w := range []string{"tm-main-test: advertise 127.0.0.1:5060", "ready", "stopped"} {
		if !strings.Contains(p.Output(), w) {
			t.Errorf("output lacks %q:\n%s", w, p.Output())
		}
	}
}

// TestMainUsageError: a missing required setting exits 2 naming the key.
func TestMainUsageError(t *testing.T) {
	bin := testenv.BuildMain(t, ".")
	if code, out := testenv.Run(t, bin, []string{"--redis", "redis://127.0.0.1:1"}); code != 2 || !strings.Contains(out, "advertise: required") {
		t.Errorf("exit %d, want 2 naming advertise:\n%s", code, out)
	}
}
