package sipdns

import (
	"math/rand/v2"
	"sort"
	"strings"
)

// naptr is one NAPTR record as RFC 3263 §4.1 uses it.
type naptr struct {
	Order, Preference uint16
	Flags, Service    string
	Regexp            string
	Replacement       string // a domain name, lower case, no trailing dot
}

// srv is one SRV record (RFC 2782).
type srv struct {
	Priority, Weight, Port uint16
	Target                 string // lower case, no trailing dot; "." = no service
}

// choice is a transport and the SRV name a NAPTR record points to.
type choice struct {
	transport string
	name      string
}

// services maps the NAPTR services RFC 3263 §4.1 defines to transports.
// SIP+D2S (SCTP) and SIP(S)+D2W (WebSocket, RFC 7118 §6) name
// transports a proxy does not open; they are discarded as unsupported.
var services = map[string]struct {
	transport string
	secure    bool
}{
	"SIP+D2U":  {UDP, false},
	"SIP+D2T":  {TCP, false},
	"SIPS+D2T": {TLS, true},
}

// naptrChoices keeps the usable records (RFC 3263 §4.1): flag "s", no
// regular expression, a service whose transport the client supports
// (SIPS services only for a sips: URI), a replacement that is a domain
// name. Of those it keeps the lowest order only (RFC 3403 §4.1: a later
// order is not considered once one matched), sorted by preference; ties
// keep the answer's order. Repeated replacements count once.
func naptrChoices(recs []naptr, secure bool, supported map[string]bool) []choice {
	var keep []naptr
	for _, r := range recs {
		s, ok := services[strings.ToUpper(r.Service)]
		switch {
		case !ok || !supported[s.transport] || (secure && !s.secure):
		case !strings.EqualFold(r.Flags, "s") || r.Regexp != "" || !validName(r.Replacement):
		default:
			keep = append(keep, r)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	sort.SliceStable(keep, func(i, j int) bool {
		if keep[i].Order != keep[j].Order {
			return keep[i].Order < keep[j].Order
		}
		return keep[i].Preference < keep[j].Preference
	})
	var out []choice
	seen := map[string]bool{}
	for _, r := range keep {
		if r.Order != keep[0].Order {
			break
		}
		c := choice{transport: services[strings.ToUpper(r.Service)].transport, name: r.Replacement}
		if !seen[c.transport+"|"+c.name] {
			seen[c.transport+"|"+c.name] = true
			out = append(out, c)
		}
	}
	return out
}

// orderSRV orders SRV records as RFC 2782 says: by priority, lowest
// first; within one priority by a weighted random draw, repeated on the
// records not drawn yet (records of weight 0 first in the running sum,
// so they are drawn rarely unless all weights are 0). rnd returns a
// number in [0, n).
func orderSRV(recs []srv, rnd func(n uint64) uint64) []srv {
	sorted := append([]srv(nil), recs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Priority < sorted[j].Priority })
	out := make([]srv, 0, len(sorted))
	for start := 0; start < len(sorted); {
		end := start
		for end < len(sorted) && sorted[end].Priority == sorted[start].Priority {
			end++
		}
		out = append(out, drawWeighted(sorted[start:end], rnd)...)
		start = end
	}
	return out
}

// drawWeighted is RFC 2782's selection within one priority.
func drawWeighted(group []srv, rnd func(n uint64) uint64) []srv {
	left := make([]srv, 0, len(group))
	for _, r := range group { // weight 0 first
		if r.Weight == 0 {
			left = append(left, r)
		}
	}
	for _, r := range group {
		if r.Weight != 0 {
			left = append(left, r)
		}
	}
	out := make([]srv, 0, len(group))
	for len(left) > 0 {
		var total uint64
		for _, r := range left {
			total += uint64(r.Weight)
		}
		// A number in [0, total]; the first record whose running sum
		// reaches it is drawn. When every weight left is 0 the list's
		// order ("any order") would decide alone: draw uniformly.
		k := len(left) - 1
		if total == 0 {
			k = int(rnd(uint64(len(left))))
		} else {
			pick := rnd(total + 1)
			var sum uint64
			for i, r := range left {
				sum += uint64(r.Weight)
				if sum >= pick {
					k = i
					break
				}
			}
		}
		out = append(out, left[k])
		left = append(left[:k], left[k+1:]...)
	}
	return out
}

// randFor is the random source of one resolution: seeded by q.Seed, or
// the shared generator.
func randFor(seed uint64, shared func(n uint64) uint64) func(n uint64) uint64 {
	if seed == 0 {
		return shared
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(n uint64) uint64 { return r.Uint64N(n) }
}
