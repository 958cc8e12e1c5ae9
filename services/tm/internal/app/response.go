package app

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
)

// Response handles a response the edge received.
func (e *Engine) Response(ctx context.Context, in *Inbound) error {
	m := in.Msg
	v, err := m.TopVia()
	if err != nil || !e.isSelfHostPort(v.SentBy()) {
		return nil // not ours: nothing to do (a stray response is dropped)
	}
	id, i, ok := parseBranch(v.Branch)
	if !ok {
		return nil
	}
	cs, err := m.CSeq()
	if err != nil || cs.Method == "CANCEL" {
		return nil // the 200 to our CANCEL ends nothing: the 487 does
	}
	err = e.update(ctx, in.CallKey, id, func(p *ptx, fx *effects) error {
		b := p.branch(i)
		if b == nil || cs.Method != p.Method {
			return nil
		}
		fx.cancel = append(fx.cancel, armKey{timerFailover, i}) // the target answers
		input := sipfsm.Recv3xx6xx
		switch {
		case m.StatusCode < 200:
			input = sipfsm.Recv1xx
		case m.StatusCode < 300:
			input = sipfsm.Recv2xx
		}
		if e.step(p, in.CallKey, b, input, m, fx) {
			e.onResponse(p, in.CallKey, b, m, fx)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		e.d.Log.Debug("tm: response for an unknown transaction", "call_key", in.CallKey)
		return nil
	}
	return err
}

// step feeds one input to a branch's client transaction and executes the
// machine's actions; it reports whether the input goes on to the proxy
// (PassToTU). An input the machine does not expect (a stale timer, a
// response in a state that ignores it) changes nothing.
func (e *Engine) step(p *ptx, ck string, b *branch, in sipfsm.Input, resp *sipmsg.Msg, fx *effects) (pass bool) {
	env := sipfsm.Env{Reliable: b.Hop.Transport != "udp", Timers: e.cfg.Timers, Attempt: b.Attempt}
	st, acts, err := sipfsm.Next(p.kind(), b.State, in, env)
	if err != nil {
		return false
	}
	if in.Retransmits() {
		b.Attempt++
	}
	b.State = st
	for _, a := range acts {
		switch a.Kind {
		case sipfsm.SendRequest:
			fx.send(e.branchSend(p, ck, b))
		case sipfsm.SendACK:
			if req, err := sipmsg.Parse(b.Req, sipmsg.Datagram); err == nil && resp != nil {
				fx.send(&edgeapi.Message{Raw: buildACK(req, resp), Dest: b.Hop.dest(), Edge: e.edgeFor(p.Src.Edge), CallKey: ck, CallID: p.CallID})
			}
		case sipfsm.PassToTU:
			pass = true
		case sipfsm.ArmTimer:
			if !byTTL(a.Timer) {
				fx.arms = append(fx.arms, arm{string(a.Timer), b.I, a.After})
			}
		case sipfsm.CancelTimer:
			if !byTTL(a.Timer) {
				fx.cancel = append(fx.cancel, armKey{string(a.Timer), b.I})
			}
		case sipfsm.TimeoutToTU, sipfsm.TransportErrorToTU:
			if b.pending() {
				b.Status, b.Local = 408, true
				e.failover(p, ck, b, fx) // RFC 3263 §4.3: the next target
			}
			e.complete(p, ck, fx)
		}
	}
	return pass
}

// onResponse is the proxy's handling of a branch response (RFC 3261 §16.7).
func (e *Engine) onResponse(p *ptx, ck string, b *branch, m *sipmsg.Msg, fx *effects) {
	code := m.StatusCode
	switch {
	case code < 200:
		b.Prov = true
		if p.invite() && !p.Ringing && p.Final == 0 {
			// Timer C runs from the first provisional (Kamailio's
			// fr_inv_timer); before it, Timer B bounds each branch.
			p.Ringing = true
			fx.arms = append(fx.arms, arm{"C", -1, e.cfg.NoAnswer})
		}
		if p.Cancelled || p.Final != 0 || b.Local {
			e.cancelBranch(p, ck, b, fx) // §16.10 / §16.8: cancel once it can be
		}
		if code == 100 || p.Final != 0 || p.Cancelled {
			return // 100 is hop by hop; nothing after a final or a CANCEL
		}
		e.forwardUp(p, ck, m, "", fx)
		if p.Call != nil && !p.Call.Ringing && (code == 180 || code == 183) {
			p.Call.Ringing = true
			fx.emits = append(fx.emits, e.callRinging(ck, p, code))
		}
	case code < 300:
		if b.pending() {
			b.Status = code
		}
		first := p.Final == 0
		if first {
			p.Final = code
			if p.Ringing {
				fx.cancel = append(fx.cancel, armKey{"C", -1})
			}
		}
		raw := e.forwardUp(p, ck, m, p.ServerKey, fx) // every 2xx goes up (§16.7 step 5)
		if !first || !p.invite() {
			if first {
				p.Last = raw // a non-INVITE's final answers its retransmissions
			}
			return
		}
		for _, o := range p.Branches {
			if o != b {
				e.cancelBranch(p, ck, o, fx)
			}
		}
		if p.Call != nil {
			p.Call.Answered = e.d.Now()
			contact := ""
			if cs, err := m.Contacts(); err == nil && len(cs) > 0 {
				contact = cs[0].URI.String()
			}
			fx.emits = append(fx.emits, e.callAnswered(ck, p, contact))
			d := &dialog{PTx: p.ID, CallID: p.CallID, CallKey: ck, Call: *p.Call}
			fx.dialog = d
			if v, err := json.Marshal(d); err == nil {
				// Written, not compare-and-set: the first 2xx of a call
				// makes it (a second fork's 2xx does not get here).
				fx.ops = append(fx.ops, store.Op{Kind: store.OpPutRecord, CallKey: ck, Key: dialogKey, Value: v, TTL: dialogTTL})
			}
		}
	default:
		if b.pending() {
			b.Status, b.Resp = code, append([]byte(nil), m.Raw...)
			if code == 503 {
				if d, ok := retryAfter(m.Value(sipmsg.HRetryAfter)); ok && len(b.Alt) > 0 {
					e.down.mark(b.Hop, e.d.Now().Add(d), e.d.Now())
				}
				e.failover(p, ck, b, fx) // RFC 3263 §4.3: the next target
			}
		}
		e.complete(p, ck, fx)
	}
}

// complete decides what follows when a branch ended: wait for the others,
// try the next group, run on_failure, or answer upstream.
func (e *Engine) complete(p *ptx, ck string, fx *effects) {
	if p.Final != 0 || !p.allDone() {
		return
	}
	if !p.Cancelled && !p.TimedOut && len(p.Groups) > 0 {
		e.next(p, ck, e.failoverForward(p), fx)
		return
	}
	if of := p.OnFailure; of != nil && !p.Failover && !p.Cancelled {
		p.Failover = true
		switch of.Kind {
		case "relay":
			p.TimedOut, p.Ringing = false, false
			p.Groups = [][]Target{{{NextHop: of.URI}}}
			e.next(p, ck, e.failoverForward(p), fx)
			return
		case "reply":
			e.final(p, ck, of.Code, of.Reason, nil, fx)
			return
		}
	}
	b := p.best()
	switch {
	case p.Cancelled:
		if b != nil && b.Status == 487 && !b.Local {
			e.final(p, ck, 487, "", b, fx)
			return
		}
		e.final(p, ck, 487, "Request Terminated", nil, fx)
	case b == nil:
		e.final(p, ck, 480, "Temporarily Unavailable", nil, fx)
	case b.Local && b.Reason != "":
		e.final(p, ck, b.Status, b.Reason, nil, fx)
	case b.Local:
		e.final(p, ck, b.Status, localReason(b.Status), nil, fx)
	case b.Status == 503:
		e.final(p, ck, 500, "Server Internal Error", nil, fx) // §16.7 step 6
	default:
		e.final(p, ck, b.Status, "", b, fx)
	}
}

// failoverForward recomputes the rewrite of the original request for a
// later branch (serial forking, on_failure, an application's relay, the
// next DNS target, a resolved next hop): our own Route, if any, is
// popped again, the Route left is the next hop, and the loop hash is
// recomputed, as Request did for the first branch.
func (e *Engine) failoverForward(p *ptx) forward {
	fw := forward{from: p.Src}
	m, err := sipmsg.Parse(p.Req, sipmsg.Datagram)
	if err != nil {
		return fw
	}
	fw.loop = e.loopHash(m)
	rs, _ := m.Routes()
	fw.pop, _ = e.popSelf(rs, p.Src.Flow)
	if len(rs) > fw.pop {
		fw.route = rs[fw.pop].URI.String()
	}
	return fw
}

func localReason(code int) string {
	switch code {
	case 408:
		return "Request Timeout"
	case 502:
		return "Bad Gateway"
	}
	return ""
}

// final sends the final response upstream: a branch's response (our Via
// removed) or a local one. It is kept in the record to answer a
// retransmission that reaches tm; a non-2xx final to INVITE over UDP is
// retransmitted by the edge that sends it until its ACK (Timer G).
func (e *Engine) final(p *ptx, ck string, code int, reason string, from *branch, fx *effects) {
	p.Final = code
	if p.Ringing {
		fx.cancel = append(fx.cancel, armKey{"C", -1})
	}
	var raw []byte
	if from != nil {
		if m, err := sipmsg.Parse(from.Resp, sipmsg.Datagram); err == nil {
			raw = stripVia(m)
		}
	}
	if raw == nil {
		req, err := sipmsg.Parse(p.Req, sipmsg.Datagram)
		if err != nil {
			return
		}
		raw = sipmsg.Reply(req, code, reason, sipmsg.ReplyOptions{ToTag: tagFor(p.ServerKey), Server: e.cfg.Name})
	}
	p.Last = raw
	fx.send(e.upstream(p.Src, raw, p.ServerKey, ck, p.CallID))
	if p.Call != nil && code >= 300 {
		fx.emits = append(fx.emits, e.callMissed(ck, p, e.d.Now()))
	}
}

// forwardUp sends a branch response upstream without our Via, and returns it.
func (e *Engine) forwardUp(p *ptx, ck string, m *sipmsg.Msg, txKey string, fx *effects) []byte {
	raw := stripVia(m)
	if raw == nil {
		return nil
	}
	fx.send(e.upstream(p.Src, raw, txKey, ck, p.CallID))
	return raw
}

func stripVia(m *sipmsg.Msg) []byte {
	i := headerIndex(m, sipmsg.HVia)
	if i < 0 {
		return nil
	}
	return m.Edit().RemoveFirst(i).Bytes()
}

// byTTL reports the client transaction timers tm leaves to the record's
// TTL instead of arming them: Timer D (§17.1.1.2), K (§17.1.2.2) and M
// (RFC 6026 §7.2) only take a completed or accepted branch to Terminated,
// so it stops absorbing retransmitted responses. The record outlives all
// three (recordTTL), and a response retransmitted after them finds the
// branch where it was and is absorbed, or for a 2xx forwarded, as the
// proxy core forwards a 2xx that matches no transaction (RFC 6026 §7.2, which
// is how a proxy treats a stray 2xx anyway). Each would cost an
// arm, a claim, a compare-and-set and a done in the store, per branch.
func byTTL(t sipfsm.Timer) bool {
	return t == sipfsm.D || t == sipfsm.K || t == sipfsm.M
}
