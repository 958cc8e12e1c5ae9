package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// TLS modes of an SMTP server (the tls= parameter).
const (
	TLSStartTLS      = "starttls"      // STARTTLS required (smtp:// default)
	TLSImplicit      = "implicit"      // TLS from the first byte (smtps://)
	TLSOpportunistic = "opportunistic" // STARTTLS when offered, else plain
	TLSNone          = "none"          // plain text (a local relay, Mailpit)
)

// Auth mechanisms (the auth= parameter).
const (
	AuthAuto    = "auto" // the strongest the server offers (default with a user)
	AuthPlain   = "plain"
	AuthLogin   = "login"
	AuthCRAMMD5 = "cram-md5"
)

// SMTP is a parsed SMTP server URL:
//
//	smtp://[user[:password]@]host[:port][?tls=starttls|opportunistic|none&auth=auto|plain|login|cram-md5&helo=NAME]
//	smtps://[user[:password]@]host[:port][?auth=...&helo=NAME]
//
// smtp:// is submission with STARTTLS required (port 587 by default),
// smtps:// implicit TLS (port 465). tls=none and tls=opportunistic send
// in clear text when the server offers nothing better; with a password
// they are refused unless the host is a loopback address, where nothing
// crosses a network. User and password are percent-decoded. The password
// is never printed: String and LogValue leave it out.
type SMTP struct {
	Host     string
	Port     int
	TLS      string
	Auth     string // "" without a user
	User     string
	Password string
	HELO     string
}

// ErrSMTPURL reports an SMTP URL that does not parse; the message says
// what is wrong, never the password.
var ErrSMTPURL = errors.New("smtp URL")

// ParseSMTP parses an SMTP URL (see SMTP).
func ParseSMTP(raw string) (SMTP, error) {
	bad := func(format string, a ...any) (SMTP, error) {
		return SMTP{}, fmt.Errorf("%w: %s", ErrSMTPURL, fmt.Sprintf(format, a...))
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return bad("empty")
	}
	if strings.ContainsAny(raw, "\r\n\x00") {
		return bad("contains a control character")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, password included: say less.
		return bad("not a URL (want smtp://user:password@host:port)")
	}
	s := SMTP{}
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		s.TLS, s.Port = TLSStartTLS, 587
	case "smtps":
		s.TLS, s.Port = TLSImplicit, 465
	default:
		return bad("scheme %q: want smtp:// (STARTTLS) or smtps:// (TLS)", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return bad("no host (want smtp://host:port)")
	}
	if u.Path != "" && u.Path != "/" {
		return bad("unexpected path %q", u.Path)
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return bad("no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("port %q: want 1 to 65535", p)
		}
		s.Port = n
	}
	if u.User != nil {
		s.User = u.User.Username()
		s.Password, _ = u.User.Password()
		s.Auth = AuthAuto
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "tls", "auth", "helo":
		default:
			return bad("unknown parameter %q (want tls, auth or helo)", k)
		}
	}
	if v := q.Get("tls"); v != "" {
		if s.TLS == TLSImplicit {
			return bad("tls=%s: smtps:// is always TLS", v)
		}
		switch v {
		case TLSStartTLS, TLSOpportunistic, TLSNone:
			s.TLS = v
		default:
			return bad("tls=%q: want starttls, opportunistic or none", v)
		}
	}
	if v := q.Get("auth"); v != "" {
		if s.User == "" {
			return bad("auth=%s without a user", v)
		}
		switch v {
		case AuthAuto, AuthPlain, AuthLogin, AuthCRAMMD5:
			s.Auth = v
		default:
			return bad("auth=%q: want auto, plain, login or cram-md5", v)
		}
	}
	if v := q.Get("helo"); v != "" {
		if strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return bad("helo=%q: want a host name", v)
		}
		s.HELO = v
	}
	if s.Password != "" && s.TLS != TLSStartTLS && s.TLS != TLSImplicit && !loopback(s.Host) {
		return bad("tls=%s with a password to %s: the password could cross the network in clear text; use STARTTLS (the default) or smtps://", s.TLS, s.Host)
	}
	return s, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// Addr is host:port.
func (s SMTP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// String is the URL without the password, with the TLS mode spelled out:
// what `sipbus up` prints and logs show.
func (s SMTP) String() string {
	scheme := "smtp"
	if s.TLS == TLSImplicit {
		scheme = "smtps"
	}
	user := ""
	if s.User != "" {
		user = url.User(s.User).String() + "@"
	}
	out := scheme + "://" + user + s.Addr()
	if s.TLS != TLSImplicit && s.TLS != TLSStartTLS {
		out += "?tls=" + s.TLS
	}
	return out + " (" + s.describeTLS() + ")"
}

func (s SMTP) describeTLS() string {
	switch s.TLS {
	case TLSImplicit:
		return "TLS"
	case TLSStartTLS:
		return "STARTTLS required"
	case TLSOpportunistic:
		return "STARTTLS when offered"
	}
	return "no TLS"
}

// GoString is String: %#v does not print the password either.
func (s SMTP) GoString() string { return s.String() }

// LogValue keeps the password out of slog output.
func (s SMTP) LogValue() slog.Value { return slog.StringValue(s.String()) }
