package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestMainServesHealth runs the web binary against real NATS and Redis,
// configured from the environment as in Kubernetes: /healthz, /readyz
// and /metrics answer, the page is served; SIGTERM ends it cleanly.
func TestMainServesHealth(t *testing.T) {
	srv := testenv.NATS(t)
	redis := testenv.RedisURL(t)
	bin := testenv.BuildMain(t, ".")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	p := testenv.StartProc(t, bin, []string{"--http", httpAddr, "--secure-cookies"},
		"SIPBUS_NATS_URL="+srv.ClientURL(), "SIPBUS_REDIS_URL="+redis, "SIPBUS_WEB_SECRET="+strings.Repeat("ab", 32))
	testenv.ServesHealth(t, p, "http://"+httpAddr, 20*time.Second,
		"sipbus_redis_rtt_seconds", `sipbus_build_info{service="web"} 1`, `sipbus_consumer_lag_messages{consumer="web-history"`, `sipbus_consumer_lag_messages{consumer="web-history-missed"`)
	if code, body := testenv.HTTPGet("http://" + httpAddr + "/signin"); code != 200 || !strings.Contains(body, "<form") {
		t.Errorf("/signin: %d %.200s", code, body)
	}
	if out := p.Terminate(t, 20*time.Second); !strings.Contains(out, "stopped\n") {
		t.Errorf("no stopped line after SIGTERM:\n%s", out)
	}
}

// TestMainRefuses: bad settings stop the binary with exit status 2 and a
// message naming the setting (never the secret's value); --http off is
// refused: the page is served on it.
func TestMainRefuses(t *testing.T) {
	srv := testenv.NATS(t)
	redis := testenv.RedisURL(t)
	bin := testenv.BuildMain(t, ".")
	secret := "SIPBUS_WEB_SECRET=" + strings.Repeat("cd", 32)
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{nil, []string{"SIPBUS_REDIS_URL=" + redis}, "secret (SIPBUS_WEB_SECRET): required"},
		{nil, []string{"SIPBUS_REDIS_URL=" + redis, "SIPBUS_WEB_SECRET=abcd-not-hex"}, "want at least 32 bytes in hex"},
		{nil, []string{secret}, "redis (--redis, SIPBUS_REDIS_URL): required"},
		{[]string{"--history-len", "0"}, []string{"SIPBUS_REDIS_URL=" + redis, secret}, "history_len 0"},
		{[]string{"--http", "off", "--nats", srv.ClientURL()}, []string{"SIPBUS_REDIS_URL=" + redis, secret}, "http (--http, SIPBUS_WEB_HTTP): off"},
		{[]string{"extra"}, []string{"SIPBUS_REDIS_URL=" + redis, secret}, `unexpected argument "extra"`},
	} {
		code, out := testenv.Run(t, bin, c.args, c.env...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("web %v %v: exit %d, want exit 2 saying %q:\n%s", c.args, c.env, code, c.want, out)
		}
		if strings.Contains(string(out), "abcd-not-hex") || strings.Contains(string(out), strings.Repeat("cd", 32)) {
			t.Errorf("web %v: the secret was printed:\n%s", c.args, out)
		}
	}
}
