package sipmsg

// This file is the agreed public surface of package sipmsg. Bodies marked
// "stub" are replaced by the implementation; signatures do not change without
// updating every caller.

import (
	"errors"
	"time"
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
	// ContentLength is the parsed Content-Length, or -1 when absent.
	ContentLength int

	inline [InlineHeaders]Header
}

// Msg is one SIP message: raw bytes plus their index. Raw is not copied.
type Msg struct {
	Raw []byte
	Index
}

// Method is a request method known to the model; MethodUnknown otherwise.
type Method uint8

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

// Transport framing modes for Parse.
type Framing uint8

const (
	// Datagram: the message is the whole datagram; a body longer than
	// Content-Length is truncated, no Content-Length means the rest.
	Datagram Framing = iota
	// Stream: the message was framed by Content-Length (see Framer).
	Stream
)

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

func (f *Fault) Error() string { return "sipmsg: " + f.Reason } // stub

// Parse indexes raw into m, reusing m's storage. An error means the message
// cannot even be indexed (garbage, no start line): drop and count it. A
// message that indexes but is not acceptable is reported by Check instead.
func (m *Msg) Parse(raw []byte, f Framing) error { panic("stub") }

// Parse indexes raw into a new Msg.
func Parse(raw []byte, f Framing) (*Msg, error) {
	m := new(Msg)
	return m, m.Parse(raw, f)
}

// Bytes returns the bytes of s.
func (m *Msg) Bytes(s Span) []byte { return m.Raw[s.Off : s.Off+s.Len] }

// Str returns the bytes of s as a string (allocates).
func (m *Msg) Str(s Span) string { return string(m.Bytes(s)) }

// Get returns the first header with id, or false.
func (m *Msg) Get(id HeaderID) (Header, bool) { panic("stub") }

// Value returns the unfolded value of the first header with id ("" when absent).
func (m *Msg) Value(id HeaderID) string { panic("stub") }

// Values returns the unfolded values of every header row with id, in order.
func (m *Msg) Values(id HeaderID) []string { panic("stub") }

// Name returns the canonical long header name ("Via", "Call-ID", ...); "" for HUnknown.
func (id HeaderID) Name() string { panic("stub") }

// LookupHeader maps a header name as written (any case, compact or long) to its ID.
func LookupHeader(name []byte) (id HeaderID, compact bool) { panic("stub") }

// String is the method token ("INVITE"); "" for MethodUnknown.
func (m Method) String() string { panic("stub") }

// CheckOptions tune Check to the role of the element doing the check.
type CheckOptions struct {
	Framing Framing
	// Supported option tags; a Require / Proxy-Require tag outside it gives 420.
	Supported []string
	// Proxy: the element is a proxy (Proxy-Require is checked, Require is not).
	Proxy bool
}

// Check applies the sanity checks (RFC 3261 §8.2, §16.3, RFC 4475, RFC 5118)
// to an indexed message and returns the first fault, or nil.
func Check(m *Msg, opt CheckOptions) *Fault { panic("stub") }

// --- typed views -------------------------------------------------------------

// URI is a parsed SIP, SIPS or other URI.
type URI struct {
	Scheme   string // "sip", "sips", "tel", ... lower case
	User     string // unescaped
	Password string
	Host     string // IPv6 without brackets
	Port     int    // 0 when absent
	Params   Params // uri-parameters, names lower case
	Headers  string // raw ?headers part, escaped as written
	Opaque   string // for non-SIP schemes: everything after "scheme:"
	Raw      string // as written
}

// String renders the URI canonically (brackets around IPv6 hosts).
func (u *URI) String() string { panic("stub") }

// Params is an ordered list of ;name=value parameters (value "" for a flag).
type Params []Param

// Param is one parameter.
type Param struct{ Name, Value string }

// Get returns a parameter's value and whether it is present (names compare case-insensitively).
func (p Params) Get(name string) (string, bool) { panic("stub") }

// ParseURI parses one URI as it appears in a Request-URI or inside <>.
func ParseURI(s string) (URI, error) { panic("stub") }

// NameAddr is a From, To, Contact, Route or Record-Route value.
type NameAddr struct {
	Display string // unquoted display name
	URI     URI
	Params  Params // header parameters (tag, expires, q, lr is a URI param ...)
}

// Tag is the tag parameter ("" when absent).
func (n *NameAddr) Tag() string { v, _ := n.Params.Get("tag"); return v }

// Via is one Via value.
type Via struct {
	Transport string // "UDP", "TCP", ... upper case
	Host      string // IPv6 without brackets
	Port      int    // 0 when absent
	Branch    string
	Received  string // brackets removed
	RPort     int    // -1 absent, 0 present without value
	Params    Params
}

// SentBy is host[:port] as used in transaction keys (IPv6 in brackets).
func (v *Via) SentBy() string { panic("stub") }

// CSeq is the CSeq header.
type CSeq struct {
	Seq    uint32
	Method string
}

// Contact is one Contact value; Star is true for "*".
type Contact struct {
	NameAddr
	Star    bool
	Expires int     // -1 when absent
	Q       float64 // -1 when absent
}

func (m *Msg) RequestURIParsed() (URI, error)    { panic("stub") }
func (m *Msg) Vias() ([]Via, error)              { panic("stub") }
func (m *Msg) TopVia() (Via, error)              { panic("stub") }
func (m *Msg) From() (NameAddr, error)           { panic("stub") }
func (m *Msg) To() (NameAddr, error)             { panic("stub") }
func (m *Msg) CallID() string                    { panic("stub") }
func (m *Msg) CSeq() (CSeq, error)               { panic("stub") }
func (m *Msg) Contacts() ([]Contact, error)      { panic("stub") }
func (m *Msg) Routes() ([]NameAddr, error)       { panic("stub") }
func (m *Msg) RecordRoutes() ([]NameAddr, error) { panic("stub") }

// MaxForwards returns the value, or -1 when absent.
func (m *Msg) MaxForwards() (int, error) { panic("stub") }

// Expires returns the Expires header in seconds, or -1 when absent.
func (m *Msg) Expires() (int, error)  { panic("stub") }
func (m *Msg) Require() []string      { panic("stub") }
func (m *Msg) ProxyRequire() []string { panic("stub") }
func (m *Msg) Supported() []string    { panic("stub") }
func (m *Msg) ContentType() string    { panic("stub") }

// --- transactions, tags, call keys ---------------------------------------------

// MagicCookie starts every RFC 3261 branch.
const MagicCookie = "z9hG4bK"

// ServerTxKey is the server-transaction key of a request (RFC 3261 §17.2.3):
// branch + sent-by + method, ACK matching its INVITE, or the RFC 2543 fallback
// (Request-URI, To tag, From tag, Call-ID, CSeq number, top Via) when the
// branch lacks the magic cookie. Keys are opaque, printable and compact.
func ServerTxKey(m *Msg) (string, error) { panic("stub") }

// ClientTxKey is the client-transaction key of a response (RFC 3261 §17.1.3):
// top Via branch + CSeq method, the key a request sent with that branch has.
func ClientTxKey(m *Msg) (string, error) { panic("stub") }

// RequestClientTxKey is the key of the client transaction a request we send creates.
func RequestClientTxKey(branch string, method string) string { panic("stub") }

// CallKey is the short stable hash of a Call-ID used in subjects and Redis hash
// tags: 16 lower-case hex digits of FNV-1a 64 over the Call-ID bytes. Any
// language can compute it. The empty Call-ID maps to "0000000000000000".
func CallKey(callID string) string { panic("stub") }

// NewBranch returns a fresh RFC 3261 branch (magic cookie + 22 random base32 chars).
func NewBranch() string { panic("stub") }

// NewTag returns a fresh random tag (16 hex digits).
func NewTag() string { panic("stub") }

// Signer makes and recognises the to-tags of stateless replies (the `sl` idea):
// the tag is a keyed hash of Call-ID, From tag, CSeq number and top Via branch,
// so the ACK to a stateless non-2xx reply is recognised by any edge that shares
// the secret, without state.
type Signer struct{ secret []byte }

func NewSigner(secret []byte) *Signer { return &Signer{secret: secret} }

// ToTag returns the signed to-tag for a reply to req.
func (s *Signer) ToTag(req *Msg) string { panic("stub") }

// IsStatelessACK reports whether ack acknowledges a reply whose to-tag s signed.
func (s *Signer) IsStatelessACK(ack *Msg) bool { panic("stub") }

// --- building responses ---------------------------------------------------------

// ReplyOptions add to a response built by Reply.
type ReplyOptions struct {
	ToTag   string   // added to To when the request's To has none (not for 100)
	Headers []string // extra header lines without CRLF, e.g. "Retry-After: 5"
	Server  string   // Server header value; "" for none
}

// Reply builds a response to req per RFC 3261 §8.2.6: Via rows, From, To
// (with ToTag), Call-ID and CSeq copied; Content-Length: 0. The reason is
// written as given after replacing CR, LF and other control characters, so a
// reason built from message content can never inject a header.
func Reply(req *Msg, status int, reason string, opt ReplyOptions) []byte { panic("stub") }

// --- stream framing -------------------------------------------------------------

// Framer splits a byte stream (TCP) into messages by Content-Length.
type Framer struct {
	MaxHeader int // largest header section accepted; default 64 KiB
	MaxBody   int // largest body accepted; default 1 MiB
}

// ErrFrameTooLarge / ErrFrameBad are fatal for the connection.
var (
	ErrFrameTooLarge = errors.New("sipmsg: stream frame too large")
	ErrFrameBad      = errors.New("sipmsg: stream frame malformed")
)

// Next returns the length of the first complete message in buf (leading CRLF
// keep-alives are skipped: skip is how many bytes to drop before it), or n == 0
// when more data is needed.
func (f *Framer) Next(buf []byte) (skip, n int, err error) { panic("stub") }

var _ = time.Second
