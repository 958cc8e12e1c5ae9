// Package app is the edge's core: what happens to each SIP message that
// arrives, and to each message another service asks the edge to send. It
// knows the ports it needs (Sender, Publisher) only as interfaces; the
// listeners and the NATS subscriptions live in package ports. The edge
// keeps no shared state: it talks to NATS only, never to Redis.
//
// Before a message reaches the core, the listeners (package ports) ask
// flood control (Flood) whether its source may send it, drop UDP
// keepalives and answer STUN Binding requests. Then, for every message
// received the edge does, in order:
//
//  1. index it (sipmsg.Parse); unparseable input is dropped and counted;
//  2. sanity-check it in the proxy role (sipmsg.Check); a bad request gets a
//     stateless reply with the status and reason sipmsg names, its to-tag
//     signed so that the ACK is recognised without state, and is published
//     as rejected; a bad response or a bad ACK is dropped;
//  3. requests: look the server transaction up in the edge's own cache
//     (txCache). A retransmission is absorbed: the last response sent for
//     it is sent again, or nothing; it is counted, not published, unless
//     it has waited for an answer longer than Republish (then tm gets it
//     again: the replica that had it may have died). An ACK for a non-2xx
//     final is absorbed and stops Timer G; an ACK for a stateless reply is
//     recognised by its signed to-tag. A new request that starts a dialog
//     is refused with 503 when the edge or a replica behind it is
//     overloaded (admission); a new INVITE gets 100 Trying at once;
//  4. publish the message as a v2 SIP event (events.SIP: the raw bytes,
//     no JSON) on sip.<partition>.in.... Responses are published as they
//     come: tm's record holds the client transactions.
//
// A message to send (a sip.out event, published by tm, the registrar or an
// application) is transmitted as it says; a response naming its server
// transaction becomes that transaction's last response here, and a non-2xx
// final for an INVITE over UDP is retransmitted (Timer G) until its ACK.
//
// The bus failing turns a new request into a stateless 503 with
// Retry-After instead of a hang.
package app

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Options configure the core.
// Tracer starts spans (obs.Tracer): a child of parent (a W3C
// traceparent, "" for a new trace), attributes as key, value pairs; it
// returns the span's traceparent and the function that ends it.
type Tracer interface {
	Start(ctx context.Context, name, parent string, kv ...string) (context.Context, string, func())
}

type Options struct {
	ID     string // edge id
	Source string // CloudEvent source, sipbus/edge/<id>
	// T1 and T4 are RFC 3261's timers (500ms, 5s): Timer G starts at T1
	// and doubles up to T2 = 8*T1; an INVITE transaction lives 64*T1 after
	// a non-2xx final, T4 after its ACK or after a 2xx; a non-INVITE T4
	// after its final or its latest retransmission (txCache).
	T1, T4 time.Duration
	// Republish is how long a request may wait for an answer before its
	// retransmission is handed to the bus again; default 2s.
	Republish time.Duration
	// Pending bounds how long a transaction without a final response is
	// remembered: an INVITE may ring for minutes (default 5m); other
	// requests get 64*T1 plus T4.
	Pending    time.Duration
	CacheMax   int // server transactions remembered at most; default 500,000
	RetryAfter int // seconds, in 503 replies; default 5
	Server     string
	Supported  []string
	Signer     *sipmsg.Signer
	// QueueTarget and QueueInterval drive admission (bus.Overload): new
	// dialogs are shed once datagrams waited QueueTarget or longer on
	// average over two QueueIntervals in a row, until an interval averages
	// under half of it (defaults bus.DefaultQueueTarget and
	// bus.DefaultQueueInterval).
	QueueTarget, QueueInterval time.Duration
	// BusReady reports whether the bus takes events now (connected, and
	// the stream acknowledging); while it does not, new requests get 503
	// with Retry-After. nil: always.
	BusReady func() bool
	// Tracer, when set, traces each message received (a new trace) and
	// each message sent for another service (a child of the event's
	// traceparent); obs.Tracer is one. nil: off.
	Tracer Tracer
	// Flood is the flood control the listeners ask before anything else
	// (nil: none); the core expires it and reports its blocks.
	Flood *Flood
	// Flows counts the open connections, for Snapshot; nil: none.
	Flows func() int
	Log   *slog.Logger
	Now   func() time.Time
}

// Edge is the core. It is safe for concurrent use.
type Edge struct {
	opt   Options
	send  Sender
	pub   Publisher
	C     *Counters
	cache *txCache
	adm   *admission
	ids   idSource

	msgs   sync.Pool
	blocks chan Block // blocks that started, for PublishBlocks

	draining atomic.Bool  // Drain: new dialogs get 503
	lastWork atomic.Int64 // unix ns of the last message of started work (drain.go)
}

type idSource interface{ Next() string }

// New returns a core.
func New(opt Options, send Sender, pub Publisher, ids idSource, c *Counters) *Edge {
	if opt.T1 <= 0 {
		opt.T1 = 500 * time.Millisecond
	}
	if opt.T4 <= 0 {
		opt.T4 = 5 * time.Second
	}
	if opt.Republish <= 0 {
		opt.Republish = 2 * time.Second
	}
	if opt.Pending <= 0 {
		opt.Pending = 5 * time.Minute
	}
	if opt.CacheMax <= 0 {
		opt.CacheMax = 500_000
	}
	if opt.RetryAfter <= 0 {
		opt.RetryAfter = 5
	}
	if opt.QueueTarget <= 0 {
		opt.QueueTarget = bus.DefaultQueueTarget
	}
	if opt.QueueInterval <= 0 {
		opt.QueueInterval = bus.DefaultQueueInterval
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if c == nil {
		c = new(Counters)
	}
	e := &Edge{
		opt: opt, send: send, pub: pub, C: c, ids: ids,
		cache:  newTxCache(opt.CacheMax, opt.Now),
		adm:    newAdmission(opt.QueueTarget, opt.QueueInterval),
		blocks: make(chan Block, 256),
	}
	e.msgs.New = func() any { return new(sipmsg.Msg) }
	return e
}

// ID is the edge's id.
func (e *Edge) ID() string { return e.opt.ID }

// Snapshot reads the counters and the size of the transaction cache.
func (e *Edge) Snapshot() Snapshot {
	s := e.C.Snapshot()
	s.Transactions = e.cache.len()
	s.FloodSources = e.opt.Flood.Len()
	if e.opt.Flows != nil {
		s.Flows = e.opt.Flows()
	}
	return s
}

// Expire drops the transactions whose time has come, and the sources flood
// control no longer needs; the edge's runner calls it every second.
func (e *Edge) Expire() {
	e.cache.expire()
	e.opt.Flood.Expire(e.opt.Now())
}

// Beat records the load report of a replica behind the edge (a tm or
// registrar instance): overloaded until `until`, with the latest window's
// average queueing delay, or no longer (zero until).
func (e *Edge) Beat(service, id string, until time.Time, delay time.Duration) {
	e.adm.beat(service, id, until, delay)
}

// Shedding reports whether some new dialogs for service (ServiceTM,
// ServiceRegistrar) are refused now.
func (e *Edge) Shedding(service string) bool { return e.adm.shedding(e.opt.Now(), service) }

// Load reports the overload control's state for service now.
func (e *Edge) Load(service string) Load { return e.adm.load(e.opt.Now(), service) }

// Handle processes one received message. It returns when the message has
// been answered, absorbed, dropped or handed to the publisher.
func (e *Edge) Handle(ctx context.Context, p *Packet) {
	m := e.msgs.Get().(*sipmsg.Msg)
	defer e.msgs.Put(m)
	if p.Transport == UDP {
		e.adm.observe(p.Queued, p.At.Add(p.Queued))
	}
	if err := m.Parse(p.Data, framing(p.Transport)); err != nil {
		e.C.Dropped.Add(1)
		e.opt.Log.Debug("drop unparseable message", "from", p.Remote, "transport", p.Transport, "err", err)
		return
	}
	e.C.SIP.CountMsg(DirIn, m)
	if m.Request {
		e.request(ctx, p, m)
	} else {
		e.response(ctx, p, m)
	}
}

func framing(transport string) sipmsg.Framing { return sipmsg.FramingOf(transport) }

func (e *Edge) checkOptions(f sipmsg.Framing) sipmsg.CheckOptions {
	return sipmsg.CheckOptions{Framing: f, Supported: e.opt.Supported, Role: sipmsg.RoleProxy}
}

func (e *Edge) request(ctx context.Context, p *Packet, m *sipmsg.Msg) {
	if f := sipmsg.Check(m, e.checkOptions(framing(p.Transport))); f != nil {
		e.reject(ctx, p, m, f)
		return
	}
	ck := sipmsg.CallKey(m.CallID())
	key, err := sipmsg.ServerTxKey(m)
	if err != nil {
		e.reject(ctx, p, m, &sipmsg.Fault{Status: 400, Reason: "Bad Via: no transaction key", Header: sipmsg.HVia})
		return
	}
	if p.Flow != "" {
		e.alias(p, m)
	}
	if m.MethodID == sipmsg.ACK {
		e.ack(ctx, p, m, ck, key)
		return
	}
	now := e.opt.Now()
	if e.retransmission(ctx, p, m, ck, key, now) {
		return
	}
	if e.opt.BusReady != nil && !e.opt.BusReady() {
		e.unavailable(ctx, p, m)
		return
	}
	var g *gate
	if initial(m) {
		if !e.draining.Load() {
			g = e.adm.admit(now, serviceFor(m))
		}
		if g == nil {
			e.C.Shed.Add(1)
			e.refuse(ctx, p, m)
			return
		}
	}
	ent := &txEntry{invite: m.MethodID == sipmsg.INVITE, gate: g, published: now, expires: now.Add(e.pending(m))}
	if ent.invite {
		// RFC 3261 §17.2.1: the server transaction answers 100 Trying at
		// once, so the UAC stops retransmitting over UDP.
		ent.dest = e.replyDest(p, m)
		ent.status, ent.last = 100, sipmsg.Reply(m, 100, "Trying", e.replyOptions(p, m, ""))
		e.transmit(ctx, ent.dest, ent.last)
	}
	e.cache.with(key, func(*txEntry) (*txEntry, bool) { return ent, true })
	if err := e.publishReceived(ctx, p, m, ck); err != nil {
		// Not handed over: forget the transaction so a retransmission is
		// treated as new, and tell the UAC to try again later.
		e.opt.Log.Warn("publish request", "call_key", ck, "err", err)
		e.cache.with(key, func(*txEntry) (*txEntry, bool) { return nil, false })
		e.unavailable(ctx, p, m)
	}
}

// pending is how long a transaction without a final is remembered.
func (e *Edge) pending(m *sipmsg.Msg) time.Duration {
	if m.MethodID == sipmsg.INVITE {
		return e.opt.Pending
	}
	return 64*e.opt.T1 + e.opt.T4
}

// initial reports a request that starts something new (admission may
// refuse it): no To tag, and not ACK or CANCEL.
func initial(m *sipmsg.Msg) bool {
	if m.MethodID == sipmsg.ACK || m.MethodID == sipmsg.CANCEL {
		return false
	}
	to, err := m.To()
	return err != nil || to.Tag() == ""
}

func serviceFor(m *sipmsg.Msg) string {
	if m.MethodID == sipmsg.REGISTER {
		return ServiceRegistrar
	}
	return ServiceTM
}

// retransmission absorbs a request this edge has seen: the last response is
// sent again (not a 2xx to INVITE: RFC 6026 leaves those to the UAS core);
// a request still unanswered after Republish goes to the bus again, since
// the replica handling it may have died. It reports whether m was one.
func (e *Edge) retransmission(ctx context.Context, p *Packet, m *sipmsg.Msg, ck, key string, now time.Time) bool {
	var resend []byte
	known, republish := false, false
	e.cache.with(key, func(ent *txEntry) (*txEntry, bool) {
		if ent == nil {
			return nil, false
		}
		known = true
		if len(ent.last) > 0 && !(ent.invite && ent.status >= 200 && ent.status < 300) {
			resend = ent.last
		}
		if ent.status < 200 && now.Sub(ent.published) >= e.opt.Republish {
			ent.published, republish = now, true
		}
		if !ent.invite && ent.status >= 200 {
			ent.expires = now.Add(e.opt.T4) // the expiry pass re-files it
		}
		return ent, false
	})
	if !known {
		return false
	}
	if resend != nil {
		e.transmit(ctx, e.replyDest(p, m), resend)
	}
	if republish {
		e.C.Republished.Add(1)
		if err := e.publishReceived(ctx, p, m, ck); err != nil {
			e.opt.Log.Warn("re-publish request", "call_key", ck, "err", err)
		}
		return true
	}
	e.C.Absorbed.Add(1)
	return true
}

// ack handles an ACK: the ACK for a non-2xx final matches the INVITE server
// transaction and ends it (absorbed, Timer G stops, Timer I keeps it T4 to
// absorb ACK retransmissions); the ACK for a stateless reply carries a to-tag
// we signed (absorbed); any other ACK acknowledges a 2xx, is its own
// transaction end to end, and is published (an ACK for a non-2xx final sent
// through another edge too: tm absorbs it).
func (e *Edge) ack(ctx context.Context, p *Packet, m *sipmsg.Msg, ck, key string) {
	absorbed := false
	now := e.opt.Now()
	e.cache.with(key, func(ent *txEntry) (*txEntry, bool) {
		if ent == nil || !ent.invite || ent.status < 300 {
			return ent, false
		}
		absorbed = true
		if ent.acked {
			return ent, false
		}
		ent.acked = true
		if ent.timerG != nil {
			ent.timerG.Stop()
		}
		ent.last = nil
		ent.expires = now.Add(e.opt.T4)
		return ent, true
	})
	if absorbed || (e.opt.Signer != nil && e.opt.Signer.IsStatelessACK(m)) {
		e.C.Absorbed.Add(1)
		return
	}
	if err := e.publishReceived(ctx, p, m, ck); err != nil {
		e.opt.Log.Warn("publish ACK", "call_key", ck, "err", err)
	}
}

// response publishes a response. Retransmitted responses are published
// too: the client transactions are tm's (it absorbs them, or forwards a
// retransmitted 2xx without touching its record).
func (e *Edge) response(ctx context.Context, p *Packet, m *sipmsg.Msg) {
	if f := sipmsg.Check(m, e.checkOptions(framing(p.Transport))); f != nil {
		e.C.Dropped.Add(1)
		e.opt.Log.Debug("drop bad response", "from", p.Remote, "reason", f.Reason)
		return
	}
	ck := sipmsg.CallKey(m.CallID())
	if err := e.publishReceived(ctx, p, m, ck); err != nil {
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
	e.transmit(ctx, e.replyDest(p, m), sipmsg.Reply(m, f.Status, f.Reason, opt))
	e.publishRejected(ctx, p, m, f)
}

// refuse answers a new dialog 503 with Retry-After: overload.
func (e *Edge) refuse(ctx context.Context, p *Packet, m *sipmsg.Msg) {
	opt := e.replyOptions(p, m, e.signedTag(m))
	opt.Headers = append(opt.Headers, "Retry-After: "+strconv.Itoa(e.opt.RetryAfter))
	reason := "Service Unavailable"
	if e.draining.Load() {
		reason = "Shutting Down" // this edge drains: another one takes the call
		e.work()                 // traffic still comes here: stay to answer it
	}
	e.transmit(ctx, e.replyDest(p, m), sipmsg.Reply(m, 503, reason, opt))
}

// unavailable answers 503 with Retry-After when the bus failed.
func (e *Edge) unavailable(ctx context.Context, p *Packet, m *sipmsg.Msg) {
	e.C.Unavailable.Add(1)
	if m.MethodID == sipmsg.ACK {
		return
	}
	e.refuse(ctx, p, m)
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
		opt.Received, opt.RPort = sipmsg.ReceivedRPort(v, p.Remote)
	}
	return opt
}

// replyDest is where responses to m go (RFC 3261 §18.2.2, RFC 3581): the
// same connection; over UDP the source address, with the source port when
// the UAC asked for rport or its Via cannot be read, else the sent-by port.
func (e *Edge) replyDest(p *Packet, m *sipmsg.Msg) Dest {
	if p.Flow != "" {
		return Dest{Transport: p.Transport, Addr: p.Remote, Flow: p.Flow}
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
