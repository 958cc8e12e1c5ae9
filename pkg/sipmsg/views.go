package sipmsg

import "fmt"

// Typed views, built on demand from the index. Each call parses again and
// allocates its result; callers that need a view twice keep it.

// CSeq is the CSeq header.
type CSeq struct {
	Seq    uint32 // at most 2^31-1 (RFC 3261 §8.1.1.5)
	Method string // as written (methods are case-sensitive)
}

// maxCSeq is the largest CSeq number RFC 3261 §8.1.1.5 allows.
const maxCSeq = 1<<31 - 1

// ParseCSeq parses a CSeq value: 1*DIGIT LWS Method.
func ParseCSeq(s string) (CSeq, error) {
	s = trimLWS(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return CSeq{}, fault(ErrBadCSeq, "missing sequence number", s)
	}
	n, ok := parseDigits(s[:i], maxCSeq)
	if !ok {
		return CSeq{}, fault(ErrBadCSeq, "sequence number above 2^31-1", s)
	}
	if i == len(s) || !isLWSByte(s[i]) {
		return CSeq{}, fault(ErrBadCSeq, "missing method", s)
	}
	method := trimLWS(s[i:])
	if !isToken(method) {
		return CSeq{}, fault(ErrBadCSeq, "bad method", s)
	}
	return CSeq{Seq: uint32(n), Method: method}, nil
}

// headerRow returns the raw value of the first header row with id.
func (m *Msg) headerRow(id HeaderID) ([]byte, bool) {
	for i := range m.Headers {
		if m.Headers[i].ID == id {
			return m.Bytes(m.Headers[i].Value), true
		}
	}
	return nil, false
}

// firstValue returns the unfolded, trimmed value of the first row with id.
func (m *Msg) firstValue(id HeaderID) (string, bool) {
	b, ok := m.headerRow(id)
	if !ok {
		return "", false
	}
	return trimLWS(unfoldValue(b)), true
}

func missing(name string) error {
	return fmt.Errorf("%w: %s", ErrMissingHeader, name)
}

// RequestURIParsed parses the Request-URI of a request.
func (m *Msg) RequestURIParsed() (URI, error) {
	if !m.Request {
		return URI{}, ErrNotRequest
	}
	return ParseURI(m.Str(m.RequestURI))
}

// Vias returns every Via value in order: all rows, each row's comma list.
func (m *Msg) Vias() ([]Via, error) {
	var vias []Via
	for i := range m.Headers {
		if m.Headers[i].ID != HVia {
			continue
		}
		if vias == nil {
			vias = make([]Via, 0, 4)
		}
		var err error
		vias, err = parseViaList(vias, unfoldValue(m.Bytes(m.Headers[i].Value)))
		if err != nil {
			return nil, err
		}
	}
	if len(vias) == 0 {
		return nil, missing("Via")
	}
	return vias, nil
}

// TopVia returns the first Via value (parsing only that one).
func (m *Msg) TopVia() (Via, error) {
	for i := range m.Headers {
		if m.Headers[i].ID != HVia {
			continue
		}
		s := unfoldValue(m.Bytes(m.Headers[i].Value))
		for {
			elem, rest, ok := nextElem(s)
			if !ok {
				return Via{}, fault(ErrBadVia, "empty Via", "")
			}
			if elem != "" {
				return ParseVia(elem)
			}
			s = rest
		}
	}
	return Via{}, missing("Via")
}

// From parses the From header.
func (m *Msg) From() (NameAddr, error) { return m.nameAddr(HFrom, "From") }

// To parses the To header.
func (m *Msg) To() (NameAddr, error) { return m.nameAddr(HTo, "To") }

func (m *Msg) nameAddr(id HeaderID, name string) (NameAddr, error) {
	v, ok := m.firstValue(id)
	if !ok {
		return NameAddr{}, missing(name)
	}
	return ParseNameAddr(v)
}

// CallID returns the Call-ID, trimmed ("" when absent).
func (m *Msg) CallID() string {
	v, _ := m.firstValue(HCallID)
	return v
}

// CSeq parses the CSeq header. It allocates nothing for the methods of the
// model (the Method string is shared).
func (m *Msg) CSeq() (CSeq, error) {
	b, ok := m.headerRow(HCSeq)
	if !ok {
		return CSeq{}, missing("CSeq")
	}
	// Fast path: digits, SP, a known method, nothing else.
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i > 0 && i < 11 && i+1 < len(b) && b[i] == ' ' {
		if method := knownMethod(b[i+1:]); method != "" {
			var n uint64
			for _, c := range b[:i] {
				n = n*10 + uint64(c-'0')
			}
			if n <= maxCSeq {
				return CSeq{Seq: uint32(n), Method: method}, nil
			}
		}
	}
	return ParseCSeq(unfoldValue(b))
}

// knownMethod returns the shared string of a method the model knows, or "".
func knownMethod(b []byte) string {
	switch string(b) {
	case "INVITE":
		return "INVITE"
	case "ACK":
		return "ACK"
	case "BYE":
		return "BYE"
	case "CANCEL":
		return "CANCEL"
	case "REGISTER":
		return "REGISTER"
	case "OPTIONS":
		return "OPTIONS"
	case "PRACK":
		return "PRACK"
	case "SUBSCRIBE":
		return "SUBSCRIBE"
	case "NOTIFY":
		return "NOTIFY"
	case "PUBLISH":
		return "PUBLISH"
	case "INFO":
		return "INFO"
	case "REFER":
		return "REFER"
	case "MESSAGE":
		return "MESSAGE"
	case "UPDATE":
		return "UPDATE"
	}
	return ""
}

// Contacts returns every Contact value of every row. A "*" Contact is
// returned alone with Star set; "*" mixed with other values is an error.
func (m *Msg) Contacts() ([]Contact, error) {
	var cs []Contact
	star := false
	for i := range m.Headers {
		if m.Headers[i].ID != HContact {
			continue
		}
		s := unfoldValue(m.Bytes(m.Headers[i].Value))
		for {
			elem, rest, ok := nextElem(s)
			if !ok {
				break
			}
			s = rest
			if elem == "" {
				continue
			}
			c, err := parseContact(elem)
			if err != nil {
				return nil, err
			}
			star = star || c.Star
			cs = append(cs, c)
		}
	}
	if star && len(cs) > 1 {
		return nil, fault(ErrBadContact, "'*' mixed with other contacts", "*")
	}
	return cs, nil
}

// Routes returns every Route value in order (nil when absent).
func (m *Msg) Routes() ([]NameAddr, error) { return m.nameAddrs(HRoute) }

// RecordRoutes returns every Record-Route value in order (nil when absent).
func (m *Msg) RecordRoutes() ([]NameAddr, error) { return m.nameAddrs(HRecordRoute) }

func (m *Msg) nameAddrs(id HeaderID) ([]NameAddr, error) {
	var out []NameAddr
	for i := range m.Headers {
		if m.Headers[i].ID != id {
			continue
		}
		var err error
		if out, err = parseNameAddrList(out, unfoldValue(m.Bytes(m.Headers[i].Value))); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MaxForwards returns the value, or -1 when absent. A value that is not a
// number of at most 255 is an error (RFC 3261 §20.22).
func (m *Msg) MaxForwards() (int, error) {
	b, ok := m.headerRow(HMaxForwards)
	if !ok {
		return -1, nil
	}
	b = trimLWSBytes(b)
	// 1*DIGIT (leading zeros allowed: RFC 4475 wsinv has "0068").
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			n = -1
			break
		}
		if n = n*10 + int(c-'0'); n > 255 {
			break
		}
	}
	if len(b) == 0 || n < 0 || n > 255 {
		return -1, fault(ErrBadMaxForwards, "not a number 0-255", string(b))
	}
	return n, nil
}

// Expires returns the Expires header in seconds, or -1 when absent. Values
// above 2^32-1 are clamped; a non-numeric value is an error.
func (m *Msg) Expires() (int, error) {
	v, ok := m.firstValue(HExpires)
	if !ok {
		return -1, nil
	}
	n, ok := parseDelta(v)
	if !ok {
		return -1, fault(ErrBadExpires, "not delta-seconds", v)
	}
	return n, nil
}

// Require returns the option tags of every Require row.
func (m *Msg) Require() []string { return m.tokenList(HRequire) }

// ProxyRequire returns the option tags of every Proxy-Require row.
func (m *Msg) ProxyRequire() []string { return m.tokenList(HProxyRequire) }

// Supported returns the option tags of every Supported row.
func (m *Msg) Supported() []string { return m.tokenList(HSupported) }

func (m *Msg) tokenList(id HeaderID) []string {
	var out []string
	for i := range m.Headers {
		if m.Headers[i].ID != id {
			continue
		}
		s := unfoldValue(m.Bytes(m.Headers[i].Value))
		for {
			elem, rest, ok := nextElem(s)
			if !ok {
				break
			}
			s = rest
			if elem != "" {
				out = append(out, elem)
			}
		}
	}
	return out
}

// ContentType returns the media type as "type/subtype" in lower case,
// parameters dropped ("" when absent).
func (m *Msg) ContentType() string {
	v, ok := m.firstValue(HContentType)
	if !ok {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] == ';' {
			v = trimLWS(v[:i])
			break
		}
	}
	typ, sub, found := cutByte(v, '/')
	if !found {
		return lowerASCII(v)
	}
	typ, sub = trimLWS(typ), trimLWS(sub)
	if len(typ)+1+len(sub) != len(v) {
		return lowerASCII(typ + "/" + sub)
	}
	return lowerASCII(v)
}

func cutByte(s string, c byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
