package digest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Credentials is a parsed Authorization or Proxy-Authorization header value
// (RFC 3261 §25.1 credentials, RFC 7616 §3.4). String fields hold the
// parameter values with quotes and escapes removed.
type Credentials struct {
	// Scheme is "Digest" (ParseCredentials accepts it in any case); empty
	// only in the zero Credentials, which Verify reports as Missing.
	Scheme   string
	Username string
	Realm    string
	Nonce    string
	URI      string
	Response string
	// Algorithm as sent; known names (MD5, SHA-256, the -sess variants,
	// SHA-512-256) are rewritten to their canonical spelling. "" when
	// absent, which means MD5.
	Algorithm string
	CNonce    string
	Opaque    string
	// QOP is "", "auth" or "auth-int" (lower case).
	QOP string
	// NC is the nonce-count: 8 hex digits, "" when absent.
	NC string
	// Userhash is the RFC 7616 userhash parameter.
	Userhash bool
}

// HashAlgorithm returns the algorithm of c as Verify uses it: MD5 when the
// algorithm parameter is absent, and "" when it names an algorithm Verify
// does not support (the -sess variants included). A directory picks the
// stored HA1 with it.
func (c Credentials) HashAlgorithm() Algorithm {
	switch canonicalAlgorithm(c.Algorithm) {
	case "", string(MD5):
		return MD5
	case string(SHA256):
		return SHA256
	}
	return ""
}

// maxParams bounds the parameters of one header value.
const maxParams = 64

// ParseCredentials parses an Authorization or Proxy-Authorization header
// value: the scheme "Digest" (any case), then comma-separated name=value
// pairs, where names are compared case-insensitively and a value is a token
// or a quoted-string with backslash escapes. Empty list elements are
// skipped; unknown parameters (auth-param) are ignored.
//
// Errors wrap ErrMalformed and name the problem: another scheme, a syntax
// error, a duplicated parameter, a missing username, realm, nonce, uri or
// response (cnonce and nc too with qop), a response that is not hex, an nc
// that is not 8 hex digits, a qop other than auth and auth-int, a userhash
// other than true and false, control characters or invalid UTF-8 in a
// quoted-string. The server answers such a request 400. On error the
// Credentials are zero.
func ParseCredentials(value string) (Credentials, error) {
	cr, err := parseCredentials(value)
	if err != nil {
		return Credentials{}, err
	}
	return cr, nil
}

func parseCredentials(value string) (Credentials, error) {
	var cr Credentials
	p := paramParser{s: value}
	p.skipWS()
	scheme := p.token()
	if scheme == "" {
		return cr, malformed("no auth scheme in %q", truncate(value))
	}
	if !strings.EqualFold(scheme, schemeDigest) {
		return cr, malformed("auth scheme %q: want Digest", truncate(scheme))
	}
	cr.Scheme = schemeDigest
	if !p.atEnd() && !isWS(p.s[p.i]) {
		return cr, malformed("no space after the auth scheme")
	}
	var seen [maxParams]string
	n := 0
	for {
		p.skipWS()
		if p.atEnd() {
			break
		}
		if p.s[p.i] == ',' { // empty list element (RFC 7230 §7)
			p.i++
			continue
		}
		name, val, err := p.param()
		if err != nil {
			return cr, err
		}
		for _, s := range seen[:n] {
			if s == name {
				return cr, malformed("duplicate parameter %q", name)
			}
		}
		if n == maxParams {
			return cr, malformed("more than %d parameters", maxParams)
		}
		seen[n] = name
		n++
		if err := cr.set(name, val); err != nil {
			return cr, err
		}
		p.skipWS()
		if p.atEnd() {
			break
		}
		if p.s[p.i] != ',' {
			return cr, malformed("parameter %q: want ',' after its value, found %q", name, p.s[p.i])
		}
		p.i++
	}
	return cr, cr.checkRequired(seen[:n])
}

// set stores one parameter; name is lower case.
func (c *Credentials) set(name, val string) error {
	switch name {
	case "username":
		c.Username = val
	case "realm":
		c.Realm = val
	case "nonce":
		c.Nonce = val
	case "uri":
		c.URI = val
	case "response":
		if !isHex(val) {
			return malformed("parameter \"response\": want hex digits, got %q", truncate(val))
		}
		c.Response = val
	case "algorithm":
		c.Algorithm = canonicalAlgorithm(val)
	case "cnonce":
		c.CNonce = val
	case "opaque":
		c.Opaque = val
	case "qop":
		q := strings.ToLower(val)
		if q != qopAuth && q != qopAuthInt {
			return malformed("parameter \"qop\": %q is not auth or auth-int", truncate(val))
		}
		c.QOP = q
	case "nc":
		if len(val) != 8 || !isHex(val) {
			return malformed("parameter \"nc\": want 8 hex digits, got %q", truncate(val))
		}
		c.NC = val
	case "userhash":
		switch {
		case strings.EqualFold(val, "true"):
			c.Userhash = true
		case strings.EqualFold(val, "false"):
			c.Userhash = false
		default:
			return malformed("parameter \"userhash\": want true or false, got %q", truncate(val))
		}
	}
	return nil
}

// checkRequired reports the first required parameter missing from seen.
func (c *Credentials) checkRequired(seen []string) error {
	required := []string{"username", "realm", "nonce", "uri", "response"}
	if c.QOP != "" {
		required = append(required, "cnonce", "nc")
	}
	for _, r := range required {
		found := false
		for _, s := range seen {
			if s == r {
				found = true
				break
			}
		}
		if !found {
			return malformed("missing parameter %q", r)
		}
	}
	switch {
	case c.Nonce == "":
		return malformed("empty parameter \"nonce\"")
	case c.URI == "":
		return malformed("empty parameter \"uri\"")
	case c.QOP != "" && c.CNonce == "":
		return malformed("empty parameter \"cnonce\"")
	}
	return nil
}

// paramParser scans s from i.
type paramParser struct {
	s string
	i int
}

func (p *paramParser) atEnd() bool { return p.i >= len(p.s) }

// skipWS skips linear white space (SP, HTAB and the CR LF of folding).
func (p *paramParser) skipWS() {
	for p.i < len(p.s) && isWS(p.s[p.i]) {
		p.i++
	}
}

// token reads a token (RFC 3261 §25.1); "" when there is none.
func (p *paramParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// param reads name LWS "=" LWS (token / quoted-string); name is lower-cased.
func (p *paramParser) param() (name, val string, err error) {
	name = strings.ToLower(p.token())
	if name == "" {
		return "", "", malformed("want a parameter name at offset %d, found %q", p.i, p.s[p.i])
	}
	p.skipWS()
	if p.atEnd() || p.s[p.i] != '=' {
		return "", "", malformed("parameter %q has no value", name)
	}
	p.i++
	p.skipWS()
	if p.atEnd() {
		return "", "", malformed("parameter %q has no value", name)
	}
	if p.s[p.i] == '"' {
		val, err = p.quoted(name)
		return name, val, err
	}
	val = p.token()
	if val == "" {
		return "", "", malformed("parameter %q: value starts with %q: want a token or a quoted-string", name, p.s[p.i])
	}
	return name, val, nil
}

// quoted reads a quoted-string at p.i (the opening quote) and returns its
// content with quoted-pairs resolved. CR and LF (other than escaped, which
// RFC 3261 forbids too) and other control characters but HTAB are errors.
func (p *paramParser) quoted(name string) (string, error) {
	p.i++ // opening quote
	start := p.i
	simple := true // no escapes: the value is a substring
	for ; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c == '"':
			raw := p.s[start:p.i]
			p.i++
			if !utf8.ValidString(raw) {
				return "", malformed("parameter %q: invalid UTF-8", name)
			}
			if simple {
				return raw, nil
			}
			return unescape(raw), nil
		case c == '\\':
			simple = false
			p.i++
			if p.i >= len(p.s) {
				return "", malformed("parameter %q: unterminated quoted-string", name)
			}
			if e := p.s[p.i]; e == '\r' || e == '\n' {
				return "", malformed("parameter %q: escaped CR or LF", name)
			}
		case c < 0x20 && c != '\t' || c == 0x7f:
			return "", malformed("parameter %q: control character %q in quoted-string", name, c)
		}
	}
	return "", malformed("parameter %q: unterminated quoted-string", name)
}

// unescape resolves the quoted-pairs of a quoted-string's content.
func unescape(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) {
			i++
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isTokenChar reports whether c may appear in an RFC 3261 token:
// alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~".
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", c) >= 0
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// truncate shortens attacker-controlled text quoted in errors.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
