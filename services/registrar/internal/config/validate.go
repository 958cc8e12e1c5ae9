package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

const maxIDLen = 64

// maxDelta is the largest delta-seconds of SIP (RFC 3261 §25.1).
const maxDelta = (1<<32 - 1) * time.Second

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate completes c (an empty ID is the host name, an empty Auth
// "required", empty AuthAlgorithms MD5), normalizes it (Auth lower case, AuthAlgorithms upper case;
// Domains and AuthSHA256Domains in the canonical form of the location
// service and the subscriber directory: lower case, IPv6 in brackets,
// without repeats) and reports every problem, joined, each naming its key: for
// example "domains: required when auth is \"required\"" or "max_expires:
// must be >= min_expires". AuthSecret is never quoted.
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, errors.New(key+": "+fmt.Sprintf(format, args...)))
	}

	if c.ID == "" {
		c.ID = hostID()
	}
	if !idRE.MatchString(c.ID) {
		add("id", "%q: want 1-%d characters of [A-Za-z0-9_-]", c.ID, maxIDLen)
	}

	c.Auth = strings.ToLower(strings.TrimSpace(c.Auth))
	if c.Auth == "" {
		c.Auth = AuthRequired
	}
	if c.Auth != AuthRequired && c.Auth != AuthOff {
		add("auth", "%q: want %q or %q", c.Auth, AuthRequired, AuthOff)
	}
	if c.AuthSecret != "" && len(c.AuthSecret) < digest.MinSecretLen {
		add("auth_secret", "%d bytes: must be at least %d (32 random bytes recommended)", len(c.AuthSecret), digest.MinSecretLen)
	}

	if len(c.AuthAlgorithms) == 0 {
		c.AuthAlgorithms = []string{string(digest.MD5)}
	}
	var algs []string
	for _, a := range c.AuthAlgorithms {
		canon := strings.ToUpper(strings.TrimSpace(a))
		switch {
		case canon != string(digest.SHA256) && canon != string(digest.MD5):
			add("auth_algorithms", "%q: want SHA-256 or MD5", a)
		case slices.Contains(algs, canon):
			add("auth_algorithms", "%q is listed twice", a)
		default:
			algs = append(algs, canon)
		}
	}
	if len(algs) > 0 {
		c.AuthAlgorithms = algs
	}

	domains := make([]string, 0, len(c.Domains))
	for _, d := range c.Domains {
		canon, ok := canonicalDomain(d)
		if !ok {
			add("domains", "%q is not a host name or IP address (no scheme, no port)", d)
			continue
		}
		if !slices.Contains(domains, canon) {
			domains = append(domains, canon)
		}
	}
	if c.Domains != nil {
		c.Domains = domains
	}
	if len(c.Domains) == 0 && c.Auth == AuthRequired {
		add("domains", "required when auth is %q: each local domain is the digest realm of its users", AuthRequired)
	}
	c.validateAuthPolicy(add)

	for _, t := range []struct {
		key string
		v   int64
	}{{"auth_fail_window", int64(c.AuthFailWindow)}, {"auth_fail_block", int64(c.AuthFailBlock)}, {"nonce_ttl", int64(c.NonceTTL)}, {"min_expires", int64(c.MinExpires)}, {"max_expires", int64(c.MaxExpires)},
		{"default_expires", int64(c.DefaultExpires)}, {"expiry_scan", int64(c.ExpiryScan)}, {"workers", int64(c.Workers)}} {
		if t.v <= 0 {
			add(t.key, "must be positive")
		}
	}
	switch {
	case c.MinExpires > time.Hour:
		add("min_expires", "%v: must be at most 1h (RFC 3261 §10.3 allows 423 only below one hour)", c.MinExpires)
	case c.MinExpires%time.Second != 0:
		add("min_expires", "%v: must be whole seconds", c.MinExpires)
	}
	if c.MaxExpires > 0 && c.MaxExpires < c.MinExpires {
		add("max_expires", "must be >= min_expires (%v < %v)", c.MaxExpires, c.MinExpires)
	}
	if c.MaxExpires > maxDelta {
		add("max_expires", "%v: must be at most 2^32-1 seconds", c.MaxExpires)
	}
	if c.DefaultExpires > 0 && (c.DefaultExpires < c.MinExpires || c.DefaultExpires > c.MaxExpires) {
		add("default_expires", "%v: must be between min_expires (%v) and max_expires (%v)", c.DefaultExpires, c.MinExpires, c.MaxExpires)
	}
	if c.MaxContacts < 0 {
		add("max_contacts", "%d: must be 0 (unlimited) or more", c.MaxContacts)
	}
	if c.ExpiryScan >= location.TTLMargin {
		add("expiry_scan", "%v: must be less than %v (the margin of the location keys' TTL)", c.ExpiryScan, location.TTLMargin)
	}
	return errors.Join(errs...)
}

// validateAuthPolicy checks who is offered SHA-256 first and the
// brute-force limits.
func (c *Config) validateAuthPolicy(add func(key, format string, args ...any)) {
	var sha []string
	for _, d := range c.AuthSHA256Domains {
		canon, ok := canonicalDomain(d)
		switch {
		case !ok:
			add("auth_sha256_domains", "%q is not a host name or IP address (no scheme, no port)", d)
		case !slices.Contains(c.Domains, canon):
			add("auth_sha256_domains", "%q is not one of domains", d)
		case !slices.Contains(sha, canon):
			sha = append(sha, canon)
		}
	}
	if c.AuthSHA256Domains != nil {
		c.AuthSHA256Domains = sha
	}
	for i, p := range c.AuthSHA256UserAgents {
		if _, err := regexp.Compile(p); err != nil {
			add("auth_sha256_user_agents", "[%d] %q: %v", i, p, err)
		}
	}
	if c.AuthFailPerUser < 0 {
		add("auth_fail_per_user", "%d: must be 0 (off) or more", c.AuthFailPerUser)
	}
	if c.AuthFailPerSource < 0 {
		add("auth_fail_per_source", "%d: must be 0 (off) or more", c.AuthFailPerSource)
	}
	for _, t := range []struct {
		key string
		v   time.Duration
	}{{"auth_fail_window", c.AuthFailWindow}, {"auth_fail_block", c.AuthFailBlock}} {
		if t.v > 0 && t.v%time.Millisecond != 0 {
			add(t.key, "%v: must be whole milliseconds", t.v)
		}
	}
}

// canonicalDomain returns d in the subscriber directory's canonical form
// (lower case, IPv6 in brackets in its shortest form), which is also the
// host of the AORs the location service makes from a To URI written that
// way, so a domain, a realm and an AOR's host compare equal.
func canonicalDomain(d string) (string, bool) {
	d = strings.TrimSpace(d)
	switch colons := strings.Count(d, ":"); {
	case d == "" || strings.ContainsAny(d, "@/;?<> \t") || strings.Contains(d, "]:"):
		return "", false
	case colons >= 2 && !strings.HasPrefix(d, "["):
		d = "[" + d + "]" // a bare IPv6 address
	case colons == 1:
		return "", false // host:port, or a scheme
	}
	_, host, err := subscriber.ParseAOR("u@" + d)
	if err != nil {
		return "", false
	}
	if _, err := location.ParseAOR("u@" + host); err != nil {
		return "", false
	}
	return host, true
}
