package ports

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
)

var expiryT0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is Expiry's Now and After under the test's control. A timer
// runs from the time Now last returned (the loop computes its durations
// from it), so a timer started just after an Advance is not late; it
// fires when Advance passes its end.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	last   time.Time // what Now last returned
	timers []fakeTimer
}

type fakeTimer struct {
	end time.Time
	ch  chan time.Time
}

func newFakeClock(t0 time.Time) *fakeClock { return &fakeClock{now: t0, last: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = c.now
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if end := c.last.Add(d); end.After(c.now) {
		c.timers = append(c.timers, fakeTimer{end: end, ch: ch})
	} else {
		ch <- c.now
	}
	return ch
}

// Advance moves the clock and fires the timers it passes.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	left := c.timers[:0]
	for _, tm := range c.timers {
		if tm.end.After(c.now) {
			left = append(left, tm)
		} else {
			tm.ch <- c.now
		}
	}
	c.timers = left
}

// countingStore counts Expire and NextExpiry calls; nextErr, when set,
// makes NextExpiry fail.
type countingStore struct {
	location.Store
	expires, nexts atomic.Int64
	nextErr        atomic.Pointer[error]
}

func (s *countingStore) Expire(ctx context.Context, now time.Time, max int) ([]location.Binding, error) {
	s.expires.Add(1)
	return s.Store.Expire(ctx, now, max)
}

func (s *countingStore) NextExpiry(ctx context.Context) (time.Time, bool, error) {
	s.nexts.Add(1)
	if err := s.nextErr.Load(); err != nil {
		return time.Time{}, false, *err
	}
	return s.Store.NextExpiry(ctx)
}

// recordingEmitter keeps the changes emitted.
type recordingEmitter struct {
	mu      sync.Mutex
	changes []location.Change
	at      []time.Time
}

func (e *recordingEmitter) Emit(_ context.Context, cs []location.Change, at time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.changes = append(e.changes, cs...)
	for range cs {
		e.at = append(e.at, at)
	}
	return nil
}

// expired returns "contact@at" of the Expired changes so far.
func (e *recordingEmitter) expired() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for i, c := range e.changes {
		if c.Kind == location.Expired {
			out = append(out, fmt.Sprintf("%s@%s", c.Binding.Contact, e.at[i].Sub(expiryT0)))
		}
	}
	return out
}

// waitExpired polls until want (as expired returns it) was emitted.
func (e *recordingEmitter) waitExpired(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := e.expired()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired events = %q, want %q", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// expiryRig is an Expiry on the memory engine and a fake clock at
// expiryT0, running until the test ends.
type expiryRig struct {
	x     *Expiry
	store *countingStore
	emit  *recordingEmitter
	clock *fakeClock
}

func startExpiry(t *testing.T, every time.Duration, setup func(*expiryRig)) *expiryRig {
	t.Helper()
	r := &expiryRig{store: &countingStore{Store: location.NewMemory()}, emit: &recordingEmitter{}, clock: newFakeClock(expiryT0)}
	r.x = &Expiry{Store: r.store, Emit: r.emit, Every: every, Now: r.clock.Now, After: r.clock.After, Log: quietLog}
	if setup != nil {
		setup(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.x.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return r
}

// waitSleep polls until the loop sleeps until want (Now's time) and
// returns. An Advance to want then ends the sleep.
func (r *expiryRig) waitSleep(t *testing.T, want time.Time) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.x.until.Load() != want.UnixNano() {
		if time.Now().After(deadline) {
			t.Fatalf("the expiry loop sleeps until %s, want %s", r.sleepsUntil(), want.Sub(expiryT0))
		}
		time.Sleep(time.Millisecond)
	}
}

// sleepsUntil is the end of the loop's current sleep as an offset from
// expiryT0, "-" when it does not sleep.
func (r *expiryRig) sleepsUntil() string {
	u := r.x.until.Load()
	if u == 0 {
		return "-"
	}
	return "+" + time.Unix(0, u).Sub(expiryT0).String()
}

// register writes contacts of aor (expiring at the offsets from expiryT0)
// as a REGISTER at expiryT0 would.
func (r *expiryRig) register(t *testing.T, aor string, offsets ...time.Duration) []location.Binding {
	t.Helper()
	u := location.Update{AOR: aor, CallID: "c-" + aor, CSeq: 1, Now: expiryT0}
	for i, o := range offsets {
		u.Contacts = append(u.Contacts, location.Binding{Contact: fmt.Sprintf("sip:%d@192.0.2.1", i), Q: 1, Expires: expiryT0.Add(o)})
	}
	bs, _, err := r.store.Apply(context.Background(), u)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return bs
}

// TestExpiryIdle: with nothing to expire the loop asks for the next expiry
// once per MaxSleep and never calls Expire, however small Every is.
func TestExpiryIdle(t *testing.T) {
	r := startExpiry(t, time.Millisecond, func(r *expiryRig) {
		// A permanent binding never expires.
		gw := location.Binding{AOR: "gw@example.com", Contact: "sip:gw@198.51.100.1", Q: 1, Updated: expiryT0}
		if err := r.store.Add(context.Background(), gw); err != nil {
			t.Fatal(err)
		}
	})
	const periods = 20 // 10 minutes
	for i := 1; i <= periods; i++ {
		r.waitSleep(t, expiryT0.Add(time.Duration(i)*DefaultExpiryMaxSleep))
		r.clock.Advance(DefaultExpiryMaxSleep)
	}
	r.waitSleep(t, expiryT0.Add((periods+1)*DefaultExpiryMaxSleep))
	if n := r.store.expires.Load(); n != 0 {
		t.Errorf("%d Expire calls in %v idle, want 0", n, periods*DefaultExpiryMaxSleep)
	}
	if n := r.store.nexts.Load(); n != periods+1 {
		t.Errorf("%d NextExpiry calls in %v idle, want %d (one per MaxSleep)", n, periods*DefaultExpiryMaxSleep, periods+1)
	}
}

// TestExpiryAtExpiry: the loop sleeps until the earliest binding expires,
// removes it then and emits its event; the later binding waits for its own
// time.
func TestExpiryAtExpiry(t *testing.T) {
	r := startExpiry(t, time.Second, func(r *expiryRig) {
		r.register(t, "alice@example.com", 10*time.Second, 2*time.Hour)
		r.register(t, "bob@example.com", 20*time.Second)
	})
	r.waitSleep(t, expiryT0.Add(10*time.Second))
	r.clock.Advance(9999 * time.Millisecond)
	r.waitSleep(t, expiryT0.Add(10*time.Second))
	if n := r.store.expires.Load(); n != 0 {
		t.Fatalf("%d Expire calls before the expiry, want 0", n)
	}
	r.clock.Advance(time.Millisecond)
	r.emit.waitExpired(t, "sip:0@192.0.2.1@10s")
	r.waitSleep(t, expiryT0.Add(20*time.Second))
	r.clock.Advance(10 * time.Second)
	r.emit.waitExpired(t, "sip:0@192.0.2.1@10s", "sip:0@192.0.2.1@20s")
	// Left: alice's 2h binding; the loop sleeps MaxSleep at a time.
	r.waitSleep(t, expiryT0.Add(20*time.Second+DefaultExpiryMaxSleep))
	if n := r.store.expires.Load(); n != 2 {
		t.Errorf("%d Expire calls, want 2 (one per expiry)", n)
	}
}

// runReal runs x on the real clock until the test ends.
func runReal(t *testing.T, x *Expiry) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); x.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestExpiryRealClock runs the loop on the real clock and timers: a
// binding living 300ms is removed, and its event emitted, shortly after it
// expires.
func TestExpiryRealClock(t *testing.T) {
	store := &countingStore{Store: location.NewMemory()}
	emit := &recordingEmitter{}
	x := &Expiry{Store: store, Emit: emit, Every: time.Second, Now: time.Now, Log: quietLog}
	runReal(t, x)
	ctx := context.Background()
	now := time.Now()
	u := location.Update{AOR: "alice@example.com", CallID: "c", CSeq: 1, Now: now, Contacts: []location.Binding{
		{Contact: "sip:short@192.0.2.1", Q: 1, Expires: now.Add(300 * time.Millisecond)},
		{Contact: "sip:long@192.0.2.1", Q: 1, Expires: now.Add(time.Hour)},
	}}
	bs, _, err := store.Apply(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	exp := earliestExpiry(bs) // as stored: to the millisecond
	x.Wake(exp)               // as the REGISTER handler does
	deadline := time.Now().Add(5 * time.Second)
	for len(emit.expired()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no expired event 5s after the binding expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
	seen := time.Now()
	emit.mu.Lock()
	c, at := emit.changes[0], emit.at[0]
	emit.mu.Unlock()
	if c.Binding.Contact != "sip:short@192.0.2.1" || len(emit.expired()) != 1 {
		t.Errorf("expired %q, want only sip:short@192.0.2.1", emit.expired())
	}
	if at.Before(exp) || seen.Sub(exp) > time.Second {
		t.Errorf("expired at +%v (seen at +%v), want at or shortly after +%v", at.Sub(now), seen.Sub(now), exp.Sub(now))
	}
	if next, ok, _ := store.NextExpiry(ctx); !ok || !next.Equal(time.UnixMilli(now.Add(time.Hour).UnixMilli())) {
		t.Errorf("NextExpiry after the scan = %v, %v; want the 1h binding's", next, ok)
	}
	if n := store.expires.Load(); n != 1 {
		t.Errorf("%d Expire calls, want 1", n)
	}
}

// TestExpiryClockJump: the sleep follows Now, not the timer, so when the
// clock jumps (here a shifted clock, as the registrar's component tests
// use; in production a step of the system clock) a binding that became due
// goes within Every, not at the end of a MaxSleep timer.
func TestExpiryClockJump(t *testing.T) {
	store := &countingStore{Store: location.NewMemory()}
	emit := &recordingEmitter{}
	var off atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	x := &Expiry{Store: store, Emit: emit, Every: 20 * time.Millisecond, Now: now, Log: quietLog}
	t0 := now()
	u := location.Update{AOR: "alice@example.com", CallID: "c", CSeq: 1, Now: t0, Contacts: []location.Binding{
		{Contact: "sip:alice@192.0.2.1", Q: 1, Expires: t0.Add(time.Minute)},
	}}
	if _, _, err := store.Apply(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	runReal(t, x)
	deadline := time.Now().Add(5 * time.Second)
	for x.until.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the expiry loop does not sleep")
		}
		time.Sleep(time.Millisecond)
	}
	off.Store(int64(61 * time.Second))
	jumped := time.Now()
	for len(emit.expired()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no expired event %v after the clock jumped past the expiry", time.Since(jumped))
		}
		time.Sleep(time.Millisecond)
	}
	if d := time.Since(jumped); d > 2*time.Second {
		t.Errorf("expired %v after the clock jumped, want within a few Every (20ms)", d)
	}
}

// TestExpiryWake: a Wake for a time before the end of the current sleep
// shortens it; later and zero times do not disturb it; concurrent Wakes
// coalesce to the earliest.
func TestExpiryWake(t *testing.T) {
	r := startExpiry(t, time.Second, func(r *expiryRig) {
		r.register(t, "alice@example.com", time.Hour)
	})
	r.waitSleep(t, expiryT0.Add(DefaultExpiryMaxSleep))
	// Not before the sleep's end, or permanent: ignored.
	r.x.Wake(expiryT0.Add(time.Minute))
	r.x.Wake(expiryT0.Add(DefaultExpiryMaxSleep))
	r.x.Wake(time.Time{})
	var unwired *Expiry
	unwired.Wake(expiryT0) // a handler without an expiry loop
	if len(r.x.signal()) != 0 || r.x.woken.Load() != 0 {
		t.Errorf("Wakes for no earlier time signalled the loop")
	}

	// REGISTERs write bindings expiring in 5s..14s and wake the loop,
	// from many goroutines at once.
	var wg sync.WaitGroup
	for i := range 10 {
		bs := r.register(t, fmt.Sprintf("u%d@example.com", i), time.Duration(14-i)*time.Second)
		wg.Go(func() { r.x.Wake(earliestExpiry(bs)) })
	}
	wg.Wait()
	r.waitSleep(t, expiryT0.Add(5*time.Second))
	if n := r.store.nexts.Load(); n != 1 {
		t.Errorf("%d NextExpiry calls, want 1: a Wake needs no look at the store", n)
	}
	r.clock.Advance(5 * time.Second)
	r.emit.waitExpired(t, "sip:0@192.0.2.1@5s")
	r.waitSleep(t, expiryT0.Add(6*time.Second))
}

// TestExpiryEvery: bindings expiring one after the other are removed in
// batches: two scans never start within Every.
func TestExpiryEvery(t *testing.T) {
	r := startExpiry(t, time.Second, func(r *expiryRig) {
		for i := range 6 {
			r.register(t, fmt.Sprintf("u%d@example.com", i), 10*time.Second+time.Duration(i)*200*time.Millisecond)
		}
	})
	r.waitSleep(t, expiryT0.Add(10*time.Second))
	r.clock.Advance(10 * time.Second)
	r.emit.waitExpired(t, "sip:0@192.0.2.1@10s")
	// The next expiry is at +10.2s, but the last scan started at +10s.
	r.waitSleep(t, expiryT0.Add(11*time.Second))
	r.clock.Advance(time.Second)
	r.emit.waitExpired(t, "sip:0@192.0.2.1@10s", "sip:0@192.0.2.1@11s", "sip:0@192.0.2.1@11s", "sip:0@192.0.2.1@11s",
		"sip:0@192.0.2.1@11s", "sip:0@192.0.2.1@11s")
	r.waitSleep(t, expiryT0.Add(11*time.Second+DefaultExpiryMaxSleep))
	if n := r.store.expires.Load(); n != 2 {
		t.Errorf("%d Expire calls for 6 expiries within 1s, want 2", n)
	}
}

// TestExpiryNextExpiryFails: a failing NextExpiry is retried after
// min(Every, MaxSleep), with no scan in between.
func TestExpiryNextExpiryFails(t *testing.T) {
	errDown := fmt.Errorf("test: %w", location.ErrUnavailable)
	for _, tc := range []struct {
		name            string
		every, maxSleep time.Duration
		retry           time.Duration
	}{
		{"Every shorter", 2 * time.Second, 0, 2 * time.Second},
		{"MaxSleep shorter", 5 * time.Second, 3 * time.Second, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startExpiry(t, tc.every, func(r *expiryRig) {
				r.x.MaxSleep = tc.maxSleep
				r.store.nextErr.Store(&errDown)
				r.register(t, "alice@example.com", time.Second)
			})
			for i := 1; i <= 3; i++ {
				r.waitSleep(t, expiryT0.Add(time.Duration(i)*tc.retry))
				r.clock.Advance(tc.retry)
			}
			r.waitSleep(t, expiryT0.Add(4*tc.retry))
			if n, m := r.store.expires.Load(), r.store.nexts.Load(); n != 0 || m != 4 {
				t.Errorf("%d Expire and %d NextExpiry calls while NextExpiry fails, want 0 and 4", n, m)
			}
			// Back: the overdue binding goes at the next look.
			r.store.nextErr.Store(nil)
			r.clock.Advance(tc.retry)
			r.emit.waitExpired(t, fmt.Sprintf("sip:0@192.0.2.1@%v", 4*tc.retry))
		})
	}
}

func TestEarliestExpiry(t *testing.T) {
	at := func(m int) time.Time { return expiryT0.Add(time.Duration(m) * time.Minute) }
	for _, tc := range []struct {
		name string
		in   []time.Time
		want time.Time
	}{
		{"none", nil, time.Time{}},
		{"only permanent", []time.Time{{}}, time.Time{}},
		{"permanent ignored", []time.Time{{}, at(5), at(3), at(9)}, at(3)},
	} {
		var bs []location.Binding
		for _, x := range tc.in {
			bs = append(bs, location.Binding{Expires: x})
		}
		if got := earliestExpiry(bs); !got.Equal(tc.want) {
			t.Errorf("%s: earliestExpiry = %v, want %v", tc.name, got, tc.want)
		}
	}
}
