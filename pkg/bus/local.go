package bus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// HeaderTaken names the queue groups whose member in the publisher's own
// process took the message (Local): a member of such a group elsewhere
// drops it.
const HeaderTaken = "sipbus-taken"

// Sub is a core subscription of the hot path: a *nats.Subscription, or a
// LocalSub that a Local also feeds in-process.
type Sub interface {
	Unsubscribe() error
	// Drain stops new deliveries; what is held is still handled, and
	// IsValid turns false when that is done.
	Drain() error
	IsValid() bool
	// Pending counts the messages received and not yet handed to the
	// callback (a LocalSub: or not yet returned from it), as
	// nats.Subscription's; bytes are not counted by a LocalSub.
	Pending() (msgs, bytes int, err error)
}

// Core makes the hot path's core subscriptions (tm's partitions, the
// registrar's REGISTERs, an edge's messages to send): NATS(nc) on a
// connection, or a Local. Queue subscriptions made through either drop
// the messages a member in the publisher's process already took
// (HeaderTaken).
type Core interface {
	Subscribe(subject string, cb nats.MsgHandler, opts ...SubOption) (Sub, error)
	QueueSubscribe(subject, queue string, cb nats.MsgHandler, opts ...SubOption) (Sub, error)
}

// SubOption tunes a Core subscription.
type SubOption func(*subOptions)

type subOptions struct{ inline bool }

// Inline says the handler is quick, never waits long (it hands the
// message on, or writes a datagram) and is safe for concurrent use: a
// Local calls it on the publisher's goroutine instead of queueing the
// message for the subscription's own, which saves a goroutine hand-off
// per message. NATS deliveries still run on the subscription's goroutine.
func Inline() SubOption { return func(o *subOptions) { o.inline = true } }

var (
	_ Core = natsCore{}
	_ Core = (*Local)(nil)
	_ Sub  = (*nats.Subscription)(nil)
	_ Sub  = (*LocalSub)(nil)
)

// NATS is a Core on nc: plain core NATS subscriptions.
func NATS(nc *nats.Conn) Core { return natsCore{nc} }

// CoreFor is where a service subscribes its hot path: l when the process
// has one (`sipbus up`), else NATS(nc).
func CoreFor(nc *nats.Conn, l *Local) Core {
	if l != nil {
		return l
	}
	return NATS(nc)
}

type natsCore struct{ nc *nats.Conn }

func (c natsCore) Subscribe(subject string, cb nats.MsgHandler, _ ...SubOption) (Sub, error) {
	s, err := c.nc.Subscribe(subject, cb)
	if err != nil {
		return nil, err
	}
	_ = s.SetPendingLimits(hotPendingMsgs, hotPendingBytes)
	return s, nil
}

func (c natsCore) QueueSubscribe(subject, queue string, cb nats.MsgHandler, _ ...SubOption) (Sub, error) {
	s, err := c.nc.QueueSubscribe(subject, queue, untaken(queue, cb))
	if err != nil {
		return nil, err
	}
	_ = s.SetPendingLimits(hotPendingMsgs, hotPendingBytes)
	return s, nil
}

// The pending limits of a hot-path subscription: past them messages are
// dropped (a slow consumer), which SIP's retransmissions repair.
const (
	hotPendingMsgs  = 1 << 20
	hotPendingBytes = 512 << 20
)

// untaken wraps a queue member's handler: it drops the messages a member
// of its group in the publisher's process took.
func untaken(queue string, cb nats.MsgHandler) nats.MsgHandler {
	return func(m *nats.Msg) {
		if Taken(m, queue) {
			return
		}
		cb(m)
	}
}

// Taken reports whether a member of queue in the publisher's process took
// m (HeaderTaken).
func Taken(m *nats.Msg, queue string) bool {
	for _, q := range m.Header[HeaderTaken] {
		if q == queue {
			return true
		}
	}
	return false
}

// Local is the hot path's shortcut between the services of one process
// (`sipbus up`): a message one of them publishes reaches the others'
// subscriptions in-process, and goes to NATS only for the stream and for
// subscribers elsewhere.
//
// Without it, every SIP message of `sipbus up` crossed the embedded NATS
// server twice (publish, then delivery back to the same process: the
// server's outbound buffer and write loop, the pipe, the client's read
// loop and parser, then the subscription's goroutine). With it, the
// delivery is a copy onto the subscription's queue and one goroutine
// wake-up; the publish still goes to the server, which stores it in the
// stream and delivers it to every other connection.
//
// Its connection must be opened with nats.NoEcho: the server then never
// delivers the connection's own publishes to its own subscriptions, so a
// local subscriber gets each message once, and messages published by
// other connections (other processes, or this process's other
// connection) arrive through NATS as before. A queue group with a local
// member: the local member takes the message, and the publish carries
// HeaderTaken so that a member elsewhere (which the server, skipping the
// publisher's own members, may choose) drops it. Messages to this
// connection's subscriptions published through the connection but not
// through Local are lost (no echo): publish the hot path through a
// Publisher with PublisherOptions.Local.
//
// The publishes linger (DefaultLinger) and go out in one burst: the
// client's flusher, the connection and the server's read loop then wake
// once per burst instead of once per message. Local delivery does not
// wait for it; the stream stores a message up to a linger after the
// subscribers in the process had it.
//
// Local delivery keeps what a core subscription promises: the messages of
// one publisher reach a subscription in publish order, one at a time on
// the subscription's own goroutine; past its pending limit a message is
// dropped and counted, as a slow consumer's is.
type Local struct {
	nc *nats.Conn

	mu     sync.RWMutex
	byPart map[string][]*LocalSub // subscriptions whose second token is a literal (tm's partitions)
	wild   []*LocalSub            // the others
	rr     atomic.Uint64          // round robin among a queue group's local members

	linger   time.Duration
	fmu      sync.Mutex // held by the Flush publishing a burst
	lmu      sync.Mutex
	out      []pending     // to publish when the linger ends
	spare    []pending     // the previous burst's slice, for reuse
	armed    bool          // a Flush is scheduled
	kick     chan struct{} // wakes the flusher for a new burst
	flushing bool          // the flusher goroutine runs

	// Delivered counts messages handed to local subscriptions, Dropped
	// those over a subscription's pending limit.
	Delivered, Dropped atomic.Uint64
}

// DefaultLinger is how long a Local holds its publishes to send them in
// one burst. Each burst costs a fixed chain of wake-ups and system calls
// whatever its size: the flusher, the client's write, the server's read
// loop, the stream's loop, the file store's write and the acks back. At
// 300 calls/s (16 events a call) a 1 ms linger sent ~1,000 bursts a
// second of ~5 messages; at 10 ms, 100 of ~50. Measured in alternating
// pairs on `sipbus up` (bench/RESULTS.md round 17): 10 ms cost ~11 %
// less CPU a call than 1 ms at 300 calls/s, 5 ms half of that, 20 ms
// no less than 10. The price: the stream stores an event up to 10 ms
// after the process's subscribers had it, so subscribers in other
// processes see it that much later, and a `sipbus up` killed outright
// loses at most that much of the log (a stop flushes it).
const DefaultLinger = 10 * time.Millisecond

// ErrEcho is returned by NewLocal for a connection with echo on.
var ErrEcho = errors.New("bus: the local shortcut needs a connection opened with nats.NoEcho")

// NewLocal returns the shortcut over nc, which must have been opened with
// nats.NoEcho().
func NewLocal(nc *nats.Conn) (*Local, error) {
	if !nc.Opts.NoEcho {
		return nil, ErrEcho
	}
	return &Local{nc: nc, byPart: make(map[string][]*LocalSub), linger: DefaultLinger, kick: make(chan struct{}, 1)}, nil
}

// Conn is the connection the shortcut publishes and subscribes on.
func (l *Local) Conn() *nats.Conn { return l.nc }

// Subscribe subscribes cb to subject, here and on NATS.
func (l *Local) Subscribe(subject string, cb nats.MsgHandler, opts ...SubOption) (Sub, error) {
	return l.subscribe(subject, "", cb, opts)
}

// QueueSubscribe subscribes cb to subject in queue, here and on NATS.
func (l *Local) QueueSubscribe(subject, queue string, cb nats.MsgHandler, opts ...SubOption) (Sub, error) {
	return l.subscribe(subject, queue, cb, opts)
}

func (l *Local) subscribe(subject, queue string, cb nats.MsgHandler, opts []SubOption) (*LocalSub, error) {
	var o subOptions
	for _, f := range opts {
		f(&o)
	}
	s := &LocalSub{l: l, toks: strings.Split(subject, "."), queue: queue, cb: cb, inline: o.inline}
	s.cond.L = &s.mu
	// Queued, NATS deliveries join the local queue, so the messages of
	// the two sources run one at a time, as on one subscription.
	h := s.enqueue
	if s.inline {
		h = cb
	}
	var err error
	if queue == "" {
		s.nsub, err = l.nc.Subscribe(subject, h)
	} else {
		s.nsub, err = l.nc.QueueSubscribe(subject, queue, untaken(queue, h))
	}
	if err != nil {
		return nil, err
	}
	_ = s.nsub.SetPendingLimits(hotPendingMsgs, hotPendingBytes)
	if !s.inline {
		go s.run()
	}
	l.mu.Lock()
	if p := literalPartition(s.toks); p != "" {
		l.byPart[p] = append(l.byPart[p], s)
	} else {
		l.wild = append(l.wild, s)
	}
	l.mu.Unlock()
	return s, nil
}

// literalPartition is the second token of a sip.<p>... filter, when it
// is a literal.
func literalPartition(toks []string) string {
	if len(toks) > 1 && toks[0] == "sip" && toks[1] != "*" && toks[1] != ">" {
		return toks[1]
	}
	return ""
}

// Deliver hands m to the matching local subscriptions, adding HeaderTaken
// to it for every queue group a local member took it in, and returns it
// for the caller to publish. Deliver takes m over: the local subscribers
// and the publish share it and only read it, so the publisher must not
// change it afterwards (every publisher of the hot path encodes each
// message afresh). Copying its data instead, as nats.Conn.PublishMsg lets
// a caller reuse its buffer, was 6 % of `sipbus up`'s allocation at 1,500
// calls/s for buffers no caller reused.
func (l *Local) Deliver(m *nats.Msg) *nats.Msg {
	var (
		buf, qbuf [4]*LocalSub
		to        = buf[:0]  // plain subscriptions, and the queue members chosen
		queued    = qbuf[:0] // every matching queue member
	)
	l.mu.RLock()
	visit := func(subs []*LocalSub) {
		for _, s := range subs {
			switch {
			case !s.matches(m.Subject):
			case s.queue == "":
				to = append(to, s)
			default:
				queued = append(queued, s)
			}
		}
	}
	if p, ok := secondToken(m.Subject); ok {
		visit(l.byPart[p])
	}
	visit(l.wild)
	l.mu.RUnlock()
	if len(queued) > 0 {
		// One member of each group (a group has one member per process,
		// as a rule: no map for that). HeaderTaken is set before any
		// local subscriber can read the header map it shares with m.
		var taken []string
		for i, s := range queued {
			if slices.Contains(taken, s.queue) {
				continue
			}
			n := 0
			for _, x := range queued[i:] {
				if x.queue == s.queue {
					n++
				}
			}
			k := int(l.rr.Add(1) % uint64(n))
			for _, x := range queued[i:] {
				if x.queue == s.queue {
					if k == 0 {
						to = append(to, x)
						break
					}
					k--
				}
			}
			taken = append(taken, s.queue)
		}
		if m.Header == nil {
			m.Header = nats.Header{}
		}
		m.Header[HeaderTaken] = taken
	}
	for _, s := range to {
		if s.inline {
			if !s.stopped.Load() {
				l.Delivered.Add(1)
				s.cb(m)
			}
			continue
		}
		if s.push(m) {
			l.Delivered.Add(1)
		} else {
			l.Dropped.Add(1)
		}
	}
	return m
}

// later queues m for p to publish when the linger ends. Past
// MaxLingering messages waiting (the server is not keeping up), the
// caller publishes them itself: its wait is the back-pressure a plain
// publish into a full connection buffer gives.
func (l *Local) later(p *Publisher, m *nats.Msg) {
	l.lmu.Lock()
	l.out = append(l.out, pending{p, m})
	full := len(l.out) >= MaxLingering
	arm := !l.armed && !full
	l.armed = l.armed || arm
	start := arm && !l.flushing
	l.flushing = l.flushing || start
	l.lmu.Unlock()
	if full {
		l.Flush()
		return
	}
	if start {
		go l.flusher()
	}
	if arm {
		select {
		case l.kick <- struct{}{}:
		default: // a kick waits already
		}
	}
}

// flusherIdle is how long the flusher goroutine waits for a next burst
// before it ends (later starts it again).
const flusherIdle = time.Second

// flusher publishes each burst a linger after later armed it, for as long
// as bursts keep coming: one goroutine whose stack has grown to what
// publishing takes, rather than a timer's new goroutine per burst.
func (l *Local) flusher() {
	idle := time.NewTimer(flusherIdle)
	defer idle.Stop()
	for {
		select {
		case <-l.kick:
			time.Sleep(l.linger)
			l.Flush()
			idle.Reset(flusherIdle)
		case <-idle.C:
			l.lmu.Lock()
			done := !l.armed // else a burst was armed as the timer fired: its kick waits
			l.flushing = !done
			l.lmu.Unlock()
			if done {
				return
			}
		}
	}
}

// MaxLingering bounds the messages a Local holds for the linger.
const MaxLingering = 1 << 16

type pending struct {
	p *Publisher
	m *nats.Msg
}

// Flush publishes what waits for the linger to end, in the order it came.
func (l *Local) Flush() {
	l.fmu.Lock() // one burst at a time, so bursts keep their order
	defer l.fmu.Unlock()
	l.lmu.Lock()
	out := l.out
	l.out, l.spare = l.spare[:0], nil
	l.armed = false
	l.lmu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var failed error
	for i, o := range out {
		if err := o.p.publishNow(ctx, o.m); err != nil && failed == nil {
			failed = err
			o.p.log.Warn("bus: publish", "subject", o.m.Subject, "err", err)
		}
		out[i] = pending{}
	}
	l.lmu.Lock()
	l.spare = out[:0]
	l.lmu.Unlock()
}

func secondToken(subject string) (string, bool) {
	_, rest, ok := strings.Cut(subject, ".")
	if !ok {
		return "", false
	}
	p, _, _ := strings.Cut(rest, ".")
	return p, true
}

func (l *Local) remove(s *LocalSub) {
	l.mu.Lock()
	defer l.mu.Unlock()
	drop := func(subs []*LocalSub) []*LocalSub {
		for i, x := range subs {
			if x == s {
				return append(subs[:i:i], subs[i+1:]...)
			}
		}
		return subs
	}
	if p := literalPartition(s.toks); p != "" {
		if l.byPart[p] = drop(l.byPart[p]); len(l.byPart[p]) == 0 {
			delete(l.byPart, p)
		}
	} else {
		l.wild = drop(l.wild)
	}
}

// LocalSub is a subscription of a Local: its NATS subscription and the
// local deliveries feed one queue, run in order on one goroutine.
type LocalSub struct {
	l       *Local
	toks    []string // the filter's tokens
	queue   string
	cb      nats.MsgHandler
	nsub    *nats.Subscription
	inline  bool
	stopped atomic.Bool // inline: no more local deliveries

	mu      sync.Mutex
	cond    sync.Cond
	pending []*nats.Msg
	left    atomic.Int64 // of the batch run is handling, not returned from the callback yet (set under mu)
	closed  bool
	done    bool // run returned: everything queued was handled
}

// matches reports whether subject matches the subscription's filter.
func (s *LocalSub) matches(subject string) bool {
	for i, t := range s.toks {
		if t == ">" {
			return subject != ""
		}
		if subject == "" {
			return false
		}
		tok, rest, more := strings.Cut(subject, ".")
		if t != "*" && t != tok {
			return false
		}
		if !more {
			return i == len(s.toks)-1
		}
		subject = rest
	}
	return false
}

// enqueue is the NATS subscription's handler: NATS deliveries join the
// local queue.
func (s *LocalSub) enqueue(m *nats.Msg) {
	if !s.push(m) {
		s.l.Dropped.Add(1)
	}
}

func (s *LocalSub) push(m *nats.Msg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.pending) >= hotPendingMsgs {
		return false
	}
	s.pending = append(s.pending, m)
	if len(s.pending) == 1 {
		s.cond.Signal()
	}
	return true
}

func (s *LocalSub) run() {
	var batch []*nats.Msg
	for {
		s.mu.Lock()
		for len(s.pending) == 0 && !s.closed {
			s.cond.Wait()
		}
		if len(s.pending) == 0 {
			s.done = true
			s.mu.Unlock()
			return
		}
		batch, s.pending = s.pending, batch[:0]
		s.left.Store(int64(len(batch)))
		s.mu.Unlock()
		for i, m := range batch {
			s.cb(m)
			batch[i] = nil
			s.left.Add(-1)
		}
	}
}

// Unsubscribe stops both sources; messages queued are still handled.
func (s *LocalSub) Unsubscribe() error {
	s.l.remove(s)
	err := s.nsub.Unsubscribe()
	s.close()
	return err
}

// Drain stops both sources and returns at once; what NATS and the local
// queue hold is still handled.
func (s *LocalSub) Drain() error {
	s.l.remove(s)
	closed := s.nsub.StatusChanged(nats.SubscriptionClosed)
	err := s.nsub.Drain()
	if err != nil {
		s.close()
		return err
	}
	go func() {
		<-closed // NATS has handed over what it held
		s.close()
	}()
	return nil
}

// Pending counts the messages queued here and not yet handled (the
// callback has not returned), local and NATS deliveries alike.
func (s *LocalSub) Pending() (msgs, bytes int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) + int(s.left.Load()), 0, nil
}

// IsValid reports whether the subscription still runs: false once it was
// unsubscribed or drained and its queue is handled.
func (s *LocalSub) IsValid() bool {
	if s.inline {
		return s.nsub.IsValid()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.done
}

func (s *LocalSub) close() {
	s.stopped.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.cond.Broadcast()
	}
}
