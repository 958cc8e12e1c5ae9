package app

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// CallbackURI is the address to call back: the caller's URI reduced to
// scheme, user, host and port (no password, parameters or headers: a
// "?Subject=..." or ";transport=" from the network has no place in a
// link), every character of the user outside [A-Za-z0-9-_.!~*+]
// percent-encoded, the host a DNS name or an IP address. A tel: URI keeps
// its number when it is only digits, '+', '-', '.', '(' and ')'. ok is
// false when nothing safe remains: the mail then shows the URI as text
// only, never as a link.
func CallbackURI(uri string) (string, bool) {
	if len(uri) > 2048 {
		return "", false
	}
	u, err := sipmsg.ParseURI(uri)
	if err != nil {
		return "", false
	}
	switch u.Scheme {
	case "sip", "sips":
	case "tel":
		num := u.Opaque
		if i := strings.IndexByte(num, ';'); i >= 0 {
			num = num[:i]
		}
		if num == "" || len(num) > 64 || strings.Trim(num, "0123456789+-.()") != "" {
			return "", false
		}
		return "tel:" + num, true
	default:
		return "", false
	}
	host, ok := safeHost(u.Host)
	if !ok {
		return "", false
	}
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteByte(':')
	if u.User != "" {
		if len(u.User) > 256 {
			return "", false
		}
		for i := 0; i < len(u.User); i++ {
			c := u.User[i]
			if isURIUserSafe(c) {
				b.WriteByte(c)
				continue
			}
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		}
		b.WriteByte('@')
	}
	b.WriteString(host)
	if u.Port > 0 && u.Port < 65536 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(u.Port))
	}
	return b.String(), true
}

func isURIUserSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-_.!~*+", c) >= 0
}

// safeHost returns h as it goes in a URI: an IP address (IPv6 in
// brackets) or a DNS name of letters, digits, '-' and '.'.
func safeHost(h string) (string, bool) {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if h == "" || len(h) > 253 {
		return "", false
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", false
		}
		if a.Is6() && !a.Is4In6() {
			return "[" + a.String() + "]", true
		}
		return a.Unmap().String(), true
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", false
		}
	}
	return strings.ToLower(h), true
}
