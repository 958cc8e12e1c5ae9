package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestMainServesHealth runs the notifier binary against real NATS, Redis
// and Mailpit, configured from the environment as in Kubernetes (the SMTP
// URL with a password, as from a Secret): /healthz, /readyz and /metrics
// answer, the banner names the server without the password; SIGTERM ends
// it cleanly.
func TestMainServesHealth(t *testing.T) {
	srv := testenv.NATS(t)
	redis := testenv.RedisURL(t)
	mp := testenv.StartMailpit(t)
	bin := testenv.BuildMain(t, ".")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	const secret = "pa55-never-printed"
	p := testenv.StartProc(t, bin, []string{"--http", httpAddr, "--log-level", "debug"},
		"SIPBUS_NATS_URL="+srv.ClientURL(), "SIPBUS_REDIS_URL="+redis, "SIPBUS_NOTIFIER_ID=notifier-main-test",
		"SIPBUS_NOTIFIER_SMTP=smtp://mailer:"+secret+"@"+mp.SMTP+"?tls=none", "SIPBUS_NOTIFIER_BACKOFF=1s,2s")
	testenv.ServesHealth(t, p, "http://"+httpAddr, 20*time.Second,
		"sipbus_notifier_mails_sent_total", `sipbus_consumer_lag_messages{consumer="notifier-missed-call-mail"`, "sipbus_redis_rtt_seconds", `sipbus_build_info{service="notifier"} 1`)
	if want := "  notifier notifier-main-test: smtp smtp://mailer@" + mp.SMTP + "?tls=none (no TLS), exec rules 0\n"; !strings.Contains(p.Output(), want) {
		t.Errorf("no banner line %q:\n%s", want, p.Output())
	}
	if out := p.Terminate(t, 20*time.Second); !strings.Contains(out, "stopped\n") {
		t.Errorf("no stopped line after SIGTERM:\n%s", out)
	}
	if strings.Contains(p.Output(), secret) {
		t.Errorf("the SMTP password was printed:\n%s", p.Output())
	}
}

// TestMainRefuses: bad settings stop the binary with exit status 2 and a
// message naming the setting, never the SMTP password.
func TestMainRefuses(t *testing.T) {
	bin := testenv.BuildMain(t, ".")
	const secret = "pa55-never-printed"
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--smtp", "none"}, nil, "redis (--redis, SIPBUS_REDIS_URL): required"},
		{[]string{"--redis", "redis://127.0.0.1:1"}, nil, "smtp: required"},
		{[]string{"--redis", "redis://127.0.0.1:1"}, []string{"SIPBUS_NOTIFIER_SMTP=smtp://u:" + secret + "@mail.example.com?tls=none"}, "clear text"},
		{[]string{"--redis", "redis://127.0.0.1:1", "--smtp", "none", "--backoff", "1s,soon"}, nil, `--backoff: "soon" is not a duration`},
		{[]string{"--redis", "redis://127.0.0.1:1", "--smtp", "none", "--exec", "x"}, nil, "flag provided but not defined: -exec"},
		{[]string{"--redis", "redis://127.0.0.1:1", "--smtp", "none", "extra"}, nil, `unexpected argument "extra"`},
	} {
		code, out := testenv.Run(t, bin, c.args, c.env...)
		if code != 2 || !strings.Contains(out, c.want) || strings.Contains(out, secret) {
			t.Errorf("notifier %v %v: exit %d, want exit 2 saying %q (no password):\n%s", c.args, c.env, code, c.want, out)
		}
	}
}
