package sipmsg

// This file holds the message model: spans, the header index, errors and the
// accessors. Parsing is in parse.go, header names in headers.go, checks in
// check.go.

import (
	"errors"
)

// Span is a byte range of Msg.Raw. The zero Span is empty.
type Span struct {
	Off uint32 `json:"off"`
	Len uint32 `json:"len"`
}

// HeaderID identifies a header the model knows by name; HUnknown otherwise.
type HeaderID uint8

// Known headers. Compact forms (RFC 3261 §7.3.3 and extensions) map to these.
const (
	HUnknown HeaderID = iota
	HVia
	HFrom
	HTo
	HCallID
	HCSeq
	HContact
	HMaxForwards
	HContentLength
	HContentType
	HContentEncoding
	HRoute
	HRecordRoute
	HRequire
	HProxyRequire
	HSupported
	HUnsupported
	HExpires
	HMinExpires
	HAllow
	HAuthorization
	HProxyAuthorization
	HWWWAuthenticate
	HProxyAuthenticate
	HPath
	HDate
	HSubject
	HEvent
	HAllowEvents
	HReferTo
	HReferredBy
	HUserAgent
	HServer
	HAccept
	HTimestamp
	HRetryAfter
	HSessionExpires
	HAcceptContact
	HRejectContact
	HRequestDisposition
	HIdentity
	HIdentityInfo
	numHeaderIDs
)

// Header is one header line (a header field row; a comma-separated list in one
// row is one Header). Value excludes leading and trailing LWS but may contain
// line folding (CRLF followed by SP/HTAB), which typed views unfold.
type Header struct {
	ID      HeaderID
	Compact bool // written in compact form ("v", "m", "i", ...)
	Name    Span
	Value   Span
}

// InlineHeaders is how many header lines an Index holds without allocating.
const InlineHeaders = 48

// Index locates the parts of one message inside its raw bytes.
type Index struct {
	Request    bool
	Method     Span // request: method token
	MethodID   Method
	RequestURI Span // request: Request-URI as written
	Version    Span // "SIP/2.0" (either side of the start line)
	StatusCode int  // response: status code
	Reason     Span // response: reason phrase (may be empty)
	Headers    []Header
	Body       Span
	// Terminated is false when the header section had no empty line.
	Terminated bool
	// ContentLength is the parsed Content-Length, CLAbsent (-1) when there
	// is none, or CLInvalid (-2) when it is negative, not a number, too
	// large, or given twice with different values (Check reports it).
	ContentLength int

	inline [InlineHeaders]Header
}

// Content-Length states other than a value (see Index.ContentLength).
const (
	CLAbsent  = -1
	CLInvalid = -2
)

// Msg is one SIP message: raw bytes plus their index. Raw is not copied.
type Msg struct {
	Raw []byte
	Index
}

// Method is a request method known to the model; MethodUnknown otherwise.
type Method uint8

// Methods of RFC 3261 and its extensions.
const (
	MethodUnknown Method = iota
	INVITE
	ACK
	BYE
	CANCEL
	REGISTER
	OPTIONS
	PRACK
	SUBSCRIBE
	NOTIFY
	PUBLISH
	INFO
	REFER
	MESSAGE
	UPDATE
)

// Framing is the transport framing a message arrived with (see Parse).
type Framing uint8

// Framing modes.
const (
	// Datagram: the message is the whole datagram; a body longer than
	// Content-Length is truncated, no Content-Length means the rest.
	Datagram Framing = iota
	// Stream: the message was framed by Content-Length (see Framer).
	Stream
)

// FramingOf is the framing of messages received over a transport, named
// as in Via in any case ("udp", "TCP", "tls", "ws", "wss", "sctp"): Stream
// for the byte streams framed by Content-Length (TCP, TLS, SCTP), Datagram
// for the rest (UDP datagrams, and WebSocket messages: one SIP message per
// message, RFC 7118 §5).
func FramingOf(transport string) Framing {
	if len(transport) == 3 || len(transport) == 4 {
		var lc [4]byte
		for i := 0; i < len(transport); i++ {
			lc[i] = lowerByte(transport[i])
		}
		switch string(lc[:len(transport)]) {
		case "tcp", "tls", "sctp":
			return Stream
		}
	}
	return Datagram
}

// Errors returned by Parse when a message cannot be indexed at all (drop it).
var (
	ErrEmpty          = errors.New("sipmsg: empty message")
	ErrBadStartLine   = errors.New("sipmsg: malformed start line")
	ErrBadHeaderLine  = errors.New("sipmsg: malformed header line")
	ErrTooManyHeaders = errors.New("sipmsg: too many header lines")
	ErrTooLarge       = errors.New("sipmsg: message too large")
)

// Fault says what is wrong with a parseable message and how a server answers
// it. Status 0 means: drop silently (e.g. a response that cannot be routed).
type Fault struct {
	Status      int      // 400, 416, 420, 481, 483, 501, 505, 513 ...
	Reason      string   // reason phrase naming the problem, e.g. "Missing Call-ID"
	Unsupported []string // option tags for a 420 Unsupported header
	Header      HeaderID // the header at fault, when one is
}

// Error makes a Fault usable as an error.
func (f *Fault) Error() string { return "sipmsg: " + f.Reason }

// Parse indexes raw into a new Msg.
func Parse(raw []byte, f Framing) (*Msg, error) {
	m := new(Msg)
	return m, m.Parse(raw, f)
}

// Bytes returns the bytes of s.
func (m *Msg) Bytes(s Span) []byte { return m.Raw[s.Off : s.Off+s.Len] }

// Str returns the bytes of s as a string (allocates).
func (m *Msg) Str(s Span) string { return string(m.Bytes(s)) }
