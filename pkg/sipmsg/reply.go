package sipmsg

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// ReplyOptions add to a response built by Reply.
type ReplyOptions struct {
	// ToTag is added to To when the request's To has none (not for 100).
	// When empty, a random tag (NewTag) is used; stateless replies pass
	// Signer.ToTag so the ACK can be recognised.
	ToTag   string
	Headers []string // extra header lines without CRLF, e.g. "Retry-After: 5"
	Server  string   // Server header value; "" for none
	// Received, when set, is added as ;received= to the top Via (RFC 3261
	// §18.2.1), replacing any received the request carried. Brackets around
	// an IPv6 address are not written (RFC 5118 §4.5).
	Received string
	// RPort, when > 0, fills the value of an rport parameter the top Via
	// carries (RFC 3581 §4). No rport is added to a Via that has none.
	RPort int
}

// maxReasonLen caps the reason phrase, in bytes (cut on a UTF-8 boundary).
const maxReasonLen = 128

// Reply builds a response to req per RFC 3261 §8.2.6: Via rows, From, To
// (with ToTag), Call-ID and CSeq copied; Content-Length: 0. The reason is
// written as given after replacing CR, LF and other control characters, so a
// reason built from message content can never inject a header.
//
// Copied values are unfolded and stripped of control characters; a header the
// request lacks is left out, so even a bad request can be answered. A status
// outside 100-699 becomes 500; an empty reason becomes StatusText(status).
// Extra header lines are sanitised the same way; a line that is not
// "name: value" and a Content-Length among them are dropped. The result is built in one buffer.
func Reply(req *Msg, status int, reason string, opt ReplyOptions) []byte {
	if status < 100 || status > 699 {
		status = 500
	}
	size := 64 + maxReasonLen + len(opt.Server) + len(opt.Received) + len(opt.ToTag)
	for i := range req.Headers {
		switch req.Headers[i].ID {
		case HVia, HFrom, HTo, HCallID, HCSeq:
			size += int(req.Headers[i].Value.Len) + 12
		}
	}
	for _, h := range opt.Headers {
		size += len(h) + 2
	}
	b := make([]byte, 0, size)
	b = append(b, "SIP/2.0 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = appendReason(b, reason, status)
	b = append(b, "\r\n"...)

	topVia := true
	var from, to, callID, cseq []byte
	for i := range req.Headers {
		h := &req.Headers[i]
		v := req.Bytes(h.Value)
		switch h.ID {
		case HVia:
			b = append(b, "Via: "...)
			if topVia && (opt.Received != "" || opt.RPort > 0) {
				b = appendTopVia(b, v, opt)
			} else {
				b = appendUnfolded(b, v)
			}
			b = append(b, "\r\n"...)
			topVia = false
		case HFrom:
			from = firstRow(from, v)
		case HTo:
			to = firstRow(to, v)
		case HCallID:
			callID = firstRow(callID, v)
		case HCSeq:
			cseq = firstRow(cseq, v)
		}
	}
	b = appendHeader(b, "From: ", from)
	if to != nil {
		b = append(b, "To: "...)
		b = appendUnfolded(b, to)
		if status > 100 && !hasTagParam(to) {
			tag := opt.ToTag
			if tag == "" {
				tag = NewTag()
			}
			b = append(b, ";tag="...)
			b = appendToken(b, tag)
		}
		b = append(b, "\r\n"...)
	}
	b = appendHeader(b, "Call-ID: ", callID)
	b = appendHeader(b, "CSeq: ", cseq)
	if opt.Server != "" {
		b = append(b, "Server: "...)
		b = appendUnfolded(b, []byte(opt.Server))
		b = append(b, "\r\n"...)
	}
	for _, h := range opt.Headers {
		if !isHeaderLine(h) || isContentLengthLine(h) {
			continue
		}
		b = appendUnfolded(b, []byte(h))
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: 0\r\n\r\n"...)
	return b
}

func firstRow(cur, v []byte) []byte {
	if cur != nil {
		return cur
	}
	if v == nil {
		return []byte{}
	}
	return v
}

func appendHeader(b []byte, name string, v []byte) []byte {
	if v == nil {
		return b
	}
	b = append(b, name...)
	b = appendUnfolded(b, v)
	return append(b, "\r\n"...)
}

// appendToken appends only the token bytes of s (a tag must be a token).
func appendToken(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if tokenBytes[s[i]] {
			b = append(b, s[i])
		}
	}
	return b
}

// isHeaderLine reports whether h starts with a header name (a token)
// followed by optional WSP and a colon.
func isHeaderLine(h string) bool {
	i := 0
	for i < len(h) && tokenBytes[h[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(h) && isSPHT(h[i]) {
		i++
	}
	return i < len(h) && h[i] == ':'
}

func isContentLengthLine(h string) bool {
	name, _, ok := strings.Cut(h, ":")
	if !ok {
		return false
	}
	name = strings.TrimSpace(name)
	return strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "l")
}

// appendReason writes the sanitised reason phrase: control characters
// (CR, LF, NUL, DEL, ...) become spaces, invalid UTF-8 becomes '?', the
// length is capped at maxReasonLen bytes and surrounding spaces are trimmed.
func appendReason(b []byte, reason string, status int) []byte {
	start := len(b)
	for i := 0; i < len(reason); {
		r, n := utf8.DecodeRuneInString(reason[i:])
		if len(b)-start+n > maxReasonLen {
			break
		}
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, '?')
		case r < 0x20 || r == 0x7f:
			b = append(b, ' ')
		default:
			b = append(b, reason[i:i+n]...)
		}
		i += n
	}
	// Trim spaces both sides.
	end := len(b)
	for end > start && b[end-1] == ' ' {
		end--
	}
	lead := start
	for lead < end && b[lead] == ' ' {
		lead++
	}
	b = append(b[:start], b[lead:end]...)
	if len(b) == start {
		b = append(b, StatusText(status)...)
	}
	return b
}

// hasTagParam reports whether a To/From value has a tag header parameter.
func hasTagParam(v []byte) bool {
	_, ok := tagParam(v)
	return ok
}

// tagParam returns the value of the tag header parameter of a To/From value
// without allocating: the parameters start after the '>' of a name-addr or
// at the first ';' of a bare addr-spec (RFC 3261 §20.10).
func tagParam(v []byte) ([]byte, bool) {
	params := -1
	inQuote := false
	for i := 0; i < len(v) && params < 0; i++ {
		c := v[i]
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
			for i < len(v) && v[i] != '>' {
				i++
			}
			params = i + 1
		case c == ';':
			params = i
		}
	}
	if params < 0 || params >= len(v) {
		return nil, false
	}
	v = v[params:]
	inQuote = false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if inQuote {
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
			continue
		}
		if c == '"' {
			inQuote = true
			continue
		}
		if c != ';' {
			continue
		}
		j := i + 1
		for j < len(v) && isLWSByte(v[j]) {
			j++
		}
		if j+3 > len(v) || !equalFoldASCII(v[j:j+3], "tag") {
			continue
		}
		j += 3
		for j < len(v) && isLWSByte(v[j]) {
			j++
		}
		if j == len(v) || v[j] == ';' {
			return v[j:j], true
		}
		if v[j] != '=' {
			continue
		}
		j++
		for j < len(v) && isLWSByte(v[j]) {
			j++
		}
		k := j
		for k < len(v) && tokenBytes[v[k]] {
			k++
		}
		return v[j:k], true
	}
	return nil, false
}

// equalFoldASCII compares b with the lower-case ASCII string s, ignoring case.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// appendTopVia copies the first Via row with the top via-parm's received
// and rport rewritten per opt.
func appendTopVia(b []byte, row []byte, opt ReplyOptions) []byte {
	// End of the first via-parm: a ',' outside quotes and brackets.
	end := len(row)
	inQuote, bracket := false, false
	params := -1
	for i := 0; i < len(row); i++ {
		c := row[i]
		if inQuote {
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
			continue
		}
		switch c {
		case '"':
			inQuote = true
		case '[':
			bracket = true
		case ']':
			bracket = false
		case ';':
			if params < 0 {
				params = i
			}
		case ',':
			if !bracket {
				end = i
			}
		}
		if end != len(row) {
			break
		}
	}
	first, rest := row[:end], row[end:]
	if params < 0 || params > end {
		params = len(first)
	}
	b = appendUnfolded(b, trimLWSBytes(first[:params]))
	// Each ;param of the first via-parm.
	ps := first[params:]
	for len(ps) > 0 {
		// ps[0] == ';'; find the next ';' outside quotes.
		j := 1
		q := false
		for ; j < len(ps); j++ {
			if q {
				if ps[j] == '\\' {
					j++
				} else if ps[j] == '"' {
					q = false
				}
				continue
			}
			if ps[j] == '"' {
				q = true
			} else if ps[j] == ';' {
				break
			}
		}
		if j > len(ps) {
			j = len(ps)
		}
		seg := trimLWSBytes(ps[1:j])
		ps = ps[j:]
		name := seg
		if k := indexByteAny(seg, "= \t\r\n"); k >= 0 {
			name = seg[:k]
		}
		switch {
		case len(seg) == 0:
		case opt.Received != "" && strings.EqualFold(string(name), "received"):
		case opt.RPort > 0 && strings.EqualFold(string(name), "rport"):
			b = append(b, ";rport="...)
			b = strconv.AppendInt(b, int64(opt.RPort), 10)
		default:
			b = append(b, ';')
			b = appendUnfolded(b, seg)
		}
	}
	if opt.Received != "" {
		b = append(b, ";received="...)
		for i := 0; i < len(opt.Received); i++ {
			c := opt.Received[i]
			if ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '.' || c == ':' || c == '-' {
				b = append(b, c)
			}
		}
	}
	return appendUnfolded(b, rest)
}

func indexByteAny(b []byte, chars string) int {
	for i, c := range b {
		if strings.IndexByte(chars, c) >= 0 {
			return i
		}
	}
	return -1
}
