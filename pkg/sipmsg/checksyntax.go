package sipmsg

import (
	"bytes"
	"strings"
)

// Private scanners for Check. They validate without building typed views
// (no allocation on the success path) and return a short reason ("" = ok).

// isLWSB reports SP, HTAB, CR or LF (LWS, folding included).

// trimLWSB trims LWS on both ends.
func trimLWSB(b []byte) []byte {
	for len(b) > 0 && isLWSByte(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isLWSByte(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// skipLWS returns the index of the first non-LWS byte at or after i.
func skipLWS(b []byte, i int) int {
	for i < len(b) && isLWSByte(b[i]) {
		i++
	}
	return i
}

// printable makes b safe for a reason phrase: printable ASCII only, at most max bytes.
func printable(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}

// splitCSeq splits "1*DIGIT LWS Method".
func splitCSeq(v []byte) (seq, method []byte, ok bool) {
	v = trimLWSB(v)
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == 0 || i == len(v) || !isLWSByte(v[i]) {
		return nil, nil, false
	}
	seq = v[:i]
	j := skipLWS(v, i)
	k := j
	for k < len(v) && isTokenByte(v[k]) {
		k++
	}
	if k == j || k != len(v) {
		return nil, nil, false
	}
	return seq, v[j:k], true
}

// nextListElem returns the element of a comma list starting at i (commas inside
// quotes and <> do not split) and where the next one starts (-1: last).
func nextListElem(v []byte, i int) (elem []byte, next int) {
	start, inQ, inA := i, false, false
	for ; i < len(v); i++ {
		c := v[i]
		switch {
		case inQ && c == '\\':
			i++
		case c == '"' && !inA:
			inQ = !inQ
		case !inQ && c == '<':
			inA = true
		case !inQ && c == '>':
			inA = false
		case !inQ && !inA && c == ',':
			return v[start:i], i + 1
		}
	}
	if i > len(v) {
		i = len(v)
	}
	return v[start:i], -1
}

// splitCommaList splits a header value at commas outside quotes and <>.
func splitCommaList(v []byte) [][]byte {
	var out [][]byte
	for i := 0; i >= 0; {
		var e []byte
		e, i = nextListElem(v, i)
		out = append(out, e)
	}
	return out
}

// mediaTypeIs compares the type/subtype of a Content-Type or Accept element
// (LWS ignored, parameters cut) with t, ignoring case.
func mediaTypeIs(v []byte, t string) bool {
	j := 0
	for _, c := range v {
		if c == ';' {
			break
		}
		if isLWSByte(c) {
			continue
		}
		if j >= len(t) || lowerByte(c) != lowerByte(t[j]) {
			return false
		}
		j++
	}
	return j == len(t)
}

// splitList returns the trimmed, non-empty elements of a comma list.
func splitList(v []byte) []string {
	var out []string
	for _, e := range splitCommaList(v) {
		if e = trimLWSB(e); len(e) > 0 {
			out = append(out, string(e))
		}
	}
	return out
}

// containsFold reports whether list holds s, ignoring ASCII case.
func containsFold(list []string, s string) bool {
	for _, x := range list {
		if foldEqStr(x, s) {
			return true
		}
	}
	return false
}

// containsExact reports whether list holds s exactly.
func containsExact(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mediaType returns "type/subtype" of a Content-Type or Accept element.
func mediaType(v []byte) string {
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	var b strings.Builder
	for _, c := range v {
		if !isLWSByte(c) {
			b.WriteByte(lowerByte(c))
		}
	}
	return b.String()
}

// splitScheme splits "scheme:rest" (RFC 3986 scheme syntax).
func splitScheme(u []byte) (scheme, rest []byte, ok bool) {
	i := bytes.IndexByte(u, ':')
	if i <= 0 {
		return nil, nil, false
	}
	for j, c := range u[:i] {
		alpha := (c|0x20) >= 'a' && (c|0x20) <= 'z'
		if !alpha && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return nil, nil, false
		}
	}
	return u[:i], u[i+1:], true
}

// addrScheme returns the URI scheme of a name-addr or addr-spec value.
func addrScheme(v []byte) []byte {
	v = trimLWSB(v)
	inQ := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inQ && c == '\\':
			i++
		case c == '"':
			inQ = !inQ
		case !inQ && c == '<':
			v = v[i+1:]
			i = len(v)
		}
	}
	s, _, ok := splitScheme(trimLWSB(v))
	if !ok {
		return nil
	}
	return s
}

// checkSIPURI checks the part of a SIP or SIPS URI after "sip:".
func checkSIPURI(rest []byte, requestURI bool) string {
	if requestURI && bytes.IndexByte(rest, '?') >= 0 {
		// The user part may hold '?' (RFC 4475 intmeth): only a '?' after
		// the host starts headers.
		at := bytes.LastIndexByte(rest, '@')
		if bytes.IndexByte(rest[at+1:], '?') >= 0 {
			return "escaped headers are not allowed in a Request-URI"
		}
	}
	hp := rest
	if at := bytes.LastIndexByte(hp, '@'); at >= 0 {
		if at == 0 {
			return "empty user part"
		}
		hp = hp[at+1:]
	}
	if i := bytes.IndexAny(hp, ";?"); i >= 0 {
		hp = hp[:i]
	}
	return checkHostPort(hp)
}

// checkHostPort checks host [":" port]; IPv6 references need brackets
// (RFC 5118 §4.2) but their inside is checked loosely (RFC 5118 §4.10).
func checkHostPort(hp []byte) string {
	if len(hp) == 0 {
		return "empty host"
	}
	var port []byte
	if hp[0] == '[' {
		e := bytes.IndexByte(hp, ']')
		if e < 0 {
			return "unterminated IPv6 reference"
		}
		for _, c := range hp[1:e] {
			if !(isHex(c) || c == ':' || c == '.') {
				return "bad IPv6 reference"
			}
		}
		rest := hp[e+1:]
		if len(rest) > 0 {
			if rest[0] != ':' {
				return "bad host"
			}
			port = rest[1:]
			if len(port) == 0 {
				return "empty port"
			}
		}
	} else {
		host := hp
		if i := bytes.IndexByte(hp, ':'); i >= 0 {
			host, port = hp[:i], hp[i+1:]
			if len(port) == 0 {
				return "empty port"
			}
		}
		if len(host) == 0 {
			return "empty host"
		}
		for _, c := range host {
			if !(isAlnum(c) || c == '-' || c == '.') {
				return "bad host"
			}
		}
	}
	if port != nil {
		if _, ok := parseUintBytes(port, 65535); !ok {
			return "bad port"
		}
	}
	return ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'f'
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'z'
}

// checkViaList checks every via-parm of one Via row (RFC 3261 §20.42).
func checkViaList(v []byte) string {
	for i := 0; i >= 0; {
		var e []byte
		e, i = nextListElem(v, i)
		if why := checkVia(e); why != "" {
			return why
		}
	}
	return ""
}

// checkVia checks sent-protocol LWS sent-by *( SEMI via-params ).
func checkVia(e []byte) string {
	i := skipLWS(e, 0)
	if i == len(e) {
		return "empty value"
	}
	var parts [3][]byte
	for p := 0; p < 3; p++ {
		if p > 0 {
			i = skipLWS(e, i)
			if i == len(e) || e[i] != '/' {
				return "bad sent-protocol"
			}
			i = skipLWS(e, i+1)
		}
		s := i
		for i < len(e) && isTokenByte(e[i]) {
			i++
		}
		if i == s {
			return "bad sent-protocol"
		}
		parts[p] = e[s:i]
	}
	if !foldEq(parts[0], "SIP") || !foldEq(parts[1], "2.0") {
		return "unsupported protocol " + printable(parts[0], 16) + "/" + printable(parts[1], 16)
	}
	if i == len(e) || !isLWSByte(e[i]) {
		return "missing sent-by"
	}
	i = skipLWS(e, i)
	s := i
	for i < len(e) && e[i] != ';' && !isLWSByte(e[i]) {
		if e[i] == '[' {
			for i < len(e) && e[i] != ']' {
				i++
			}
		}
		if i < len(e) {
			i++
		}
	}
	hp := e[s:i]
	// "host : port" with LWS around the colon (SWS ":" SWS)
	j := skipLWS(e, i)
	if j < len(e) && e[j] == ':' {
		j = skipLWS(e, j+1)
		k := j
		for k < len(e) && e[k] >= '0' && e[k] <= '9' {
			k++
		}
		hp = append(append(append([]byte(nil), hp...), ':'), e[j:k]...)
		i = k
	}
	if why := checkHostPort(hp); why != "" {
		return why
	}
	return checkParams(e, i)
}

// checkParams checks *( SEMI generic-param ) from i to the end of e.
func checkParams(e []byte, i int) string {
	for {
		i = skipLWS(e, i)
		if i == len(e) {
			return ""
		}
		if e[i] != ';' {
			return "unexpected characters"
		}
		i = skipLWS(e, i+1)
		s := i
		for i < len(e) && isTokenByte(e[i]) {
			i++
		}
		if i == s {
			return "empty parameter"
		}
		j := skipLWS(e, i)
		if j < len(e) && e[j] == '=' {
			i = skipLWS(e, j+1)
			switch {
			case i < len(e) && e[i] == '"':
				n, ok := scanQuotedB(e[i:])
				if !ok {
					return "unterminated quoted string"
				}
				i += n
			case i < len(e) && e[i] == '[':
				k := bytes.IndexByte(e[i:], ']')
				if k < 0 {
					return "unterminated IPv6 reference"
				}
				i += k + 1
			default:
				s := i
				for i < len(e) && (isTokenByte(e[i]) || e[i] == ':') {
					i++
				}
				if i == s {
					return "empty parameter value"
				}
			}
		}
	}
}

// scanQuotedB returns the length of the quoted-string at the start of b.
func scanQuotedB(b []byte) (int, bool) {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// checkNameAddrList checks a From/To (single) or Contact/Route list of
// name-addr / addr-spec values with their parameters (RFC 3261 §20).
func checkNameAddrList(v []byte, allowStar, single bool) string {
	if allowStar && bytes.Equal(trimLWSB(v), []byte("*")) {
		return ""
	}
	for i := 0; i >= 0; {
		var e []byte
		e, i = nextListElem(v, i)
		if single && i >= 0 {
			return "more than one value, or an unquoted display name with a comma"
		}
		if why := checkNameAddr(e); why != "" {
			return why
		}
	}
	return ""
}

// checkNameAddr checks one ( name-addr / addr-spec ) *( SEMI param ).
func checkNameAddr(e []byte) string {
	i := skipLWS(e, 0)
	if i == len(e) {
		return "empty value"
	}
	lt := -1
	if e[i] == '"' {
		n, ok := scanQuotedB(e[i:])
		if !ok {
			return "unterminated quoted string"
		}
		i = skipLWS(e, i+n)
		if i == len(e) || e[i] != '<' {
			return "quoted display name without <URI>"
		}
		lt = i
	} else if k := bytes.IndexByte(e[i:], '<'); k >= 0 {
		// display-name tokens then <URI>, unless the '<' follows an
		// addr-spec (a ':' before it)
		pre := e[i : i+k]
		if bytes.IndexByte(pre, ':') < 0 {
			for _, c := range pre {
				if !isTokenByte(c) && !isLWSByte(c) {
					return "display name must be a quoted string or tokens"
				}
			}
			lt = i + k
		}
	}
	if lt >= 0 {
		gt := bytes.IndexByte(e[lt:], '>')
		if gt < 0 {
			return "missing >"
		}
		uri := e[lt+1 : lt+gt]
		if why := checkAddrURI(uri); why != "" {
			return why
		}
		return checkParams(e, lt+gt+1)
	}
	// addr-spec: the URI ends at the first ';' (RFC 3261 §20: its
	// parameters are header parameters) and may not hold ',', '?' or LWS
	s := i
	for i < len(e) && e[i] != ';' && !isLWSByte(e[i]) {
		i++
	}
	uri := e[s:i]
	if bytes.IndexByte(uri, '?') >= 0 {
		return "a URI with headers must be enclosed in <>"
	}
	if why := checkAddrURI(uri); why != "" {
		return why
	}
	return checkParams(e, i)
}

// checkAddrURI checks a URI inside <> or an addr-spec.
func checkAddrURI(u []byte) string {
	if len(u) == 0 {
		return "empty URI"
	}
	for _, c := range u {
		if isLWSByte(c) {
			return "whitespace inside the URI"
		}
	}
	scheme, rest, ok := splitScheme(u)
	if !ok {
		return "URI without scheme"
	}
	if foldEq(scheme, "sip") || foldEq(scheme, "sips") {
		return checkSIPURI(rest, false)
	}
	return ""
}

// isBroadcastSentBy reports whether a via-parm's sent-by is the IPv4
// limited broadcast address (RFC 4475 bcast).
func isBroadcastSentBy(e []byte) bool {
	e = trimLWSB(e)
	// skip sent-protocol (three tokens around two slashes, LWS allowed)
	slash := 0
	i := 0
	for i < len(e) && slash < 2 {
		if e[i] == '/' {
			slash++
		}
		i++
	}
	i = skipLWS(e, i)
	for i < len(e) && isTokenByte(e[i]) {
		i++
	}
	i = skipLWS(e, i)
	s := i
	for i < len(e) && e[i] != ':' && e[i] != ';' && !isLWSByte(e[i]) {
		i++
	}
	return string(e[s:i]) == "255.255.255.255"
}
