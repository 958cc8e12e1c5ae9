package sipdns

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Transports a Target can have, as in events.Dest.
const (
	UDP = "udp"
	TCP = "tcp"
	TLS = "tls"
)

// Default ports (RFC 3261 §19.1.2).
const (
	PortSIP  = 5060
	PortSIPS = 5061
)

// Query is what RFC 3263 §4 resolves: the TARGET of a SIP or SIPS URI
// with its port and transport.
type Query struct {
	// Host is the TARGET: the maddr parameter, else the host part; a
	// domain name or an IP address (IPv6 without brackets), lower case.
	Host string
	// Port is the URI's port, 0 when it has none.
	Port int
	// Transport is from the transport parameter: udp, tcp or tls; ""
	// when the URI names none. A sips: URI with transport=tcp is tls.
	Transport string
	// Secure is a sips: URI: TLS only (RFC 3261 §26.2.2; RFC 3263 §4.1
	// keeps only SIPS NAPTR services and _sips SRV names).
	Secure bool
	// Seed, when not 0, makes the RFC 2782 weighted choice among SRV
	// records of one priority a function of the seed: a stateless
	// forward (an ACK for 2xx) picks the same server for every
	// retransmission (RFC 3263 §4.4). 0 draws at random.
	Seed uint64
}

// Target is one place to send a request to, in the order to try.
type Target struct {
	Transport string // udp, tcp or tls
	Addr      netip.AddrPort
	// Name is the host the address belongs to: the SRV target, or the
	// query's host; "" for an IP address in the URI. A TLS certificate
	// is checked against the URI's host (RFC 5922 §4), not this name.
	Name string
}

// String is the sipdest form of the target ("udp:192.0.2.1:5060").
func (t Target) String() string { return t.Transport + ":" + t.Addr.String() }

// Errors. Each failure wraps one of these in an *Error naming the
// name and record type asked; Temporary tells those worth retrying.
var (
	ErrNXDomain  = errors.New("no such domain")
	ErrNoRecords = errors.New("no records")
	ErrNoService = errors.New("no SIP service") // SRV target "." (RFC 2782)
	ErrCNAMELoop = errors.New("CNAME loop")     // or a chain longer than maxCNAME
	ErrBadAnswer = errors.New("bad answer")     // a response that does not answer the question
	ErrServer    = errors.New("server failure") // SERVFAIL, REFUSED, another rcode
	ErrTimeout   = errors.New("timeout")        // no server answered in time
	ErrNoServers = errors.New("no DNS server configured")
	ErrBusy      = errors.New("too many lookups in progress")
	ErrBadName   = errors.New("not a domain name")
	ErrTransport = errors.New("transport not supported")
	ErrBadScheme = errors.New("not a sip: or sips: URI")
	errCacheMiss = errors.New("not cached")
)

// Error is a resolution failure: the name and record type asked and
// what went wrong. Its text is safe to log and to put in a SIP reason
// phrase: a name from the network is escaped (see Safe).
type Error struct {
	Name string // the name asked, escaped
	Type string // "NAPTR", "SRV", "A", "AAAA"; "" for a fault of the query itself
	Err  error  // one of the Err... values
	// Detail adds a fact ("rcode REFUSED"), escaped.
	Detail string
}

func (e *Error) Error() string {
	s := "sipdns: " + e.Err.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	if e.Type != "" {
		return s + " for " + e.Name + " " + e.Type
	}
	return s + ": " + e.Name
}

func (e *Error) Unwrap() error { return e.Err }

func fail(name, typ string, err error) *Error {
	return &Error{Name: Safe(name), Type: typ, Err: err}
}

// Temporary reports a failure that may not happen again: a server that
// failed or did not answer, too many lookups. Other failures (no such
// name, no records, a CNAME loop) are answers.
func Temporary(err error) bool {
	return errors.Is(err, ErrServer) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrBusy) || errors.Is(err, ErrNoServers)
}

// QueryFor is the query of a sip: or sips: URI (RFC 3263 §4): TARGET is
// the maddr parameter when present, else the host; the transport
// parameter is honoured (udp, tcp, tls; a sips: URI cannot use udp).
func QueryFor(u sipmsg.URI) (Query, error) {
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return Query{}, &Error{Name: Safe(u.Scheme), Err: ErrBadScheme}
	}
	q := Query{Host: u.Host, Port: u.Port, Secure: u.Scheme == "sips"}
	if m, ok := u.Params.Get("maddr"); ok && m != "" {
		q.Host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(m, "["), "]"))
	}
	if t, ok := u.Params.Get("transport"); ok {
		switch t = strings.ToLower(t); {
		case t == UDP && q.Secure:
			return Query{}, &Error{Name: "sips: over udp", Err: ErrTransport}
		case t == TCP && q.Secure, t == TLS:
			q.Transport = TLS
		case t == UDP, t == TCP:
			q.Transport = t
		default:
			return Query{}, &Error{Name: Safe(t), Err: ErrTransport}
		}
	}
	if q.Secure {
		q.Transport = TLS
	}
	return q, q.check()
}

// check reports a query that cannot be resolved at all.
func (q Query) check() error {
	if q.Port < 0 || q.Port > 65535 {
		return &Error{Name: strconv.Itoa(q.Port), Err: ErrBadName, Detail: "port"}
	}
	switch q.Transport {
	case "", UDP, TCP, TLS:
	default:
		return &Error{Name: Safe(q.Transport), Err: ErrTransport}
	}
	if q.Secure && q.Transport != "" && q.Transport != TLS {
		return &Error{Name: "sips: over " + q.Transport, Err: ErrTransport}
	}
	if _, err := netip.ParseAddr(q.Host); err == nil {
		return nil
	}
	if !validName(q.Host) {
		return &Error{Name: Safe(q.Host), Err: ErrBadName}
	}
	return nil
}

// transport is the transport used without NAPTR or SRV (RFC 3263 §4.1:
// UDP for sip:, TLS over TCP for sips:).
func (q Query) transport() string {
	switch {
	case q.Transport != "":
		return q.Transport
	case q.Secure:
		return TLS
	}
	return UDP
}

// String is the query in URI form, for logs ("sip:pbx.test;transport=tcp").
func (q Query) String() string {
	s := "sip:"
	if q.Secure {
		s = "sips:"
	}
	host := Safe(q.Host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	s += host
	if q.Port != 0 {
		s += ":" + strconv.Itoa(q.Port)
	}
	if q.Transport != "" && !q.Secure {
		s += ";transport=" + q.Transport
	}
	return s
}

// DefaultPort is the port of a transport without SRV (RFC 3263 §4.2).
func DefaultPort(transport string) int {
	if transport == TLS {
		return PortSIPS
	}
	return PortSIP
}

// Literal answers a query whose host is an IP address (RFC 3263 §4.1,
// §4.2: no DNS at all); ok is false for a domain name.
func Literal(q Query) (ts []Target, ok bool) {
	a, err := netip.ParseAddr(q.Host)
	if err != nil || a.Zone() != "" {
		return nil, false
	}
	tr := q.transport()
	port := q.Port
	if port == 0 {
		port = DefaultPort(tr)
	}
	return []Target{{Transport: tr, Addr: netip.AddrPortFrom(a.Unmap(), uint16(port))}}, true
}

// validName accepts a host name: labels of letters, digits, '-' and '_'
// of 1-63 bytes, at most 253 bytes, without a trailing dot.
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			label++
			if label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

// Safe returns s with every byte outside letters, digits and "._-:*"
// written as \xHH, at most 260 bytes: a name from the network is safe in
// a log line and in a SIP reason phrase.
func Safe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 256; i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("._-:*", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	if b.Len() >= 256 {
		b.WriteString("...")
	}
	return b.String()
}
