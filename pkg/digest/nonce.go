package digest

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"time"
)

// Nonce layout; see the package doc.
const (
	nonceTSLen   = 8
	nonceRandLen = 16
	nonceMACLen  = 32
	nonceBodyLen = nonceTSLen + nonceRandLen
	nonceRawLen  = nonceBodyLen + nonceMACLen
)

// nonceEncoding is base64url without padding, strict: the two unused bits
// of the last character must be zero, so each nonce has one spelling (the
// nonce-count record is keyed by the spelling).
var nonceEncoding = base64.RawURLEncoding.Strict()

// nonceLen is the length of an encoded nonce (75).
var nonceLen = nonceEncoding.EncodedLen(nonceRawLen)

// newNonce mints a nonce issued at now.
func (a *Authenticator) newNonce(now time.Time) string {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:nonceTSLen], uint64(now.UnixMilli()))
	_, _ = rand.Read(raw[nonceTSLen:nonceBodyLen]) // never fails (Go 1.24+)
	a.mac(raw[nonceBodyLen:nonceBodyLen], raw[:nonceBodyLen])
	return nonceEncoding.EncodeToString(raw[:])
}

// checkNonce returns when nonce was issued, or false when it is not a
// nonce minted with this secret for this realm.
func (a *Authenticator) checkNonce(nonce string) (time.Time, bool) {
	if len(nonce) != nonceLen {
		return time.Time{}, false
	}
	var raw [nonceRawLen + 2]byte // Decode may write up to DecodedLen
	n, err := nonceEncoding.Decode(raw[:], []byte(nonce))
	if err != nil || n != nonceRawLen {
		return time.Time{}, false
	}
	var want [nonceMACLen]byte
	if !hmac.Equal(a.mac(want[:0], raw[:nonceBodyLen]), raw[nonceBodyLen:nonceRawLen]) {
		return time.Time{}, false
	}
	ms := int64(binary.BigEndian.Uint64(raw[:nonceTSLen]))
	return time.UnixMilli(ms), true
}

// mac appends HMAC-SHA256(secret, body || realm) to dst.
func (a *Authenticator) mac(dst, body []byte) []byte {
	m := a.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(body)
	m.Write(a.realmB)
	dst = m.Sum(dst)
	a.macs.Put(m)
	return dst
}
