package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
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
}

// Committer batches the ops of concurrent callers into one Apply ("group
// commit"). The first caller's ops go at once; ops submitted while an
// Apply is in flight wait and go together in the next one, in the order
// their Commits were queued: natural batching, with no timer and no added
// latency when idle. Applies run one at a time, at most MaxOps ops each,
// on the goroutine of the caller that found none in flight (the leader):
// it applies batches until the queue is empty, so an idle committer costs
// no goroutine hand-off at all. It is safe for concurrent use.
//
// The ops of one Commit keep their order; ops of different Commits are
// independent, as in Apply.
type Committer struct {
	s       BatchStore
	maxOps  int
	timeout time.Duration

	mu      sync.Mutex
	idle    sync.Cond // signalled when a leader stops
	queue   []*commitReq
	closed  bool
	leading bool // a caller is applying batches

	// The leader's buffers, reused from one Apply to the next.
	batch []Op
	parts []commitPart

	commits, batches, ops atomic.Uint64
}

// commitReq is one Commit waiting for its ops to be applied.
type commitReq struct {
	ops  []Op
	res  []OpResult
	err  error         // the first whole-batch error of its Applies
	done chan struct{} // closed when every op has a result

	// Under Committer.mu:
	taken     int  // ops taken into an Apply so far
	abandoned bool // the caller left (its context ended)
}

// commitPart is the ops [off, off+n) of one request within a batch.
type commitPart struct {
	req    *commitReq
	off, n int
}

// NewCommitter returns a Committer in front of s; Close stops it.
func NewCommitter(s BatchStore, opt CommitterOptions) *Committer {
	if opt.MaxOps <= 0 {
		opt.MaxOps = DefaultCommitMaxOps
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultCommitTimeout
	}
	c := &Committer{s: s, maxOps: opt.MaxOps, timeout: opt.Timeout}
	c.idle.L = &c.mu
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
	req := &commitReq{ops: ops, res: make([]OpResult, len(ops)), done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: committer closed", ErrUnavailable)
	}
	if len(ops) == 0 {
		c.mu.Unlock()
		return req.res, nil
	}
	c.queue = append(c.queue, req)
	c.commits.Add(1)
	if !c.leading {
		c.leading = true
		c.lead(req) // unlocks
	} else {
		c.mu.Unlock()
	}

	select {
	case <-req.done:
		return req.res, req.err
	case <-ctx.Done():
	}
	select {
	case <-req.done: // done too: prefer the answer
		return req.res, req.err
	default:
	}
	c.mu.Lock()
	req.abandoned = true
	c.mu.Unlock()
	return nil, ctx.Err()
}

// Close waits for the pending commits to be applied and returns. Commit
// after Close returns ErrUnavailable. It is safe to call more than once.
func (c *Committer) Close() {
	c.mu.Lock()
	c.closed = true
	for c.leading {
		c.idle.Wait()
	}
	c.mu.Unlock()
}

// Stats returns the committer's counters.
func (c *Committer) Stats() CommitterStats {
	return CommitterStats{Commits: c.commits.Load(), Batches: c.batches.Load(), Ops: c.ops.Load()}
}

// lead applies batches until the queue is empty, then gives up the lead.
// A caller leads until its own request is applied (own); if others are
// still queued then, a new goroutine takes the lead over, so no caller
// serves the others for long. c.mu is held on entry and released on
// return.
func (c *Committer) lead(own *commitReq) {
	for len(c.queue) > 0 {
		if own != nil && own.taken == len(own.ops) && !c.closed {
			select {
			case <-own.done:
				go func() {
					c.mu.Lock()
					c.lead(nil)
				}()
				c.mu.Unlock()
				return
			default:
			}
		}
		c.take()
		c.mu.Unlock()
		if len(c.batch) > 0 {
			c.apply()
		}
		c.mu.Lock()
	}
	c.leading = false
	c.idle.Broadcast()
	c.mu.Unlock()
}

// take moves up to maxOps ops from the head of the queue into c.batch,
// dropping abandoned requests. c.mu must be held.
func (c *Committer) take() {
	c.batch, c.parts = c.batch[:0], c.parts[:0]
	i := 0
	for ; i < len(c.queue) && len(c.batch) < c.maxOps; i++ {
		req := c.queue[i]
		if req.abandoned {
			continue
		}
		n := min(len(req.ops)-req.taken, c.maxOps-len(c.batch))
		c.parts = append(c.parts, commitPart{req: req, off: req.taken, n: n})
		c.batch = append(c.batch, req.ops[req.taken:req.taken+n]...)
		req.taken += n
		if req.taken < len(req.ops) {
			break // the batch is full; the rest of req goes next
		}
	}
	rest := copy(c.queue, c.queue[i:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
}

// apply runs c.batch and hands each request its results.
func (c *Committer) apply() {
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
	at := 0
	for _, p := range c.parts {
		copy(p.req.res[p.off:p.off+p.n], res[at:at+p.n])
		at += p.n
		if err != nil && p.req.err == nil {
			p.req.err = err
		}
		if p.off+p.n == len(p.req.ops) {
			close(p.req.done)
		}
	}
	clear(c.batch) // drop the references to the callers' values
	clear(c.parts)
}
