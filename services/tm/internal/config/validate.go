package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

const maxIDLen = 64

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate completes c (an empty ID becomes the host name, empty Domains
// localhost and the host of a valid Advertise), normalizes it (domains and the domains of Static lower
// case, IPv6 without brackets) and reports every problem, joined, each
// naming its key: for example "advertise: required" or "t2: must be >= t1".
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
	advHost, msg := checkAdvertise(c.Advertise)
	if msg != "" {
		add("advertise", "%s", msg)
	}
	for _, a := range []struct{ key, v string }{{"advertise_tcp", c.AdvertiseTCP}, {"advertise_tls", c.AdvertiseTLS}, {"advertise_ws", c.AdvertiseWS}, {"advertise_wss", c.AdvertiseWSS}} {
		if a.v == "" {
			continue
		}
		if _, msg := checkAdvertise(a.v); msg != "" {
			add(a.key, "%s", msg)
		}
	}
	if len(c.Domains) == 0 && advHost != "" {
		c.Domains = []string{"localhost", advHost}
	}
	c.Domains = normalizeDomains(c.Domains)
	for _, d := range c.Domains {
		if !validHost(d) {
			add("domains", "%q is not a host name or IP address (no scheme, no port)", d)
		}
	}

	for _, t := range []struct {
		key string
		v   int64
	}{{"t1", int64(c.T1)}, {"t2", int64(c.T2)}, {"t4", int64(c.T4)}, {"no_answer", int64(c.NoAnswer)}, {"queue_target", int64(c.QueueTarget)}, {"queue_interval", int64(c.QueueInterval)}} {
		if t.v <= 0 {
			add(t.key, "must be positive")
		}
	}
	if c.T1 > 0 && c.T2 < c.T1 {
		add("t2", "must be >= t1 (%v < %v)", c.T2, c.T1)
	}
	if c.Coalesce < 0 || c.Coalesce > time.Second {
		add("coalesce", "must be within 0..1s (got %v)", c.Coalesce)
	}
	for _, r := range c.Resolver {
		if _, err := sipdns.ServerAddr(strings.TrimSpace(r)); err != nil {
			add("resolver", "%q: want an IP address or ip:port (a name cannot be resolved without a resolver)", r)
		}
	}
	if c.ResolverTimeout < 100*time.Millisecond || c.ResolverTimeout > 30*time.Second {
		add("resolver_timeout", "must be within 100ms..30s (got %v)", c.ResolverTimeout)
	}
	if c.FailoverTimeout < 0 {
		add("failover_timeout", "must be 0 (off) or positive (got %v)", c.FailoverTimeout)
	}

	static, problems := normalizeStatic(c.Static, c.Domains)
	c.Static = static
	for _, p := range problems {
		add("static", "%s", p)
	}
	return errors.Join(errs...)
}

// checkAdvertise returns the host of host:port, lower case, and a problem.
func checkAdvertise(s string) (host, problem string) {
	if s == "" {
		return "", "required"
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Sprintf("%q is not host:port", s)
	}
	h = strings.ToLower(h)
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return "", fmt.Sprintf("%q needs a port 1-65535", s)
	}
	if !validHost(h) {
		return "", fmt.Sprintf("%q: %q is not a host name or IP address", s, h)
	}
	if a, err := netip.ParseAddr(h); err == nil && a.IsUnspecified() {
		return "", fmt.Sprintf("%q: an unspecified address cannot be reached; advertise the address peers use", s)
	}
	return h, ""
}

// normalizeDomains returns the domains lower case, IPv6 addresses without
// brackets, without repeats.
func normalizeDomains(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, d := range list {
		d = strings.ToLower(strings.TrimSpace(d))
		if strings.HasPrefix(d, "[") && strings.HasSuffix(d, "]") {
			d = d[1 : len(d)-1]
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// normalizeStatic lower-cases the domains of the AORs and checks AORs and
// contacts, in key order.
func normalizeStatic(static map[string][]string, local []string) (map[string][]string, []string) {
	if len(static) == 0 {
		return static, nil
	}
	var problems []string
	out := make(map[string][]string, len(static))
	for _, aor := range slices.Sorted(maps.Keys(static)) {
		user, domain, ok := cutLast(aor, "@")
		domain = strings.ToLower(domain)
		switch {
		case !ok || user == "" || strings.Contains(user, ":") || !validHost(domain):
			problems = append(problems, fmt.Sprintf("%q: want user@domain", aor))
			continue
		case !slices.Contains(local, domain):
			problems = append(problems, fmt.Sprintf("%q: %s is not one of domains", aor, domain))
		}
		key := user + "@" + domain
		if _, dup := out[key]; dup {
			problems = append(problems, fmt.Sprintf("%q: repeats %q", aor, key))
		}
		for _, contact := range static[aor] {
			var u sipmsg.URI
			var err error
			if strings.HasPrefix(contact, "<") { // "<URI>;q=0.5"
				var na sipmsg.NameAddr
				na, err = sipmsg.ParseNameAddr(contact)
				u = na.URI
			} else {
				u, err = sipmsg.ParseURI(contact)
			}
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%q: %v", aor, err))
			case u.Scheme != "sip" && u.Scheme != "sips":
				problems = append(problems, fmt.Sprintf("%q: %q: want a sip: or sips: URI", aor, contact))
			}
		}
		out[key] = static[aor]
	}
	return out, problems
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// validHost accepts a host name or an IP address (IPv6 without brackets),
// without port.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Zone() == ""
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}
