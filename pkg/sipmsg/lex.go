package sipmsg

// Small lexical helpers shared by the typed views (RFC 3261 §25.1).

import (
	"errors"
	"fmt"
)

// Errors of the typed views. Each is wrapped with a text that names the fault,
// so errors.Is finds the kind and Error() says what is wrong.
var (
	ErrBadURI         = errors.New("sipmsg: bad URI")
	ErrBadVia         = errors.New("sipmsg: bad Via")
	ErrBadNameAddr    = errors.New("sipmsg: bad name-addr")
	ErrBadCSeq        = errors.New("sipmsg: bad CSeq")
	ErrBadMaxForwards = errors.New("sipmsg: bad Max-Forwards")
	ErrBadExpires     = errors.New("sipmsg: bad Expires")
	ErrBadContact     = errors.New("sipmsg: bad Contact")
	ErrMissingHeader  = errors.New("sipmsg: header missing")
	ErrNotRequest     = errors.New("sipmsg: not a request")
	ErrNotResponse    = errors.New("sipmsg: not a response")
)

// fault wraps kind with a reason; input is quoted so it is safe to log.
func fault(kind error, reason string, input string) error {
	if len(input) > 64 {
		input = input[:64] + "..."
	}
	return fmt.Errorf("%w: %s in %q", kind, reason, input)
}

func isSPHT(c byte) bool { return c == ' ' || c == '\t' }

// isLWSByte is true for the bytes that may appear in linear white space.
func isLWSByte(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// tokenBytes marks the bytes of RFC 3261 token.
var tokenBytes = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-.!%*_+`'~" {
		t[c] = true
	}
	return t
}()

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenBytes[s[i]] {
			return false
		}
	}
	return true
}

// trimLWS trims linear white space (including folds) from both ends.
func trimLWS(s string) string {
	i, j := 0, len(s)
	for i < j && isLWSByte(s[i]) {
		i++
	}
	for j > i && isLWSByte(s[j-1]) {
		j--
	}
	return s[i:j]
}

// unfoldValue returns b as a string with every line fold (optional WSP, CRLF or
// LF, then WSP) replaced by one space (RFC 3261 §7.3.1). Values without a
// fold cost one allocation, the string conversion.
func unfoldValue(b []byte) string {
	fold := false
	for _, c := range b {
		if c == '\r' || c == '\n' {
			fold = true
			break
		}
	}
	if !fold {
		return string(b)
	}
	return string(appendUnfolded(make([]byte, 0, len(b)), b))
}

// appendUnfolded appends b to dst with folds replaced by one space and any
// other CR, LF, NUL or control byte (except HTAB) replaced by a space, so the
// result is always safe inside one header line.
func appendUnfolded(dst, b []byte) []byte {
	start := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 0x20 && c != 0x7f || c == '\t' {
			continue
		}
		dst = append(dst, b[start:i]...)
		if c == '\r' || c == '\n' {
			// Drop WSP written before the fold, and the fold itself.
			for len(dst) > 0 && isSPHT(dst[len(dst)-1]) {
				dst = dst[:len(dst)-1]
			}
			for i+1 < len(b) && isLWSByte(b[i+1]) {
				i++
			}
		}
		dst = append(dst, ' ')
		start = i + 1
	}
	return append(dst, b[start:]...)
}

// SplitList returns the elements of a comma-separated header value
// (RFC 3261 §7.3.1): commas inside quoted strings, <...> and [...] do not
// separate; elements are trimmed of LWS, and empty ones are dropped.
func SplitList(s string) []string {
	var out []string
	for {
		elem, rest, ok := nextElem(s)
		if !ok {
			return out
		}
		if elem != "" {
			out = append(out, elem)
		}
		s = rest
	}
}

// nextElem returns the first element of a comma-separated header value and
// the rest after the comma. Commas inside quoted strings, <...> and [...] do
// not separate. Elements are trimmed of LWS; empty elements are returned as
// "" (callers skip them).
func nextElem(s string) (elem, rest string, ok bool) {
	if s == "" {
		return "", "", false
	}
	inQuote, angle, bracket := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case c == '[':
			bracket = true
		case c == ']':
			bracket = false
		case c == ',' && !angle && !bracket:
			return trimLWS(s[:i]), s[i+1:], true
		}
	}
	return trimLWS(s), "", true
}

// parseParams parses ";name[=value]" parameters (the leading ';' included)
// until the end of s. Names are lower-cased; values are kept as written
// (a quoted value keeps its quotes). LWS around ';' and '=' is allowed.
func parseParams(s string, kind error) (Params, error) {
	var ps Params
	s = trimLWS(s)
	for s != "" {
		if s[0] != ';' {
			return nil, fault(kind, "expected ';' before parameter", s)
		}
		s = trimLWS(s[1:])
		if s == "" {
			break // tolerate a trailing ';'
		}
		i := 0
		for i < len(s) && tokenBytes[s[i]] {
			i++
		}
		if i == 0 {
			return nil, fault(kind, "bad parameter name", s)
		}
		name := lowerASCII(s[:i])
		s = trimLWS(s[i:])
		value := ""
		if s != "" && s[0] == '=' {
			s = trimLWS(s[1:])
			j, err := scanParamValue(s)
			if err != nil {
				return nil, fault(kind, err.Error(), s)
			}
			value = s[:j]
			s = trimLWS(s[j:])
		}
		if ps == nil {
			ps = make(Params, 0, countByte(s, ';')+1)
		}
		ps = append(ps, Param{Name: name, Value: value})
	}
	return ps, nil
}

// scanParamValue returns the length of a parameter value at the start of s: a
// quoted string, an IPv6 reference or a run of bytes up to ';', ',' or LWS.
func scanParamValue(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	switch s[0] {
	case '"':
		n, ok := scanQuoted(s)
		if !ok {
			return 0, errors.New("unterminated quoted string")
		}
		return n, nil
	case '[':
		for i := 1; i < len(s); i++ {
			if s[i] == ']' {
				return i + 1, nil
			}
		}
		return 0, errors.New("unterminated IPv6 reference")
	}
	i := 0
	for i < len(s) && s[i] != ';' && s[i] != ',' && s[i] != '?' && !isLWSByte(s[i]) {
		c := s[i]
		if c < 0x21 || c == 0x7f || c == '"' || c == '<' || c == '>' {
			return 0, fmt.Errorf("bad byte %q in parameter value", c)
		}
		i++
	}
	return i, nil
}

// scanQuoted returns the length of the quoted string at the start of s,
// quotes included, honouring backslash escapes.
func scanQuoted(s string) (int, bool) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// unquote removes the quotes and backslash escapes of a quoted string.
func unquote(q string) string {
	q = q[1 : len(q)-1]
	esc := false
	for i := 0; i < len(q); i++ {
		if q[i] == '\\' {
			esc = true
			break
		}
	}
	if !esc {
		return q
	}
	b := make([]byte, 0, len(q))
	for i := 0; i < len(q); i++ {
		if q[i] == '\\' && i+1 < len(q) {
			i++
		}
		b = append(b, q[i])
	}
	return string(b)
}

// lowerASCII lower-cases s, allocating only when s has upper-case letters.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// upperASCII upper-cases s, allocating only when s has lower-case letters.
func upperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'a' <= c && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'a' <= c && c <= 'z' {
					b[j] = c - ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}

// parseDigits parses a non-empty run of decimal digits, failing above max.
func parseDigits(s string, max uint64) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > max {
			return 0, false
		}
	}
	return n, true
}

// countByte counts c in s (an upper bound for list sizes).
func countByte(s string, c byte) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
		}
	}
	return n
}
