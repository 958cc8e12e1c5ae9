package digest

import (
	"strings"
)

// The client side (RFC 3261 §22.2, RFC 7616 §3.4): tm's uac command
// answers a 401/407 of a next hop with credentials an application gave.

// ParseChallenge reads one WWW-Authenticate or Proxy-Authenticate value.
// realm and nonce are required; qop lists are reduced to "auth" when
// offered (auth-int alone is refused, like an algorithm other than MD5
// and SHA-256: ErrMalformed names it).
func ParseChallenge(value string) (Challenge, error) {
	var ch Challenge
	p := paramParser{s: value}
	p.skipWS()
	scheme := p.token()
	if !strings.EqualFold(scheme, schemeDigest) {
		return ch, malformed("challenge scheme %q: want Digest", truncate(scheme))
	}
	var realm, nonce bool
	for n := 0; ; n++ {
		p.skipWS()
		if p.atEnd() {
			break
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if n == maxParams {
			return ch, malformed("more than %d parameters", maxParams)
		}
		name, val, err := p.param()
		if err != nil {
			return ch, err
		}
		switch name {
		case "realm":
			ch.Realm, realm = val, true
		case "nonce":
			ch.Nonce, nonce = val, true
		case "opaque":
			ch.Opaque = val
		case "algorithm":
			ch.Algorithm = Algorithm(canonicalAlgorithm(val))
		case "stale":
			ch.Stale = strings.EqualFold(val, "true")
		case "qop":
			for _, q := range strings.Split(val, ",") {
				if strings.EqualFold(strings.TrimSpace(q), qopAuth) {
					ch.QOP = qopAuth
				}
			}
			if ch.QOP == "" {
				return ch, malformed("challenge qop %q: auth is not offered", truncate(val))
			}
		}
		p.skipWS()
		if !p.atEnd() {
			if p.s[p.i] != ',' {
				return ch, malformed("parameter %q: want ',' after its value", name)
			}
			p.i++
		}
	}
	if !realm || !nonce {
		return ch, malformed("challenge without realm or nonce")
	}
	if ch.Algorithm != "" && !ch.Algorithm.supported() {
		return ch, malformed("challenge algorithm %q is not supported", truncate(string(ch.Algorithm)))
	}
	return ch, nil
}

// Answer are what Respond needs besides the challenge.
type Answer struct {
	Method, URI string
	User        string
	// HA1 is H(user:realm:password) with the challenge's algorithm
	// (HA1(alg, user, realm, password)).
	HA1    string
	CNonce string // required when the challenge has qop
	NC     uint32 // nonce count; 0 means 1
}

// Respond returns the Authorization / Proxy-Authorization value answering
// ch (RFC 7616 §3.4: qop=auth when offered, else RFC 2069).
func Respond(ch Challenge, a Answer) string {
	alg := ch.Algorithm
	if alg == "" {
		alg = MD5
	}
	nc := a.NC
	if nc == 0 {
		nc = 1
	}
	ncs := ""
	if ch.QOP != "" {
		const hexdig = "0123456789abcdef"
		b := make([]byte, 8)
		for i := 7; i >= 0; i-- {
			b[i] = hexdig[nc&0xf]
			nc >>= 4
		}
		ncs = string(b)
	}
	resp := responseHex(nil, alg, a.HA1, ch.Nonce, ncs, a.CNonce, ch.QOP, a.Method, a.URI)
	var b strings.Builder
	b.WriteString("Digest username=")
	writeQuoted(&b, a.User)
	b.WriteString(", realm=")
	writeQuoted(&b, ch.Realm)
	b.WriteString(", nonce=")
	writeQuoted(&b, ch.Nonce)
	b.WriteString(", uri=")
	writeQuoted(&b, a.URI)
	b.WriteString(", response=\"")
	b.Write(resp)
	b.WriteString("\"")
	if ch.Algorithm != "" {
		b.WriteString(", algorithm=")
		b.WriteString(string(ch.Algorithm))
	}
	if ch.Opaque != "" {
		b.WriteString(", opaque=")
		writeQuoted(&b, ch.Opaque)
	}
	if ch.QOP != "" {
		b.WriteString(", qop=auth, nc=")
		b.WriteString(ncs)
		b.WriteString(", cnonce=")
		writeQuoted(&b, a.CNonce)
	}
	return b.String()
}
