package app

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
)

// ErrNoFlow is returned by a Sender when a TCP flow is gone.
var ErrNoFlow = errors.New("edge: no such tcp flow")

// Send transmits a message for another service (the `send` command). A
// response naming its server transaction is stored as the transaction's last
// response before it leaves, so a retransmitted request that reaches any
// edge is answered with it; a request naming a client transaction creates
// it, so retransmitted responses are absorbed.
func (e *Edge) Send(ctx context.Context, req *edgeapi.SendRequest) edgeapi.SendReply {
	rep := edgeapi.SendReply{Edge: e.opt.ID}
	fail := func(status int, format string, args ...any) edgeapi.SendReply {
		rep.Status, rep.Reason = status, fmt.Sprintf(format, args...)
		return rep
	}
	if req.Transport != UDP && req.Transport != TCP {
		return fail(400, "transport: want \"udp\" or \"tcp\", got %q", req.Transport)
	}
	if len(req.Raw) == 0 {
		return fail(400, "raw_b64: empty message")
	}
	m := e.msgs.Get().(*sipmsg.Msg)
	defer e.msgs.Put(m)
	framing := sipmsg.Datagram
	if req.Transport == TCP {
		framing = sipmsg.Stream
	}
	if err := m.Parse(req.Raw, framing); err != nil {
		return fail(400, "raw_b64: not a SIP message: %v", err)
	}
	d := Dest{Transport: req.Transport, Flow: req.Flow}
	if req.Dest != "" {
		ap, err := netip.ParseAddrPort(req.Dest)
		if err != nil {
			return fail(400, "dest: want ip:port: %v", err)
		}
		d.Addr = ap
	}
	if req.Transport == UDP && !d.Addr.IsValid() {
		return fail(400, "dest: required for udp")
	}
	if req.Transport == TCP && !d.Addr.IsValid() && req.Flow == "" {
		return fail(400, "dest or flow: one is required for tcp")
	}
	if req.Transport == UDP && req.Flow != "" {
		return fail(400, "flow: only for tcp")
	}
	ck := req.CallKey
	if ck == "" {
		ck = sipmsg.CallKey(m.CallID())
	}

	stored := ""
	if req.TxKey != "" && !m.Request {
		stored = e.storeResponse(ctx, m, ck, req, d)
	}
	used, err := e.send.Send(ctx, d, req.Raw)
	if err != nil {
		if errors.Is(err, ErrNoFlow) {
			return fail(404, "flow: %s is gone and no dest was given", req.Flow)
		}
		return fail(502, "send to %s: %v", d.String(), err)
	}
	d = used
	rep.Flow = d.Flow
	if req.TxKey != "" && m.Request && m.MethodID != sipmsg.ACK {
		stored = e.createClientTx(ctx, m, ck, req, d)
	}
	e.publishSent(ctx, m, ck, req, d)
	rep.Status, rep.Reason = 200, "OK"
	if stored != "" {
		rep.Reason = "OK; " + stored
	}
	return rep
}

// storeResponse stores a response on its server transaction. It returns ""
// when stored, or why not (the message is still sent).
func (e *Edge) storeResponse(ctx context.Context, m *sipmsg.Msg, ck string, req *edgeapi.SendRequest, d Dest) string {
	cs, _ := m.CSeq()
	invite := cs.Method == "INVITE"
	state := req.TxState
	ttl := time.Duration(req.TxTTLMillis) * time.Millisecond
	switch {
	case m.StatusCode < 200:
		if state == "" {
			state = StateProceeding
		}
		if ttl <= 0 {
			ttl = e.opt.TxTTL
			if invite {
				ttl = e.opt.InviteTxTTL
			}
		}
	default:
		if state == "" {
			state = StateCompleted
			if invite && m.StatusCode < 300 {
				state = StateAccepted // RFC 6026
			}
		}
		if ttl <= 0 {
			ttl = e.opt.TxTTL // Timer H / J / L: 64*T1 plus margin
		}
	}
	sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
	defer cancel()
	ok, err := e.store.SetResponse(sctx, ck, req.TxKey, store.Response{
		Status: m.StatusCode, Raw: append([]byte(nil), req.Raw...), Dest: d.String(), State: state,
	}, ttl)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "transaction not found, response not stored"
	case err != nil:
		e.opt.Log.Warn("store response", "call_key", ck, "err", err)
		return "response not stored: store unavailable"
	case !ok:
		return "a final response was already stored"
	}
	return ""
}

func (e *Edge) createClientTx(ctx context.Context, m *sipmsg.Msg, ck string, req *edgeapi.SendRequest, d Dest) string {
	ttl := time.Duration(req.TxTTLMillis) * time.Millisecond
	state := req.TxState
	if state == "" {
		state = StateTrying
		if m.MethodID == sipmsg.INVITE {
			state = StateCalling
		}
	}
	if ttl <= 0 {
		ttl = e.opt.TxTTL
		if m.MethodID == sipmsg.INVITE {
			ttl = e.opt.InviteTxTTL
		}
	}
	sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
	defer cancel()
	_, _, err := e.store.CreateOrGet(sctx, &store.Tx{
		CallKey: ck, Key: req.TxKey, Kind: store.KindClient, Method: m.Str(m.Method),
		State: state, Edge: e.opt.ID, Source: d.String(),
	}, ttl)
	if err != nil {
		e.opt.Log.Warn("create client transaction", "call_key", ck, "err", err)
		return "client transaction not stored: store unavailable"
	}
	return ""
}
