package sipmsg

import (
	"strconv"
	"strings"
)

// URI is a parsed SIP, SIPS or other URI (RFC 3261 §19.1, RFC 5118).
//
// For sip and sips the user-info, host, port, parameters and headers are
// parsed. For tel (RFC 3966) Opaque holds everything after "tel:", User the
// number and Params its parameters. Any other scheme is kept in Opaque only.
type URI struct {
	Scheme   string // "sip", "sips", "tel", ... lower case
	User     string // unescaped
	Password string // unescaped
	Host     string // lower case; IPv6 without brackets
	Port     int    // 0 when absent
	Params   Params // uri-parameters, names lower case, values as written
	Headers  string // raw ?headers part, escaped as written
	Opaque   string // for non-SIP schemes: everything after "scheme:"
	Raw      string // as written
}

// Params is an ordered list of ;name=value parameters (value "" for a flag).
type Params []Param

// Param is one parameter.
type Param struct{ Name, Value string }

// Get returns a parameter's value and whether it is present (names compare case-insensitively).
func (p Params) Get(name string) (string, bool) {
	for i := range p {
		if strings.EqualFold(p[i].Name, name) {
			return p[i].Value, true
		}
	}
	return "", false
}

// Has reports whether the parameter is present (case-insensitive name).
func (p Params) Has(name string) bool { _, ok := p.Get(name); return ok }

// appendTo writes the parameters as ";name[=value]".
func (p Params) appendTo(b []byte) []byte {
	for _, x := range p {
		b = append(b, ';')
		b = append(b, x.Name...)
		if x.Value != "" {
			b = append(b, '=')
			b = append(b, x.Value...)
		}
	}
	return b
}

// ParseURI parses one URI as it appears in a Request-URI or inside <>.
// Surrounding LWS is ignored. Errors wrap ErrBadURI and name the fault, for
// example an IPv6 address written without the brackets RFC 5118 §4.2 requires.
func ParseURI(s string) (URI, error) {
	s = trimLWS(s)
	u := URI{Raw: s}
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return URI{}, fault(ErrBadURI, "missing scheme", s)
	}
	scheme := s[:colon]
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		alpha := ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !alpha && (i == 0 || !(('0' <= c && c <= '9') || c == '+' || c == '-' || c == '.')) {
			return URI{}, fault(ErrBadURI, "bad scheme", s)
		}
	}
	u.Scheme = lowerASCII(scheme)
	rest := s[colon+1:]
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' {
			return URI{}, fault(ErrBadURI, "bad byte in URI", s)
		}
	}
	switch u.Scheme {
	case "sip", "sips":
		if err := parseSIPURI(&u, rest); err != nil {
			return URI{}, err
		}
	case "tel":
		u.Opaque = rest
		num, params, _ := strings.Cut(rest, ";")
		if num == "" {
			return URI{}, fault(ErrBadURI, "empty telephone number", s)
		}
		user, ok := unescape(num)
		if !ok {
			return URI{}, fault(ErrBadURI, "bad %-escape in number", s)
		}
		u.User = user
		if params != "" {
			ps, err := parseParams(";"+params, ErrBadURI)
			if err != nil {
				return URI{}, err
			}
			u.Params = ps
		}
	default:
		if rest == "" {
			return URI{}, fault(ErrBadURI, "empty URI after scheme", s)
		}
		u.Opaque = rest
	}
	return u, nil
}

// parseSIPURI parses what follows "sip:" / "sips:" (RFC 3261 §25.1).
func parseSIPURI(u *URI, s string) error {
	full := u.Raw
	// user-info ends at the first '@' (an '@' elsewhere must be escaped).
	if at := strings.IndexByte(s, '@'); at >= 0 {
		userinfo := s[:at]
		s = s[at+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		if user == "" {
			return fault(ErrBadURI, "empty user", full)
		}
		var ok bool
		if u.User, ok = unescape(user); !ok {
			return fault(ErrBadURI, "bad %-escape in user", full)
		}
		if hasPass {
			if u.Password, ok = unescape(pass); !ok {
				return fault(ErrBadURI, "bad %-escape in password", full)
			}
		}
	}
	// hostport
	end := strings.IndexAny(s, ";?")
	if end < 0 {
		end = len(s)
	}
	host, port, err := splitHostPort(s[:end])
	if err != nil {
		return fault(ErrBadURI, err.Error(), full)
	}
	u.Host, u.Port = host, port
	s = s[end:]
	// uri-parameters and headers
	var params string
	if q := strings.IndexByte(s, '?'); q >= 0 {
		params, u.Headers = s[:q], s[q+1:]
	} else {
		params = s
	}
	if params != "" {
		ps, err := parseParams(params, ErrBadURI)
		if err != nil {
			return err
		}
		u.Params = ps
	}
	return nil
}

// hostError is a fault in a host or port, named for error texts.
type hostError string

func (e hostError) Error() string { return string(e) }

// splitHostPort splits host[:port]: an IPv6 reference in brackets (the
// brackets removed), an IPv4 address or a host name (lower-cased).
func splitHostPort(s string) (host string, port int, err error) {
	if s == "" {
		return "", 0, hostError("missing host")
	}
	var portStr string
	hasPort := false
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, hostError("IPv6 reference without closing bracket")
		}
		host = s[1:end]
		if !validIPv6(host) {
			return "", 0, hostError("malformed IPv6 reference")
		}
		host = lowerASCII(host)
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", 0, hostError("junk after IPv6 reference")
			}
			portStr, hasPort = rest[1:], true
		}
	} else {
		host = s
		if c := strings.IndexByte(s, ':'); c >= 0 {
			host, portStr, hasPort = s[:c], s[c+1:], true
			if strings.IndexByte(portStr, ':') >= 0 {
				return "", 0, hostError("IPv6 address without brackets (RFC 5118)")
			}
		}
		if !validHostname(host) {
			if hasPort && validIPv6(s) {
				return "", 0, hostError("IPv6 address without brackets (RFC 5118)")
			}
			return "", 0, hostError("bad host")
		}
		host = lowerASCII(host)
	}
	if hasPort {
		n, ok := parseDigits(portStr, 65535)
		if !ok {
			if _, digits := parseDigits(portStr, 1<<62); digits {
				return "", 0, hostError("port out of range")
			}
			if validIPv6(s) {
				return "", 0, hostError("IPv6 address without brackets (RFC 5118)")
			}
			return "", 0, hostError("bad port")
		}
		if n == 0 {
			return "", 0, hostError("port out of range")
		}
		port = int(n)
	}
	return host, port, nil
}

// validHostname accepts host names and IPv4 addresses: alphanumerics, '-',
// '.' and, leniently, '_' (seen in the wild in SRV-style names).
func validHostname(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// validIPv6 checks the inside of an IPv6 reference leniently: hex digits,
// colons and dots (an embedded IPv4), at least two colons. RFC 5118 §4.10
// asks robust parsers to accept the three-colon form of RFC 3261's ABNF
// bug, so "::" runs are not counted.
func validIPv6(h string) bool {
	if len(h) < 2 || len(h) > 45 {
		return false
	}
	colons := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == ':':
			colons++
		case c == '.', '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return colons >= 2
}

// unescape decodes %XX escapes; ok is false for a malformed escape.
func unescape(s string) (string, bool) {
	n := strings.IndexByte(s, '%')
	if n < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		h, ok1 := unhex(s[i+1])
		l, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b = append(b, h<<4|l)
		i += 2
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String renders the URI canonically: scheme and host lower case, IPv6 hosts
// in brackets, user and password escaped where RFC 3261 requires it,
// parameters as ;name[=value] and headers as written. Non-SIP URIs render as
// scheme ":" Opaque.
func (u *URI) String() string {
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return u.Scheme + ":" + u.Opaque
	}
	b := make([]byte, 0, len(u.Raw)+8)
	return string(u.appendTo(b))
}

func (u *URI) appendTo(b []byte) []byte {
	b = append(b, u.Scheme...)
	b = append(b, ':')
	if u.User != "" {
		b = appendEscaped(b, u.User, &userSafe)
		if u.Password != "" {
			b = append(b, ':')
			b = appendEscaped(b, u.Password, &passwordSafe)
		}
		b = append(b, '@')
	}
	if strings.IndexByte(u.Host, ':') >= 0 {
		b = append(b, '[')
		b = append(b, u.Host...)
		b = append(b, ']')
	} else {
		b = append(b, u.Host...)
	}
	if u.Port != 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(u.Port), 10)
	}
	b = u.Params.appendTo(b)
	if u.Headers != "" {
		b = append(b, '?')
		b = append(b, u.Headers...)
	}
	return b
}

// Bytes that need no escaping in user and password (RFC 3261 §25.1).
var userSafe, passwordSafe = safeSet("&=+$,;?/"), safeSet("&=+$,")

func safeSet(extra string) (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.!~*'()" + extra {
		t[c] = true
	}
	return t
}

func appendEscaped(b []byte, s string, safe *[256]bool) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safe[c] {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}
