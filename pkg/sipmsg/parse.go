package sipmsg

import "bytes"

// Limits of Parse.
const (
	// MaxHeaderLines is the most header lines (folded continuations not
	// counted) Parse indexes; more gives ErrTooManyHeaders.
	MaxHeaderLines = 1024
	// MaxMessageSize is the largest message Parse indexes (ErrTooLarge).
	MaxMessageSize = 16 << 20
)

// Parse indexes raw into m, reusing m's storage. An error means the message
// cannot even be indexed (garbage, no start line): drop and count it. A
// message that indexes but is not acceptable is reported by Check instead.
//
// Parse is liberal where RFC 4475 allows it: leading CRLFs are skipped, bare
// LF line ends are accepted, extra SP between and after the request-line
// elements is ignored (lwsstart, trws), and a request line whose
// Request-URI holds whitespace (lwsruri) still indexes so that Check can
// answer 400. It allocates nothing unless the message has more than
// InlineHeaders header lines.
func (m *Msg) Parse(raw []byte, f Framing) error {
	m.reset(raw)
	if len(raw) > MaxMessageSize {
		return ErrTooLarge
	}
	pos := 0
	for pos < len(raw) && (raw[pos] == '\r' || raw[pos] == '\n') {
		pos++
	}
	if pos == len(raw) {
		return ErrEmpty
	}
	end, next := nextLine(raw, pos)
	if err := m.parseStartLine(raw, pos, end); err != nil {
		return err
	}
	pos = next
	bodyStart, err := m.parseHeaders(raw, pos)
	if err != nil {
		return err
	}
	m.frameBody(raw, bodyStart, f)
	return nil
}

// reset prepares m for a new message without allocating.
func (m *Msg) reset(raw []byte) {
	m.Raw = raw
	m.Request = false
	m.Method = Span{}
	m.MethodID = MethodUnknown
	m.RequestURI = Span{}
	m.Version = Span{}
	m.StatusCode = 0
	m.Reason = Span{}
	m.Headers = m.inline[:0]
	m.Body = Span{Off: uint32(len(raw))}
	m.Terminated = false
	m.ContentLength = CLAbsent
}

// nextLine returns the end of the line starting at pos (excluding CR LF or
// LF) and the start of the next line.
func nextLine(raw []byte, pos int) (end, next int) {
	i := bytes.IndexByte(raw[pos:], '\n')
	if i < 0 {
		end = len(raw)
		if end > pos && raw[end-1] == '\r' {
			end--
		}
		return end, len(raw)
	}
	end = pos + i
	next = end + 1
	if end > pos && raw[end-1] == '\r' {
		end--
	}
	return end, next
}

// span makes a Span of raw[a:b].
func mkSpan(a, b int) Span { return Span{Off: uint32(a), Len: uint32(b - a)} }

// parseStartLine indexes a request line or a status line.
func (m *Msg) parseStartLine(raw []byte, a, b int) error {
	line := raw[a:b]
	if len(line) >= 4 && foldEq(line[:4], "SIP/") {
		return m.parseStatusLine(raw, a, b)
	}
	// Request-Line = Method SP Request-URI SP SIP-Version
	i := a
	for i < b && isTokenByte(raw[i]) {
		i++
	}
	if i == a || i == b || raw[i] != ' ' {
		return ErrBadStartLine
	}
	m.Request = true
	m.Method = mkSpan(a, i)
	m.MethodID = LookupMethod(raw[a:i])
	// trailing SP/HTAB after the version is tolerated (RFC 4475 trws)
	e := b
	for e > i && isSPHT(raw[e-1]) {
		e--
	}
	v := e
	for v > i && !isSPHT(raw[v-1]) {
		v--
	}
	if v-1 <= i || !(e-v >= 4 && foldEq(raw[v:v+4], "SIP/")) {
		return ErrBadStartLine
	}
	m.Version = mkSpan(v, e)
	u, ue := i, v
	for u < ue && isSPHT(raw[u]) {
		u++
	}
	for ue > u && isSPHT(raw[ue-1]) {
		ue--
	}
	if u == ue {
		return ErrBadStartLine
	}
	m.RequestURI = mkSpan(u, ue)
	return nil
}

// parseStatusLine indexes Status-Line = SIP-Version SP Status-Code SP Reason-Phrase.
func (m *Msg) parseStatusLine(raw []byte, a, b int) error {
	i := a
	for i < b && raw[i] != ' ' && raw[i] != '\t' {
		i++
	}
	m.Version = mkSpan(a, i)
	for i < b && isSPHT(raw[i]) {
		i++
	}
	d := i
	code := 0
	for i < b && raw[i] >= '0' && raw[i] <= '9' {
		if code < 1e9 {
			code = code*10 + int(raw[i]-'0')
		}
		i++
	}
	if i == d || (i < b && !isSPHT(raw[i])) {
		return ErrBadStartLine
	}
	m.StatusCode = code
	if i < b {
		i++ // the SP before the reason phrase
	}
	m.Reason = mkSpan(i, b)
	return nil
}

// parseHeaders indexes the header lines from pos and returns where the body
// starts (len(raw) when the header section is not terminated).
func (m *Msg) parseHeaders(raw []byte, pos int) (int, error) {
	cur := -1 // index of the header being continued
	for pos < len(raw) {
		end, next := nextLine(raw, pos)
		if end == pos {
			m.Terminated = true
			return next, nil
		}
		if isSPHT(raw[pos]) { // folded continuation of the previous value
			if cur < 0 {
				return 0, ErrBadHeaderLine
			}
			e := end
			for e > pos && isSPHT(raw[e-1]) {
				e--
			}
			h := &m.Headers[cur]
			if e > pos {
				if h.Value.Len == 0 {
					s := pos
					for isSPHT(raw[s]) {
						s++
					}
					h.Value = mkSpan(s, e)
				} else {
					h.Value.Len = uint32(e) - h.Value.Off
				}
			}
			pos = next
			continue
		}
		c := bytes.IndexByte(raw[pos:end], ':')
		if c <= 0 {
			return 0, ErrBadHeaderLine
		}
		ne := pos + c
		for ne > pos && isSPHT(raw[ne-1]) {
			ne--
		}
		if len(m.Headers) >= MaxHeaderLines {
			return 0, ErrTooManyHeaders
		}
		vs := pos + c + 1
		for vs < end && isSPHT(raw[vs]) {
			vs++
		}
		ve := end
		for ve > vs && isSPHT(raw[ve-1]) {
			ve--
		}
		// a name that is not a token still indexes (as HUnknown; Check
		// answers 400) so the element can reply instead of dropping
		id, compact := LookupHeader(raw[pos:ne])
		m.Headers = append(m.Headers, Header{ID: id, Compact: compact, Name: mkSpan(pos, ne), Value: mkSpan(vs, ve)})
		cur = len(m.Headers) - 1
		pos = next
	}
	return len(raw), nil
}

// frameBody sets ContentLength and Body.
func (m *Msg) frameBody(raw []byte, bodyStart int, f Framing) {
	m.ContentLength = m.contentLength()
	if !m.Terminated {
		m.Body = Span{Off: uint32(len(raw))}
		return
	}
	rest := len(raw) - bodyStart
	n := rest
	switch {
	case m.ContentLength >= 0 && m.ContentLength < rest:
		n = m.ContentLength
	case m.ContentLength < 0 && f == Stream:
		n = 0
	}
	m.Body = Span{Off: uint32(bodyStart), Len: uint32(n)}
}

// contentLength folds every Content-Length row into one value.
func (m *Msg) contentLength() int {
	cl := CLAbsent
	for _, h := range m.Headers {
		if h.ID != HContentLength {
			continue
		}
		v, ok := parseUintBytes(m.Bytes(h.Value), MaxMessageSize)
		if !ok || (cl != CLAbsent && cl != int(v)) {
			return CLInvalid
		}
		cl = int(v)
	}
	return cl
}

// parseUintBytes parses 1*DIGIT no larger than max.
func parseUintBytes(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		if v > max {
			return 0, false
		}
	}
	return v, true
}

// isTokenByte reports whether c may appear in an RFC 3261 token.
func isTokenByte(c byte) bool { return tokenBytes[c] }
