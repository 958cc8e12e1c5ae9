package sipmsg

import (
	"net/netip"
	"strconv"
	"strings"
)

// Via is one Via value (RFC 3261 §20.42, RFC 3581, RFC 5118).
type Via struct {
	Transport string // "UDP", "TCP", ... upper case
	Host      string // lower case; IPv6 without brackets
	Port      int    // 0 when absent
	Branch    string
	Received  string // brackets removed (RFC 5118 §4.5)
	RPort     int    // -1 absent, 0 present without value
	Params    Params // every via-param, names lower case, values as written
}

// SentBy is host[:port] as used in transaction keys (IPv6 in brackets,
// ":port" only when the Via has a port).
func (v *Via) SentBy() string {
	b := make([]byte, 0, len(v.Host)+8)
	return string(v.appendSentBy(b))
}

func (v *Via) appendSentBy(b []byte) []byte {
	if strings.IndexByte(v.Host, ':') >= 0 {
		b = append(b, '[')
		b = append(b, v.Host...)
		b = append(b, ']')
	} else {
		b = append(b, v.Host...)
	}
	if v.Port != 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(v.Port), 10)
	}
	return b
}

// ParseVia parses one via-parm: sent-protocol ("SIP / 2.0 / UDP", LWS
// allowed around the slashes), sent-by and parameters. s must be unfolded
// and hold one value (see nextElem for lists).
func ParseVia(s string) (Via, error) {
	v := Via{RPort: -1}
	full := trimLWS(s)
	s = full
	// sent-protocol = protocol-name SLASH protocol-version SLASH transport
	var parts [3]string
	for k := 0; k < 3; k++ {
		if k > 0 {
			if s == "" || s[0] != '/' {
				return v, fault(ErrBadVia, "malformed sent-protocol", full)
			}
			s = trimLWS(s[1:])
		}
		i := 0
		for i < len(s) && tokenBytes[s[i]] {
			i++
		}
		if i == 0 {
			return v, fault(ErrBadVia, "malformed sent-protocol", full)
		}
		parts[k] = s[:i]
		if k < 2 {
			s = trimLWS(s[i:])
		} else {
			s = s[i:]
		}
	}
	if !strings.EqualFold(parts[0], "SIP") {
		return v, fault(ErrBadVia, "protocol is not SIP", full)
	}
	v.Transport = upperASCII(parts[2])
	if s == "" || !isLWSByte(s[0]) {
		return v, fault(ErrBadVia, "missing sent-by", full)
	}
	s = trimLWS(s)
	// sent-by = host [ COLON port ], COLON = SWS ":" SWS
	end := strings.IndexByte(s, ';')
	if end < 0 {
		end = len(s)
	}
	hostport := trimLWS(s[:end])
	if strings.IndexAny(hostport, " \t") >= 0 {
		hostport = stripWSP(hostport)
	}
	host, port, err := splitHostPort(hostport)
	if err != nil {
		return v, fault(ErrBadVia, "sent-by: "+err.Error(), full)
	}
	v.Host, v.Port = host, port
	ps, err := parseParams(s[end:], ErrBadVia)
	if err != nil {
		return v, err
	}
	v.Params = ps
	for _, p := range ps {
		switch p.Name {
		case "branch":
			v.Branch = p.Value
		case "received":
			r := p.Value
			if len(r) >= 2 && r[0] == '[' && r[len(r)-1] == ']' {
				r = r[1 : len(r)-1]
			}
			v.Received = r
		case "rport":
			if p.Value == "" {
				v.RPort = 0
				break
			}
			n, ok := parseDigits(p.Value, 65535)
			if !ok || n == 0 {
				return v, fault(ErrBadVia, "bad rport", full)
			}
			v.RPort = int(n)
		}
	}
	return v, nil
}

func stripWSP(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if !isSPHT(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// parseViaList appends every via-parm of one (unfolded) Via row.
func parseViaList(dst []Via, s string) ([]Via, error) {
	n := 0
	for {
		elem, rest, ok := nextElem(s)
		if !ok {
			break
		}
		s = rest
		if elem == "" {
			continue
		}
		v, err := ParseVia(elem)
		if err != nil {
			return dst, err
		}
		dst = append(dst, v)
		n++
	}
	if n == 0 {
		return dst, fault(ErrBadVia, "empty Via", s)
	}
	return dst, nil
}

// ReplyAddr is where the responses to request m, received from src over
// UDP, go (RFC 3261 §18.2.2, RFC 3581 §4): the source address, with the
// source port when the UAC asked for rport or its Via cannot be read, else
// the top Via's sent-by port (5060 when it has none). Over a connection
// responses use the connection instead.
func ReplyAddr(m *Msg, src netip.AddrPort) netip.AddrPort {
	v, err := m.TopVia()
	if err != nil || v.RPort >= 0 {
		return src
	}
	port := v.Port
	if port == 0 {
		port = 5060
	}
	return netip.AddrPortFrom(src.Addr(), uint16(port))
}

// ReceivedRPort is what a server adds to the top Via v of a request that
// came from src (RFC 3261 §18.2.1, RFC 3581 §4): received when sent-by is
// not the source address, and always when the client asked for rport;
// rport filled with the source port when asked. "" and 0: nothing to add.
func ReceivedRPort(v Via, src netip.AddrPort) (received string, rport int) {
	a := src.Addr().Unmap()
	if h, err := netip.ParseAddr(v.Host); err != nil || h.Unmap() != a || v.RPort == 0 {
		received = a.String()
	}
	if v.RPort == 0 {
		rport = int(src.Port())
	}
	return received, rport
}

// StampTopVia is the first Via row of m with received and rport set as
// ReceivedRPort says for a request from src, and its index in m.Headers,
// for a proxy to write into the request it forwards so that the responses
// carry them back (RFC 3581 §4). ok is false when there is nothing to set
// or the Via cannot be read.
func (m *Msg) StampTopVia(src netip.AddrPort) (i int, value string, ok bool) {
	v, err := m.TopVia()
	if err != nil || !src.IsValid() {
		return -1, "", false
	}
	received, rport := ReceivedRPort(v, src)
	if received == "" && rport == 0 {
		return -1, "", false
	}
	for i := range m.Headers {
		if h := &m.Headers[i]; h.ID == HVia {
			b := appendTopVia(nil, m.Bytes(h.Value), ReplyOptions{Received: received, RPort: rport})
			return i, string(b), true
		}
	}
	return -1, "", false
}
