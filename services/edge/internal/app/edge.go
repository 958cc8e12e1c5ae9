// Package app is the edge's core: what happens to each SIP message that
// arrives, and to each message another service asks the edge to send. It
// knows the ports it needs (Sender, Publisher, store.TxStore) only as
// interfaces; the listeners and the NATS endpoint live in package ports.
//
// For every message the edge does, in order:
//
//  1. index it (sipmsg.Parse); unparseable input is dropped and counted;
//  2. sanity-check it in the proxy role (sipmsg.Check); a bad request gets a
//     stateless reply with the status and reason sipmsg names, its to-tag
//     signed so that the ACK is recognised without state; a bad response or
//     a bad ACK is dropped;
//  3. requests: create-or-get the server transaction in the store,
//     atomically. A retransmission is absorbed: the stored last response is
//     resent (or nothing, when none is stored yet). An ACK for a non-2xx
//     final, or for a stateless reply, is absorbed. A new INVITE gets
//     100 Trying at once. Responses: the client transaction (when a
//     service created one through send) absorbs retransmitted finals;
//  4. publish the request, response and transaction events.
//
// The store failing (timeout, Redis down) turns a new request into a
// stateless 503 with Retry-After instead of a hang; the edge needs no
// restart when the store returns.
package app

import (
	"context"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
)

// Server transaction states kept in the store (RFC 3261 §17.2, RFC 6026).
const (
	StateTrying     = "trying"
	StateProceeding = "proceeding"
	StateCompleted  = "completed"
	StateConfirmed  = "confirmed"
	StateAccepted   = "accepted"
	StateTerminated = "terminated"
	StateCalling    = "calling" // client INVITE
)

// Options configure the core.
type Options struct {
	ID           string        // edge id
	Source       string        // CloudEvent source, sipbus/edge/<id>
	TxTTL        time.Duration // non-INVITE transaction life
	InviteTxTTL  time.Duration // INVITE transaction life
	StoreTimeout time.Duration // bound on one store call
	RetryAfter   int           // seconds, in 503 replies; default 5
	Server       string        // Server header of the edge's own replies
	Supported    []string      // option tags (Proxy-Require)
	Signer       *sipmsg.Signer
	Log          *slog.Logger
}

// Edge is the core. It is safe for concurrent use.
type Edge struct {
	opt   Options
	send  Sender
	pub   Publisher
	store store.TxStore
	C     *Counters

	msgs sync.Pool
}

// New returns a core.
func New(opt Options, send Sender, pub Publisher, st store.TxStore, c *Counters) *Edge {
	if opt.RetryAfter <= 0 {
		opt.RetryAfter = 5
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if c == nil {
		c = new(Counters)
	}
	e := &Edge{opt: opt, send: send, pub: pub, store: st, C: c}
	e.msgs.New = func() any { return new(sipmsg.Msg) }
	return e
}

// ID is the edge's id.
func (e *Edge) ID() string { return e.opt.ID }

// Handle processes one received message. It returns when the message has
// been answered, absorbed, dropped or handed to the publisher.
func (e *Edge) Handle(ctx context.Context, p *Packet) {
	m := e.msgs.Get().(*sipmsg.Msg)
	defer e.msgs.Put(m)
	framing := sipmsg.Datagram
	if p.Transport == TCP {
		framing = sipmsg.Stream
	}
	if err := m.Parse(p.Data, framing); err != nil {
		e.C.Dropped.Add(1)
		e.opt.Log.Debug("drop unparseable message", "from", p.Remote, "transport", p.Transport, "err", err)
		return
	}
	if m.Request {
		e.request(ctx, p, m)
	} else {
		e.response(ctx, p, m)
	}
}

func (e *Edge) checkOptions(f sipmsg.Framing) sipmsg.CheckOptions {
	return sipmsg.CheckOptions{Framing: f, Supported: e.opt.Supported, Role: sipmsg.RoleProxy}
}

func (e *Edge) request(ctx context.Context, p *Packet, m *sipmsg.Msg) {
	framing := sipmsg.Datagram
	if p.Transport == TCP {
		framing = sipmsg.Stream
	}
	if f := sipmsg.Check(m, e.checkOptions(framing)); f != nil {
		e.reject(ctx, p, m, f)
		return
	}
	callID := m.CallID()
	ck := sipmsg.CallKey(callID)
	key, err := sipmsg.ServerTxKey(m)
	if err != nil {
		e.reject(ctx, p, m, &sipmsg.Fault{Status: 400, Reason: "Bad Via: no transaction key", Header: sipmsg.HVia})
		return
	}
	if m.MethodID == sipmsg.ACK {
		e.ack(ctx, p, m, ck, key)
		return
	}

	ttl := e.opt.TxTTL
	state := StateTrying
	if m.MethodID == sipmsg.INVITE {
		ttl, state = e.opt.InviteTxTTL, StateProceeding
	}
	src := e.replyDest(p, m)
	tx := &store.Tx{
		CallKey: ck, Key: key, Kind: store.KindServer, Method: m.Str(m.Method),
		State: state, Edge: e.opt.ID, Source: src.String(),
	}
	var trying []byte
	if m.MethodID == sipmsg.INVITE {
		// RFC 3261 §17.2.1: the server transaction answers 100 Trying at
		// once, so the UAC stops retransmitting over UDP. It is stored
		// with the transaction (one round trip), and sent only when this
		// request created it.
		trying = sipmsg.Reply(m, 100, "Trying", e.replyOptions(p, m, ""))
		tx.LastStatus, tx.LastResponse, tx.LastDest = 100, trying, src.String()
	}
	sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
	cur, created, err := e.store.CreateOrGet(sctx, tx, ttl)
	cancel()
	if err != nil {
		e.unavailable(ctx, p, m, "store", err)
		return
	}
	id := requestEventID(ck, key)
	if !created {
		e.retransmission(ctx, p, m, cur, id)
		return
	}
	if trying != nil {
		e.transmit(ctx, src, trying)
	}
	if err := e.publishRequest(ctx, p, m, ck, key, id); err != nil {
		// The transaction exists, the event did not make it: forget the
		// transaction so the UAC's retransmission is treated as new, and
		// tell a reliable-transport UAC to retry later.
		e.opt.Log.Warn("publish request", "call_key", ck, "err", err)
		_ = e.store.Expire(context.WithoutCancel(ctx), ck, key, 0)
		e.unavailable(ctx, p, m, "bus", err)
		return
	}
	e.publishTxCreated(ctx, p, m, ck, key)
}

// retransmission absorbs a request whose transaction exists: resend the last
// response, if any. When none is stored yet, the request event is published
// again with the same id: JetStream drops it as a duplicate unless the first
// publish was lost (an edge died between store and bus), which makes the
// UAC's retransmission the recovery.
func (e *Edge) retransmission(ctx context.Context, p *Packet, m *sipmsg.Msg, cur *store.Tx, id string) {
	e.C.Absorbed.Add(1)
	if cur.LastStatus > 0 && len(cur.LastResponse) > 0 {
		e.transmit(ctx, e.replyDest(p, m), cur.LastResponse)
	}
	if cur.LastStatus < 200 {
		if err := e.publishRequest(ctx, p, m, cur.CallKey, cur.Key, id); err != nil {
			e.opt.Log.Warn("re-publish request", "call_key", cur.CallKey, "err", err)
		}
	}
	e.publishAbsorbed(ctx, p, m, cur)
}

// ack handles an ACK: the ACK for a non-2xx final matches the INVITE server
// transaction and ends it (absorbed); the ACK for a stateless reply carries
// a to-tag we signed (absorbed); any other ACK acknowledges a 2xx, is its own
// transaction end to end, and is published.
func (e *Edge) ack(ctx context.Context, p *Packet, m *sipmsg.Msg, ck, key string) {
	sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
	defer cancel()
	tx, err := e.store.Get(sctx, ck, key)
	switch {
	case err == nil && tx.LastStatus >= 300:
		// Timer I (T4 = 5s for UDP) keeps the transaction to absorb ACK
		// retransmissions.
		_, _ = e.store.UpdateState(sctx, ck, key, []string{StateCompleted}, StateConfirmed, 5*time.Second)
		e.C.Absorbed.Add(1)
		e.publishAbsorbed(ctx, p, m, tx)
		return
	case err != nil && !errors.Is(err, store.ErrNotFound):
		e.opt.Log.Warn("store get for ACK", "call_key", ck, "err", err)
	}
	if e.opt.Signer != nil && e.opt.Signer.IsStatelessACK(m) {
		e.C.Absorbed.Add(1)
		return
	}
	if err := e.publishRequest(ctx, p, m, ck, key, ""); err != nil {
		e.opt.Log.Warn("publish ACK", "call_key", ck, "err", err)
	}
}

// response handles a response. A service that sent the request through this
// platform created a client transaction; a retransmitted final response for
// it is absorbed (except 2xx to INVITE, which the UAC core must see every
// time). Everything else is published.
func (e *Edge) response(ctx context.Context, p *Packet, m *sipmsg.Msg) {
	framing := sipmsg.Datagram
	if p.Transport == TCP {
		framing = sipmsg.Stream
	}
	if f := sipmsg.Check(m, e.checkOptions(framing)); f != nil {
		e.C.Dropped.Add(1)
		e.opt.Log.Debug("drop bad response", "from", p.Remote, "reason", f.Reason)
		return
	}
	ck := sipmsg.CallKey(m.CallID())
	key, err := sipmsg.ClientTxKey(m)
	if err != nil {
		e.C.Dropped.Add(1)
		return
	}
	if m.StatusCode >= 200 {
		sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
		tx, err := e.store.Get(sctx, ck, key)
		if err == nil && tx.Kind == store.KindClient {
			invite2xx := tx.Method == "INVITE" && m.StatusCode < 300
			if tx.LastStatus >= 200 && tx.LastStatus == m.StatusCode && !invite2xx {
				cancel()
				e.C.Absorbed.Add(1)
				e.publishAbsorbed(ctx, p, m, tx)
				return
			}
			state := StateCompleted
			if invite2xx {
				state = StateTerminated
			}
			_, _ = e.store.SetResponse(sctx, ck, key, store.Response{Status: m.StatusCode, Dest: Dest{Transport: p.Transport, Addr: p.Remote, Flow: p.Flow}.String(), State: state}, e.opt.TxTTL)
		}
		cancel()
	}
	if err := e.publishResponse(ctx, p, m, ck, key); err != nil {
		e.opt.Log.Warn("publish response", "call_key", ck, "err", err)
	}
}

// reject answers a bad request statelessly (never an ACK).
func (e *Edge) reject(ctx context.Context, p *Packet, m *sipmsg.Msg, f *sipmsg.Fault) {
	if f.Status == 0 || m.MethodID == sipmsg.ACK {
		e.C.Dropped.Add(1)
		return
	}
	e.C.Rejected.Add(1)
	opt := e.replyOptions(p, m, e.signedTag(m))
	if f.Status == 420 && len(f.Unsupported) > 0 {
		opt.Headers = append(opt.Headers, "Unsupported: "+joinTokens(f.Unsupported))
	}
	raw := sipmsg.Reply(m, f.Status, f.Reason, opt)
	e.transmit(ctx, e.replyDest(p, m), raw)
	e.publishRejected(ctx, p, m, f, raw)
}

// unavailable answers 503 with Retry-After when the store or the bus failed.
func (e *Edge) unavailable(ctx context.Context, p *Packet, m *sipmsg.Msg, what string, err error) {
	e.C.Unavailable.Add(1)
	e.opt.Log.Warn("answering 503", "cause", what, "err", err)
	if m.MethodID == sipmsg.ACK {
		return
	}
	opt := e.replyOptions(p, m, e.signedTag(m))
	opt.Headers = append(opt.Headers, "Retry-After: "+strconv.Itoa(e.opt.RetryAfter))
	e.transmit(ctx, e.replyDest(p, m), sipmsg.Reply(m, 503, "Service Unavailable", opt))
}

func (e *Edge) signedTag(m *sipmsg.Msg) string {
	if e.opt.Signer == nil {
		return ""
	}
	return e.opt.Signer.ToTag(m)
}

func (e *Edge) replyOptions(p *Packet, m *sipmsg.Msg, toTag string) sipmsg.ReplyOptions {
	opt := sipmsg.ReplyOptions{ToTag: toTag, Server: e.opt.Server}
	if v, err := m.TopVia(); err == nil {
		// RFC 3261 §18.2.1: received when sent-by is not the source address;
		// RFC 3581 §4: with rport, received always and rport filled in.
		src := p.Remote.Addr().Unmap()
		if a, err := netip.ParseAddr(v.Host); err != nil || a.Unmap() != src || v.RPort == 0 {
			opt.Received = src.String()
		}
		if v.RPort == 0 {
			opt.RPort = int(p.Remote.Port())
		}
	}
	return opt
}

// replyDest is where responses to m go (RFC 3261 §18.2.2, RFC 3581): the
// same TCP flow; over UDP the source address, with the source port when the
// UAC asked for rport or its Via cannot be read, else the sent-by port.
func (e *Edge) replyDest(p *Packet, m *sipmsg.Msg) Dest {
	if p.Transport == TCP {
		return Dest{Transport: TCP, Addr: p.Remote, Flow: p.Flow}
	}
	d := Dest{Transport: UDP, Addr: p.Remote}
	if v, err := m.TopVia(); err == nil && v.RPort < 0 {
		port := v.Port
		if port == 0 {
			port = 5060
		}
		d.Addr = netip.AddrPortFrom(p.Remote.Addr(), uint16(port))
	}
	return d
}

func (e *Edge) transmit(ctx context.Context, d Dest, b []byte) {
	if _, err := e.send.Send(ctx, d, b); err != nil {
		e.opt.Log.Debug("send", "dest", d.String(), "err", err)
	}
}

// requestEventID is the stable id of the event for a new request: the same
// for every retransmission, so a re-publish is dropped by JetStream's
// Nats-Msg-Id dedupe.
func requestEventID(callKey, txKey string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(txKey))
	var sum [8]byte
	return "rq-" + callKey + "-" + hex.EncodeToString(h.Sum(sum[:0]))
}

func joinTokens(ts []string) string {
	n := 0
	for _, t := range ts {
		n += len(t) + 2
	}
	b := make([]byte, 0, n)
	for i, t := range ts {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, t...)
	}
	return string(b)
}
