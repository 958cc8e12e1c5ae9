// Package ports runs tm's inputs: the SIP messages of the partitions this
// replica owns (core NATS subscriptions on the stream's subjects), the
// deadlines of their transactions (Scheduler), the results of the DNS
// lookups of next hops (Input.Lookup), partition ownership (Members),
// edge liveness and load beats, and the application command endpoint.
package ports

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/services/tm/internal/app"
)

// Input feeds the engine. Each owned partition is one core NATS
// subscription on sip.<p>.in.> (the edges publish every received message
// there; the stream keeps it for replay at the same time, so one publish
// serves the log and tm). There are no acknowledgements: a message a
// replica does not get (it died, the partition moved) is repaired by SIP's
// own retransmissions and by the new owner's timers, as a lost datagram
// is.
//
// Each partition's messages are handled on its subscription's goroutine,
// one at a time, in the order the edges published them, under the
// partition's lock, which a due deadline of one of its transactions takes
// too: the inputs of one call never run at once, so the engine works on its
// in-memory transactions without locks of its own, and no message waits
// for a hand-off to another goroutine. Partitions run in parallel. A DNS
// lookup (which may take seconds) runs on a goroutine of its own, outside
// every lock; its result comes back under the partition's lock, like a
// due deadline.
//
// Overload (CoDel-style, bus.Overload): when messages reach tm QueueTarget
// or more after the edge received them (the edge's time attribute), on
// average over two QueueIntervals in a row, the replica is overloaded: it answers new requests 503
// with Retry-After at once instead of routing them (the caller gets an
// answer, admitted calls keep the CPU), and says so in its beat, so the
// edges refuse new dialogs before they reach it.
type Input struct {
	nc    *nats.Conn
	eng   *app.Engine
	opt   InputOptions
	log   *slog.Logger
	sch   *Scheduler
	edge  *EdgeTable
	load  bus.Overload
	beat  *bus.Beater
	parts [bus.Partitions]partition
	wg    sync.WaitGroup // due deadlines being handled

	mu   sync.Mutex
	core bus.Core
	subs map[string]bus.Sub // partition -> subscription

	skipRegister bool

	Stats InputStats

	// Handover (handover.go): messages held while the replica leaves.
	handover atomic.Bool
	hmu      sync.Mutex
	held     []*nats.Msg
	schOnce  sync.Once

	// decision observes the seconds each SIP event took from decode to
	// the engine's decision carried out (store written, sends queued).
	decision atomic.Pointer[observer]
}

type observer struct{ Observer }

// SetDecision makes o observe the decision latency (any time, running or
// not; nil stops it).
func (in *Input) SetDecision(o Observer) {
	if o == nil {
		in.decision.Store(nil)
		return
	}
	in.decision.Store(&observer{o})
}

// InputStats count what the input did.
type InputStats struct {
	Messages, Timers, Lookups, Shed, Stale, Skipped, Bad, Failed atomic.Uint64
	// HandedOver counts messages a leaving replica passed on to this one.
	HandedOver atomic.Uint64
	// Transactions counts new requests handed to the engine (a new server
	// transaction each; retransmissions the edge absorbed never get here).
	Transactions atomic.Uint64
}

// Tracer starts spans (obs.Tracer).
type Tracer interface {
	Start(ctx context.Context, name, parent string, kv ...string) (context.Context, string, func())
}

// SpanDecide is the span of tm handling one SIP event.
const SpanDecide = "tm.decide"

// Observer takes one measurement (a prometheus.Histogram is one).
type Observer interface{ Observe(float64) }

// InputOptions tune the input.
type InputOptions struct {
	ID            string        // tm instance id (beats)
	QueueTarget   time.Duration // default bus.DefaultQueueTarget
	QueueInterval time.Duration // default bus.DefaultQueueInterval
	Timeout       time.Duration // per input; default 5s
	T1            time.Duration // non-INVITE requests older than 64*T1 are dropped; default 500ms
	DNS           Resolver      // resolves next hops for Lookup; nil: lookups fail
	// Tracer, when set, makes each SIP event that carries a traceparent a
	// span (SpanDecide) whose traceparent the messages and events it
	// causes carry. nil: off.
	Tracer Tracer
	Log    *slog.Logger
	// Core subscribes to the partitions; default bus.NATS(nc). In
	// `sipbus up` the process's bus.Local, so the edge's messages arrive
	// in-process.
	Core bus.Core
}

// Resolver resolves a next hop from DNS (adapters.DNS).
type Resolver interface {
	Resolve(ctx context.Context, q sipdns.Query) ([]sipdns.Target, error)
}

var _ app.Lookups = (*Input)(nil)

// NewInput builds the input; Members subscribes it to partitions. sch is
// the engine's scheduler, whose callback must be the input's Due.
func NewInput(nc *nats.Conn, eng *app.Engine, sch *Scheduler, edges *EdgeTable, opt InputOptions) *Input {
	if opt.QueueTarget <= 0 {
		opt.QueueTarget = bus.DefaultQueueTarget
	}
	if opt.QueueInterval <= 0 {
		opt.QueueInterval = bus.DefaultQueueInterval
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Second
	}
	if opt.T1 <= 0 {
		opt.T1 = 500 * time.Millisecond
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Core == nil {
		opt.Core = bus.NATS(nc)
	}
	in := &Input{
		nc: nc, eng: eng, opt: opt, log: opt.Log, edge: edges, sch: sch,
		core:         opt.Core,
		subs:         make(map[string]bus.Sub),
		skipRegister: eng.AlwaysRegistrar("REGISTER"),
		load:         bus.Overload{Target: opt.QueueTarget, Interval: opt.QueueInterval},
	}
	in.beat = &bus.Beater{NC: nc, Service: "tm", ID: opt.ID, Load: &in.load}
	return in
}

// Acquire subscribes to partition p and schedules the deadlines its
// previous owner left in the store (idx nil: subscribe only).
func (in *Input) Acquire(ctx context.Context, p string, idx store.IndexStore) error {
	in.mu.Lock()
	if _, ok := in.subs[p]; !ok {
		sub, err := in.core.Subscribe(bus.PartitionInFilter(p), in.onMsg)
		if err != nil {
			in.mu.Unlock()
			return err
		}
		in.subs[p] = sub
	}
	in.mu.Unlock()
	if idx == nil {
		return nil
	}
	return in.LoadDeadlines(ctx, p, idx)
}

// LoadDeadlines schedules the deadlines of partition p's calls that its
// previous owner left in the store.
func (in *Input) LoadDeadlines(ctx context.Context, p string, idx store.IndexStore) error {
	entries, err := idx.IndexRange(ctx, app.DeadlineIndex(p), 1<<62)
	if err != nil {
		return err
	}
	for _, e := range entries {
		ck, id, ok := strings.Cut(e.Member, "|")
		if ok {
			in.sch.Schedule(ck, id, time.UnixMilli(e.Score))
		}
	}
	return nil
}

// Flush makes sure the NATS server has every subscription made so far.
func (in *Input) Flush(ctx context.Context) error { return in.nc.FlushWithContext(ctx) }

// Release unsubscribes from partition p and forgets its calls: their
// records stay in the store for the new owner.
func (in *Input) Release(p string) {
	in.mu.Lock()
	sub := in.subs[p]
	delete(in.subs, p)
	in.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	drop := func(ck string) bool { return bus.Partition(ck) == p }
	in.sch.Forget(drop)
	in.eng.Forget(drop)
}

// Owned lists the partitions subscribed to.
func (in *Input) Owned() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]string, 0, len(in.subs))
	for p := range in.subs {
		out = append(out, p)
	}
	return out
}

// onMsg runs on a partition's subscription goroutine: it handles the
// message under the partition's lock.
//
// The handover flag is read under the partition's lock: BeginHandover sets
// it, then takes every partition's lock once, so past that barrier no
// message is being handled and every later one is held (a message that
// read the flag before it was set, and took the lock after the barrier,
// would otherwise be handled while the replica writes what it holds and
// leaves).
func (in *Input) onMsg(m *nats.Msg) {
	// sip.<p>.in.<req.<method>|res.<class>|bad>; the call is the callkey
	// attribute
	subj := m.Subject
	if in.skipRegister {
		if strings.HasSuffix(subj, ".in.req.REGISTER") {
			in.Stats.Skipped.Add(1)
			return // the registrar consumes REGISTER itself
		}
	}
	ck := bus.CallKeyOf(m.Header)
	part := &in.parts[partitionOf(ck)]
	part.entered.Add(1)
	defer part.entered.Add(-1)
	part.mu.Lock()
	defer part.mu.Unlock()
	if in.handover.Load() {
		in.hold(m)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), in.opt.Timeout)
	defer cancel()
	if err := in.handle(ctx, m, part); err != nil {
		in.Stats.Failed.Add(1)
		in.log.Warn("tm: input", "subject", subj, "err", err)
	}
}

func partitionOf(ck string) int {
	if i := bus.PartitionIndex(bus.Partition(ck)); i >= 0 {
		return i
	}
	return 0
}

// Due is the scheduler's callback: a transaction's deadline came. It runs
// on a goroutine of its own, under the partition's lock.
func (in *Input) Due(ck, id string) {
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		in.Stats.Timers.Add(1)
		in.onLane(ck, "tm: timer", func(ctx context.Context) error { return in.eng.Due(ctx, ck, id) })
	}()
}

// Lookup implements app.Lookups: it resolves q on a goroutine of its
// own, outside every lock, then runs done under the partition's lock.
// Without a resolver the lookup fails (sipdns.ErrNoServers).
func (in *Input) Lookup(ck string, q sipdns.Query, done func(ctx context.Context, ts []sipdns.Target, err error) error) {
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		in.Stats.Lookups.Add(1)
		var ts []sipdns.Target
		err := error(&sipdns.Error{Name: sipdns.Safe(q.Host), Err: sipdns.ErrNoServers})
		if in.opt.DNS != nil {
			ctx, cancel := context.WithTimeout(context.Background(), in.opt.Timeout)
			ts, err = in.opt.DNS.Resolve(ctx, q)
			cancel()
		}
		in.onLane(ck, "tm: lookup", func(ctx context.Context) error { return done(ctx, ts, err) })
	}()
}

// onLane runs fn under the partition's lock of call ck, as the call's
// messages run, with the input's timeout.
func (in *Input) onLane(ck, what string, fn func(ctx context.Context) error) {
	in.OnCall(ck, func() {
		ctx, cancel := context.WithTimeout(context.Background(), in.opt.Timeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			in.Stats.Failed.Add(1)
			in.log.Warn(what, "call_key", ck, "err", err)
		}
	})
}

// OnCall runs fn under the partition lock of call key ck, as the call's
// messages and due deadlines run: the engine keeps its in-memory
// transactions without locks of its own, so whatever else works on them
// (an application's command, commands.go) must hold this lock too.
func (in *Input) OnCall(ck string, fn func()) {
	mu := &in.parts[partitionOf(ck)].mu
	mu.Lock()
	defer mu.Unlock()
	fn()
}

var msgPool = sync.Pool{New: func() any { return new(sipmsg.Msg) }}

// handle decodes one SIP event of partition part and gives it to the
// engine.
func (in *Input) handle(ctx context.Context, m *nats.Msg, part *partition) error {
	s, err := events.DecodeSIP(m)
	if err != nil {
		in.Stats.Bad.Add(1)
		in.log.Debug("tm: not a SIP event", "subject", m.Subject, "err", err)
		return nil
	}
	now := time.Now()
	waited := s.Waited(now)
	// A message a leaving replica passed on (handover.go) waited in its
	// hand-over, not in a queue of this replica: it says nothing of this
	// replica's load, and the edge admitted it (it may have answered 100
	// Trying already), so it is not shed either.
	passed := m.Header.Get(HandoverHeader) != ""
	// A request the edge rejected itself (sip.<p>.in.bad: a 503 it shed,
	// a malformed request) is a record to keep, already answered: its wait
	// is not counted either. Counted, the edge's shedding fed tm's own
	// overload signal (every shed request one more late input), which
	// kept the edge shedding: in a REGISTER ramp, which tm does not
	// handle, these records were tm's only inputs.
	rejected := s.Type == events.TypeMessageRejected
	if passed {
		in.Stats.HandedOver.Add(1)
	}
	if !passed && !rejected && in.load.Observe(waited, now) {
		in.beat.Beat()
	}
	in.Stats.Messages.Add(1)
	if !passed && !s.Time.IsZero() {
		low := s.Low()
		part.low.Store(low.UnixNano())
		part.at.Store(now.UnixNano())
		in.edge.Input(s.Edge, low)
	} else {
		in.edge.Seen(s.Edge)
	}
	framing := sipmsg.FramingOf(s.Transport)
	msg := msgPool.Get().(*sipmsg.Msg)
	defer msgPool.Put(msg) // the engine keeps copies of what it needs, never the Msg
	if err := msg.Parse(s.Raw, framing); err != nil {
		in.Stats.Bad.Add(1)
		return nil
	}
	if in.opt.Tracer != nil && s.TraceParent != "" {
		var tp string
		var end func()
		ctx, tp, end = in.opt.Tracer.Start(ctx, SpanDecide, s.TraceParent, "sipbus.callkey", s.CallKey, "sipbus.tm", in.opt.ID, "cloudevents.event_type", s.Type)
		ctx = bus.WithTraceParent(ctx, tp)
		defer end()
	}
	inb := &app.Inbound{
		Msg: msg, CallKey: s.CallKey, Event: s,
		Src: app.Source{Transport: s.Transport, Remote: s.Remote, Flow: s.Flow, Edge: s.Edge},
	}
	if msg.Request {
		inb.Src.Reply = edgeapi.ReplyDest(msg, s.Transport, s.Remote, s.Flow)
		if inb.TxKey, err = sipmsg.ServerTxKey(msg); err != nil {
			in.Stats.Bad.Add(1)
			return nil
		}
	}
	err = in.dispatch(ctx, s, inb, waited, passed)
	if o := in.decision.Load(); o != nil {
		o.Observe(time.Since(now).Seconds())
	}
	if errors.Is(err, store.ErrInvalid) {
		in.log.Warn("tm: input refused by the store", "call_key", s.CallKey, "err", err)
		return nil
	}
	return err
}

func (in *Input) dispatch(ctx context.Context, s *events.SIP, inb *app.Inbound, waited time.Duration, passed bool) error {
	m := inb.Msg
	switch s.Type {
	case events.TypeResponseReceived:
		return in.eng.Response(ctx, inb)
	case events.TypeMessageRejected:
		return in.eng.Rejected(ctx, inb, s.Status)
	case events.TypeRequestReceived:
	default:
		return nil
	}
	if newRequest(m) {
		if m.MethodID != sipmsg.INVITE && waited > 64*in.opt.T1 {
			in.Stats.Stale.Add(1)
			return nil // the client transaction timed out (Timer F): nobody waits for it
		}
		if !passed && in.load.Backstop(waited, in.opt.T1) {
			in.Stats.Shed.Add(1)
			return in.eng.Shed(ctx, inb)
		}
		in.Stats.Transactions.Add(1)
	}
	return in.eng.Request(ctx, inb)
}

// newRequest is a request that starts something (no To tag; not ACK or
// CANCEL): what overload control may refuse.
func newRequest(m *sipmsg.Msg) bool {
	if m.MethodID == sipmsg.ACK || m.MethodID == sipmsg.CANCEL {
		return false
	}
	to, err := m.To()
	return err != nil || to.Tag() == ""
}

// Load is this replica's overload detector: the latest input's queueing
// delay (from the edge's arrival stamp to its handling), and whether it
// holds.
func (in *Input) Load() *bus.Overload { return &in.load }

// Beats publishes this replica's beat (with its load) until ctx ends.
func (in *Input) Beats(ctx context.Context) { in.beat.Run(ctx) }

// drainSubs unsubscribes every partition and waits (until ctx ends) for
// the messages already received to be handed to the handlers.
func (in *Input) drainSubs(ctx context.Context) {
	in.mu.Lock()
	subs := make([]bus.Sub, 0, len(in.subs))
	for p, sub := range in.subs {
		subs = append(subs, sub)
		delete(in.subs, p)
	}
	in.mu.Unlock()
	for _, sub := range subs {
		_ = sub.Drain()
	}
	for _, sub := range subs {
		for sub.IsValid() && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Stop unsubscribes every partition, lets the messages already received
// and the deadlines being handled finish, and stops the scheduler.
func (in *Input) Stop() {
	in.drainSubs(context.Background())
	in.stopScheduler()
	in.wg.Wait()
}

// Lag is how late the replica handles its inputs now: the average wait of
// the latest window of the overload detector (zero after a pause).
func (in *Input) Lag() time.Duration { return in.load.Mean() }

// partition is one partition's lock, under which its inputs, deadlines
// and commands run, and where its queue stands (Behind): the latest input
// handled (its edge's low watermark, events.SIP.Low: unix ns before which
// the edge had published everything it received; and unix ns it was
// handled), and the inputs its subscription passed to onMsg that are not
// handled yet.
type partition struct {
	mu               sync.Mutex
	low, at, entered atomic.Int64
}

// behindMin is the least backlog of an edge (its latest input handled
// here, from the watermark it carried to when it was handled) that holds
// a retransmission back when nothing waits on the call's partition:
// under it the wait is a collection or a commit window, not a queue a
// response may stand in.
const behindMin = 20 * time.Millisecond

// Looking again whether a partition caught up (Behind): at least lookMin
// on (each look writes the transaction's record: its timer moved), at
// most lookMax.
const (
	lookMin = 10 * time.Millisecond
	lookMax = 250 * time.Millisecond
)

// Behind implements app.Deps.Behind from the partitions' marks and
// subscriptions and the edges' marks (EdgeTable). A partition's inputs
// are handled in the order an edge published them, and each carries the
// edge's low watermark (events.SIP.Low): when the partition's latest
// input handled carried one at or after t, everything that edge received
// before t has been handled: not behind. Else behind while an input
// waits on the partition (its subscription holds one, or one it passed
// on waits for the partition's lock). With nothing waiting here, a
// response received before t may still wait at an edge: behind while
// some edge's freshest watermark, from an input of any partition, is
// before t, unless that edge had no backlog (its latest input handled
// under behindMin after its watermark) or nothing came from it since for
// longer than that backlog (quiet: it has drained). A partition's own
// quiet says nothing: under load a partition may see no input for half a
// second while the edge's queues hold a 200 for it (round 31). Once an
// edge's watermark passed t, what it published for the partition before
// it is in the partition's subscription, counted as waiting (with several
// tm processes on NATS, a message still on the wire is not: T2 bounds
// the hold). Behind, look again once the queue, handling inputs as fast
// as they came, would reach the ones received at t (one look mostly).
func (in *Input) Behind(ck string, t time.Time) time.Duration {
	p := partitionOf(ck)
	m := &in.parts[p]
	queued := int(m.entered.Load())
	in.mu.Lock()
	sub := in.subs[bus.PartitionToken(p)]
	in.mu.Unlock()
	if sub != nil {
		if n, _, err := sub.Pending(); err == nil {
			queued += n
		}
	}
	var buf [8]queueMark
	return behind(queueMark{m.low.Load(), m.at.Load()}, t.UnixNano(), time.Now().UnixNano(), queued, in.edge.appendMarks(buf[:0]))
}

// behind is Behind for a partition whose latest input handled carried the
// low watermark part.low and was handled at part.at, with queued inputs
// waiting, and the edges' marks, for a retransmission due at t, now
// (unix ns).
func behind(part queueMark, t, now int64, queued int, edges []queueMark) time.Duration {
	if part.low >= t {
		return 0
	}
	if queued > 0 {
		return look(part, t, now)
	}
	for _, e := range edges {
		if e.low >= t {
			continue // published everything it received before t
		}
		if wait := time.Duration(e.at - e.low); wait < behindMin || time.Duration(now-e.at) > wait {
			continue // no backlog, or quiet since: drained
		}
		return look(e, t, now)
	}
	return 0
}

// look is when to look again for a queue whose latest input carried the
// watermark m.low and was handled at m.at: when, handling inputs as fast
// as they came, it would reach the ones received at t.
func look(m queueMark, t, now int64) time.Duration {
	if m.low == 0 {
		return lookMin
	}
	return min(max(time.Duration(t-m.low-(now-m.at)), lookMin), lookMax)
}
