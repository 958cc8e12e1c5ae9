package bus

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Overload is a CoDel-style detector of a standing queue, read in windows
// of Interval: two windows in a row whose inputs waited Target or longer
// on average make it overloaded, and it stays so until a window's average
// falls below Target/2, or until no input arrives for a second (or two
// intervals, if longer): nothing queues then. A burst that drains within a window or two is
// not overload; a queue that stays is.
//
// The average, not CoDel's minimum, because the queues it watches run in
// parallel: tm's partitions and the edge's workers each hold a queue of
// their own, and under overload some inputs always pass through a short
// one. With "one input below target ends it", such inputs cleared the
// state every few hundred milliseconds while others waited seconds, the
// edges admitted new calls again, and at twice the max rate tm's queue
// grew to 9 s. Two windows, because at the max rate itself a 2-core
// machine has bursts of one (a GC cycle, a burst of timers) that the
// queue absorbs: shedding then refused calls the system would have
// carried. The gap between the two thresholds keeps the state from
// flapping. Safe for concurrent use.
type Overload struct {
	Target, Interval time.Duration

	// An input adds to sum and n without a lock; the one that finds the
	// window over takes mu and closes it.
	sum   atomic.Int64 // of the current window's sojourns, ns
	n     atomic.Int64
	start atomic.Int64 // unix ns when the current window began

	mu    sync.Mutex
	above int // windows in a row averaging Target or more (under mu)

	over   atomic.Bool
	mean   atomic.Int64 // of the latest closed window, ns
	last   atomic.Int64 // latest sojourn, ns
	lastAt atomic.Int64 // unix ns of the latest input
}

// Observe feeds the queueing delay of one input, taken at now; it reports
// whether the state changed.
func (o *Overload) Observe(sojourn time.Duration, now time.Time) bool {
	o.last.Store(int64(sojourn))
	t := now.UnixNano()
	if prev := o.lastAt.Swap(t); prev == 0 || t-prev >= o.pause() {
		// first input, or the first after a pause: a new window, and
		// whatever held before the pause is over
		o.mu.Lock()
		defer o.mu.Unlock()
		o.sum.Store(int64(sojourn))
		o.n.Store(1)
		o.start.Store(t)
		o.above = 0
		o.mean.Store(0)
		return o.over.Swap(false)
	}
	o.sum.Add(int64(sojourn))
	o.n.Add(1)
	if t-o.start.Load() < int64(o.Interval) {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if t-o.start.Load() < int64(o.Interval) {
		return false // another input closed the window meanwhile
	}
	o.start.Store(t)
	sum, n := o.sum.Swap(0), o.n.Swap(0)
	if n == 0 {
		return false
	}
	mean := time.Duration(sum / n)
	o.mean.Store(int64(mean))
	if mean >= o.Target {
		o.above++
	} else {
		o.above = 0
	}
	over := o.over.Load()
	if (!over && o.above >= 2) || (over && mean < o.Target/2) {
		o.over.Store(!over)
		return true
	}
	return false
}

// Overloaded reports the state now.
func (o *Overload) Overloaded() bool { return o.OverloadedAt(time.Now()) }

// OverloadedAt reports the state at now: overloaded, and an input arrived
// within the last pause.
func (o *Overload) OverloadedAt(now time.Time) bool {
	return o.over.Load() && now.UnixNano()-o.lastAt.Load() < o.pause()
}

// pause is how long without input ends an overload, in ns: a second (the
// beat interval: an edge that sheds every new dialog on this instance's
// word hears of it within a beat), or two intervals if that is longer.
// Shorter would not do: inputs are observed as they leave the queue, and
// one slow input (a Redis stall) must not read as an empty queue.
func (o *Overload) pause() int64 { return int64(max(2*o.Interval, time.Second)) }

// Backstop reports whether a replica refuses a new request (initial
// INVITE, REGISTER, ...) that waited `waited` since the edge received it,
// with t1 SIP's T1: only while the detector holds and the request waited
// T1 or longer. Shedding is the edges' job (admission: a stateless 503
// before anything is published, the cheapest no): they hear a replica's
// overload in its beats and refuse a share of the new dialogs that
// follows its queue. A replica that refused every new request while its
// detector held threw away what the edges had already paid to carry: at
// twice the max rate, a third of the 503s came from tm, each after a full
// publish and delivery, while the gate's share let through what the CPU
// carried, and the step at the max rate after it failed on tm's bursts of
// refusals (each hold of its detector refused every new call for a few
// hundred ms). Past T1 a queue feeds itself: the UAS retransmits its 2xx
// until the ACK comes through the queue, UACs their non-INVITE requests.
// There the replica refuses too, whatever the edges do (an edge that does
// not shed, a surge faster than the beats).
func (o *Overload) Backstop(waited, t1 time.Duration) bool {
	return waited >= t1 && o.Overloaded()
}

// Mean is the average queueing delay of the latest window (zero after a
// pause): the measure the state follows, and what a controller fed by it
// reads for the trend.
func (o *Overload) Mean() time.Duration { return time.Duration(o.mean.Load()) }

// Last is the latest queueing delay observed.
func (o *Overload) Last() time.Duration { return time.Duration(o.last.Load()) }

// Lanes runs the inputs of a hot-path subscriber (tm, the registrar) on a
// fixed set of goroutines, one lane per key (the call key): the inputs of
// one key run one at a time, in order, and a handler can work on the
// key's state without locks. Each lane serves its priority queue first
// (responses and in-progress requests before new work). The queueing
// delay of every input feeds an Overload detector; OnChange hears its
// changes (to beat at once).
type Lanes struct {
	Load     Overload
	OnChange func(overloaded bool)

	lanes []lane
	quit  chan struct{}
	wg    sync.WaitGroup
}

type lane struct{ prio, normal chan laneJob }

type laneJob struct {
	fn func(waited time.Duration)
	at time.Time
}

// DefaultLaneQueue is how many jobs the lanes of a Lanes queue in all by
// default, each lane its share (DefaultLaneDepth).
const DefaultLaneQueue = 64 << 10

// DefaultLaneDepth is the default queue of each of n lanes (n <= 0: the
// default 64): an even share of DefaultLaneQueue, at least 64, so that more
// lanes spread the same queue (and its memory, 32 bytes a slot) rather than
// adding to it.
func DefaultLaneDepth(n int) int {
	if n <= 0 {
		n = 64
	}
	return max(DefaultLaneQueue/n, 64)
}

// NewLanes starts n lanes (default 64) of depth capacity each (default
// DefaultLaneDepth(n)) with an overload target and interval (defaults
// DefaultQueueTarget, DefaultQueueInterval).
func NewLanes(n, depth int, target, interval time.Duration) *Lanes {
	if n <= 0 {
		n = 64
	}
	if depth <= 0 {
		depth = DefaultLaneDepth(n)
	}
	if target <= 0 {
		target = DefaultQueueTarget
	}
	if interval <= 0 {
		interval = DefaultQueueInterval
	}
	l := &Lanes{Load: Overload{Target: target, Interval: interval}, quit: make(chan struct{})}
	l.lanes = make([]lane, n)
	for i := range l.lanes {
		l.lanes[i] = lane{prio: make(chan laneJob, depth), normal: make(chan laneJob, depth)}
		l.wg.Add(1)
		go l.work(l.lanes[i])
	}
	return l
}

// KeyHash is FNV-1a (32 bits) of key, without allocating: the lane of a
// call key (Lanes, ordered subscriptions), and what other per-call shards
// use to spread calls the same way.
func KeyHash(key string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return h
}

// Submit queues fn on the lane of key; it blocks while that queue is full
// (back-pressure) and drops fn once Stop began. fn gets how long it waited.
func (l *Lanes) Submit(key string, prio bool, fn func(waited time.Duration)) {
	ln := l.lanes[KeyHash(key)%uint32(len(l.lanes))]
	ch := ln.normal
	if prio {
		ch = ln.prio
	}
	select {
	case ch <- laneJob{fn: fn, at: time.Now()}:
	case <-l.quit:
	}
}

func (l *Lanes) work(ln lane) {
	defer l.wg.Done()
	for {
		var j laneJob
		select {
		case j = <-ln.prio:
		default:
			select {
			case j = <-ln.prio:
			case j = <-ln.normal:
			case <-l.quit:
				for {
					select {
					case j = <-ln.prio:
					case j = <-ln.normal:
					default:
						return
					}
					l.run(j)
				}
			}
		}
		l.run(j)
	}
}

func (l *Lanes) run(j laneJob) {
	now := time.Now()
	waited := now.Sub(j.at)
	if l.Load.Observe(waited, now) && l.OnChange != nil {
		l.OnChange(l.Load.Overloaded())
	}
	j.fn(waited)
}

// Stop lets what is queued run and stops the lanes.
func (l *Lanes) Stop() {
	close(l.quit)
	l.wg.Wait()
}

// Beater publishes an instance's beat every DefaultBeatEvery, and every
// Interval of its Overload while overloaded (each beat saying the next
// comes within 2*Interval), carrying the overload state and the latest
// window's delay: edges shed a share of the new dialogs for it, steered
// by that delay, while it says so.
type Beater struct {
	NC      *nats.Conn
	Service string
	ID      string
	Load    *Overload

	mu   sync.Mutex
	last time.Time
}

// Beat publishes one beat now (call it when the load state changes).
func (b *Beater) Beat() {
	over := b.Load != nil && b.Load.Overloaded()
	every := DefaultBeatEvery
	var delay, mean time.Duration
	if b.Load != nil {
		delay, mean = b.Load.Last(), b.Load.Mean()
		if over {
			every = 2 * b.Load.Interval
		}
	}
	b.mu.Lock()
	b.last = time.Now()
	b.mu.Unlock()
	_ = PublishBeat(b.NC, &Beat{
		Service: b.Service, ID: b.ID, At: time.Now().UTC(), EveryMs: every.Milliseconds(),
		Overloaded: over, QueueDelayMs: float64(delay) / 1e6, WindowDelayMs: float64(mean) / 1e6,
	})
}

// Run beats until ctx ends.
func (b *Beater) Run(ctx context.Context) {
	tick := DefaultBeatEvery
	if b.Load != nil && b.Load.Interval > 0 {
		tick = b.Load.Interval
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	b.Beat()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			b.mu.Lock()
			since := now.Sub(b.last)
			b.mu.Unlock()
			over := b.Load != nil && b.Load.Overloaded()
			// while overloaded, every tick (edges steer their admission
			// by the delay each beat carries; half an interval, as the
			// ticks and the beats the load's changes trigger interleave)
			if since >= DefaultBeatEvery || (over && since >= b.Load.Interval/2) {
				b.Beat()
			}
		}
	}
}

// Defaults of the overload detectors of the edge, tm and the registrar:
// two intervals in a row whose inputs waited DefaultQueueTarget or longer
// on average are overload. SIP's own clock sets the scale: a request that
// waits near T1 (500 ms) is retransmitted by its UAC, which doubles the
// load, so a queue must be caught well under that: at twice the max rate
// the delay grows by about a second per second, and this catches it near
// 300 ms. Shorter targets refuse calls during the bursts a 2-core machine
// absorbs at its max rate (50 ms over one 100 ms window did: the step at
// the max rate after an overload lost 10 % of its calls to 503).
const (
	DefaultQueueTarget   = 100 * time.Millisecond
	DefaultQueueInterval = 100 * time.Millisecond
)
