package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestMainServesHealth runs the ctd binary against real NATS and Redis,
// configured from a file and the environment as in Kubernetes: /healthz,
// /readyz, /metrics (with the click-to-dial counter) and the API answer;
// SIGTERM ends it cleanly.
func TestMainServesHealth(t *testing.T) {
	srv := testenv.NATS(t)
	redis := testenv.RedisURL(t)
	bin := testenv.BuildMain(t, ".")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	cfg := filepath.Join(t.TempDir(), "ctd.yaml")
	if err := os.WriteFile(cfg, []byte("refer_timeout: 5s\nfallback: [405, 501]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testenv.StartProc(t, bin, []string{"--config", cfg},
		"SIPBUS_NATS_URL="+srv.ClientURL(), "SIPBUS_REDIS_URL="+redis, "SIPBUS_CTD_ID=ctd-main-test", "SIPBUS_CTD_HTTP="+httpAddr,
		"SIPBUS_CTD_ADMIN_TOKEN=admin-token-never-printed")
	testenv.ServesHealth(t, p, "http://"+httpAddr, 20*time.Second,
		"sipbus_redis_rtt_seconds", `sipbus_build_info{service="ctd"} 1`)
	if code, body := testenv.HTTPGet("http://" + httpAddr + "/v1/calls/nope"); code != 401 || !strings.Contains(body, `"error"`) {
		t.Errorf("GET /v1/calls/nope without a token: %d %s, want 401 JSON", code, body)
	}
	if !strings.Contains(p.Output(), "  ctd    ctd-main-test: API /v1/calls\n") {
		t.Errorf("no banner line:\n%s", p.Output())
	}
	if out := p.Terminate(t, 20*time.Second); !strings.Contains(out, "stopped\n") {
		t.Errorf("no stopped line after SIGTERM:\n%s", out)
	}
	if strings.Contains(p.Output(), "admin-token-never-printed") {
		t.Errorf("the admin token was printed:\n%s", p.Output())
	}
}

// TestMainRefuses: bad settings stop the binary with exit status 2 and a
// message naming the setting; --http off is refused (the API is served on
// it).
func TestMainRefuses(t *testing.T) {
	srv := testenv.NATS(t)
	redis := testenv.RedisURL(t)
	bin := testenv.BuildMain(t, ".")
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{nil, nil, "redis (--redis, SIPBUS_REDIS_URL): required"},
		{[]string{"--redis", "memory://"}, nil, "redis (--redis, SIPBUS_REDIS_URL): required"},
		{[]string{"--log-level", "loud"}, []string{"SIPBUS_REDIS_URL=" + redis}, `log_level "loud"`},
		{[]string{"--fallback", "200"}, []string{"SIPBUS_REDIS_URL=" + redis}, "fallback: 200"},
		{nil, []string{"SIPBUS_REDIS_URL=" + redis, "SIPBUS_CTD_RING_TIMEOUT=soon"}, `SIPBUS_CTD_RING_TIMEOUT: "soon" is not a duration`},
		{[]string{"--admin-token", "x"}, []string{"SIPBUS_REDIS_URL=" + redis}, "flag provided but not defined: -admin-token"},
		{[]string{"--http", "off", "--nats", srv.ClientURL()}, []string{"SIPBUS_REDIS_URL=" + redis}, "http (--http, SIPBUS_CTD_HTTP): off"},
		{[]string{"extra"}, []string{"SIPBUS_REDIS_URL=" + redis}, `unexpected argument "extra"`},
	} {
		code, out := testenv.Run(t, bin, c.args, c.env...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("ctd %v %v: exit %d, want exit 2 saying %q:\n%s", c.args, c.env, code, c.want, out)
		}
	}
}
