package config_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/notifier"
	"github.com/sipbus/sipbus/services/notifier/internal/config"
)

// load is the notifier's settings from the file at path as the service
// loads them (pkg/service: strict YAML, validated), with no environment.
func load(path string) (config.Config, error) {
	_, c, err := service.Load(notifier.Spec, []string{"--redis", "redis://127.0.0.1:1", "--config", path},
		service.IO{Getenv: func(string) string { return "" }})
	return c, err
}

func TestSample(t *testing.T) {
	c, err := load("testdata/notifier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.SMTPServer()
	if !ok || s.Host != "mail.example.com" || s.Port != 587 || s.TLS != config.TLSStartTLS || s.User != "sipbus" || s.Password != "secret" {
		t.Errorf("smtp %+v", s)
	}
	if c.FromAddress().Address != "sipbus@example.com" || c.RateLimit != 10 || len(c.Exec) != 1 || c.Exec[0].Timeout != 10*time.Second ||
		c.Backoff[4] != time.Minute || c.MessageIDDomain != "sipbus.example.com" {
		t.Errorf("config %+v", c)
	}
}

func TestDefaults(t *testing.T) {
	c := config.Default()
	c.SMTP = "smtps://mail.example.com"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.MessageIDDomain != "localhost" || c.RateLimit != 10 || c.RateWindow != time.Hour || c.Lease != 2*time.Minute {
		t.Errorf("defaults %+v", c)
	}
	c = config.Default()
	c.SMTP = "none"
	c.Exec = []config.ExecRule{{Name: "x", Events: []string{"sipbus.call.*"}, Argv: []string{"/bin/true"}}}
	if err := c.Validate(); err != nil || c.Exec[0].Timeout != config.DefaultExecTimeout || c.Exec[0].Concurrency != config.DefaultExecConc {
		t.Errorf("exec defaults %+v %v", c.Exec[0], err)
	}
	if _, ok := c.SMTPServer(); ok {
		t.Error("smtp none has a server")
	}
}

func TestValidateNamesEveryKey(t *testing.T) {
	c := config.Default()
	c.ID = "bad id"
	c.SMTP = "ftp://x"
	c.From = "not an address"
	c.ReplyTo = "Help <help@example.com>"
	c.WebURL = "javascript:alert(1)"
	c.SMTPTimeout = 0
	c.RateLimit = -1
	c.RateWindow = 0
	c.Backoff = nil
	c.MaxDeliver = 1
	c.AckWait = 0
	c.FenceTTL = time.Minute
	c.Concurrency = 0
	c.DigestPoll = 0
	c.SMTPCA = "/no/such/ca.pem"
	c.Exec = []config.ExecRule{
		{Name: "ok", Events: []string{"sipbus.sip.request.received.v2"}, Env: map[string]string{"SIP_X": "y"}},
		{Name: "ok", Events: []string{"sipbus.call.*"}, Argv: []string{"x"}, Timeout: -1},
	}
	err := c.Validate()
	for _, want := range []string{"id:", "smtp: smtp URL: scheme", "from:", "reply_to:", "web_url:", "smtp_timeout:", "rate_limit:",
		"rate_window:", "smtp_ca: open /no/such/ca.pem", "backoff:", "max_deliver:", "ack_wait:", "fence_ttl:", "concurrency:", "digest_poll:",
		"exec[0] (ok): events:", "SIP message events cannot run programs", "exec[0] (ok): argv:", `exec[0] (ok): env: "SIP_X"`,
		`exec[1] (ok): name: "ok" is used by another rule`, "exec[1] (ok): timeout:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not say %q: %v", want, err)
		}
	}
	c = config.Default()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "smtp: required") {
		t.Errorf("no smtp: %v", err)
	}
	if host, _ := os.Hostname(); host != "" && !strings.HasPrefix(c.ID, "notifier-") {
		t.Errorf("id %q, want notifier-<hostname> filled by Validate", c.ID)
	}
}

func TestUnknownKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "n.yaml")
	if err := os.WriteFile(p, []byte("smtp: none\nrate_limt: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(p); err == nil || !strings.Contains(err.Error(), `n.yaml:2: unknown key "rate_limt"`) {
		t.Errorf("Load = %v", err)
	}
}

func TestParseSMTP(t *testing.T) {
	tests := []struct {
		in   string
		want config.SMTP
		str  string
	}{
		{"smtp://mail.example.com", config.SMTP{Host: "mail.example.com", Port: 587, TLS: config.TLSStartTLS},
			"smtp://mail.example.com:587 (STARTTLS required)"},
		{"smtps://u%40x:p%3Aw@mail.example.com", config.SMTP{Host: "mail.example.com", Port: 465, TLS: config.TLSImplicit, Auth: config.AuthAuto, User: "u@x", Password: "p:w"},
			"smtps://u%40x@mail.example.com:465 (TLS)"},
		{"smtp://127.0.0.1:1025?tls=none", config.SMTP{Host: "127.0.0.1", Port: 1025, TLS: config.TLSNone},
			"smtp://127.0.0.1:1025?tls=none (no TLS)"},
		{"smtp://u:p@[::1]:25?tls=none&auth=plain&helo=pbx.example.com", config.SMTP{Host: "::1", Port: 25, TLS: config.TLSNone, Auth: config.AuthPlain, User: "u", Password: "p", HELO: "pbx.example.com"},
			"smtp://u@[::1]:25?tls=none (no TLS)"},
		{"SMTP://relay:2525?tls=opportunistic", config.SMTP{Host: "relay", Port: 2525, TLS: config.TLSOpportunistic},
			"smtp://relay:2525?tls=opportunistic (STARTTLS when offered)"},
	}
	for _, tc := range tests {
		got, err := config.ParseSMTP(tc.in)
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Errorf("ParseSMTP(%q) = %+v %q, %v; want %+v %q", tc.in, got, got.String(), err, tc.want, tc.str)
		}
	}
	const secret = "s3cret-pa55word"
	for _, bad := range []struct{ in, want string }{
		{"", "empty"},
		{"mail.example.com:587", "scheme"},
		{"http://mail.example.com", "scheme"},
		{"smtp://", "no host"},
		{"smtp://u:" + secret + "@mail.example.com:0", "port"},
		{"smtp://u:" + secret + "@mail.example.com:99999", "port"},
		{"smtp://u:" + secret + "@mail.example.com?tls=none", "clear text"},
		{"smtp://u:" + secret + "@mail.example.com?tls=maybe", "tls="},
		{"smtps://u:" + secret + "@mail.example.com?tls=none", "always TLS"},
		{"smtp://mail.example.com?auth=plain", "without a user"},
		{"smtp://u:" + secret + "@mail.example.com?auth=ntlm", "auth="},
		{"smtp://u:" + secret + "@mail.example.com?from=x", "unknown parameter"},
		{"smtp://u:" + secret + "@mail.example.com/path", "path"},
		{"smtp://u:" + secret + "@mail.example.com\r\nRCPT TO:<x>", "control character"},
		{"smtp://u:" + secret + "@mail example.com", "not a URL"},
	} {
		_, err := config.ParseSMTP(bad.in)
		if !errors.Is(err, config.ErrSMTPURL) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseSMTP(%q) = %v, want an error saying %q", bad.in, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	s, _ := config.ParseSMTP("smtp://user:" + secret + "@mail.example.com")
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "smtp", s)
	for _, out := range []string{s.String(), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), b.String()} {
		if strings.Contains(out, secret) {
			t.Errorf("printed with its password: %s", out)
		}
	}
}

func FuzzParseSMTP(f *testing.F) {
	for _, s := range []string{"smtp://u:p@h:25?tls=none", "smtps://h", "smtp://[::1]:1025?tls=none&auth=login&helo=x", "smtp://%zz@h", "smtp://h?tls="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := config.ParseSMTP(raw)
		if err != nil {
			return
		}
		if s.Host == "" || s.Port < 1 || s.Port > 65535 {
			t.Fatalf("ParseSMTP(%q) = %+v", raw, s)
		}
		if s.Password != "" && len(s.Password) > 3 && strings.Contains(s.String(), ":"+s.Password+"@") {
			t.Fatalf("String shows the password: %s", s)
		}
		a, aerr := netip.ParseAddr(s.Host)
		if s.Password != "" && s.TLS != config.TLSStartTLS && s.TLS != config.TLSImplicit && s.Host != "localhost" &&
			(aerr != nil || !a.IsLoopback()) {
			t.Fatalf("a password in clear text to %s", s.Host)
		}
	})
}

// TestReadmeSample: the first ```yaml block of the service README is a
// config file that loads and validates.
func TestReadmeSample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```yaml\n")
	if !ok {
		t.Fatal("README.md has no ```yaml block")
	}
	sample, _, _ := strings.Cut(rest, "```")
	path := filepath.Join(t.TempDir(), "notifier.yaml")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(path); err != nil {
		t.Fatalf("README sample: %v", err)
	}
}
