package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// Config is one notifier's settings (pkg/service: each yaml key is also a
// flag and a SIPBUS_NOTIFIER_* variable, exec rules are set in the file
// only; see the README's settings table). Validate checks them and parses
// SMTP.
//
// smtp is not a secret (it has a flag): a development relay
// (smtp://127.0.0.1:1025?tls=none) has no password and belongs on the
// command line. A URL with a password belongs in SIPBUS_NOTIFIER_SMTP
// (from a Kubernetes Secret) or the file (mode 0600), not on a command
// line that every user of the host sees in ps. Wherever it comes from the
// password is never printed: SMTP.String and LogValue leave it out,
// ParseSMTP's errors never quote the URL, and the loader's errors never
// quote a string value.
type Config struct {
	// ID names this instance in logs and events: [A-Za-z0-9_-], at most
	// 64 characters; Validate fills "notifier-" and the host name.
	ID string `yaml:"id" help:"names this instance in logs and events: [A-Za-z0-9_-], at most 64; default notifier-HOSTNAME"`

	// SMTP is the mail server: smtp://user:password@host:port (STARTTLS
	// required), smtps://... (TLS), ?tls=none for a local relay, or none
	// (exec rules only); see SMTP. Never logged with its password.
	SMTP string `yaml:"smtp" help:"mail server: smtp://[user[:password]@]host[:port] (STARTTLS required), smtps://... (TLS), ?tls=none|opportunistic (a password only to a loopback host), &auth=, &helo=; none: exec rules only. Required; a password belongs in the variable or the file, never printed"`

	// SMTPCA is a PEM file of the CA certificates that may sign the mail
	// server's certificate (a private relay); empty: the system's roots.
	SMTPCA string `yaml:"smtp_ca" help:"PEM file of the CAs that may sign the mail server's certificate (a private relay); empty: the system's roots"`

	// From is the sender, "Name <address>" or an address.
	From string `yaml:"from" help:"the sender: an address, or a name and the address in angle brackets"`

	// ReplyTo is the Reply-To address, if any.
	ReplyTo string `yaml:"reply_to" help:"the Reply-To address (a bare address); empty: none"`

	// MessageIDDomain is the right-hand side of Message-IDs; empty: the
	// domain of From.
	MessageIDDomain string `yaml:"message_id_domain" help:"right-hand side of Message-IDs; empty: the domain of from"`

	// WebURL is a page with the user's calls (http or https), linked from
	// every mail; empty: no link.
	WebURL string `yaml:"web_url" help:"http(s) page with the user's calls, linked from every mail; empty: no link"`

	// Templates is a folder whose files override the embedded templates
	// of the same name (missed.subject.tmpl, missed.txt.tmpl,
	// missed.html.tmpl, digest.subject.tmpl, digest.txt.tmpl,
	// digest.html.tmpl).
	Templates string `yaml:"templates" help:"folder whose files override the embedded templates of the same name (missed.*.tmpl, digest.*.tmpl)"`

	// SMTPTimeout bounds one delivery (connect, TLS, AUTH, the whole
	// DATA).
	SMTPTimeout time.Duration `yaml:"smtp_timeout" help:"bounds one delivery (connect, TLS, AUTH, DATA)"`

	// RateLimit is the most missed-call mails a callee gets per
	// RateWindow; the calls past it are folded into one "and N more
	// missed calls" mail when the window ends; 0 turns the limit off.
	RateLimit int `yaml:"rate_limit" help:"missed-call mails per callee per rate_window; the rest fold into one digest at the window's end; 0: no limit"`

	// RateWindow is the rate limit's window, aligned on the clock (an
	// hour window runs from hh:00 to hh+1:00).
	RateWindow time.Duration `yaml:"rate_window" help:"the rate limit's window, aligned on the clock"`

	// Backoff is the wait before each new delivery of an event whose mail
	// failed for now (SMTP 4xx, no connection), by attempt; the last
	// entry repeats.
	Backoff []time.Duration `yaml:"backoff" help:"waits before each new delivery of an event whose mail failed for now, by attempt; the last repeats"`

	// MaxDeliver is how many times an event is tried before its
	// notification is dead-lettered (sipbus.notify.failed.v1): with the
	// default backoff, 60 deliveries take about an hour.
	MaxDeliver int `yaml:"max_deliver" help:"deliveries of an event before its notification is dead-lettered (60: about an hour with the default backoff)"`

	// AckWait is how long the stream waits for a notifier that took an
	// event before giving it to another (the notifier died).
	AckWait time.Duration `yaml:"ack_wait" help:"how long an event taken by a notifier that died waits before going to another"`

	// Lease is how long a notifier holds a notification's fence while it
	// sends: a notifier that dies mid-send blocks the notification that
	// long, then another sends it again (same Message-ID). At least
	// SMTPTimeout + 10s (a handler runs at most SMTPTimeout + 5s).
	Lease time.Duration `yaml:"lease" help:"a sending notifier's hold on a notification's fence; at least smtp_timeout + 10s"`

	// FenceTTL is how long a sent notification is remembered, so a
	// redelivered or replayed event does not send it again (longer than
	// the stream keeps events).
	FenceTTL time.Duration `yaml:"fence_ttl" help:"how long a sent notification is remembered (longer than the stream keeps events)"`

	// Concurrency is how many mails one replica sends at once.
	Concurrency int `yaml:"concurrency" help:"mails one replica sends at once (1 to 1024)"`

	// DigestPoll is how often a replica looks for digests due.
	DigestPoll time.Duration `yaml:"digest_poll" help:"how often a replica looks for digests due"`

	// Exec are programs run on events (the seed's exec module); set in
	// the file only.
	Exec []ExecRule `yaml:"exec" help:"programs run on events: name, events, argv, env, dir, timeout, concurrency (see Exec rules)"`

	// parsed by Validate
	smtp SMTP
	from *mail.Address
	tls  *tls.Config
}

// ExecRule runs a program on events of the given types.
type ExecRule struct {
	// Name names the rule: [A-Za-z0-9_-], at most 32 characters; its
	// durable consumer is notifier-exec-<name>. Required.
	Name string `yaml:"name"`
	// Events are CloudEvent types ("sipbus.call.missed.v1") or prefixes
	// ending in '*' ("sipbus.call.*"), of call, reg.contact and notify
	// events. Required.
	Events []string `yaml:"events"`
	// Argv is the program and its arguments, run directly (never through
	// a shell). An absolute path, or a name looked up in the PATH of Env
	// (default /usr/local/bin:/usr/bin:/bin). Required.
	Argv []string `yaml:"argv"`
	// Env are extra variables of the program. The notifier's own
	// environment is not passed on (it may hold SIPBUS_NOTIFIER_SMTP's
	// password); the program gets PATH, LANG, these and the SIP_*
	// variables of the event.
	Env map[string]string `yaml:"env"`
	// Dir is the working directory. Default: the notifier's.
	Dir string `yaml:"dir"`
	// Timeout bounds one run; at its end the program's process group is
	// killed. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency is how many runs of this rule one replica allows at
	// once. Default 4.
	Concurrency int `yaml:"concurrency"`
}

// Defaults.
const (
	DefaultFrom        = "sipbus <sipbus@localhost>"
	DefaultSMTPTimeout = 30 * time.Second
	DefaultRateLimit   = 10
	DefaultRateWindow  = time.Hour
	DefaultMaxDeliver  = 60
	DefaultAckWait     = 30 * time.Second
	DefaultLease       = 2 * time.Minute
	DefaultFenceTTL    = 7 * 24 * time.Hour
	DefaultConcurrency = 8
	DefaultDigestPoll  = time.Second
	DefaultExecTimeout = 10 * time.Second
	DefaultExecConc    = 4
)

// DefaultBackoff is Config.Backoff's default.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute}

// Default returns the defaults (the ID is filled by Validate).
func Default() Config {
	return Config{
		From:        DefaultFrom,
		SMTPTimeout: DefaultSMTPTimeout, RateLimit: DefaultRateLimit, RateWindow: DefaultRateWindow,
		Backoff: append([]time.Duration(nil), DefaultBackoff...), MaxDeliver: DefaultMaxDeliver,
		AckWait: DefaultAckWait, Lease: DefaultLease, FenceTTL: DefaultFenceTTL,
		Concurrency: DefaultConcurrency, DigestPoll: DefaultDigestPoll,
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func sanitizeID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) > 48 {
		b = b[:48]
	}
	if len(b) == 0 {
		return "1"
	}
	return string(b)
}

// Validate fills the ID and the exec rules' defaults, parses SMTP and From, and
// reports every problem, each naming its key. An empty SMTP is an error:
// a notifier without a mail server has nothing to do but exec rules, and
// then says so with smtp: none.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.ID == "" {
		host, _ := os.Hostname()
		c.ID = "notifier-" + sanitizeID(host)
	}
	if !idPattern.MatchString(c.ID) {
		add("id: %q: want 1 to 64 of [A-Za-z0-9_-]", c.ID)
	}
	switch c.SMTP {
	case "":
		add("smtp: required (smtp://user:password@host:port, or \"none\" to run exec rules only)")
	case "none":
	default:
		s, err := ParseSMTP(c.SMTP)
		if err != nil {
			add("smtp: %w", err)
		}
		c.smtp = s
	}
	if c.SMTPCA != "" {
		pem, err := os.ReadFile(c.SMTPCA)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			add("smtp_ca: %w", err)
		case !pool.AppendCertsFromPEM(pem):
			add("smtp_ca: %s holds no PEM certificate", c.SMTPCA)
		default:
			c.tls = &tls.Config{RootCAs: pool, ServerName: c.smtp.Host, MinVersion: tls.VersionTLS12}
		}
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil || strings.ContainsAny(c.From, "\r\n") {
		add("from: %q is not an address such as \"sipbus <sipbus@example.com>\"", c.From)
	} else {
		c.from = from
	}
	if c.ReplyTo != "" {
		if a, err := mail.ParseAddress(c.ReplyTo); err != nil || a.Name != "" || strings.ContainsAny(c.ReplyTo, "\r\n") {
			add("reply_to: %q is not a bare address such as help@example.com", c.ReplyTo)
		}
	}
	if c.MessageIDDomain == "" && c.from != nil {
		c.MessageIDDomain = c.from.Address[strings.LastIndexByte(c.from.Address, '@')+1:]
	}
	if c.MessageIDDomain != "" && !hostName(c.MessageIDDomain) {
		add("message_id_domain: %q is not a domain name", c.MessageIDDomain)
	}
	if c.WebURL != "" {
		u, err := url.Parse(c.WebURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(c.WebURL, "\r\n\"'<> ") {
			add("web_url: %q: want an http or https URL", c.WebURL)
		}
	}
	if c.SMTPTimeout <= 0 {
		add("smtp_timeout: %v: must be positive", c.SMTPTimeout)
	}
	if c.RateLimit < 0 {
		add("rate_limit: %d: want 0 (no limit) or more", c.RateLimit)
	}
	if c.RateWindow < time.Second {
		add("rate_window: %v: want at least 1s", c.RateWindow)
	}
	if len(c.Backoff) == 0 {
		add("backoff: want at least one delay")
	}
	for i, d := range c.Backoff {
		if d <= 0 {
			add("backoff[%d]: %v: must be positive", i, d)
		}
	}
	if c.MaxDeliver < 2 {
		add("max_deliver: %d: want at least 2", c.MaxDeliver)
	}
	if c.AckWait < time.Second {
		add("ack_wait: %v: want at least 1s", c.AckWait)
	}
	if c.Lease < c.SMTPTimeout+10*time.Second {
		add("lease: %v: want at least smtp_timeout (%v) + 10s, or a slow send outlives its fence", c.Lease, c.SMTPTimeout)
	}
	if c.FenceTTL < time.Hour {
		add("fence_ttl: %v: want at least 1h", c.FenceTTL)
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		add("concurrency: %d: want 1 to 1024", c.Concurrency)
	}
	if c.DigestPoll < 10*time.Millisecond {
		add("digest_poll: %v: want at least 10ms", c.DigestPoll)
	}
	names := map[string]bool{}
	for i := range c.Exec {
		errs = append(errs, c.Exec[i].validate(i, names))
	}
	return errors.Join(errs...)
}

var ruleName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (r *ExecRule) validate(i int, names map[string]bool) error {
	var errs []error
	at := fmt.Sprintf("exec[%d]", i)
	if r.Name != "" {
		at = fmt.Sprintf("exec[%d] (%s)", i, r.Name)
	}
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(at+": "+format, a...)) }
	switch {
	case !ruleName.MatchString(r.Name):
		add("name: %q: want 1 to 32 of [A-Za-z0-9_-]", r.Name)
	case names[r.Name]:
		add("name: %q is used by another rule", r.Name)
	}
	names[r.Name] = true
	if len(r.Events) == 0 {
		add("events: want at least one event type, such as sipbus.call.missed.v1")
	} else if _, err := app.ExecFilters(r.Events); err != nil {
		add("events: %w", err)
	}
	if len(r.Argv) == 0 || r.Argv[0] == "" {
		add("argv: want the program and its arguments, such as [/usr/local/bin/missed-call.sh]")
	}
	for _, a := range r.Argv {
		if strings.ContainsRune(a, 0) {
			add("argv: an argument holds a NUL byte")
		}
	}
	for k, v := range r.Env {
		if !envName.MatchString(k) || strings.HasPrefix(k, "SIP_") {
			add("env: %q: want a variable name ([A-Za-z_][A-Za-z0-9_]*) outside SIP_*, which the event fills", k)
		}
		if strings.ContainsRune(v, 0) {
			add("env: %s: the value holds a NUL byte", k)
		}
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultExecTimeout
	}
	if r.Timeout < 0 {
		add("timeout: %v: must be positive", r.Timeout)
	}
	if r.Concurrency == 0 {
		r.Concurrency = DefaultExecConc
	}
	if r.Concurrency < 0 || r.Concurrency > 256 {
		add("concurrency: %d: want 1 to 256", r.Concurrency)
	}
	return errors.Join(errs...)
}

func hostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// SMTPServer is the parsed SMTP URL (after Validate); ok is false for
// "none".
func (c *Config) SMTPServer() (SMTP, bool) { return c.smtp, c.SMTP != "none" && c.smtp.Host != "" }

// TLSConfig is the TLS configuration of the mail server's connections
// (after Validate): nil for the defaults (the system's roots, TLS 1.2 or
// newer, the host's name), else with SMTPCA's roots.
func (c *Config) TLSConfig() *tls.Config { return c.tls }

// FromAddress is the parsed From (after Validate).
func (c *Config) FromAddress() *mail.Address { return c.from }
