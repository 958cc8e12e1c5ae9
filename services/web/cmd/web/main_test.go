package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestConfigErrors: bad settings stop the start-up naming the key.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "SIPBUS_WEB_SECRET: required"},
		{nil, map[string]string{"SIPBUS_WEB_SECRET": "abcd"}, "SIPBUS_WEB_SECRET"},
		{nil, map[string]string{"SIPBUS_WEB_SECRET": strings.Repeat("ab", 32)}, "-redis (REDIS_URL): required"},
		{[]string{"-log-level", "loud"}, nil, "-log-level"},
		{[]string{"-redis", "redis://127.0.0.1:1", "extra"}, nil, `unexpected argument "extra"`},
	} {
		err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%v, %v) = %v, want an error with %q", tc.args, tc.env, err, tc.want)
		}
	}
}

// TestMainServesHealth runs the web binary against real NATS and Redis,
// configured from the environment as in Kubernetes: /healthz, /readyz
// and /metrics answer; SIGTERM ends it cleanly.
func TestMainServesHealth(t *testing.T) {
	srv := testenv.NATS(t)
	redis := testenv.RedisURL(t)
	bin := testenv.BuildMain(t, ".")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	p := testenv.StartProc(t, bin, []string{"-http", httpAddr},
		"SIPBUS_NATS_URL="+srv.ClientURL(), "REDIS_URL="+redis, "SIPBUS_WEB_SECRET="+strings.Repeat("ab", 32))
	testenv.ServesHealth(t, p, "http://"+httpAddr, 20*time.Second,
		"sipbus_redis_rtt_seconds", `sipbus_build_info{service="web"} 1`)
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !p.Wait(20 * time.Second) {
		t.Fatalf("web did not exit within 20s of SIGTERM\n%s", p.Output())
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("web exited %d after SIGTERM\n%s", code, p.Output())
	}
}
