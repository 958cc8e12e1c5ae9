package notifier_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/service/servicetest"
	"github.com/sipbus/sipbus/services/notifier"
)

// get reads a setting for a case (servicetest.Field).
func get[T any](f func(*notifier.Config) T) func(service.Common, *notifier.Config) any {
	return servicetest.Field[notifier.Config](f)
}

// TestSpecShape: every setting of the notifier reaches its field as a
// flag, a file key and a variable, with the shared precedence; exec rules
// are file only.
func TestSpecShape(t *testing.T) {
	base := map[string]string{"redis": `"redis://127.0.0.1:1"`, "smtp": `"none"`}
	servicetest.Shape(t, notifier.Spec, base, []servicetest.Case[notifier.Config]{
		{Key: "id", Value: "n-2", Other: "n-3", Get: get(func(c *notifier.Config) string { return c.ID }), Want: "n-2"},
		{Key: "smtp", Value: "smtp://127.0.0.1:1025?tls=none", Other: "smtps://mail.example.com", Get: get(func(c *notifier.Config) string { return c.SMTP }), Want: "smtp://127.0.0.1:1025?tls=none"},
		{Key: "smtp_ca", Value: "internal/config/testdata/ca.pem", Get: get(func(c *notifier.Config) string { return c.SMTPCA }), Want: "internal/config/testdata/ca.pem"},
		{Key: "from", Value: "PBX <pbx@example.com>", Other: "x@example.com", Get: get(func(c *notifier.Config) string { return c.From }), Want: "PBX <pbx@example.com>"},
		{Key: "reply_to", Value: "help@example.com", Get: get(func(c *notifier.Config) string { return c.ReplyTo }), Want: "help@example.com"},
		{Key: "message_id_domain", Value: "mail.example.com", Get: get(func(c *notifier.Config) string { return c.MessageIDDomain }), Want: "mail.example.com"},
		{Key: "web_url", Value: "https://pbx.example.com/calls", Get: get(func(c *notifier.Config) string { return c.WebURL }), Want: "https://pbx.example.com/calls"},
		{Key: "templates", Value: "internal/app/templates", Get: get(func(c *notifier.Config) string { return c.Templates }), Want: "internal/app/templates"},
		{Key: "smtp_timeout", Value: "10s", Other: "20s", Get: get(func(c *notifier.Config) time.Duration { return c.SMTPTimeout }), Want: 10 * time.Second},
		{Key: "rate_limit", Value: "3", Other: "0", Get: get(func(c *notifier.Config) int { return c.RateLimit }), Want: 3},
		{Key: "rate_window", Value: "30m", Get: get(func(c *notifier.Config) time.Duration { return c.RateWindow }), Want: 30 * time.Minute},
		{Key: "backoff", Value: "2s, 1m", Other: "5s", Get: get(func(c *notifier.Config) []time.Duration { return c.Backoff }), Want: []time.Duration{2 * time.Second, time.Minute}},
		{Key: "max_deliver", Value: "10", Get: get(func(c *notifier.Config) int { return c.MaxDeliver }), Want: 10},
		{Key: "ack_wait", Value: "1m", Get: get(func(c *notifier.Config) time.Duration { return c.AckWait }), Want: time.Minute},
		{Key: "lease", Value: "5m", Get: get(func(c *notifier.Config) time.Duration { return c.Lease }), Want: 5 * time.Minute},
		{Key: "fence_ttl", Value: "24h", Get: get(func(c *notifier.Config) time.Duration { return c.FenceTTL }), Want: 24 * time.Hour},
		{Key: "concurrency", Value: "2", Get: get(func(c *notifier.Config) int { return c.Concurrency }), Want: 2},
		{Key: "digest_poll", Value: "500ms", Get: get(func(c *notifier.Config) time.Duration { return c.DigestPoll }), Want: 500 * time.Millisecond},
	})
	fields, _ := service.Settings(notifier.Spec)
	for _, f := range fields {
		switch f.Key {
		case "exec":
			if !f.FileOnly || f.Flag != "" || f.Env != "" {
				t.Errorf("exec: %+v, want file only", f)
			}
		case "smtp":
			if f.Flag != "smtp" || f.Env != "SIPBUS_NOTIFIER_SMTP" || f.Secret {
				t.Errorf("smtp: %+v, want --smtp and SIPBUS_NOTIFIER_SMTP (a flag: see the README)", f)
			}
		}
	}
}

// TestSpecSMTPPassword: a bad SMTP URL with a password is refused naming
// the key, never showing the password, wherever it came from.
func TestSpecSMTPPassword(t *testing.T) {
	const secret = "pa55-never-shown"
	bad := "smtp://u:" + secret + "@mail.example.com?tls=none"
	for _, c := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--redis", "redis://x", "--smtp", bad}, nil},
		{[]string{"--redis", "redis://x"}, map[string]string{"SIPBUS_NOTIFIER_SMTP": bad}},
		{[]string{"--redis", "redis://x", "--smtp", "smtp://u:" + secret + "@mail example.com"}, nil},
	} {
		_, _, err := service.Load(notifier.Spec, c.args, service.IO{Getenv: func(k string) string { return c.env[k] }})
		if err == nil || !strings.Contains(err.Error(), "smtp:") || strings.Contains(err.Error(), secret) {
			t.Errorf("%v %v: %v, want an error naming smtp without the password", c.args, c.env, err)
		}
	}
}

// TestReadme: the README's settings table is the code's.
func TestReadme(t *testing.T) { servicetest.Readme(t, notifier.Spec, "README.md") }
