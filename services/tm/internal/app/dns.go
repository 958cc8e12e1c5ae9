package app

import (
	"context"
	"errors"

	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
)

// Next hops with a domain name (RFC 3263).
//
// A branch's next hop (destinationOf) is resolved by pkg/sipdns into
// targets in order: transport, address, port. A name the resolver holds
// in memory (DNS.Cached) is resolved at once, under the partition's
// lock; any other is looked up off the lane (Lookups): the branch is
// recorded as resolving, nothing is sent, and the lookup's result comes
// back as an input of the call (resolved) that sends it. The record
// holds the targets not tried yet (branch.Alt), so a replica that takes
// the partition over continues the failover; a lookup lost with its
// replica is started again by timerLookup.
//
// Failover (RFC 3263 §4.3): a 503, a Timer B/F timeout or a transport
// error on a branch moves to the next target, as a new client
// transaction: a new branch, with its own branch parameter (RFC 3261
// §16.7 rules). Timer B (64*T1, 32 s) outlasts the caller's own, so an
// INVITE branch with another target to try also fails over when it got
// no response at all within FailoverTimeout (timerFailover; 5 s,
// Kamailio's fr_timer and OpenSIPS's fr_timeout play that part): a live
// next hop answers an INVITE with 100 Trying within 200 ms (RFC 3261
// §8.2.6.1, §16.2), so silence means it is down. Not a non-INVITE: it
// gets no 100 (RFC 4320), silence does not tell a dead target from a
// slow one, and failing over would deliver it twice; it fails over at
// Timer F. The branch left behind stops retransmitting; a late response
// to it is still handled (a 2xx forwarded, a provisional answered by
// CANCEL).
//
// A target that sent nothing at all is passed over for a minute, one
// that answered 503 with Retry-After for that long (at most 5 minutes):
// later calls try it last (downList, this replica's memory; Kamailio's
// dst_blacklist), so a dead primary does not cost every call the
// failover timeout.
//
// A next hop that cannot be resolved ends its branch with a local status
// whose reason names the problem, which goes upstream when no other
// branch does better (hopStatus):
//
//	DNS answered there is nothing there      502 DNS: no such domain pbx.test
//	  (no such domain, no records, SRV ".",   502 DNS: no records for pbx.test
//	  a CNAME loop, a bad answer)             502 DNS: no SIP service at pbx.test
//	DNS did not answer (timeout, SERVFAIL,   503 DNS: timeout resolving pbx.test
//	  no server configured, too many lookups) 503 DNS: server failure resolving pbx.test
//	a URI that cannot be resolved at all     502 Bad next hop (unsupported transport, ...)
//
// 502 (Bad Gateway: the next hop could not be reached) for a definite
// answer, so a caller does not retry elsewhere what DNS denies; 503
// without Retry-After for a DNS that failed, which another proxy may not
// share (RFC 3261 §21.5.4: the client may try another server).

// Timers of a branch beside those of pkg/sipfsm (ptimer.T).
const (
	timerFailover = "fr"  // no response at all from a target with others to try
	timerLookup   = "dns" // a lookup that did not come back (its replica died)
)

// startBranch builds, records and sends one branch (or starts the
// lookup of its next hop). It returns false when the target cannot be
// reached at all (the branch is recorded as failed).
func (e *Engine) startBranch(p *ptx, ck string, m *sipmsg.Msg, fw forward, t Target, fx *effects) bool {
	i := len(p.Branches)
	b := &branch{I: i, Branch: branchID(p.ID, i), Target: t.URI}
	p.Branches = append(p.Branches, b)
	d, err := destinationOf(fw, t, requestURIFor(m, t))
	switch {
	case err != nil:
		return e.branchFailed(p, ck, b, d, err)
	case d.fixed != nil:
		return e.sendBranch(p, ck, m, fw, t, b, []hop{*d.fixed}, fx)
	}
	ts, err, ok := e.cached(d.query)
	switch {
	case !ok:
		return e.lookupBranch(p, ck, b, t, d, fx)
	case err != nil:
		return e.branchFailed(p, ck, b, d, err)
	}
	return e.sendBranch(p, ck, m, fw, t, b, e.down.order(hopsOf(d.query, ts), e.d.Now()), fx)
}

// cached resolves q from memory; without a DNS, IP addresses only.
func (e *Engine) cached(q sipdns.Query) ([]sipdns.Target, error, bool) {
	if e.d.DNS != nil {
		return e.d.DNS.Cached(q)
	}
	if ts, ok := sipdns.Literal(q); ok {
		return ts, nil, true
	}
	return nil, &sipdns.Error{Name: sipdns.Safe(q.Host), Err: sipdns.ErrNoServers}, true
}

func requestURIFor(m *sipmsg.Msg, t Target) string {
	if t.URI != "" {
		return t.URI
	}
	return m.Str(m.RequestURI)
}

// sendBranch sends branch b to the first of hops and keeps the others
// for failover. It returns true (the branch started).
func (e *Engine) sendBranch(p *ptx, ck string, m *sipmsg.Msg, fw forward, t Target, b *branch, hops []hop, fx *effects) bool {
	b.Hop, b.Alt, b.Dst = hops[0], append([]hop(nil), hops[1:]...), nil
	if len(b.Alt) > 0 {
		dst := t
		b.Dst = &dst
	}
	b.Req = e.buildBranch(m, fw, t, b.Branch, b.Hop)
	e.step(p, ck, b, sipfsm.Start, nil, fx)
	if len(b.Alt) > 0 && p.invite() && e.cfg.FailoverTimeout > 0 && e.cfg.FailoverTimeout < 64*e.cfg.Timers.T1 {
		fx.arms = append(fx.arms, arm{timerFailover, b.I, e.cfg.FailoverTimeout})
	}
	return true
}

// lookupBranch records b as resolving and starts the lookup of its next
// hop, after the record is written.
func (e *Engine) lookupBranch(p *ptx, ck string, b *branch, t Target, d destination, fx *effects) bool {
	if e.d.Lookups == nil {
		return e.branchFailed(p, ck, b, d, &sipdns.Error{Name: sipdns.Safe(d.query.Host), Err: sipdns.ErrNoServers})
	}
	dst := t
	b.Resolving, b.Dst = true, &dst
	fx.lookups = append(fx.lookups, lookup{id: p.ID, i: b.I, q: d.query})
	fx.arms = append(fx.arms, arm{timerLookup, b.I, e.cfg.LookupTimeout})
	return true
}

// resolved continues branch i once its next hop's lookup came back (on
// the call's lane): it is sent to the first target, or fails with the
// lookup's error. A branch that ended meanwhile (the call was answered
// elsewhere, cancelled, timed out) is left as it is.
func (e *Engine) resolved(ctx context.Context, ck, id string, i int, ts []sipdns.Target, lerr error) error {
	err := e.update(ctx, ck, id, func(p *ptx, fx *effects) error {
		b := p.branch(i)
		if b == nil || !b.Resolving {
			return nil
		}
		b.Resolving = false
		fx.cancel = append(fx.cancel, armKey{timerLookup, i})
		if !b.pending() {
			return nil
		}
		if p.Final != 0 || p.Cancelled || p.TimedOut {
			b.Status, b.Local = 487, true
			e.complete(p, ck, fx)
			return nil
		}
		m, fw, d, err := e.rebuild(p, *b.Dst)
		if err == nil && lerr == nil && len(ts) == 0 {
			lerr = &sipdns.Error{Name: sipdns.Safe(d.query.Host), Err: sipdns.ErrNoRecords}
		}
		if err == nil {
			err = lerr
		}
		if err != nil {
			e.branchFailed(p, ck, b, d, err)
			e.complete(p, ck, fx)
			return nil
		}
		e.sendBranch(p, ck, m, fw, *b.Dst, b, e.down.order(hopsOf(d.query, ts), e.d.Now()), fx)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // the transaction is gone: nothing waits for the branch
	}
	return err
}

// rebuild recomputes, from the request as received, what a later branch
// to t is built from: the message, its rewrite and its destination.
func (e *Engine) rebuild(p *ptx, t Target) (*sipmsg.Msg, forward, destination, error) {
	m, err := sipmsg.Parse(p.Req, sipmsg.Datagram)
	if err != nil {
		return nil, forward{}, destination{}, err
	}
	fw := e.failoverForward(p)
	d, err := destinationOf(fw, t, requestURIFor(m, t))
	return m, fw, d, err
}

// failover starts branch b's next target after a 503, a timeout or a
// transport error (RFC 3263 §4.3), as a new branch: it reports whether
// one started. Nothing starts once the transaction has its final
// response, was cancelled or timed out (timer C).
func (e *Engine) failover(p *ptx, ck string, b *branch, fx *effects) bool {
	if len(b.Alt) == 0 || b.Dst == nil || p.Final != 0 || p.Cancelled || p.TimedOut {
		return false
	}
	if b.Status == 408 && b.Local && !b.Prov {
		e.down.mark(b.Hop, e.d.Now().Add(downTime), e.d.Now()) // it sent nothing at all
	}
	alt, t := b.Alt, *b.Dst
	b.Alt = nil
	m, err := sipmsg.Parse(p.Req, sipmsg.Datagram)
	if err != nil {
		return false
	}
	nb := &branch{I: len(p.Branches), Branch: branchID(p.ID, len(p.Branches)), Target: b.Target}
	p.Branches = append(p.Branches, nb)
	return e.sendBranch(p, ck, m, e.failoverForward(p), t, nb, alt, fx)
}

// noFirstResponse is timerFailover: branch i, which has another target,
// got no response at all. It stops retransmitting and counts as timed
// out (408), and the next target is tried.
func (e *Engine) noFirstResponse(p *ptx, ck string, i int, fx *effects) {
	b := p.branch(i)
	if b == nil || !b.pending() || b.Prov || p.Final != 0 || p.Cancelled {
		return
	}
	for _, t := range []sipfsm.Timer{sipfsm.A, sipfsm.B, sipfsm.E, sipfsm.F} {
		fx.cancel = append(fx.cancel, armKey{string(t), i})
	}
	b.Status, b.Local = 408, true
	e.failover(p, ck, b, fx)
	e.complete(p, ck, fx)
}

// lookupLost is timerLookup: branch i is still resolving long after its
// lookup should have come back (the replica that ran it died). The
// lookup starts again, once; then the branch fails (503 DNS: timeout).
func (e *Engine) lookupLost(p *ptx, ck string, i int, fx *effects) {
	b := p.branch(i)
	if b == nil || !b.Resolving || !b.pending() || b.Dst == nil {
		return
	}
	_, _, d, err := e.rebuild(p, *b.Dst)
	if err == nil && b.Lookups == 0 && e.d.Lookups != nil {
		b.Lookups++
		fx.lookups = append(fx.lookups, lookup{id: p.ID, i: i, q: d.query})
		fx.arms = append(fx.arms, arm{timerLookup, i, e.cfg.LookupTimeout})
		return
	}
	if err == nil {
		err = &sipdns.Error{Name: sipdns.Safe(d.query.Host), Err: sipdns.ErrTimeout}
	}
	b.Resolving = false
	e.branchFailed(p, ck, b, d, err)
	e.complete(p, ck, fx)
}

// branchFailed ends a branch that could not be sent: its status and
// reason name the problem (hopStatus). It returns false.
func (e *Engine) branchFailed(p *ptx, ck string, b *branch, d destination, err error) bool {
	b.Local = true
	b.Status, b.Reason = hopStatus(err, d.query.Host)
	var de *sipdns.Error
	if errors.As(err, &de) && de.Type != "" {
		// A DNS failure: the adapter logged it when it happened; a
		// cached one is not logged again for every call.
		e.d.Log.Debug("tm: next hop not resolved", "call_key", ck, "next_hop", sipdns.Safe(d.uri), "err", err)
	} else {
		e.d.Log.Info("tm: branch not started", "call_key", ck, "next_hop", sipdns.Safe(d.uri), "err", err)
	}
	return false
}

// hopStatus maps a next hop that cannot be used to the status and
// reason of its branch (see the table above). host is escaped.
func hopStatus(err error, host string) (int, string) {
	host = sipdns.Safe(host)
	switch {
	case errors.Is(err, sipdns.ErrNXDomain):
		return 502, "DNS: no such domain " + host
	case errors.Is(err, sipdns.ErrNoRecords):
		return 502, "DNS: no records for " + host
	case errors.Is(err, sipdns.ErrNoService):
		return 502, "DNS: no SIP service at " + host
	case errors.Is(err, sipdns.ErrCNAMELoop):
		return 502, "DNS: CNAME loop at " + host
	case errors.Is(err, sipdns.ErrBadAnswer):
		return 502, "DNS: bad answer for " + host
	case errors.Is(err, sipdns.ErrTimeout):
		return 503, "DNS: timeout resolving " + host
	case errors.Is(err, sipdns.ErrServer):
		return 503, "DNS: server failure resolving " + host
	case errors.Is(err, sipdns.ErrNoServers):
		return 503, "DNS: no server configured"
	case errors.Is(err, sipdns.ErrBusy):
		return 503, "DNS: too many lookups"
	case errors.Is(err, sipdns.ErrTransport):
		return 502, "Bad next hop: transport not supported"
	}
	return 502, "Bad next hop"
}
