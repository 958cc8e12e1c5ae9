package sipdns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxRecords bounds the records taken from one answer.
const maxRecords = 64

// query asks one name and type, following a CNAME chain the answer does
// not complete with further queries (at most maxCNAME names in all). ttl
// is the answer's: the smallest TTL of the records used; for no such
// domain or no records the SOA's (RFC 2308 §5), -1 without a SOA.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (answer, time.Duration, error) {
	typ := dns.TypeToString[qtype]
	seen := map[string]bool{name: true}
	qname := name
	chain := time.Duration(-1)
	for {
		resp, kind, detail := r.exchange(ctx, qname, qtype)
		if kind != nil {
			return answer{}, -1, &Error{Name: Safe(name), Type: typ, Err: kind, Detail: detail}
		}
		ans, next, ttl, err := extract(resp, qname, qtype, seen)
		if err != nil {
			e := &Error{Name: Safe(name), Type: typ, Err: err}
			if qname != name {
				e.Detail = "via CNAME " + Safe(qname)
			}
			return answer{}, ttl, e
		}
		if next == "" {
			return ans, minTTL(chain, ttl), nil
		}
		chain = minTTL(chain, ttl)
		qname = next
	}
}

// exchange sends one question to the servers in turn, twice round at
// most, each attempt bounded (Resolver.attempt) and the whole by ctx; a
// truncated UDP answer is asked again over TCP. An answer other than
// NOERROR or NXDOMAIN moves on to the next server. kind is nil, or
// ErrTimeout, ErrServer or ErrNoServers with a detail.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (resp *dns.Msg, kind error, detail string) {
	if len(r.servers) == 0 {
		return nil, ErrNoServers, ""
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(dns.DefaultMsgSize, false)
	kind = ErrTimeout
	for range 2 {
		for _, s := range r.servers {
			if ctx.Err() != nil {
				return nil, ErrTimeout, detail
			}
			r.Stats.Queries.Add(1)
			m.Id = dns.Id()
			resp, _, err := r.udp.ExchangeContext(ctx, m, s)
			if err == nil && resp.Truncated {
				resp, _, err = r.tcp.ExchangeContext(ctx, m, s)
			}
			switch {
			case err != nil:
				kind, detail = netFault(err, s)
			case resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError:
				kind, detail = ErrServer, "rcode "+dns.RcodeToString[resp.Rcode]+" from "+s
			default:
				return resp, nil, ""
			}
		}
	}
	return nil, kind, detail
}

// netFault classifies a failed exchange: no answer in time, or a server
// that failed (unreachable, a malformed answer).
func netFault(err error, server string) (error, string) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout, "no answer from " + server
	}
	msg := err.Error()
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return ErrServer, Safe(msg)
}

// extract takes the records of qtype owned by qname, or by the end of
// the CNAME chain the answer holds for it. next is set when the chain
// ends at another name with nothing for it and no SOA: that name is to
// be asked. seen holds the names of the chain so far (a loop, or more
// than maxCNAME names, is ErrCNAMELoop). Records of other names,
// classes or types are ignored; so are unusable ones (an SRV target or
// NAPTR replacement that is not a host name, an unspecified or
// multicast address).
func extract(resp *dns.Msg, qname string, qtype uint16, seen map[string]bool) (ans answer, next string, ttl time.Duration, err error) {
	if !resp.Response || len(resp.Question) != 1 || resp.Question[0].Qtype != qtype ||
		resp.Question[0].Qclass != dns.ClassINET || !sameName(resp.Question[0].Name, qname) {
		return answer{}, "", -1, ErrBadAnswer
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return answer{}, "", negativeTTL(resp), ErrNXDomain
	default:
		return answer{}, "", -1, ErrServer
	}
	ttl = -1
	name := qname
	for {
		var cname string
		var cttl uint32
		found := 0
		for _, rr := range resp.Answer {
			h := rr.Header()
			if h.Class != dns.ClassINET || !sameName(h.Name, name) {
				continue
			}
			switch {
			case h.Rrtype == qtype && found < maxRecords:
				if add(&ans, rr) {
					found++
					ttl = minTTL(ttl, seconds(h.Ttl))
				}
			case h.Rrtype == dns.TypeCNAME && cname == "":
				if c, ok := rr.(*dns.CNAME); ok {
					cname, cttl = canonical(c.Target), h.Ttl
				}
			}
		}
		switch {
		case found > 0:
			return ans, "", ttl, nil
		case cname == "":
			if name != qname && negativeTTL(resp) < 0 {
				return answer{}, name, ttl, nil // ask the end of the chain
			}
			return answer{}, "", negativeTTL(resp), ErrNoRecords
		case !validName(cname):
			return answer{}, "", -1, ErrBadAnswer
		case seen[cname] || len(seen) >= maxCNAME:
			return answer{}, "", -1, ErrCNAMELoop
		}
		seen[cname] = true
		ttl = minTTL(ttl, seconds(cttl))
		name = cname
	}
}

// add appends a usable record to ans.
func add(ans *answer, rr dns.RR) bool {
	switch v := rr.(type) {
	case *dns.A:
		a, ok := netip.AddrFromSlice(v.A.To4())
		if !ok || !usable(a) {
			return false
		}
		ans.addrs = append(ans.addrs, a)
	case *dns.AAAA:
		a, ok := netip.AddrFromSlice(v.AAAA.To16())
		if !ok || !usable(a) {
			return false
		}
		ans.addrs = append(ans.addrs, a.Unmap())
	case *dns.SRV:
		t := canonical(v.Target)
		if v.Target != "." && !validName(t) {
			return false
		}
		if v.Target == "." {
			t = "."
		}
		ans.srvs = append(ans.srvs, srv{Priority: v.Priority, Weight: v.Weight, Port: v.Port, Target: t})
	case *dns.NAPTR:
		ans.naptrs = append(ans.naptrs, naptr{
			Order: v.Order, Preference: v.Preference, Flags: v.Flags, Service: v.Service,
			Regexp: v.Regexp, Replacement: canonical(v.Replacement),
		})
	default:
		return false
	}
	return true
}

// usable is an address a request may be sent to.
func usable(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// negativeTTL is the TTL of a negative answer (RFC 2308 §5): the
// smaller of its SOA's TTL and MINIMUM; -1 without a SOA.
func negativeTTL(resp *dns.Msg) time.Duration {
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return seconds(min(soa.Hdr.Ttl, soa.Minttl))
		}
	}
	return -1
}

func seconds(s uint32) time.Duration { return time.Duration(s) * time.Second }

// minTTL is the smaller of two TTLs, -1 standing for none.
func minTTL(a, b time.Duration) time.Duration {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

// canonical is a name lower case without its trailing dot.
func canonical(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }

func sameName(fqdn, name string) bool { return strings.EqualFold(strings.TrimSuffix(fqdn, "."), name) }
