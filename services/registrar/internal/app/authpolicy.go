package app

import (
	"regexp"
	"slices"

	"github.com/sipbus/sipbus/pkg/digest"
)

// AuthPolicy decides which digest challenges a client is offered. Every
// client gets Default, in order; a client of a domain in SHA256Domains, or
// whose User-Agent matches one of SHA256UserAgents, gets SHA-256 first,
// then Default without SHA-256 (RFC 8760 §2.3: a client answers the first
// challenge it supports; MD5 stays for one that does not).
//
// SHA-256 is not in Default by default because the clients people have do
// not all follow RFC 8760: sipsak 0.9.8 answers the first challenge
// whatever its algorithm, and baresip 1.0 fails the REGISTER ("Function not
// implemented") when any challenge names SHA-256. The policy moves the
// clients an operator knows to be ready.
type AuthPolicy struct {
	Default          []digest.Algorithm
	SHA256Domains    []string // canonical local domains (lower case)
	SHA256UserAgents []*regexp.Regexp
}

// Offer returns the algorithms to challenge a client of realm (the To
// domain) with, in order. userAgent is the REGISTER's User-Agent ("" when
// it has none).
func (p AuthPolicy) Offer(realm, userAgent string) []digest.Algorithm {
	if !p.sha256First(realm, userAgent) {
		return p.Default
	}
	out := make([]digest.Algorithm, 0, len(p.Default)+1)
	out = append(out, digest.SHA256)
	for _, a := range p.Default {
		if a != digest.SHA256 {
			out = append(out, a)
		}
	}
	return out
}

// Accepted is every algorithm Offer may return: the algorithms Verify must
// accept, Default's first.
func (p AuthPolicy) Accepted() []digest.Algorithm {
	out := slices.Clone(p.Default)
	if (len(p.SHA256Domains) > 0 || len(p.SHA256UserAgents) > 0) && !slices.Contains(out, digest.SHA256) {
		out = append(out, digest.SHA256)
	}
	return out
}

func (p AuthPolicy) sha256First(realm, userAgent string) bool {
	if slices.Contains(p.SHA256Domains, realm) {
		return true
	}
	if userAgent == "" {
		return false
	}
	for _, re := range p.SHA256UserAgents {
		if re.MatchString(userAgent) {
			return true
		}
	}
	return false
}
