package sipmsg

import "strings"

// NameAddr is a From, To, Contact, Route or Record-Route value.
type NameAddr struct {
	Display string // unquoted display name ("" when absent)
	URI     URI
	// Params are the header parameters (tag, expires, q, ...). In a bare
	// addr-spec every ;param after the URI is a header parameter (RFC 3261
	// §20.10); inside <...> they belong to the URI (lr, transport, ...).
	Params Params
}

// Tag is the tag parameter ("" when absent).
func (n *NameAddr) Tag() string { v, _ := n.Params.Get("tag"); return v }

// String renders the value canonically: quoted display name (when any),
// <URI> and the header parameters.
func (n *NameAddr) String() string {
	b := make([]byte, 0, len(n.URI.Raw)+len(n.Display)+32)
	if n.Display != "" {
		b = append(b, '"')
		for i := 0; i < len(n.Display); i++ {
			if c := n.Display[i]; c == '"' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, n.Display[i])
		}
		b = append(b, '"', ' ')
	}
	b = append(b, '<')
	if n.URI.Scheme == "sip" || n.URI.Scheme == "sips" {
		b = n.URI.appendTo(b)
	} else {
		b = append(b, n.URI.Scheme...)
		b = append(b, ':')
		b = append(b, n.URI.Opaque...)
	}
	b = append(b, '>')
	b = n.Params.appendTo(b)
	return string(b)
}

// ParseNameAddr parses one name-addr or addr-spec with header parameters, as
// in From, To, Contact, Route and Record-Route (RFC 3261 §20.10): a quoted
// display name (with \-escapes) or a token sequence, then <URI>; or a bare
// URI whose ;params are header parameters. s must be unfolded.
func ParseNameAddr(s string) (NameAddr, error) {
	var n NameAddr
	s = trimLWS(s)
	if s == "" {
		return n, fault(ErrBadNameAddr, "empty value", s)
	}
	full := s
	quoted := false
	if s[0] == '"' {
		q, ok := scanQuoted(s)
		if !ok {
			return n, fault(ErrBadNameAddr, "unterminated quoted display name", full)
		}
		n.Display = unquote(s[:q])
		quoted = true
		s = trimLWS(s[q:])
		if s == "" || s[0] != '<' {
			return n, fault(ErrBadNameAddr, "expected <URI> after display name", full)
		}
	}
	lt := strings.IndexByte(s, '<')
	if lt < 0 {
		// addr-spec: the URI ends at the first ';' (RFC 3261 §20.10).
		end := strings.IndexByte(s, ';')
		if end < 0 {
			end = len(s)
		}
		u, err := ParseURI(s[:end])
		if err != nil {
			return n, err
		}
		n.URI = u
		ps, err := parseParams(s[end:], ErrBadNameAddr)
		if err != nil {
			return n, err
		}
		n.Params = ps
		return n, nil
	}
	if !quoted {
		d := trimLWS(s[:lt])
		for i := 0; i < len(d); i++ {
			if c := d[i]; c < 0x20 || c == 0x7f || c == '"' || c == '>' {
				return n, fault(ErrBadNameAddr, "bad display name", full)
			}
		}
		n.Display = d
	}
	gt := strings.IndexByte(s[lt:], '>')
	if gt < 0 {
		return n, fault(ErrBadNameAddr, "missing '>'", full)
	}
	gt += lt
	u, err := ParseURI(s[lt+1 : gt])
	if err != nil {
		return n, err
	}
	n.URI = u
	ps, err := parseParams(s[gt+1:], ErrBadNameAddr)
	if err != nil {
		return n, err
	}
	n.Params = ps
	return n, nil
}

// parseNameAddrList appends every element of a comma-separated list.
func parseNameAddrList(dst []NameAddr, s string) ([]NameAddr, error) {
	for {
		elem, rest, ok := nextElem(s)
		if !ok {
			return dst, nil
		}
		s = rest
		if elem == "" {
			continue
		}
		n, err := ParseNameAddr(elem)
		if err != nil {
			return dst, err
		}
		dst = append(dst, n)
	}
}

// Contact is one Contact value; Star is true for "*".
type Contact struct {
	NameAddr
	Star    bool
	Expires int     // -1 when absent
	Q       float64 // -1 when absent
}

// maxDelta is the largest delta-seconds (RFC 3261 §20.19); larger values are clamped.
const maxDelta = 1<<32 - 1

// parseDelta parses delta-seconds, clamping overflow at 2^32-1.
func parseDelta(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, ok := parseDigits(s, maxDelta)
	if !ok {
		return maxDelta, true
	}
	return int(n), true
}

// parseContact parses one Contact element: "*" or a name-addr with the
// expires and q parameters checked.
func parseContact(elem string) (Contact, error) {
	c := Contact{Expires: -1, Q: -1}
	if elem == "*" {
		c.Star = true
		return c, nil
	}
	na, err := ParseNameAddr(elem)
	if err != nil {
		return c, err
	}
	c.NameAddr = na
	if v, ok := na.Params.Get("expires"); ok {
		n, ok := parseDelta(v)
		if !ok {
			return c, fault(ErrBadContact, "bad expires parameter", elem)
		}
		c.Expires = n
	}
	if v, ok := na.Params.Get("q"); ok {
		q, ok := ParseQ(v)
		if !ok {
			return c, fault(ErrBadContact, "bad q parameter", elem)
		}
		c.Q = q
	}
	return c, nil
}

// ParseQ parses a qvalue, ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
// (RFC 3261 §25.1).
func ParseQ(s string) (float64, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	milli := int(s[0]-'0') * 1000
	if len(s) > 1 {
		if s[1] != '.' {
			return 0, false
		}
		weight := 100
		for i := 2; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			milli += int(c-'0') * weight
			weight /= 10
		}
	}
	if milli > 1000 {
		return 0, false
	}
	return float64(milli) / 1000, true
}
