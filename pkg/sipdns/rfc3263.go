package sipdns

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// resolve runs RFC 3263 §4 on the cache (only) or on DNS.
func (r *Resolver) resolve(ctx context.Context, q Query, only bool) ([]Target, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if ts, ok := Literal(q); ok {
		return ts, nil
	}
	rnd := randFor(q.Seed, r.cfg.Rand)
	tr := q.transport()
	switch {
	case q.Port != 0:
		// §4.1, §4.2: an explicit port: no NAPTR, no SRV.
		return r.addresses(ctx, only, q.Host, tr, q.Port)
	case q.Transport != "":
		// §4.2: the transport is known: SRV for it, else A/AAAA.
		if !r.supported[tr] {
			return nil, fail(q.Host, "", ErrTransport)
		}
		ts, err := r.service(ctx, only, srvName(tr, q.Host), tr, rnd)
		if !noData(err) {
			return ts, err
		}
		return r.addresses(ctx, only, q.Host, tr, DefaultPort(tr))
	}
	ts, err := r.viaNAPTR(ctx, only, q, rnd)
	if err != nil || len(ts) > 0 {
		return ts, err
	}
	// §4.1: no usable NAPTR: SRV for each transport in our preference.
	var none error
	for _, t := range preference(q.Secure) {
		if !r.supported[t] {
			continue
		}
		ts, err := r.service(ctx, only, srvName(t, q.Host), t, rnd)
		switch {
		case err == nil:
			return ts, nil
		case errors.Is(err, ErrNoService):
			none = err
		case !noData(err):
			return nil, err
		}
	}
	if none != nil {
		return nil, none // "decidedly not available" (RFC 2782)
	}
	// No SRV: A/AAAA with the default port of the transport (§4.2).
	if !r.supported[tr] {
		return nil, fail(q.Host, "", ErrTransport)
	}
	return r.addresses(ctx, only, q.Host, tr, DefaultPort(tr))
}

// viaNAPTR follows the NAPTR records of q's host (RFC 3263 §4.1): the
// targets of every usable record of the lowest order, in preference
// order. No targets and no error means: go on without NAPTR.
func (r *Resolver) viaNAPTR(ctx context.Context, only bool, q Query, rnd func(uint64) uint64) ([]Target, error) {
	ans, err := r.lookup(ctx, only, q.Host, dns.TypeNAPTR)
	if noData(err) {
		if errors.Is(err, ErrNXDomain) {
			return nil, err // the domain does not exist: no SRV or A either
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Target
	var firstErr error
	for _, c := range naptrChoices(ans.naptrs, q.Secure, r.supported) {
		ts, err := r.service(ctx, only, c.name, c.transport, rnd)
		if errors.Is(err, errCacheMiss) {
			return nil, err
		}
		if err != nil {
			if firstErr == nil && !noData(err) {
				firstErr = err
			}
			continue
		}
		out = appendTargets(out, ts, r.cfg.MaxTargets)
	}
	if len(out) == 0 && firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// service resolves an SRV name (RFC 2782) to targets: the records in
// priority and weighted order, each target's addresses.
func (r *Resolver) service(ctx context.Context, only bool, name, transport string, rnd func(uint64) uint64) ([]Target, error) {
	ans, err := r.lookup(ctx, only, name, dns.TypeSRV)
	if err != nil {
		return nil, err
	}
	if len(ans.srvs) == 1 && ans.srvs[0].Target == "." {
		return nil, fail(name, "SRV", ErrNoService)
	}
	var out []Target
	var firstErr error
	for _, s := range orderSRV(ans.srvs, rnd) {
		if s.Target == "." || s.Port == 0 {
			continue
		}
		ts, err := r.addresses(ctx, only, s.Target, transport, int(s.Port))
		if errors.Is(err, errCacheMiss) {
			return nil, err
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		out = appendTargets(out, ts, r.cfg.MaxTargets)
	}
	if len(out) == 0 {
		if firstErr == nil {
			firstErr = fail(name, "SRV", ErrNoRecords)
		}
		return nil, firstErr
	}
	return out, nil
}

// addresses resolves a host name to targets on one transport and port:
// the hosts file, else A (and AAAA when configured).
func (r *Resolver) addresses(ctx context.Context, only bool, host, transport string, port int) ([]Target, error) {
	if !r.supported[transport] {
		return nil, fail(host, "", ErrTransport)
	}
	var addrs []netip.Addr
	if hs, ok := r.hosts[strings.ToLower(host)]; ok {
		addrs = hs
	} else {
		ans, err := r.lookup(ctx, only, host, dns.TypeA)
		if err != nil && !noData(err) {
			return nil, err // not cached, or the server failed
		}
		addrs = append(addrs, ans.addrs...)
		if r.cfg.IPv6 && !errors.Is(err, ErrNXDomain) {
			ans6, err6 := r.lookup(ctx, only, host, dns.TypeAAAA)
			if errors.Is(err6, errCacheMiss) || (err6 != nil && !noData(err6) && len(addrs) == 0) {
				return nil, err6
			}
			addrs = append(addrs, ans6.addrs...)
		}
		if len(addrs) == 0 {
			if err == nil {
				err = fail(host, "A", ErrNoRecords)
			}
			return nil, err
		}
	}
	ts := make([]Target, 0, len(addrs))
	for _, a := range addrs {
		if !r.cfg.IPv6 && a.Is6() && !a.Is4In6() {
			continue
		}
		ts = append(ts, Target{Transport: transport, Addr: netip.AddrPortFrom(a.Unmap(), uint16(port)), Name: host})
	}
	if len(ts) == 0 {
		return nil, fail(host, "A", ErrNoRecords)
	}
	return ts, nil
}

// appendTargets appends ts to out without repeating a target, up to max.
func appendTargets(out, ts []Target, limit int) []Target {
	for _, t := range ts {
		if len(out) >= limit {
			break
		}
		dup := false
		for _, o := range out {
			if o.Transport == t.Transport && o.Addr == t.Addr {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}

// preference is the order of transports tried by SRV without NAPTR.
func preference(secure bool) []string {
	if secure {
		return []string{TLS}
	}
	return []string{UDP, TCP, TLS}
}

// srvName is the SRV name of a transport (RFC 3263 §4.1).
func srvName(transport, host string) string {
	switch transport {
	case TLS:
		return "_sips._tcp." + host
	case TCP:
		return "_sip._tcp." + host
	}
	return "_sip._udp." + host
}

// noData reports "the name has nothing of that type": no such domain or
// no records.
func noData(err error) bool {
	return errors.Is(err, ErrNXDomain) || errors.Is(err, ErrNoRecords)
}
