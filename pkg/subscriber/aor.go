package subscriber

import (
	"fmt"
	"net/netip"
	"strings"
)

// Limits of an AOR.
const (
	maxUserLen   = 256
	maxDomainLen = 253
	maxLabelLen  = 63
)

// ParseAOR splits an address of record into its user part and its
// canonical domain (see the package doc). It accepts "user@domain",
// "sip:user@domain" and "sips:user@domain", with URI parameters and headers
// (";transport=tcp", "?subject=x") dropped. The user part is made of SIP
// user characters (RFC 3261 §25.1: unreserved, %-escapes and
// "&=+$,;?/"); the domain is a hostname, an IPv4 address or a bracketed
// IPv6 address, without a port. Errors wrap ErrInvalid and quote the input.
func ParseAOR(s string) (user, domain string, err error) {
	rest := s
	if scheme, after, ok := strings.Cut(rest, ":"); ok && (strings.EqualFold(scheme, "sip") || strings.EqualFold(scheme, "sips")) {
		rest = after
	}
	user, host, ok := strings.Cut(rest, "@")
	if !ok {
		return "", "", aorErr(s, "no '@' between user and domain")
	}
	if err := checkUser(user); err != nil {
		return "", "", aorErr(s, err.Error())
	}
	if i := strings.IndexAny(host, ";?"); i >= 0 {
		host = host[:i]
	}
	domain, err = canonicalDomain(host)
	if err != nil {
		return "", "", aorErr(s, err.Error())
	}
	return user, domain, nil
}

// CanonicalAOR returns the canonical "user@domain" of s (see the package
// doc): the spelling every Directory method stores and returns, and the
// hash tag of the subscriber's Redis key (Redis.Key). Errors are
// ParseAOR's.
func CanonicalAOR(s string) (string, error) {
	user, domain, err := ParseAOR(s)
	if err != nil {
		return "", err
	}
	return user + "@" + domain, nil
}

func aorErr(s, why string) error {
	const max = 80
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Errorf("%w: AOR %q: %s", ErrInvalid, s, why)
}

// checkUser checks an RFC 3261 user part.
func checkUser(u string) error {
	switch {
	case u == "":
		return fmt.Errorf("empty user part")
	case len(u) > maxUserLen:
		return fmt.Errorf("user part longer than %d bytes", maxUserLen)
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c == '%' {
			if i+2 >= len(u) || !isHexDigit(u[i+1]) || !isHexDigit(u[i+2]) {
				return fmt.Errorf("bad %%-escape in user part")
			}
			i += 2
			continue
		}
		if !isUserChar(c) {
			return fmt.Errorf("user part has invalid character %q", c)
		}
	}
	return nil
}

// isUserChar: unreserved (alphanum and -_.!~*'()) or user-unreserved
// (&=+$,;?/).
func isUserChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()&=+$,;?/", c) >= 0
}

// canonicalDomain validates a host and returns its canonical form.
func canonicalDomain(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("empty domain")
	}
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", fmt.Errorf("unterminated IPv6 reference")
		}
		if end != len(h)-1 {
			return "", fmt.Errorf("port or garbage after the IPv6 address: an AOR has no port")
		}
		a, err := netip.ParseAddr(h[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("bad IPv6 address %q", h[1:end])
		}
		return "[" + a.String() + "]", nil
	}
	if strings.IndexByte(h, ':') >= 0 {
		return "", fmt.Errorf("port in domain: an AOR has no port")
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Is4() {
		return a.String(), nil
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if err := checkHostname(h); err != nil {
		return "", err
	}
	return h, nil
}

// checkHostname checks a lower-case RFC 3261 hostname: dot-separated
// labels of letters, digits and inner hyphens, the last starting with a
// letter.
func checkHostname(h string) error {
	if h == "" || len(h) > maxDomainLen {
		return fmt.Errorf("domain must have 1 to %d characters", maxDomainLen)
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen {
			return fmt.Errorf("domain label %q must have 1 to %d characters", l, maxLabelLen)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("domain label %q starts or ends with '-'", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("domain has invalid character %q", c)
			}
		}
	}
	if top := labels[len(labels)-1]; top[0] < 'a' || top[0] > 'z' {
		return fmt.Errorf("domain %q is neither an IP address nor a hostname (its last label must start with a letter)", h)
	}
	return nil
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
