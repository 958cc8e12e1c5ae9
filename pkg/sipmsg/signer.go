package sipmsg

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// Signer makes and recognises the to-tags of stateless replies (the `sl` idea):
// the tag is a keyed hash of Call-ID, From tag, CSeq number and top Via branch,
// so the ACK to a stateless non-2xx reply is recognised by any edge that shares
// the secret, without state.
//
// The tag is "sl-" + 20 hex digits of HMAC-SHA256 (80 bits). The ACK for a
// non-2xx response repeats the INVITE's Call-ID, From tag, CSeq number and
// top Via branch (RFC 3261 §17.1.1.3), so the edge recomputes the tag from the
// ACK and compares it with the ACK's To tag in constant time.
//
// A nil Signer, or one with an empty secret, works the same way with an empty
// key: tags are still stable and recognised, but anyone can forge one. The
// only thing a forged tag buys is having an ACK absorbed, so that is safe for
// a single edge or a test; deployments share a random secret.
//
// A Signer is safe for concurrent use; do not copy one after first use.
type Signer struct {
	secret []byte
	pool   sync.Pool // of hash.Hash (HMAC-SHA256 keyed with secret)
}

// NewSigner returns a Signer keyed with secret (not copied).
func NewSigner(secret []byte) *Signer { return &Signer{secret: secret} }

// signedTagPrefix starts every tag a Signer makes.
const signedTagPrefix = "sl-"

// ToTag returns the signed to-tag for a reply to req. Missing or malformed
// parts count as empty, so a tag can be made for any request that gets a reply.
func (s *Signer) ToTag(req *Msg) string {
	var out [len(signedTagPrefix) + 20]byte
	return string(s.appendTag(out[:0], req))
}

// IsStatelessACK reports whether ack acknowledges a reply whose to-tag s signed.
func (s *Signer) IsStatelessACK(ack *Msg) bool {
	if !ack.Request || string(ack.Bytes(ack.Method)) != "ACK" {
		return false
	}
	to, ok := ack.headerRow(HTo)
	if !ok {
		return false
	}
	tag, _ := tagParam(to)
	if len(tag) != len(signedTagPrefix)+20 || !strings.HasPrefix(string(tag), signedTagPrefix) {
		return false
	}
	var out [len(signedTagPrefix) + 20]byte
	return hmac.Equal(s.appendTag(out[:0], ack), tag)
}

func (s *Signer) appendTag(dst []byte, m *Msg) []byte {
	var callID, fromTag []byte
	if b, ok := m.headerRow(HCallID); ok {
		callID = trimLWSBytes(b)
	}
	if b, ok := m.headerRow(HFrom); ok {
		fromTag, _ = tagParam(b)
	}
	var seq uint32
	if c, err := m.CSeq(); err == nil {
		seq = c.Seq
	}
	branch := ""
	if v, err := m.TopVia(); err == nil {
		branch = v.Branch
	}
	mac := s.mac()
	var buf [sha256.Size]byte
	field := func(b []byte) {
		mac.Write(b)
		mac.Write([]byte{0})
	}
	field(callID)
	field(fromTag)
	field(strconv.AppendUint(buf[:0], uint64(seq), 10))
	field([]byte(branch))
	sum := mac.Sum(buf[:0])
	if s != nil {
		s.pool.Put(mac)
	}
	const hex = "0123456789abcdef"
	dst = append(dst, signedTagPrefix...)
	for _, c := range sum[:10] {
		dst = append(dst, hex[c>>4], hex[c&15])
	}
	return dst
}

// mac returns a reset HMAC keyed with the secret, pooled per Signer.
func (s *Signer) mac() hash.Hash {
	if s == nil {
		return hmac.New(sha256.New, nil)
	}
	if h, ok := s.pool.Get().(hash.Hash); ok {
		h.Reset()
		return h
	}
	return hmac.New(sha256.New, s.secret)
}
