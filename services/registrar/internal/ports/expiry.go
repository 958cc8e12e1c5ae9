package ports

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
)

// Defaults of Expiry.
const (
	// DefaultExpiryMaxSleep is Expiry.MaxSleep when unset.
	DefaultExpiryMaxSleep = 30 * time.Second
	defaultExpiryEvery    = time.Second
	nextExpiryTimeout     = 5 * time.Second
)

// Expiry removes expired bindings and publishes reg.contact.expired for
// each. Every replica may run it: the location service returns each
// expired binding to exactly one caller.
//
// Run sleeps until the location service's next expiry (NextExpiry) and
// scans then, so the work follows what expires, not the clock: an idle
// deployment costs one NextExpiry (one Redis round trip) per MaxSleep and
// no Expire. The REGISTER handler calls Wake with the expiry of the
// bindings it wrote, so a binding that expires before the loop would look
// again is not late; bindings written by other replicas are noticed within
// MaxSleep.
type Expiry struct {
	Store location.Store
	Emit  Emitter
	// Every is the least time between the starts of two scans
	// (Config.ExpiryScan; default 1s): bindings expiring one after the
	// other are removed in batches, not one scan each. It is also the
	// longest timer of a sleep: Now is read again after it.
	Every time.Duration
	// MaxSleep is the longest sleep without asking the location service
	// for its next expiry: how late a binding written by another replica
	// may be noticed. Default DefaultExpiryMaxSleep.
	MaxSleep time.Duration
	Batch    int // bindings per Expire call; default 256
	Now      func() time.Time
	// After is the timer of the sleeps; nil means time.After. Tests drive
	// Run with a fake clock through Now and After.
	After func(d time.Duration) <-chan time.Time
	Log   *slog.Logger

	once  sync.Once
	wake  chan struct{} // a Wake may shorten the sleep (capacity 1: coalesces)
	woken atomic.Int64  // earliest time given to Wake since Run last looked, Unix ns; 0: none
	until atomic.Int64  // end of Run's current sleep, Unix ns; 0: not sleeping
}

// Wake tells the loop that a binding expires at at, so that it ends its
// sleep by then if it would sleep longer. It never blocks, coalesces
// (the earliest time counts), is safe for concurrent use, and is a no-op
// on a nil Expiry or for a zero (permanent) at. Call it after the binding
// is written.
func (x *Expiry) Wake(at time.Time) {
	if x == nil || at.IsZero() {
		return
	}
	n := max(at.UnixNano(), 1)
	if u := x.until.Load(); u != 0 && n >= u {
		return // the loop looks again by then anyway
	}
	for {
		w := x.woken.Load()
		if (w != 0 && w <= n) || x.woken.CompareAndSwap(w, n) {
			break
		}
	}
	select {
	case x.signal() <- struct{}{}:
	default:
	}
}

// Run expires bindings until ctx ends: it asks the location service for
// its next expiry, sleeps until then (at most MaxSleep, less if Wake asks
// for an earlier time, and never so that two scans start within Every),
// and scans when something is due. When NextExpiry fails, it asks again
// after min(Every, MaxSleep).
func (x *Expiry) Run(ctx context.Context) {
	var last time.Time // start of the last scan
	for ctx.Err() == nil {
		// Wakes up to here are for bindings written before NextExpiry
		// reads: it sees them. Later ones signal the sleep below.
		x.until.Store(0)
		x.woken.Store(0)
		select {
		case <-x.signal():
		default:
		}
		at, due := x.next(ctx)
		scan, ok := x.sleep(ctx, at, due, last)
		if !ok {
			return
		}
		if scan {
			last = x.Now()
			x.Scan(ctx)
		}
	}
}

// next returns when the loop should look again and whether a binding is
// due then (false: only to ask NextExpiry again).
func (x *Expiry) next(ctx context.Context) (time.Time, bool) {
	maxSleep := x.MaxSleep
	if maxSleep <= 0 {
		maxSleep = DefaultExpiryMaxSleep
	}
	now := x.Now()
	nctx, cancel := context.WithTimeout(ctx, nextExpiryTimeout)
	at, ok, err := x.Store.NextExpiry(nctx)
	cancel()
	switch {
	case err != nil:
		retry := min(x.every(), maxSleep)
		if ctx.Err() == nil {
			x.Log.Warn("registrar: next binding expiry", "err", err, "retry_in", retry)
		}
		return now.Add(retry), false
	case ok && at.Before(now.Add(maxSleep)):
		return at, true
	default:
		return now.Add(maxSleep), false
	}
}

// sleep waits until at by Now, or until a Wake for an earlier time, which
// makes the sleep due. A due sleep ends no earlier than Every after last.
// It reports whether to scan, and ok false when ctx ended.
//
// The timer runs at most Every at a time and Now is read again after it
// (no I/O), so the sleep follows Now when the clock jumps (a step of the
// system clock, a test's shifted clock) instead of the monotonic timer.
func (x *Expiry) sleep(ctx context.Context, at time.Time, due bool, last time.Time) (scan, ok bool) {
	every := x.every()
	for {
		if gap := last.Add(every); due && at.Before(gap) {
			at = gap
		}
		d := at.Sub(x.Now())
		if d <= 0 {
			return due, true
		}
		x.until.Store(at.UnixNano())
		select {
		case <-ctx.Done():
			return false, false
		case <-x.after(min(d, every)):
		case <-x.signal():
			if w := x.woken.Swap(0); w != 0 && w < at.UnixNano() {
				at, due = time.Unix(0, w), true
			}
		}
	}
}

// earliestExpiry is the earliest Expires of bs; zero when none expires.
func earliestExpiry(bs []location.Binding) time.Time {
	var at time.Time
	for i := range bs {
		if x := bs[i].Expires; !x.IsZero() && (at.IsZero() || x.Before(at)) {
			at = x
		}
	}
	return at
}

func (x *Expiry) signal() chan struct{} {
	x.once.Do(func() { x.wake = make(chan struct{}, 1) })
	return x.wake
}

func (x *Expiry) every() time.Duration {
	if x.Every <= 0 {
		return defaultExpiryEvery
	}
	return x.Every
}

func (x *Expiry) after(d time.Duration) <-chan time.Time {
	if x.After != nil {
		return x.After(d)
	}
	return time.After(d)
}

// Scan expires what is due now, in batches, and returns how many bindings
// it expired.
func (x *Expiry) Scan(ctx context.Context) int {
	batch := x.Batch
	if batch <= 0 {
		batch = 256
	}
	total := 0
	for ctx.Err() == nil {
		now := x.Now()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		bs, err := x.Store.Expire(sctx, now, batch)
		cancel()
		total += len(bs)
		if len(bs) > 0 {
			changes := make([]location.Change, len(bs))
			for i, b := range bs {
				changes[i] = location.Change{Kind: location.Expired, Binding: b}
			}
			// The bindings are gone: publish even while shutting down.
			ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := x.Emit.Emit(ectx, changes, now); err != nil {
				x.Log.Warn("registrar: publish expired bindings", "count", len(changes), "err", err)
			}
			cancel()
		}
		if err != nil {
			if ctx.Err() == nil {
				x.Log.Warn("registrar: expire bindings", "err", err)
			}
			break
		}
		if len(bs) < batch {
			break
		}
	}
	return total
}
