package groupcommit_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/groupcommit"
)

// item is one submitted unit; done is closed when its batch has run.
type item struct {
	n       int
	skip    bool
	done    chan struct{}
	batchOf int // the size of the batch it ran in
}

func newItem(n int) *item { return &item{n: n, done: make(chan struct{})} }

// gatedGroup holds its first batch until gate is closed, and records the
// batches it ran.
type gatedGroup struct {
	groupcommit.Group[*item]
	entered chan struct{}
	gate    chan struct{}
	mu      sync.Mutex
	batches [][]int
	once    sync.Once
}

func newGated(max int) *gatedGroup {
	g := &gatedGroup{entered: make(chan struct{}), gate: make(chan struct{})}
	g.Max = max
	g.Skip = func(it *item) bool { return it.skip }
	g.Run = func(batch []*item) {
		g.once.Do(func() { close(g.entered); <-g.gate })
		var ns []int
		for _, it := range batch {
			ns = append(ns, it.n)
			it.batchOf = len(batch)
			close(it.done)
		}
		g.mu.Lock()
		g.batches = append(g.batches, ns)
		g.mu.Unlock()
	}
	return g
}

func wait(t *testing.T, it *item) {
	t.Helper()
	select {
	case <-it.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("item %d never ran", it.n)
	}
}

// TestBatchesWhileInFlight: the first item runs alone; what is submitted
// while it runs goes in the next batches, in order, at most Max each, and
// a skipped item never runs.
func TestBatchesWhileInFlight(t *testing.T) {
	g := newGated(4)
	first := newItem(0)
	go func() { _ = g.Submit(first) }()
	<-g.entered
	var later []*item
	for i := 1; i <= 9; i++ {
		it := newItem(i)
		it.skip = i == 5
		later = append(later, it)
		if err := g.Submit(it); err != nil { // a follower: returns at once
			t.Fatal(err)
		}
	}
	close(g.gate)
	wait(t, first)
	for _, it := range later {
		if !it.skip {
			wait(t, it)
		}
	}
	g.Close()
	want := [][]int{{0}, {1, 2, 3, 4}, {6, 7, 8, 9}}
	if !slices.EqualFunc(g.batches, want, slices.Equal[[]int]) {
		t.Errorf("batches %v, want %v", g.batches, want)
	}
	select {
	case <-later[4].done:
		t.Error("the skipped item ran")
	default:
	}
}

// TestLeaderReturnsWithItsOwn: the leader's Submit returns once its own
// items ran, even while others keep arriving; the rest is led elsewhere.
func TestLeaderReturnsWithItsOwn(t *testing.T) {
	var g groupcommit.Group[*item]
	var running atomic.Int32
	g.Run = func(batch []*item) {
		if running.Add(1) != 1 {
			t.Error("two batches ran at once")
		}
		time.Sleep(time.Millisecond)
		for _, it := range batch {
			close(it.done)
		}
		running.Add(-1)
	}
	var wg sync.WaitGroup
	items := make([]*item, 200)
	for i := range items {
		items[i] = newItem(i)
		wg.Go(func() {
			if err := g.Submit(items[i]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	g.Close() // drains
	for _, it := range items {
		wait(t, it)
	}
}

// TestClose: Close waits for what is queued; Submit after it runs nothing.
func TestClose(t *testing.T) {
	g := newGated(0)
	first, second := newItem(1), newItem(2)
	go func() { _ = g.Submit(first) }()
	<-g.entered
	if err := g.Submit(second); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned with a batch in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(g.gate)
	<-closed
	wait(t, second)
	if err := g.Submit(newItem(3)); !errors.Is(err, groupcommit.ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
	g.Close() // again
	if len(g.batches) != 2 {
		t.Errorf("batches %v", g.batches)
	}
}

// TestContext: a batch runs under the latest deadline of its items, with
// no cancellation, or with no deadline when an item has none.
func TestContext(t *testing.T) {
	type key struct{}
	base := context.WithValue(context.Background(), key{}, "first")
	soon, cancelSoon := context.WithTimeout(base, time.Second)
	defer cancelSoon()
	later, cancelLater := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLater()
	id := func(c context.Context) context.Context { return c }

	ctx, cancel := groupcommit.Context([]context.Context{soon, later}, id)
	d, ok := ctx.Deadline()
	wantD, _ := later.Deadline()
	if !ok || !d.Equal(wantD) || ctx.Value(key{}) != "first" {
		t.Errorf("deadline %v %v, value %v; want the later deadline %v and the first item's values", d, ok, ctx.Value(key{}), wantD)
	}
	cancelSoon() // one caller giving up does not end the batch
	if ctx.Err() != nil {
		t.Errorf("batch context ended with an item's: %v", ctx.Err())
	}
	cancel()

	ctx, cancel = groupcommit.Context([]context.Context{later, context.Background()}, id)
	defer cancel()
	if _, ok := ctx.Deadline(); ok {
		t.Error("a batch with an unbounded item has a deadline")
	}
}

// TestLinger: with Linger, items submitted one after another within the
// window go in one batch, started no sooner than Linger after the first;
// a batch that reaches Max goes at once; Close ends a wait.
func TestLinger(t *testing.T) {
	const linger = 300 * time.Millisecond
	var g groupcommit.Group[*item]
	var mu sync.Mutex
	var sizes []int
	var ranAt []time.Time
	g.Max, g.Linger = 4, linger
	g.Run = func(batch []*item) {
		mu.Lock()
		sizes, ranAt = append(sizes, len(batch)), append(ranAt, time.Now())
		mu.Unlock()
		for _, it := range batch {
			close(it.done)
		}
	}
	batchesOf := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sizes)
	}

	// Three items, 10 ms apart: one batch of three, Linger after the first.
	start := time.Now()
	submitEach(t, &g, 10*time.Millisecond, newItem(1), newItem(2), newItem(3))
	if got := batchesOf(); !slices.Equal(got, []int{3}) {
		t.Fatalf("batches %v, want one of 3", got)
	}
	if d := ranAt[0].Sub(start); d < linger {
		t.Errorf("the batch ran %v after its first item, want >= Linger %v", d, linger)
	}

	// Max items: the batch goes without waiting out Linger.
	start = time.Now()
	submitEach(t, &g, 0, newItem(4), newItem(5), newItem(6), newItem(7))
	if d := time.Since(start); d >= linger {
		t.Errorf("a full batch took %v, want less than Linger %v", d, linger)
	}
	if got := batchesOf(); !slices.Equal(got, []int{3, 4}) {
		t.Errorf("batches %v, want [3 4]", got)
	}

	// Close ends the wait of a lone item.
	var wg sync.WaitGroup
	g.Linger = time.Hour
	lone := newItem(8)
	start = time.Now()
	wg.Go(func() {
		if err := g.Submit(lone); err != nil {
			t.Error(err)
		}
	})
	time.Sleep(20 * time.Millisecond)
	g.Close()
	wait(t, lone)
	wg.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close left a lingering item waiting %v", d)
	}
}

// submitEach submits each item on a goroutine of its own, gap apart, and
// waits until every one has run.
func submitEach(t *testing.T, g *groupcommit.Group[*item], gap time.Duration, items ...*item) {
	t.Helper()
	var wg sync.WaitGroup
	for i, it := range items {
		if i > 0 && gap > 0 {
			time.Sleep(gap)
		}
		wg.Go(func() {
			if err := g.Submit(it); err != nil {
				t.Error(err)
			}
		})
	}
	for _, it := range items {
		wait(t, it)
	}
	wg.Wait()
}
