package digest

import (
	"crypto/md5" // MD5: the SIP digest algorithm every user agent supports
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Algorithm is a digest algorithm, spelled as in the algorithm parameter.
type Algorithm string

// Supported algorithms.
const (
	MD5    Algorithm = "MD5"
	SHA256 Algorithm = "SHA-256"
)

// Spellings of the -sess variants and of RFC 7616's SHA-512-256, which
// ParseCredentials canonicalizes but Verify rejects (see the package doc).
const (
	md5Sess          = "MD5-sess"
	sha256Sess       = "SHA-256-sess"
	sha512256        = "SHA-512-256"
	sha512256Sess    = "SHA-512-256-sess"
	qopAuth          = "auth"
	qopAuthInt       = "auth-int"
	schemeDigest     = "Digest"
	maxHashHexLength = 64
)

// knownAlgorithms are the names ParseCredentials rewrites to this spelling.
var knownAlgorithms = []string{string(MD5), string(SHA256), md5Sess, sha256Sess, sha512256, sha512256Sess}

// canonicalAlgorithm returns the canonical spelling of a known algorithm
// name (compared case-insensitively) and any other name as it is.
func canonicalAlgorithm(s string) string {
	for _, k := range knownAlgorithms {
		if strings.EqualFold(s, k) {
			return k
		}
	}
	return s
}

// supported reports whether Verify and HA1 handle a.
func (a Algorithm) supported() bool { return a == MD5 || a == SHA256 }

// hexLen is the length of a's digest in hex digits.
func (a Algorithm) hexLen() int {
	if a == MD5 {
		return md5.Size * 2
	}
	return sha256.Size * 2
}

// sumHex appends the lower-case hex digest of data under a to dst. a must
// be supported.
func (a Algorithm) sumHex(dst, data []byte) []byte {
	if a == MD5 {
		s := md5.Sum(data)
		return hex.AppendEncode(dst, s[:])
	}
	s := sha256.Sum256(data)
	return hex.AppendEncode(dst, s[:])
}

// HA1 returns H(username ":" realm ":" password) in lower-case hex, the
// value a subscriber directory stores instead of the password. It returns
// "" for an algorithm other than MD5 and SHA-256.
func HA1(alg Algorithm, username, realm, password string) string {
	if !alg.supported() {
		return ""
	}
	b := make([]byte, 0, len(username)+len(realm)+len(password)+2)
	b = append(b, username...)
	b = append(b, ':')
	b = append(b, realm...)
	b = append(b, ':')
	b = append(b, password...)
	return string(alg.sumHex(nil, b))
}

// responseHex appends the expected response to dst (RFC 7616 §3.4.1 with
// HA2 of §3.4.3 for qop=auth; RFC 2069 when qop is empty):
//
//	HA2      = H(method ":" uri)
//	qop=auth : H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)
//	no qop   : H(HA1 ":" nonce ":" HA2)
func responseHex(dst []byte, alg Algorithm, ha1, nonce, nc, cnonce, qop, method, uri string) []byte {
	var buf [384]byte
	b := append(buf[:0], method...)
	b = append(b, ':')
	b = append(b, uri...)
	var ha2buf [maxHashHexLength]byte
	ha2 := alg.sumHex(ha2buf[:0], b)

	b = append(buf[:0], ha1...)
	b = append(b, ':')
	b = append(b, nonce...)
	b = append(b, ':')
	if qop != "" {
		b = append(b, nc...)
		b = append(b, ':')
		b = append(b, cnonce...)
		b = append(b, ':')
		b = append(b, qop...)
		b = append(b, ':')
	}
	b = append(b, ha2...)
	return alg.sumHex(dst, b)
}

// isHex reports whether s is non-empty and made of hex digits only.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
