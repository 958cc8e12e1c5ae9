package store

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbus/sipbus/pkg/groupcommit"
)

// Defaults of CommitterOptions.
const (
	DefaultCommitMaxOps  = 1024
	DefaultCommitTimeout = time.Second
)

// CommitterOptions configures a Committer.
type CommitterOptions struct {
	// MaxOps bounds the ops of one Apply; default 1024 (<= 0 means the
	// default). A Commit of more ops is split over consecutive Applies.
	MaxOps int
	// Timeout bounds each Apply; default 1s (<= 0 means the default). An
	// Apply serves many callers, so no caller's context bounds it.
	Timeout time.Duration
}

// CommitterStats are a Committer's counters since it was made.
type CommitterStats struct {
	Commits uint64 // Commit calls with at least one op that were queued
	Batches uint64 // Apply calls
	Ops     uint64 // ops sent to Apply
	// Rode and Flushed count the ops of Defer that went with another
	// caller's Apply and those that went in one of their own.
	Rode, Flushed uint64
}

// Committer batches the ops of concurrent callers into one Apply ("group
// commit", see package groupcommit): the first caller's ops go at once;
// ops submitted while an Apply is in flight wait and go together in the
// next one, in the order their Commits were queued, at most MaxOps per
// Apply: natural batching, with no timer and no added latency when idle.
// Applies run one at a time, on the goroutine of the caller that found
// none in flight, so an idle committer costs no goroutine hand-off at all.
// It is safe for concurrent use.
//
// The ops of one Commit keep their order; ops of different Commits are
// independent, as in Apply.
//
// Writes that nothing waits for go through Defer: they ride with the
// next Apply, whoever's it is, so at low load, where Applies rarely
// overlap, they cost no round trip of their own.
type Committer struct {
	s       BatchStore
	timeout time.Duration
	g       groupcommit.Group[opRef]
	batch   []Op // the ops of the Apply being run, reused

	commits, batches, ops, rode, flushed atomic.Uint64

	lmu    sync.Mutex // guards the deferred ops
	later  []deferred
	ldue   time.Time   // when the timer flushes them
	ltimer *time.Timer // nil while none wait
	closed bool
}

// deferred is one Defer's ops.
type deferred struct {
	ops  []Op
	done func([]OpResult, error)
}

// commitReq is one Commit waiting for its ops to be applied.
type commitReq struct {
	ops       []Op
	res       []OpResult
	err       error         // the first whole-batch error of its Applies
	left      int           // ops without a result yet (touched by the running batch only)
	done      chan struct{} // closed when every op has a result
	abandoned atomic.Bool   // the caller left (its context ended)
}

// opRef is one op of a Commit: the committer's unit of batching, so that
// a Commit of more than MaxOps ops spreads over consecutive Applies.
type opRef struct {
	req *commitReq
	i   int
}

// NewCommitter returns a Committer in front of s; Close stops it.
func NewCommitter(s BatchStore, opt CommitterOptions) *Committer {
	if opt.MaxOps <= 0 {
		opt.MaxOps = DefaultCommitMaxOps
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultCommitTimeout
	}
	c := &Committer{s: s, timeout: opt.Timeout}
	c.g.Max = opt.MaxOps
	c.g.Run = c.apply
	c.g.Skip = func(r opRef) bool { return r.req.abandoned.Load() }
	return c
}

// Commit applies ops in the committer's next Apply (or the next few, for
// more than MaxOps ops) and returns their results, in order, with the
// Apply's whole-batch error if any (see BatchStore.Apply: each result
// carries it too).
//
// Commit does not copy ops: leave them and their Value bytes unchanged
// until it returns. When ctx ends first, Commit returns ctx.Err() at once:
// ops not yet taken into an Apply are then dropped, never applied, but
// ops already in flight may or may not be applied, and the committer may
// still read them, so do not reuse their memory. The one exception is the
// caller whose goroutine runs the Apply (see Committer): it returns when
// that Apply ends, at the latest after Timeout. After Close, Commit
// returns ErrUnavailable.
func (c *Committer) Commit(ctx context.Context, ops []Op) ([]OpResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req := &commitReq{ops: ops, res: make([]OpResult, len(ops)), left: len(ops), done: make(chan struct{})}
	var small [8]opRef
	refs := small[:0]
	for i := range ops {
		refs = append(refs, opRef{req, i})
	}
	if len(ops) > 0 {
		c.commits.Add(1) // before Submit, which may run the Apply
	}
	if err := c.g.Submit(refs...); err != nil {
		if len(ops) > 0 {
			c.commits.Add(^uint64(0))
		}
		return nil, fmt.Errorf("%w: committer closed", ErrUnavailable)
	}
	if len(ops) == 0 {
		return req.res, nil
	}
	select {
	case <-req.done:
		return req.res, req.err
	case <-ctx.Done():
	}
	req.abandoned.Store(true)
	select {
	case <-req.done: // done too: prefer the answer
		return req.res, req.err
	default:
	}
	return nil, ctx.Err()
}

// Defer applies ops that nothing waits for (a write-behind: the dialog
// record a BYE removes) with the next Apply, whoever's it is, and within
// `within` at the latest, in an Apply of their own. done, when not nil,
// gets their results, on the goroutine that ran the Apply (keep it
// short). Defer does not copy ops: leave them unchanged. After Close,
// nothing is applied and done gets ErrUnavailable.
//
// Why: at low load Applies rarely overlap, so a write-behind that goes
// at once pays a round trip of its own; at 300 calls/s tm commits every
// millisecond or so, and a BYE's delete was one of its five round trips
// per call.
func (c *Committer) Defer(ops []Op, within time.Duration, done func([]OpResult, error)) {
	if len(ops) == 0 {
		if done != nil {
			done(nil, nil)
		}
		return
	}
	c.lmu.Lock()
	if c.closed {
		c.lmu.Unlock()
		if done != nil {
			res := make([]OpResult, len(ops))
			done(res, failBatch(res, fmt.Errorf("%w: committer closed", ErrUnavailable)))
		}
		return
	}
	c.later = append(c.later, deferred{ops: ops, done: done})
	due := time.Now().Add(within)
	switch {
	case c.ltimer == nil:
		c.ltimer = time.AfterFunc(within, c.FlushDeferred)
		c.ldue = due
	case due.Before(c.ldue):
		c.ltimer.Reset(within)
		c.ldue = due
	}
	c.lmu.Unlock()
}

// takeLater takes the deferred ops, whole Defers only, up to room ops,
// and stops the timer once none wait.
func (c *Committer) takeLater(room int) []deferred {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	n, k := 0, 0
	for k < len(c.later) && n+len(c.later[k].ops) <= room {
		n += len(c.later[k].ops)
		k++
	}
	if k == 0 {
		return nil
	}
	out := append([]deferred(nil), c.later[:k]...)
	c.later = append(c.later[:0], c.later[k:]...)
	if len(c.later) == 0 && c.ltimer != nil {
		c.ltimer.Stop()
		c.ltimer = nil
	}
	return out
}

// FlushDeferred applies the deferred ops now, and returns when they are
// (Defer's timer, a graceful shutdown: nothing may stay in memory only).
func (c *Committer) FlushDeferred() {
	ls := c.takeLater(math.MaxInt)
	if len(ls) == 0 {
		return
	}
	var ops []Op
	for _, l := range ls {
		ops = append(ops, l.ops...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	res, err := c.Commit(ctx, ops)
	if res == nil { // not applied: ctx ended or the committer closed
		res = make([]OpResult, len(ops))
		failBatch(res, err)
	}
	c.flushed.Add(uint64(len(ops)))
	answer(ls, res, err)
}

// answer hands each Defer its share of res.
func answer(ls []deferred, res []OpResult, err error) {
	off := 0
	for _, l := range ls {
		n := len(l.ops)
		if l.done != nil {
			l.done(res[off:off+n:off+n], err)
		}
		off += n
	}
}

// Close applies the deferred ops, waits for the pending commits to be
// applied and returns. Commit after Close returns ErrUnavailable, Defer
// applies nothing. It is safe to call more than once.
func (c *Committer) Close() {
	c.lmu.Lock()
	c.closed = true
	c.lmu.Unlock()
	c.FlushDeferred()
	c.g.Close()
}

// Stats returns the committer's counters.
func (c *Committer) Stats() CommitterStats {
	return CommitterStats{Commits: c.commits.Load(), Batches: c.batches.Load(), Ops: c.ops.Load(),
		Rode: c.rode.Load(), Flushed: c.flushed.Load()}
}

// apply runs one batch in an Apply and hands each request its results.
func (c *Committer) apply(batch []opRef) {
	c.batch = c.batch[:0]
	for _, r := range batch {
		c.batch = append(c.batch, r.req.ops[r.i])
	}
	rides := c.takeLater(c.g.Max - len(c.batch))
	for _, l := range rides {
		c.batch = append(c.batch, l.ops...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	res, err := c.s.Apply(ctx, c.batch)
	cancel()
	c.batches.Add(1)
	c.ops.Add(uint64(len(c.batch)))
	if len(res) != len(c.batch) {
		bad := fmt.Errorf("store: committer: Apply returned %d results for %d ops", len(res), len(c.batch))
		if err == nil {
			err = bad
		}
		res = make([]OpResult, len(c.batch))
		failBatch(res, err)
	}
	for k, r := range batch {
		req := r.req
		req.res[r.i] = res[k]
		if err != nil && req.err == nil {
			req.err = err
		}
		if req.left--; req.left == 0 {
			close(req.done)
		}
	}
	if len(rides) > 0 {
		c.rode.Add(uint64(len(c.batch) - len(batch)))
		answer(rides, res[len(batch):], err)
	}
	clear(c.batch) // drop the references to the callers' values
}
