package sipmsg

import (
	"crypto/rand"
	"crypto/sha256"
	"strconv"
	"strings"
)

// Transaction keys
//
// Keys are opaque, printable ASCII strings without spaces or braces (they go
// into Redis key names next to a {callkey} hash tag), at most maxKeyLen
// bytes. Their forms, for reading logs only:
//
//	s:<branch>|<sent-by>|<method>   server transaction, RFC 3261 §17.2.3
//	c:<branch>|<method>             client transaction, RFC 3261 §17.1.3
//	sh:<32 hex> / ch:<32 hex>       the same, hashed (long or unusual bytes)
//	s2:<32 hex>                     server transaction, RFC 2543 fallback
//
// Method is the request method with ACK mapped to INVITE: an ACK for a non-2xx
// final response belongs to the INVITE transaction (§17.2.3: "the method of
// the request matches the one that created the transaction, except for ACK,
// where the method of the request that created the transaction is INVITE").
// CANCEL keeps its own method, so it has its own transaction; the INVITE it
// cancels is found with ServerTxKeyFor(cancel, "INVITE") (§9.2).
//
// RFC 2543 fallback (top Via branch without the magic cookie): a SHA-256 over
// Request-URI (as written), From tag, Call-ID, CSeq number, top Via sent-by
// and branch (if any), the method (ACK as INVITE) and, for methods other than
// INVITE and ACK, the To tag. The To tag is left out for INVITE/ACK because
// the ACK for a non-2xx carries the To tag of our response, which the INVITE
// did not have; §17.2.3 matches that ACK by the response's tag, which a
// stateless key cannot know, and the other fields already make the key
// unique for one INVITE.

// MagicCookie starts every RFC 3261 branch.
const MagicCookie = "z9hG4bK"

// maxKeyLen is the longest key kept readable; longer keys are hashed.
const maxKeyLen = 100

// ServerTxKey is the server-transaction key of a request (RFC 3261 §17.2.3):
// branch + sent-by + method, ACK matching its INVITE, or the RFC 2543 fallback
// (Request-URI, To tag, From tag, Call-ID, CSeq number, top Via) when the
// branch lacks the magic cookie. Keys are opaque, printable and compact.
//
// An ACK gets the key of the INVITE it acknowledges, so a lookup finds the
// INVITE transaction when the ACK is for a non-2xx final response. An ACK
// for a 2xx has a new branch and finds nothing: it is end-to-end, not part
// of a transaction, and must never create one.
func ServerTxKey(m *Msg) (string, error) {
	if !m.Request {
		return "", ErrNotRequest
	}
	return serverTxKey(m, m.Bytes(m.Method))
}

// ServerTxKeyFor is the server-transaction key m would have if its method
// were method: ServerTxKeyFor(cancel, "INVITE") finds the INVITE transaction a
// CANCEL targets (RFC 3261 §9.2); ACK maps to INVITE as in ServerTxKey.
func ServerTxKeyFor(m *Msg, method string) (string, error) {
	if !m.Request {
		return "", ErrNotRequest
	}
	return serverTxKey(m, []byte(method))
}

func serverTxKey(m *Msg, method []byte) (string, error) {
	if string(method) == "ACK" {
		method = []byte("INVITE")
	}
	via, err := m.TopVia()
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(via.Branch, MagicCookie) {
		var buf [128]byte
		b := append(buf[:0], "s:"...)
		b = append(b, via.Branch...)
		b = append(b, '|')
		b = via.appendSentBy(b)
		b = append(b, '|')
		b = append(b, method...)
		return finishKey(b, "sh:"), nil
	}
	return rfc2543Key(m, &via, method)
}

func rfc2543Key(m *Msg, via *Via, method []byte) (string, error) {
	from, err := m.From()
	if err != nil {
		return "", err
	}
	cseq, err := m.CSeq()
	if err != nil {
		return "", err
	}
	toTag := ""
	if string(method) != "INVITE" {
		to, err := m.To()
		if err != nil {
			return "", err
		}
		toTag = to.Tag()
	}
	h := sha256.New()
	var buf [128]byte
	field := func(b []byte) {
		h.Write(b)
		h.Write([]byte{0})
	}
	field(trimLWSBytes(m.Bytes(m.RequestURI)))
	field([]byte(toTag))
	field([]byte(from.Tag()))
	field([]byte(m.CallID()))
	field(strconv.AppendUint(buf[:0], uint64(cseq.Seq), 10))
	field(via.appendSentBy(buf[:0]))
	field([]byte(via.Branch))
	field(method)
	return hashKey("s2:", h.Sum(buf[:0])), nil
}

// ResponseServerTxKey is the key of the server transaction a response
// answers, from its top Via and CSeq method: what a proxy computes after
// removing its own Via (RFC 3261 §16.7 step 3) to find the transaction the
// response goes upstream on. It works for RFC 3261 branches only; an RFC 2543
// key needs the request itself.
func ResponseServerTxKey(m *Msg) (string, error) {
	if m.Request {
		return "", ErrNotResponse
	}
	via, err := m.TopVia()
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(via.Branch, MagicCookie) {
		return "", fault(ErrBadVia, "no RFC 3261 branch in top Via", via.Branch)
	}
	cseq, err := m.CSeq()
	if err != nil {
		return "", err
	}
	method := cseq.Method
	if method == "ACK" {
		method = "INVITE"
	}
	var buf [128]byte
	b := append(buf[:0], "s:"...)
	b = append(b, via.Branch...)
	b = append(b, '|')
	b = via.appendSentBy(b)
	b = append(b, '|')
	b = append(b, method...)
	return finishKey(b, "sh:"), nil
}

// ClientTxKey is the client-transaction key of a response (RFC 3261 §17.1.3):
// top Via branch + CSeq method, the key a request sent with that branch has.
func ClientTxKey(m *Msg) (string, error) {
	if m.Request {
		return "", ErrNotResponse
	}
	via, err := m.TopVia()
	if err != nil {
		return "", err
	}
	if via.Branch == "" {
		return "", fault(ErrBadVia, "no branch in top Via", "")
	}
	cseq, err := m.CSeq()
	if err != nil {
		return "", err
	}
	return RequestClientTxKey(via.Branch, cseq.Method), nil
}

// RequestClientTxKey is the key of the client transaction a request we send
// creates: the key ClientTxKey gives its responses. ACK maps to INVITE (an ACK
// for a non-2xx is part of the INVITE client transaction).
func RequestClientTxKey(branch string, method string) string {
	if method == "ACK" {
		method = "INVITE"
	}
	var buf [128]byte
	b := append(buf[:0], "c:"...)
	b = append(b, branch...)
	b = append(b, '|')
	b = append(b, method...)
	return finishKey(b, "ch:")
}

// finishKey returns b as the key when it is short and made of safe bytes,
// otherwise a hash of it with the given prefix.
func finishKey(b []byte, hashPrefix string) string {
	if len(b) <= maxKeyLen && safeKey(b) {
		return string(b)
	}
	sum := sha256.Sum256(b)
	return hashKey(hashPrefix, sum[:])
}

// safeKey reports whether every byte is printable ASCII other than a brace.
func safeKey(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '{' || c == '}' {
			return false
		}
	}
	return true
}

// hashKey is prefix + 32 hex digits of the first 16 bytes of sum.
func hashKey(prefix string, sum []byte) string {
	const hex = "0123456789abcdef"
	var buf [8 + 32]byte
	b := append(buf[:0], prefix...)
	for _, c := range sum[:16] {
		b = append(b, hex[c>>4], hex[c&15])
	}
	return string(b)
}

func trimLWSBytes(b []byte) []byte {
	for len(b) > 0 && isLWSByte(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isLWSByte(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// CallKey is the short stable hash of a Call-ID used in subjects and Redis hash
// tags: 16 lower-case hex digits of FNV-1a 64 over the Call-ID bytes. Any
// language can compute it. The empty Call-ID maps to "0000000000000000".
func CallKey(callID string) string {
	if callID == "" {
		return "0000000000000000"
	}
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(callID); i++ {
		h ^= uint64(callID[i])
		h *= prime64
	}
	const hex = "0123456789abcdef"
	var buf [16]byte
	for i := 15; i >= 0; i-- {
		buf[i] = hex[h&15]
		h >>= 4
	}
	return string(buf[:])
}

// NewBranch returns a fresh RFC 3261 branch (magic cookie + 22 random base32
// chars, 110 bits from crypto/rand).
func NewBranch() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var r [22]byte
	rand.Read(r[:]) // never fails (crypto/rand, Go 1.24+)
	var buf [len(MagicCookie) + 22]byte
	b := append(buf[:0], MagicCookie...)
	for _, c := range r {
		b = append(b, alphabet[c&31])
	}
	return string(b)
}

// NewTag returns a fresh random tag (16 hex digits, 64 bits from crypto/rand).
func NewTag() string {
	const hex = "0123456789abcdef"
	var r [8]byte
	rand.Read(r[:]) // never fails (crypto/rand, Go 1.24+)
	var buf [16]byte
	for i, c := range r {
		buf[2*i], buf[2*i+1] = hex[c>>4], hex[c&15]
	}
	return string(buf[:])
}
