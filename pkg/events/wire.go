package events

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
)

// ContentTypeSIP is the datacontenttype of every SIP message event: the
// data is the message exactly as it was received or is to be sent (RFC 3261
// §27.5 registers message/sip).
const ContentTypeSIP = "message/sip"

// CloudEvent extension attributes of SIP message events, as NATS headers
// (binary content mode: "ce-" plus the attribute name). Extension names are
// lower-case letters and digits, as CloudEvents 1.0 requires.
const (
	HeaderSIPTransport = "ce-siptransport" // received: "udp" | "tcp" | "tls" | "ws" | "wss"
	HeaderSIPLocal     = "ce-siplocal"     // received: the edge's ip:port it arrived on
	HeaderSIPRemote    = "ce-sipremote"    // received: the peer's ip:port
	HeaderSIPFlow      = "ce-sipflow"      // received over a connection: its flow id ("<edge>~<n>")
	HeaderSIPEdge      = "ce-sipedge"      // received: the edge's id
	HeaderSIPDest      = "ce-sipdest"      // to send: "udp:ip:port", "tcp:ip:port", "tls:ip:port/flow", ... (ParseDest)
	HeaderSIPTxKey     = "ce-siptxkey"     // to send, a response: the server transaction it answers
	HeaderSIPStatus    = "ce-sipstatus"    // rejected: the status of the stateless reply
	HeaderSIPReason    = "ce-sipreason"    // rejected: its reason phrase
	HeaderSIPHeader    = "ce-sipheader"    // rejected: the header at fault, canonical name
	HeaderSIPBacklog   = "ce-sipbacklog"   // received over UDP: the edge's backlog, µs (SIP.Backlog)
)

// maxBacklog bounds the sipbacklog attribute: an edge that held a datagram
// for an hour is not one a decoder should believe.
const maxBacklog = time.Hour

// ErrBadSIPEvent is returned by DecodeSIP; the message says which attribute.
var ErrBadSIPEvent = errors.New("events: bad SIP message event")

// SIP is one SIP message event (the v2 SIP types): the message itself as
// the event data, and what the edge knows about it as attributes. It is the
// SEAS idea without JSON: a subscriber gets the raw bytes and builds the
// sipmsg index in under half a microsecond (sipmsg.Parse); nothing is
// base64-encoded and nothing is parsed twice on the way.
//
//	type                      subject (pkg/bus)                         attributes
//	TypeRequestReceived       sip.<p>.in.req.<METHOD>           transport local remote [flow] edge [backlog]
//	TypeResponseReceived      sip.<p>.in.res.<N>xx              transport local remote [flow] edge [backlog]
//	TypeMessageRejected       sip.<p>.in.bad                    the same, plus status reason [header]
//	TypeMessageSent           sip.<p>.out.<edge>.req|res.<..>   dest [txkey]
//
// A TypeMessageSent event is the order to send as much as its record: the
// edge named in its subject (or any edge) transmits Raw to Dest. A service
// sends SIP by publishing one; the event's source names the service.
//
// The events have no CloudEvent subject attribute: the Call-ID is in the
// message, and the callkey attribute names the call (the NATS subject names
// its partition).
// schemas/ describes each type in the CloudEvents JSON format (JSON).
type SIP struct {
	Type        string    // one of the four types above
	ID          string    // unique per source
	Source      string    // sipbus/<service>/<instance>
	Time        time.Time // when received (a message to send carries none: the stream's timestamp says when)
	CallKey     string    // extension callkey (sipmsg.CallKey of the Call-ID)
	TraceParent string    // extension traceparent, optional
	Raw         []byte    // the data

	// Received (and rejected) messages: where the message arrived.
	Transport string // "udp", "tcp", "tls", "ws" or "wss"
	Local     string // ip:port of the edge
	Remote    string // ip:port of the peer
	Flow      string // connection id, "" for UDP
	Edge      string // edge id
	// Backlog (extension sipbacklog, whole microseconds, rounded up) is
	// how long before Time the oldest datagram the edge's UDP listener
	// had received and not yet handed on (published, answered or
	// dropped) was received, when the edge took this message up: Low,
	// Time minus Backlog, is the listener's low watermark, and every
	// datagram it received before Low was published ahead of this
	// event. Zero (the attribute absent): no older datagram pending, or
	// not known (connections, whose bytes wait in the kernel unseen).
	Backlog time.Duration

	// Sent messages.
	Dest  string // the sipdest form (ParseDest): "udp:ip:port", "tcp:ip:port/flow", "ws:/flow", ...
	TxKey string // a response: the server transaction it answers (the edge keeps it for retransmissions)

	// Rejected requests: the stateless reply the edge sent.
	Status int
	Reason string
	Header string

	// NATSSubject is set by DecodeSIP.
	NATSSubject string
}

// IsSIPType reports whether typ is one of the SIP message event types.
func IsSIPType(typ string) bool {
	switch typ {
	case TypeRequestReceived, TypeResponseReceived, TypeMessageSent, TypeMessageRejected:
		return true
	}
	return false
}

// Low is the edge's low watermark at this message (Backlog): every
// datagram the edge's listener received before it was published before
// this event. Zero for a message to send.
func (s *SIP) Low() time.Time {
	if s.Time.IsZero() {
		return time.Time{}
	}
	return s.Time.Add(-s.Backlog)
}

// Received reports whether the event is a message an edge received
// (request, response or rejected request).
func (s *SIP) Received() bool { return s.Type != TypeMessageSent }

// Waited is how long the message has waited at now since the edge
// received it (its queues, the stream's delivery and the consumer's):
// zero when it carries no time (a message to send).
func (s *SIP) Waited(now time.Time) time.Duration {
	if s.Time.IsZero() {
		return 0
	}
	return max(now.Sub(s.Time), 0)
}

// Encode renders s as a NATS message on subject, binary content mode. The
// event has no Nats-Msg-Id: its id is unique, and a SIP message is not
// published twice on purpose (a retransmission is a message of its own).
//
// The header map is made for exactly the attributes set: a message to send
// has at most eight, and a map of eight or fewer is Go's small map (one
// group, no table; a third of the allocation of the table that a hint
// over eight makes, and lookups without a hash).
func (s *SIP) Encode(subject string) *nats.Msg {
	var kv [2 * 19]string // names and values; the values' array is the one allocation for them all
	n := 0
	set := func(k, v string) {
		if v != "" {
			kv[n], kv[n+1] = k, v
			n += 2
		}
	}
	set(bus.HeaderSpecVersion, bus.SpecVersion)
	set(bus.HeaderID, s.ID)
	set(bus.HeaderSource, s.Source)
	set(bus.HeaderType, s.Type)
	if !s.Time.IsZero() {
		set(bus.HeaderTime, s.Time.UTC().Format(time.RFC3339Nano))
	}
	set(bus.HeaderContentType, ContentTypeSIP)
	set(bus.HeaderCallKey, s.CallKey)
	set(bus.HeaderTraceParent, s.TraceParent)
	set(HeaderSIPTransport, s.Transport)
	set(HeaderSIPLocal, s.Local)
	set(HeaderSIPRemote, s.Remote)
	set(HeaderSIPFlow, s.Flow)
	set(HeaderSIPEdge, s.Edge)
	set(HeaderSIPDest, s.Dest)
	set(HeaderSIPTxKey, s.TxKey)
	if s.Status != 0 {
		set(HeaderSIPStatus, strconv.Itoa(s.Status))
	}
	set(HeaderSIPReason, HeaderValue(s.Reason, 512))
	set(HeaderSIPHeader, s.Header)
	if s.Backlog > 0 {
		set(HeaderSIPBacklog, micros(s.Backlog))
	}
	h := make(nats.Header, n/2)
	vals := make([]string, n/2)
	for i := 0; i < n; i += 2 {
		j := i / 2
		vals[j] = kv[i+1]
		h[kv[i]] = vals[j : j+1 : j+1]
	}
	return &nats.Msg{Subject: subject, Header: h, Data: s.Raw}
}

// DecodeSIP reads a SIP message event. It checks the CloudEvent attributes
// (specversion, id, source, a SIP type, time, content type message/sip),
// the call key, and what the type needs: a received message its transport,
// remote address and edge; a message to send a destination the edge can
// use (ParseDest). Raw shares m.Data. Errors wrap ErrBadSIPEvent and name
// the attribute.
func DecodeSIP(m *nats.Msg) (*SIP, error) {
	if m.Header == nil {
		return nil, fmt.Errorf("%w: no headers (binary content mode required)", ErrBadSIPEvent)
	}
	a := readSIPAttrs(m.Header)
	if a.found < len(m.Header) && !lowerKeys(m.Header) {
		// Some producers canonicalise header names ("Ce-Id"): read them
		// through a lower-cased copy. (Every header found under its
		// lower-case name proves the names lower case without a walk
		// over the map.)
		lh := make(nats.Header, len(m.Header))
		for k, v := range m.Header {
			lh[strings.ToLower(k)] = v
		}
		a = readSIPAttrs(lh)
	}
	if a.specVersion != bus.SpecVersion {
		return nil, fmt.Errorf("%w: specversion %q, want %q", ErrBadSIPEvent, a.specVersion, bus.SpecVersion)
	}
	s := &a.SIP
	s.Raw, s.NATSSubject = m.Data, m.Subject
	switch {
	case !IsSIPType(s.Type):
		return nil, fmt.Errorf("%w: type %q is not a SIP message type", ErrBadSIPEvent, s.Type)
	case s.ID == "":
		return nil, fmt.Errorf("%w: missing id", ErrBadSIPEvent)
	case s.Source == "":
		return nil, fmt.Errorf("%w: missing source", ErrBadSIPEvent)
	case s.CallKey == "":
		return nil, fmt.Errorf("%w: missing callkey", ErrBadSIPEvent)
	case len(s.Raw) == 0:
		return nil, fmt.Errorf("%w: empty data (want the SIP message)", ErrBadSIPEvent)
	}
	if ct := a.contentType; ct != ContentTypeSIP {
		return nil, fmt.Errorf("%w: content-type %q, want %q", ErrBadSIPEvent, ct, ContentTypeSIP)
	}
	if t := a.time; t != "" {
		tm, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return nil, fmt.Errorf("%w: time %q is not RFC 3339", ErrBadSIPEvent, t)
		}
		s.Time = tm
	}
	if b := a.backlog; b != "" {
		us, err := strconv.ParseUint(b, 10, 63)
		if err != nil || time.Duration(us) > maxBacklog/time.Microsecond {
			return nil, fmt.Errorf("%w: sipbacklog %q: want microseconds, 0 to %d", ErrBadSIPEvent, b, maxBacklog/time.Microsecond)
		}
		s.Backlog = time.Duration(us) * time.Microsecond
	}
	if s.Type == TypeMessageSent {
		if _, err := ParseDest(s.Dest); err != nil {
			return nil, fmt.Errorf("%w: sipdest: %v", ErrBadSIPEvent, err)
		}
		return s, nil
	}
	if !IsTransport(s.Transport) {
		return nil, fmt.Errorf("%w: siptransport %q, want udp, tcp, tls, ws or wss", ErrBadSIPEvent, s.Transport)
	}
	if _, err := netip.ParseAddrPort(s.Remote); err != nil {
		return nil, fmt.Errorf("%w: sipremote %q: want ip:port", ErrBadSIPEvent, s.Remote)
	}
	if s.Edge == "" {
		return nil, fmt.Errorf("%w: missing sipedge", ErrBadSIPEvent)
	}
	if s.Type == TypeMessageRejected {
		st, err := strconv.Atoi(a.status)
		if err != nil || st < 300 || st > 699 {
			return nil, fmt.Errorf("%w: sipstatus %q: want 300..699", ErrBadSIPEvent, a.status)
		}
		s.Status = st
	}
	return s, nil
}

// micros is d in whole microseconds, rounded up (a watermark errs early),
// as the sipbacklog attribute carries it.
func micros(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Microsecond-1)/time.Microsecond), 10)
}

// sipAttrs are the attributes of a SIP message event as read from its
// headers, and how many of the headers were found.
type sipAttrs struct {
	SIP
	specVersion, contentType, time, status, backlog string
	found                                           int
}

// readSIPAttrs reads every attribute DecodeSIP knows by its lower-case
// name.
func readSIPAttrs(h nats.Header) sipAttrs {
	var a sipAttrs
	get := func(k string) string {
		if v, ok := h[k]; ok && len(v) > 0 {
			a.found++
			return v[0]
		}
		return ""
	}
	a.specVersion, a.contentType, a.time, a.status = get(bus.HeaderSpecVersion), get(bus.HeaderContentType), get(bus.HeaderTime), get(HeaderSIPStatus)
	a.backlog = get(HeaderSIPBacklog)
	a.SIP = SIP{
		Type: get(bus.HeaderType), ID: get(bus.HeaderID), Source: get(bus.HeaderSource),
		CallKey: get(bus.HeaderCallKey), TraceParent: get(bus.HeaderTraceParent),
		Transport: get(HeaderSIPTransport), Local: get(HeaderSIPLocal),
		Remote: get(HeaderSIPRemote), Flow: get(HeaderSIPFlow), Edge: get(HeaderSIPEdge),
		Dest: get(HeaderSIPDest), TxKey: get(HeaderSIPTxKey),
		Reason: get(HeaderSIPReason), Header: get(HeaderSIPHeader),
	}
	return a
}

// lowerKeys reports whether every header name is lower case.
func lowerKeys(h nats.Header) bool {
	for k := range h {
		for i := 0; i < len(k); i++ {
			if c := k[i]; c >= 'A' && c <= 'Z' {
				return false
			}
		}
	}
	return true
}

// HeaderValue makes s fit for a NATS header value (and a log line): control
// characters become spaces and it is cut to max bytes (bus.HeaderValue).
func HeaderValue(s string, max int) string { return bus.HeaderValue(s, max) }

// Transports the edges speak, lower case as in the siptransport
// attribute, the sipdest form and location bindings.
const (
	UDP = "udp"
	TCP = "tcp"
	TLS = "tls" // TCP with TLS (RFC 3261 §26, RFC 5630)
	WS  = "ws"  // WebSocket (RFC 7118)
	WSS = "wss" // WebSocket over TLS (RFC 7118)
)

// IsTransport reports one of the transports above.
func IsTransport(t string) bool {
	switch t {
	case UDP, TCP, TLS, WS, WSS:
		return true
	}
	return false
}

// Connected reports a transport whose messages travel over a connection
// (a flow, "<edge>~<n>"): every one but UDP. Connections are reliable:
// no retransmission timers, and responses go back on the same connection.
func Connected(t string) bool { return t != UDP && IsTransport(t) }

// Dest is where a message to send goes: a UDP address, or a connection
// (flow) and the peer address it belongs to, over TCP, TLS, WS or WSS.
type Dest struct {
	Transport string         // UDP, TCP, TLS, WS or WSS
	Addr      netip.AddrPort // invalid for a flow-only destination
	Flow      string         // "<edge>~<n>", or ""
	// Name is the server name a new TLS connection verifies the peer's
	// certificate against (and sends as SNI), when the target was a host
	// name; "" verifies the IP address.
	Name string
}

// String is the sipdest form: "udp:ip:port", "tcp:ip:port",
// "tls:ip:port/flow", "ws:/flow" (a connection whose peer address is not
// known), "tls:ip:port#name" (a TLS server name to verify).
func (d Dest) String() string {
	s := d.Transport + ":"
	if d.Addr.IsValid() {
		s += d.Addr.String()
	}
	if d.Flow != "" {
		s += "/" + d.Flow
	}
	if d.Name != "" {
		s += "#" + d.Name
	}
	return s
}

// FlowEdge is the id of the edge holding a flow ("<edge>~<n>").
func FlowEdge(flow string) string {
	e, _, _ := strings.Cut(flow, "~")
	return e
}

// ParseDest parses the sipdest form. UDP needs an address; a connected
// transport an address, a flow, or both (the flow first; the address when
// the flow is gone). A server name ("#name") is for TLS only.
func ParseDest(s string) (Dest, error) {
	tr, rest, ok := strings.Cut(s, ":")
	if !ok || !IsTransport(tr) {
		return Dest{}, fmt.Errorf("%q: want udp:ip:port, or tcp|tls|ws|wss:[ip:port][/flow]", s)
	}
	rest, name, hasName := strings.Cut(rest, "#")
	addr, flow, _ := strings.Cut(rest, "/")
	d := Dest{Transport: tr, Flow: flow, Name: name}
	if addr != "" {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return Dest{}, fmt.Errorf("%q: %v", s, err)
		}
		d.Addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	switch {
	case tr == UDP && flow != "":
		return Dest{}, fmt.Errorf("%q: a flow is for connections (tcp, tls, ws, wss), not udp", s)
	case !d.Addr.IsValid() && flow == "":
		return Dest{}, fmt.Errorf("%q: an address or a flow is required", s)
	case flow != "" && !validFlow(flow):
		return Dest{}, fmt.Errorf("%q: flow %q is not <edge>~<n>", s, flow)
	case hasName && (tr != TLS || !validServerName(name)):
		return Dest{}, fmt.Errorf("%q: a server name (#name) is a host name, for tls only", s)
	}
	return d, nil
}

// validFlow: "<edge id>~<n>" (edge ids are [A-Za-z0-9_-]).
func validFlow(f string) bool {
	e, n, ok := strings.Cut(f, "~")
	if !ok || e == "" || n == "" {
		return false
	}
	for i := 0; i < len(e); i++ {
		c := e[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// validServerName: a DNS name of letters, digits, '-' and '.'.
func validServerName(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
