package digest

import "strings"

// Challenge is one WWW-Authenticate (or Proxy-Authenticate) header value.
type Challenge struct {
	Realm     string
	Nonce     string
	Opaque    string // omitted when empty
	Algorithm Algorithm
	QOP       string // omitted when empty
	Stale     bool
}

// String returns the header value:
//
//	Digest realm="..", nonce="..", opaque="..", algorithm=SHA-256, qop="auth", stale=true
//
// Realm, nonce, opaque and qop are quoted-strings with '"' and '\' escaped;
// control characters (no quoted-string may hold them, and CR LF would
// inject header lines) are dropped. Empty opaque, algorithm and qop are
// left out, and so is stale unless it is true. An algorithm that is not a
// token is quoted.
func (c Challenge) String() string {
	var b strings.Builder
	b.Grow(64 + len(c.Realm) + len(c.Nonce) + len(c.Opaque) + len(c.QOP))
	b.WriteString("Digest realm=")
	writeQuoted(&b, c.Realm)
	b.WriteString(", nonce=")
	writeQuoted(&b, c.Nonce)
	if c.Opaque != "" {
		b.WriteString(", opaque=")
		writeQuoted(&b, c.Opaque)
	}
	if c.Algorithm != "" {
		b.WriteString(", algorithm=")
		if isToken(string(c.Algorithm)) {
			b.WriteString(string(c.Algorithm))
		} else {
			writeQuoted(&b, string(c.Algorithm))
		}
	}
	if c.QOP != "" {
		b.WriteString(", qop=")
		writeQuoted(&b, c.QOP)
	}
	if c.Stale {
		b.WriteString(", stale=true")
	}
	return b.String()
}

// writeQuoted writes s as a quoted-string: '"' and '\' are escaped, control
// characters other than HTAB are dropped.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 && c != '\t' || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}
