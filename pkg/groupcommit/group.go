// Package groupcommit batches the work of concurrent callers ("group
// commit"): whoever finds no batch in flight runs one with what is queued,
// its own items among them; items queued meanwhile go together in the next
// batch, sent as soon as the one in flight returns. Without Linger (below)
// there is no timer: an item alone goes at once, and under load one batch
// carries everything that arrived during the previous one. tm's
// store.Committer (Redis writes of many calls in one pipeline) and
// location's Apply (REGISTER scripts in one pipeline) are built on it.
//
// A Group with Linger set trades latency for fewer batches: a batch not
// yet full waits up to Linger after its first item was queued, for more
// (Kafka's linger.ms). For work nobody waits on at once, such as the web
// page's call history: at 300 calls/s, one pipeline every 50 ms instead
// of one Redis round trip a call. A full batch (Max items) goes at once,
// so under load a lingering group runs as one without Linger does.
//
// The caller that finds no batch in flight leads: it runs batches on its
// own goroutine until its own items have run, so an idle group costs no
// goroutine hand-off. If items are still queued then, a new goroutine
// takes the lead over, so no caller serves the others for long. Batches
// run one at a time, in queue order, at most Max items each.
package groupcommit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultMax is the batch bound when Group.Max is not set.
const DefaultMax = 128

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("groupcommit: closed")

// Group runs submitted items in batches. Set Run (and optionally Max and
// Skip) before the first Submit; a Group must not be copied after first
// use. It is safe for concurrent use.
type Group[T any] struct {
	// Run applies one batch. It runs with no lock held, one batch at a
	// time, and must deliver each item's outcome (by the item's own
	// means: a channel it carries, fields it points to). The slice is
	// reused for the next batch: do not keep it.
	Run func(batch []T)
	// Max bounds a batch; DefaultMax when <= 0.
	Max int
	// Skip, when set, drops an item as its batch is taken, without
	// running it (a caller that left). It runs with the group's lock held.
	Skip func(T) bool
	// Linger, when > 0, is how long a batch of fewer than Max items
	// waits for more after its first item was queued (see the package
	// doc). Close ends the wait.
	Linger time.Duration

	mu      sync.Mutex
	headAt  time.Time     // when the queue's head was queued (Linger)
	full    chan struct{} // a lingering leader's wake-up: the queue is full, or closing
	idle    sync.Cond     // broadcast when a leader stops
	queue   []T
	buf     []T    // the batch being run, reused
	queued  uint64 // items ever queued: the last one's sequence number
	taken   uint64 // items ever taken off the queue (run or skipped)
	leading bool
	closed  bool
}

// Submit queues items, in order, for the next batches. When no batch is
// in flight the caller leads, and Submit returns once its items have run;
// otherwise it returns at once and the items run in a batch led by
// another goroutine. The caller waits for its outcome by its own means.
// After Close, Submit returns ErrClosed and runs nothing.
func (g *Group[T]) Submit(items ...T) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	if len(items) == 0 {
		g.mu.Unlock()
		return nil
	}
	if len(g.queue) == 0 && g.Linger > 0 {
		g.headAt = time.Now()
	}
	g.queue = append(g.queue, items...)
	g.queued += uint64(len(items))
	if g.leading {
		if g.Linger > 0 && len(g.queue) >= g.max() {
			g.wake()
		}
		g.mu.Unlock()
		return nil
	}
	g.leading = true
	g.lead(g.queued) // unlocks
	return nil
}

// Close waits for the queued items to run; Submit then returns ErrClosed.
// It is safe to call more than once.
func (g *Group[T]) Close() {
	g.mu.Lock()
	g.closed = true
	g.wake()
	for g.leading {
		g.idle.Wait()
	}
	g.mu.Unlock()
}

// lead runs batches until the queue is empty or, for a caller (own > 0),
// until its items up to sequence number own have run; then a new
// goroutine leads what is left, unless the group is closing (the leader
// then drains it, and Close waits for that). g.mu is held on entry and
// released on return.
func (g *Group[T]) lead(own uint64) {
	if g.idle.L == nil {
		g.idle.L = &g.mu
	}
	for len(g.queue) > 0 {
		if own > 0 && g.taken >= own && !g.closed {
			go func() {
				g.mu.Lock()
				g.lead(0)
			}()
			g.mu.Unlock()
			return
		}
		g.linger()
		batch := g.take()
		g.mu.Unlock()
		if len(batch) > 0 {
			g.Run(batch)
		}
		clear(batch) // drop the references to the callers' items
		g.mu.Lock()
	}
	g.leading = false
	g.idle.Broadcast()
	g.mu.Unlock()
}

// linger waits, while the queue holds fewer than Max items and the group
// is open, until Linger has passed since its head was queued. g.mu is held
// on entry and on return, released while waiting.
func (g *Group[T]) linger() {
	if g.Linger <= 0 {
		return
	}
	select {
	case <-g.wakeup(): // a wake-up meant for an earlier batch
	default:
	}
	for !g.closed && len(g.queue) < g.max() {
		left := time.Until(g.headAt.Add(g.Linger))
		if left <= 0 {
			return
		}
		t := time.NewTimer(left)
		g.mu.Unlock()
		select {
		case <-t.C:
		case <-g.full:
		}
		t.Stop()
		g.mu.Lock()
	}
}

// wake ends a lingering leader's wait. g.mu must be held.
func (g *Group[T]) wake() {
	select {
	case g.wakeup() <- struct{}{}:
	default:
	}
}

// wakeup is the lingering leader's wake-up channel, made on first use.
// g.mu must be held.
func (g *Group[T]) wakeup() chan struct{} {
	if g.full == nil {
		g.full = make(chan struct{}, 1)
	}
	return g.full
}

func (g *Group[T]) max() int {
	if g.Max <= 0 {
		return DefaultMax
	}
	return g.Max
}

// take moves up to Max items from the head of the queue into the batch
// buffer, dropping those Skip selects. g.mu must be held.
func (g *Group[T]) take() []T {
	max := g.max()
	batch := g.buf[:0]
	i := 0
	for ; i < len(g.queue) && len(batch) < max; i++ {
		if g.Skip != nil && g.Skip(g.queue[i]) {
			continue
		}
		batch = append(batch, g.queue[i])
	}
	g.taken += uint64(i)
	rest := copy(g.queue, g.queue[i:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	g.buf = batch
	return batch
}

// Context is the context to run a batch under: the values of the first
// item's context, no cancellation (one caller giving up does not fail the
// others) and the latest deadline among the items' contexts, none if one
// of them has none. ctxOf gives an item's context. Call cancel when the
// batch is done.
func Context[T any](batch []T, ctxOf func(T) context.Context) (ctx context.Context, cancel context.CancelFunc) {
	if len(batch) == 0 {
		return context.Background(), func() {}
	}
	base := context.WithoutCancel(ctxOf(batch[0]))
	var last time.Time
	for _, it := range batch {
		d, ok := ctxOf(it).Deadline()
		if !ok {
			return base, func() {}
		}
		if d.After(last) {
			last = d
		}
	}
	return context.WithDeadline(base, last)
}
