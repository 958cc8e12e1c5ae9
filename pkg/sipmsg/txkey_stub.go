package sipmsg

// Stubs owned by the transaction-key/reply work: replace bodies, keep signatures.

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
