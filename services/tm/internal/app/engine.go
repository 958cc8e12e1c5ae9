// Package app is tm's decision core, the heir of SER's tm module (t_relay,
// t_reply, failure_route, fr_inv_timer) with its state kept outside the
// process: every proxy transaction, with its pending timers, is a versioned
// record in the store, so any tm replica can continue any transaction.
//
// The Engine turns one input (a request, a response, a due deadline) into a
// change of the transaction plus effects: messages for the edges, call
// events. The replica that owns the call's partition holds the transaction
// in memory (ptxCache); the store is written, not read, on the common path
// (see update for what is written when). Client transactions follow the
// pure machines of package sipfsm (RFC 3261 §17, RFC 6026); the proxy logic
// around them is RFC 3261 §16:
//
//   - route: loose routing (§16.4), Max-Forwards (483), loop detection (482,
//     §16.3 step 4), then the route table for out-of-dialog requests;
//   - forward (§16.6): Via with a branch that names the proxy transaction,
//     Record-Route ;lr on dialog-creating requests (two when the request
//     crosses transports or connections, RFC 5658, with flow tokens; see
//     rroute.go), Path of the binding as Route, the binding's received
//     address for contacts behind NAT or over a connection;
//   - next hops with a domain name (RFC 3263, dns.go): resolved through
//     pkg/sipdns, from its cache under the lane or by a lookup off it;
//     failover to the next target on 503, timeout or no response (a new
//     branch per target), the targets left kept in the record;
//   - fork: parallel to the contacts of the highest q, serially to lower q;
//   - responses (§16.7): provisionals forwarded while no final was sent,
//     every 2xx forwarded (and the other branches cancelled), non-2xx kept
//     until every branch ended, then on_failure or the best response (6xx,
//     else the lowest class; 503 becomes 500);
//   - CANCEL (§16.10): 200 at once, CANCEL every branch that had a
//     provisional (the others when their first provisional arrives), 487
//     upstream from the branches' answers;
//   - timers: A/B and E/F of each branch, the no-answer timer C (the
//     fr_inv_timer heir: CANCEL downstream, 408 upstream), kept in the
//     record; the Scheduler holds each transaction's next deadline;
//   - retransmissions that reach tm (the edge that saw the answer did not
//     get them) are answered from the transaction: the final again, or 100
//     Trying; never relayed again;
//   - ACK for 2xx: forwarded statelessly along Route (§16.11); the ACK for
//     a non-2xx final is absorbed by the edge, or by tm when it holds the
//     transaction.
//
// A replica dying between a write and its effects loses nothing that SIP
// does not repair: Timer A/E (run by the replica that takes the partition
// over) retransmits a branch request that never left, the UAC retransmits a
// request that got no answer, the UAS its 2xx.
package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/services/tm/internal/routes"
)

// RecordReader reads a proxy transaction record this replica does not
// hold in memory (after a takeover, or a record evicted from the cache).
type RecordReader interface {
	LoadRecord(ctx context.Context, callKey, key string) (store.Record, error)
}

// Committer writes the records and index entries of one input in the same
// round trip as every other input of the moment (store.Committer: group
// commit).
type Committer interface {
	Commit(ctx context.Context, ops []store.Op) ([]store.OpResult, error)
}

// Scheduler keeps this replica's deadlines in memory: Schedule (or
// re-schedule) the earliest timer of a proxy transaction, or forget it. A
// due deadline comes back as a Due input on the call's lane.
type Scheduler interface {
	Schedule(callKey, id string, due time.Time)
	Unschedule(callKey, id string)
}

// Sender hands a message to the edges (*edgeapi.Sender: one publish).
type Sender interface {
	Send(ctx context.Context, m *edgeapi.Message) error
}

// Edges says whether an edge is alive (its beats arrive), so that a
// response leaves from the edge its request came in on while it can.
type Edges interface {
	Alive(id string) bool
}

// Emitter publishes call events. id is stable: a redelivered input emits
// the same id and the bus drops the duplicate.
type Emitter interface {
	Emit(ctx context.Context, e Emission) error
}

// Locator finds the contacts of an address of record ("user@domain").
// known is false when the user does not exist at all (404); an existing
// user without bindings gets 480.
type Locator interface {
	Lookup(ctx context.Context, aor string) (targets []Target, known bool, err error)
}

// DNS answers the resolution of a next hop from memory (RFC 3263:
// *sipdns.Resolver, through adapters.DNS): ok is false when it must be
// looked up (Lookups). An IP address is always answered.
type DNS interface {
	Cached(q sipdns.Query) (ts []sipdns.Target, err error, ok bool)
}

// Lookups resolves a next hop off the call's lane (a DNS query may take
// seconds; a partition's lock must not wait for it) and runs done on the
// lane with the result, as it runs a due deadline.
type Lookups interface {
	Lookup(callKey string, q sipdns.Query, done func(ctx context.Context, ts []sipdns.Target, err error) error)
}

// Source is where a request came from, as the edge reported it.
type Source struct {
	Transport string `json:"t"` // "udp" | "tcp" | "tls" | "ws" | "wss"
	Remote    string `json:"r"` // ip:port
	Flow      string `json:"f,omitempty"`
	Edge      string `json:"e,omitempty"`
	// Reply is where its responses go, in sipdest form
	// (edgeapi.ReplyDest: RFC 3261 §18.2.2, RFC 3581).
	Reply string `json:"rd,omitempty"`
}

// Config tunes the engine.
type Config struct {
	Advertise string // host:port in Via and Record-Route (UDP; TCP too unless Listeners says otherwise)
	// Listeners maps a transport ("tcp", "tls", "ws", "wss") to the
	// host:port of the edges' listener for it, put in Via and Record-Route
	// when a request leaves or arrives over it (see rroute.go).
	Listeners map[string]string
	// FlowKey keys the flow tokens of Record-Route (the same on every
	// replica); default: random per engine.
	FlowKey  []byte
	Self     []string // host[:port] values addressing this proxy
	Domains  []string // local domains (lower case)
	Name     string   // Server header of local replies; default "sipbus"
	Timers   sipfsm.Timers
	NoAnswer time.Duration // timer C; default 60s
	// Linger is how long a finished transaction stays in memory, for
	// retransmissions and late responses (later ones load its record
	// from the store, or for a non-INVITE, which is never written, are
	// relayed again with the same branch); default DefaultLinger.
	Linger time.Duration
	// RetryAfter is the Retry-After of 503s tm sends (overload, store
	// down); default 5 seconds.
	RetryAfter int
	// Coalesce is how long a change that SIP does not need written first
	// may wait to be written with the next ones (see update); default
	// 20ms, < 0 writes every change at once.
	Coalesce time.Duration
	// FailoverTimeout is how long an INVITE branch whose next hop has
	// another DNS target to try waits for a first response before tm
	// tries the next (see dns.go); default 5s, < 0 waits for Timer B.
	FailoverTimeout time.Duration
	// LookupTimeout bounds a DNS lookup of a branch in the record: past
	// it, a lookup lost with its replica is started again, once (see
	// timerLookup); default 3s (the resolver's 2s and a margin).
	LookupTimeout time.Duration
}

// Deps are the engine's collaborators.
type Deps struct {
	Records RecordReader
	Commit  Committer
	Sched   Scheduler
	Send    Sender
	Edges   Edges
	Emit    Emitter
	Locate  Locator
	DNS     DNS     // nil: next hops must be IP addresses
	Lookups Lookups // nil: names not cached fail (503)
	Apps    Apps
	Dialogs UACDialogs // nil: no uac dialogs (package uac)
	Routes  *routes.Table
	Log     *slog.Logger
	Now     func() time.Time
	// Lag is how late this replica handles its inputs now (its input's
	// queueing delay); nil: never late. It stretches Coalesce (window).
	Lag func() time.Duration
	// Behind is how much longer to wait before looking again whether an
	// input of callKey's partition that the edges received before t may
	// still wait, in this replica's queue or an edge's; zero: none may
	// (every one has been handled, or the queues are short). nil: never
	// behind. It holds request retransmissions back (retransWait).
	Behind func(callKey string, t time.Time) time.Duration
}

// DefaultLinger is how long a finished transaction stays in memory by
// default. Kamailio keeps one for its wait timer (T4, 5 s), in memory it
// manages itself; here every transaction held is marked by each garbage
// collection, and at 2,000 calls/s 5 s of them (plus the sweep's period)
// were ~100 MB of tm's live heap, the collections marked for 150-300 ms
// each, and the calls set up during a mark waited: p99 INVITE->200 56-101
// ms against 14-30 ms at 1 s (bench/RESULTS.md round 18). What comes
// later than a second is rare and still served: an INVITE's record is read
// from the store (a 2xx retransmitted by a callee without its ACK), a
// non-INVITE request retransmitted to another edge is relayed again with
// the same branch, and the next hop answers it again.
const DefaultLinger = time.Second

// SweepEvery is how often the runner calls Sweep: Linger, within 250 ms
// and 5 s, so that a finished transaction leaves memory within Linger
// and one sweep period (twice Linger by default).
func (e *Engine) SweepEvery() time.Duration {
	return min(max(e.cfg.Linger, 250*time.Millisecond), 5*time.Second)
}

// Engine is tm's stateful proxy core.
type Engine struct {
	cfg   Config
	d     Deps
	cache *ptxCache
	down  downList
	bg    sync.WaitGroup // writeBehind goroutines (Handover waits for them)
}

// NewEngine returns an engine; zero config values get their defaults.
func NewEngine(cfg Config, d Deps) *Engine {
	if cfg.Name == "" {
		cfg.Name = "sipbus"
	}
	if cfg.Timers == (sipfsm.Timers{}) {
		cfg.Timers = sipfsm.DefaultTimers()
	}
	if cfg.NoAnswer <= 0 {
		cfg.NoAnswer = 60 * time.Second
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultLinger
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5
	}
	if cfg.Coalesce == 0 {
		cfg.Coalesce = 20 * time.Millisecond
	}
	if cfg.FailoverTimeout == 0 {
		cfg.FailoverTimeout = 5 * time.Second
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = 3 * time.Second
	}
	if len(cfg.FlowKey) == 0 {
		cfg.FlowKey = make([]byte, 32)
		_, _ = rand.Read(cfg.FlowKey)
	}
	for i, dom := range cfg.Domains {
		cfg.Domains[i] = strings.ToLower(dom)
	}
	if d.Routes == nil {
		d.Routes = routes.Default()
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Edges == nil {
		d.Edges = allAlive{}
	}
	return &Engine{cfg: cfg, d: d, cache: newPTxCache(d.Now)}
}

type allAlive struct{}

func (allAlive) Alive(string) bool { return true }

// AlwaysRegistrar reports whether the route table hands every request of
// method to the registrar (routes.Table.AlwaysRegistrar).
func (e *Engine) AlwaysRegistrar(method string) bool { return e.d.Routes.AlwaysRegistrar(method) }

// Sweep forgets the transactions that finished more than Linger ago, and
// dialogs past their time; the runner calls it every few seconds.
func (e *Engine) Sweep() int { return e.cache.sweep() }

// Forget drops from memory every transaction and dialog of the calls
// whose key satisfies drop (a partition this replica no longer owns).
func (e *Engine) Forget(drop func(callKey string) bool) { e.cache.forget(drop) }

// Cached counts the transactions and dialogs held in memory.
func (e *Engine) Cached() int { return e.cache.len() }

// ErrConflict means a record kept changing under us; the input is retried.
var ErrConflict = errors.New("tm: transaction record changed concurrently too often")

// effects are what an input causes once its record is written.
type effects struct {
	sends   []*edgeapi.Message
	arms    []arm
	cancel  []armKey
	emits   []Emission
	ops     []store.Op // further writes in the same commit (the dialog record)
	dialog  *dialog    // an answered call to remember until its BYE
	lookups []lookup   // DNS lookups to start (see Lookups)
}

// lookup is the resolution of branch i of a proxy transaction.
type lookup struct {
	id string
	i  int
	q  sipdns.Query
}

type arm struct {
	t     string
	i     int
	after time.Duration
}

type armKey struct {
	t string
	i int
}

func (fx *effects) send(m *edgeapi.Message) { fx.sends = append(fx.sends, m) }

// recordTTL bounds a proxy transaction record: the no-answer time plus
// Timer B's span and the time Timer D/K keeps a completed branch, so 2xx
// retransmissions and late responses still find it.
func (e *Engine) recordTTL(method string) time.Duration {
	span := 64 * e.cfg.Timers.T1
	if method == "INVITE" {
		return e.cfg.NoAnswer + 2*span + 32*time.Second
	}
	return 2*span + e.cfg.Timers.T4
}

func ptxKey(id string) string { return "p:" + id }

// deadlineIndex is the index of the deadlines of one partition's records:
// the replica that takes the partition over reads it (store.IndexStore).
func DeadlineIndex(partition string) string { return "tm.deadlines." + partition }

// load reads a proxy transaction from the store.
func (e *Engine) load(ctx context.Context, callKey, id string) (*cached, error) {
	rec, err := e.d.Records.LoadRecord(ctx, callKey, ptxKey(id))
	if err != nil {
		return nil, err
	}
	p := new(ptx)
	if err := json.Unmarshal(rec.Value, p); err != nil {
		return nil, fmt.Errorf("tm: decode transaction %s: %w", id, err)
	}
	return &cached{p: p, version: rec.Version, sum: sum(rec.Value), recovered: true, idx: -1}, nil
}

// update runs fn on the current transaction, writes it, then runs the
// effects. ErrNotFound is returned when the record does not exist.
//
// What is written when (the hot path's "write, don't read; acknowledge SIP
// only where SIP needs it"):
//   - a change that creates the transaction or gives it its final status is
//     written before its effects, in the commit of the moment (group
//     commit, compare-and-set): a replica that takes the partition over
//     must find every transaction whose request went out, and its outcome;
//   - any other change (a provisional response, a timer moving) is applied
//     in memory, its SIP messages sent at once, and written within the
//     window (Coalesce, stretched by the replica's lag), together with
//     whatever else happens to the transaction by then (the 180 and the
//     200 of a call arriving 2 ms apart make one write). Its call events
//     wait for that write, so the log never tells what the store does not
//     hold;
//   - an input that changes nothing (a retransmitted 2xx) writes nothing.
//
// The transaction is changed in place in memory: inputs of one call run one
// at a time on this replica (one lane per call key), and a failed or
// conflicting write drops it from memory, so the next input reads the
// store.
func (e *Engine) update(ctx context.Context, callKey, id string, fn func(p *ptx, fx *effects) error) error {
	return e.updateFlush(ctx, callKey, id, false, fn)
}

// updateFlush is update that writes even a change that could wait, when
// flush is set (the coalescing deadline came).
func (e *Engine) updateFlush(ctx context.Context, callKey, id string, flush bool, fn func(p *ptx, fx *effects) error) error {
	ck := cacheKey(callKey, id)
	for attempt := range 8 {
		c, err := e.current(ctx, callKey, id, ck, attempt == 0)
		if err != nil {
			return err
		}
		fx := &effects{}
		final := c.p.Final
		if err := fn(c.p, fx); err != nil {
			e.cache.drop(ck)
			return err
		}
		e.applyTimers(c.p, fx)
		if c.memOnly {
			e.cache.put(ck, c, e.linger(c.p))
			e.schedule(callKey, c)
			if len(fx.ops) > 0 {
				e.writeBehind(callKey, fx.ops)
			}
			return e.run(ctx, callKey, c.p, fx, fx.emits)
		}
		c.emits = append(c.emits, fx.emits...)
		c.ops = append(c.ops, fx.ops...)
		now := e.d.Now()
		if !flush && attempt == 0 && c.version != 0 && c.p.Final == final && e.cfg.Coalesce > 0 {
			// Nothing SIP needs written first: send now, write soon.
			if c.flushAt.IsZero() {
				c.flushAt = now.Add(e.window())
			}
			c.dirty = true
			e.cache.put(ck, c, e.linger(c.p))
			e.schedule(callKey, c)
			return e.run(ctx, callKey, c.p, fx, nil)
		}
		ok, err := e.commit(ctx, callKey, c)
		if err != nil {
			e.cache.drop(ck)
			return err
		}
		if ok {
			emits := c.emits
			c.emits, c.ops = nil, nil
			e.cache.put(ck, c, e.linger(c.p))
			e.schedule(callKey, c)
			return e.run(ctx, callKey, c.p, fx, emits)
		}
		e.cache.drop(ck)
	}
	return ErrConflict
}

// current is the transaction update starts from: the one in memory (first
// attempt only), else the store's.
func (e *Engine) current(ctx context.Context, callKey, id, ck string, useCache bool) (*cached, error) {
	if useCache {
		if c := e.cache.get(ck); c != nil {
			return c, nil
		}
	}
	return e.load(ctx, callKey, id)
}

// create writes a new proxy transaction. created is false when it already
// exists (a retransmission this replica does not hold, or a redelivery).
//
// Its deadline is filed in the partition's index only when the transaction
// is still in progress Coalesce later: most transactions (a BYE, an INVITE
// answered at once) end before, and are never filed nor removed. A replica
// that dies in that window leaves a record without its index entry; the
// next message of the call (the response, a retransmission) finds it.
func (e *Engine) create(ctx context.Context, callKey string, p *ptx, fx *effects) (created bool, err error) {
	e.applyTimers(p, fx)
	if !persisted(p) {
		c := &cached{p: p, memOnly: true}
		e.cache.put(cacheKey(callKey, p.ID), c, e.linger(p))
		e.schedule(callKey, c)
		if len(fx.ops) > 0 {
			e.writeBehind(callKey, fx.ops)
		}
		return true, e.run(ctx, callKey, p, fx, fx.emits)
	}
	c := &cached{p: p, ops: fx.ops}
	ok, err := e.commit(ctx, callKey, c)
	if err != nil || !ok {
		return false, err
	}
	c.ops = nil
	if p.next() != 0 && e.cfg.Coalesce > 0 {
		c.dirty, c.flushAt = true, e.d.Now().Add(e.window())
	}
	e.cache.put(cacheKey(callKey, p.ID), c, e.linger(p))
	e.schedule(callKey, c)
	return true, e.run(ctx, callKey, p, fx, fx.emits)
}

// persisted reports a transaction kept in the store. An INVITE's is: it
// may ring for minutes, its outcome makes call events, and a replica that
// takes the partition over must find it to route the 200 and run timer C.
// So is one handed to an application (its command may reach any replica).
// A non-INVITE transaction (a BYE, a MESSAGE) lives in memory only, like
// every transaction of a Kamailio: it lasts at most 64*T1, and if its
// replica dies the UAC's retransmission reaches the new owner, which relays
// it again with the same branch (a retransmission to the next hop, which
// answers it again). That saves two writes per call. What it risks is a
// non-INVITE request over TCP (not retransmitted) in flight when a replica
// dies.
func persisted(p *ptx) bool { return p.invite() || p.App != "" }

// Deferrer is a Committer that can also apply writes nothing waits for
// with the next commit, whoever's it is (store.Committer.Defer), and
// apply those at once when the replica hands its partitions over.
type Deferrer interface {
	Defer(ops []store.Op, within time.Duration, done func([]store.OpResult, error))
	FlushDeferred()
}

// writeBehind applies ops without waiting for them (the dialog record a
// BYE removes: nothing SIP does waits for it). With a Deferrer they ride
// with the next commit of any call, Coalesce at the latest: at low load
// commits rarely overlap, and this one had a round trip of its own.
func (e *Engine) writeBehind(callKey string, ops []store.Op) {
	if d, ok := e.d.Commit.(Deferrer); ok && e.cfg.Coalesce > 0 {
		d.Defer(ops, e.window(), func(res []store.OpResult, err error) {
			for _, r := range res {
				if err == nil {
					err = r.Err
				}
			}
			if err != nil {
				e.d.Log.Warn("tm: write", "call_key", callKey, "err", err)
			}
		})
		return
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := e.d.Commit.Commit(ctx, ops); err != nil {
			e.d.Log.Warn("tm: write", "call_key", callKey, "err", err)
		}
	}()
}

// applyTimers applies fx's timer changes to p.
func (e *Engine) applyTimers(p *ptx, fx *effects) {
	if len(fx.cancel) == 0 && len(fx.arms) == 0 {
		return
	}
	now := e.d.Now()
	for _, k := range fx.cancel {
		p.disarm(k.t, k.i)
	}
	for _, a := range fx.arms {
		p.arm(a.t, a.i, now.Add(a.after).UnixMilli())
	}
	fx.cancel, fx.arms = nil, nil
}

// commit writes c.p (compare-and-set on c.version), its deadline index
// entry and c.ops in one group commit. ok is false on a conflict. When p
// did not change and there are no further ops, nothing is written.
func (e *Engine) commit(ctx context.Context, callKey string, c *cached) (ok bool, err error) {
	p := c.p
	next := p.next()
	ops := make([]store.Op, 0, 2+len(c.ops))
	member := callKey + "|" + p.ID
	index := DeadlineIndex(bus.Partition(callKey))
	idx := c.idx
	switch {
	case c.version == 0 && e.cfg.Coalesce > 0:
		// A new transaction: filed later if still in progress (see create).
	case next != 0 && next != c.idx:
		ops = append(ops, store.Op{Kind: store.OpIndexSet, Index: index, Member: member, Score: next})
		c.idx = next
	case next == 0 && c.idx != 0:
		ops = append(ops, store.Op{Kind: store.OpIndexRemove, Index: index, Member: member})
		c.idx = 0
	}
	value := p.marshal()
	h := sum(value)
	save := len(ops)
	if c.version == 0 || h != c.sum {
		ops = append(ops, store.Op{
			Kind: store.OpSaveRecord, CallKey: callKey, Key: ptxKey(p.ID),
			Value: value, Version: c.version, TTL: e.recordTTL(p.Method),
		})
	} else {
		save = -1
	}
	ops = append(ops, c.ops...)
	if len(ops) > 0 {
		res, err := e.d.Commit.Commit(ctx, ops)
		if err != nil {
			c.idx = idx
			return false, fmt.Errorf("tm: save transaction %s: %w", p.ID, err)
		}
		if save >= 0 {
			r := res[save]
			if r.Err != nil {
				c.idx = idx
				return false, fmt.Errorf("tm: save transaction %s: %w", p.ID, r.Err)
			}
			if !r.OK {
				return false, nil
			}
			c.version, c.sum = r.Version, h
		}
		for i, r := range res {
			if i != save && r.Err != nil {
				e.d.Log.Warn("tm: write", "call_key", callKey, "op", ops[i].Kind, "err", r.Err)
			}
		}
	}
	c.dirty, c.flushAt = false, time.Time{}
	return true, nil
}

// schedule tells the scheduler when the transaction needs this replica
// next: its earliest timer, or its coalesced write.
func (e *Engine) schedule(callKey string, c *cached) {
	next := c.p.next()
	if c.dirty {
		if f := c.flushAt.UnixMilli(); next == 0 || f < next {
			next = f
		}
	}
	if next != 0 {
		e.d.Sched.Schedule(callKey, c.p.ID, time.UnixMilli(next))
	} else {
		e.d.Sched.Unschedule(callKey, c.p.ID)
	}
}

// linger is how long a transaction stays in memory after this write.
func (e *Engine) linger(p *ptx) time.Duration {
	if p.done() {
		return e.cfg.Linger
	}
	return e.recordTTL(p.Method)
}

// run executes the effects of an input: its SIP messages, and the call
// events whose state is written (emits). A send that fails is logged: the
// transaction's timers and SIP retransmissions recover it.
func (e *Engine) run(ctx context.Context, callKey string, p *ptx, fx *effects, emits []Emission) error {
	for _, s := range fx.sends {
		if err := e.d.Send.Send(ctx, s); err != nil {
			e.d.Log.Warn("tm: send", "call_key", callKey, "dest", s.Dest, "err", err)
		}
	}
	if d := fx.dialog; d != nil {
		e.cache.putDialog(d, dialogTTL)
	}
	for _, l := range fx.lookups {
		e.d.Lookups.Lookup(callKey, l.q, func(ctx context.Context, ts []sipdns.Target, err error) error {
			return e.resolved(ctx, callKey, l.id, l.i, ts, err)
		})
	}
	var firstErr error
	for _, em := range emits {
		if err := e.d.Emit.Emit(ctx, em); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// window is how long a change SIP does not need written first waits to be
// written with the next ones: Coalesce, plus twice the replica's lag, up
// to T1 (or Coalesce, if longer).
//
// Why the lag: a fixed 20 ms split the 180 and the 200 of a call answered
// at once into two writes as soon as the replica queued, since the two
// reach tm as late as the queue makes them and no closer together. The
// split cost what a loaded replica has least of: the record written once
// more, its deadline filed and removed, a timer and its goroutine; at the
// max rate after an overload, the coalescing timers fired 1,000–2,500
// times a second while the queue stood, and none while it did not, a
// cost that grew with the delay that caused it. Stretched by the lag,
// the writes merge whatever the load. T1 bounds it: past T1 the replica
// refuses new calls (bus.Overload.Backstop). The price: a change stays
// out of the store that long at most, so a replica that dies within it
// leaves the previous state to its successor (a 180 lost so: the branch
// waits for Timer B, not Timer C, unless the 200 or a CANCEL comes first).
func (e *Engine) window() time.Duration {
	w := e.cfg.Coalesce
	if w <= 0 {
		return w
	}
	return min(w+2*e.lag(), max(w, e.cfg.Timers.T1))
}

// lag is how late this replica handles its inputs now (Deps.Lag; zero
// without one).
func (e *Engine) lag() time.Duration {
	if e.d.Lag == nil {
		return 0
	}
	return e.d.Lag()
}
