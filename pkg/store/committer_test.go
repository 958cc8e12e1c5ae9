package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// gatedStore is a BatchStore in front of another that records every batch
// and holds each Apply until gate is closed.
type gatedStore struct {
	store.BatchStore
	gate    chan struct{} // closed to let Applies through
	entered chan struct{} // one value per Apply that started (buffered)

	mu      sync.Mutex
	sizes   []int           // ops of each Apply
	applied map[string]bool // CallKey/Key of every record op sent
}

func newGated(s store.BatchStore) *gatedStore {
	return &gatedStore{BatchStore: s, gate: make(chan struct{}), entered: make(chan struct{}, 100), applied: map[string]bool{}}
}

func (g *gatedStore) Apply(ctx context.Context, ops []store.Op) ([]store.OpResult, error) {
	g.mu.Lock()
	g.sizes = append(g.sizes, len(ops))
	for _, op := range ops {
		g.applied[op.CallKey+"/"+op.Key] = true
	}
	g.mu.Unlock()
	g.entered <- struct{}{}
	<-g.gate
	return g.BatchStore.Apply(ctx, ops)
}

func (g *gatedStore) batchSizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

func (g *gatedStore) sent(callKey, key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.applied[callKey+"/"+key]
}

// waitEntered waits until an Apply has started.
func (g *gatedStore) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no Apply started within 5s")
	}
}

// waitCommits waits until n Commits were queued.
func waitCommits(t *testing.T, c *store.Committer, n uint64) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, func() bool { return c.Stats().Commits >= n }, "%d commits not queued", n)
}

type commitOut struct {
	res []store.OpResult
	err error
}

// commitAsync runs Commit in a goroutine; its outcome arrives on the
// channel.
func commitAsync(ctx context.Context, c *store.Committer, ops ...store.Op) <-chan commitOut {
	out := make(chan commitOut, 1)
	go func() {
		res, err := c.Commit(ctx, ops)
		out <- commitOut{res, err}
	}()
	return out
}

func recv(t *testing.T, ch <-chan commitOut) commitOut {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("no result (Commit, or Defer's done) within 5s")
		return commitOut{}
	}
}

func saveOp(callKey, key string, version int64) store.Op {
	return store.Op{Kind: store.OpSaveRecord, CallKey: callKey, Key: key, Value: []byte(callKey + "/" + key), Version: version, TTL: time.Minute}
}

// callerOps are the ops of caller i: a save that succeeds, a save that
// conflicts and an index entry, so each caller's results are its own.
func callerOps(i int) []store.Op {
	ck := fmt.Sprintf("call-%03d", i)
	return []store.Op{
		saveOp(ck, "k", 0),
		saveOp(ck, "conflict", int64(i+1)),
		{Kind: store.OpIndexSet, Index: "tm.deadlines", Member: ck, Score: int64(i)},
	}
}

// checkCaller checks caller i's results and what it wrote.
func checkCaller(t *testing.T, s store.Store, i int, o commitOut) {
	t.Helper()
	want := []store.OpResult{{Version: 1, OK: true}, {Version: 0}, {OK: true}}
	if o.err != nil || len(o.res) != len(want) {
		t.Errorf("caller %d: Commit = %+v, %v", i, o.res, o.err)
		return
	}
	for j := range want {
		if o.res[j] != want[j] {
			t.Errorf("caller %d op %d: %+v, want %+v", i, j, o.res[j], want[j])
		}
	}
	ck := fmt.Sprintf("call-%03d", i)
	if r, err := s.LoadRecord(context.Background(), ck, "k"); err != nil || string(r.Value) != ck+"/k" {
		t.Errorf("caller %d: record %+v, %v", i, r, err)
	}
}

func newMem(t *testing.T) *store.Memory {
	s := store.NewMemory(store.MemoryOptions{JanitorInterval: -1})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestCommitterBatchesWhileInFlight: the first Commit goes at once; the
// 99 made while its Apply is in flight go together in the next one.
func TestCommitterBatchesWhileInFlight(t *testing.T) {
	const n = 100
	mem := newMem(t)
	g := newGated(mem)
	c := store.NewCommitter(g, store.CommitterOptions{})
	defer c.Close()
	ctx := testenv.Context(t, 10*time.Second)
	outs := make([]<-chan commitOut, n)
	outs[0] = commitAsync(ctx, c, callerOps(0)...)
	g.waitEntered(t)
	for i := 1; i < n; i++ {
		outs[i] = commitAsync(ctx, c, callerOps(i)...)
	}
	waitCommits(t, c, n)
	close(g.gate)
	for i, out := range outs {
		checkCaller(t, mem, i, recv(t, out))
	}
	if sizes := g.batchSizes(); len(sizes) != 2 || sizes[0] != 3 || sizes[1] != 3*(n-1) {
		t.Errorf("batch sizes %v, want [3 %d]", sizes, 3*(n-1))
	}
	if st := c.Stats(); st != (store.CommitterStats{Commits: n, Batches: 2, Ops: 3 * n}) {
		t.Errorf("Stats = %+v", st)
	}
	es, err := mem.IndexRange(ctx, "tm.deadlines", 1<<40)
	if err != nil || len(es) != n {
		t.Errorf("index has %d entries, %v; want %d", len(es), err, n)
	}
}

// TestCommitterRedis: 100 concurrent callers on the Redis engine share
// far fewer Applies, and each gets its own results.
func TestCommitterRedis(t *testing.T) {
	const n = 100
	url := testenv.RedisURL(t)
	ctx := testenv.Context(t, 10*time.Second)
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := store.NewCommitter(s, store.CommitterOptions{})
	defer c.Close()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		outs  = make([]commitOut, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := c.Commit(ctx, callerOps(i))
			outs[i] = commitOut{res, err}
		}()
	}
	close(start)
	wg.Wait()
	for i, o := range outs {
		checkCaller(t, s, i, o)
	}
	st := c.Stats()
	if st.Commits != n || st.Ops != 3*n || st.Batches >= n/2 {
		t.Errorf("Stats = %+v, want %d commits, %d ops in fewer than %d batches", st, n, 3*n, n/2)
	}
	t.Logf("%d commits in %d batches", st.Commits, st.Batches)
}

// TestCommitterMaxOps: no Apply holds more than MaxOps ops; a Commit of
// more is split over consecutive Applies and its results stay in order.
func TestCommitterMaxOps(t *testing.T) {
	mem := newMem(t)
	g := newGated(mem)
	c := store.NewCommitter(g, store.CommitterOptions{MaxOps: 10})
	defer c.Close()
	ctx := testenv.Context(t, 10*time.Second)
	first := commitAsync(ctx, c, saveOp("a", "k", 0))
	g.waitEntered(t)
	sizes := []int{4, 25, 3}
	var outs []<-chan commitOut
	for i, size := range sizes {
		var ops []store.Op
		for j := range size {
			// Every third save conflicts: the results show their order.
			ops = append(ops, saveOp("call-"+strconv.Itoa(i), strconv.Itoa(j), int64(j%3/2)))
		}
		outs = append(outs, commitAsync(ctx, c, ops...))
		waitCommits(t, c, uint64(i+2)) // queued in this order
	}
	close(g.gate)
	if o := recv(t, first); o.err != nil || !o.res[0].OK {
		t.Errorf("first commit: %+v, %v", o.res, o.err)
	}
	for i, out := range outs {
		o := recv(t, out)
		if o.err != nil || len(o.res) != sizes[i] {
			t.Fatalf("commit %d: %d results, %v; want %d", i, len(o.res), o.err, sizes[i])
		}
		for j, r := range o.res {
			want := store.OpResult{Version: 1, OK: true}
			if j%3 == 2 {
				want = store.OpResult{}
			}
			if r != want {
				t.Errorf("commit %d op %d: %+v, want %+v", i, j, r, want)
			}
		}
	}
	got := g.batchSizes()
	want := []int{1, 10, 10, 10, 2} // 4+6 | 10 | 9+1 | 2
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("batch sizes %v, want %v", got, want)
	}
}

// TestCommitterContext: a caller whose context ends gets ctx.Err() at
// once; ops not yet taken into an Apply are dropped, and the committer
// goes on.
func TestCommitterContext(t *testing.T) {
	mem := newMem(t)
	g := newGated(mem)
	c := store.NewCommitter(g, store.CommitterOptions{})
	defer c.Close()
	ctx := testenv.Context(t, 10*time.Second)

	inFlightCtx, cancelInFlight := context.WithCancel(ctx)
	inFlight := commitAsync(inFlightCtx, c, saveOp("in-flight", "k", 0))
	g.waitEntered(t)
	queuedCtx, cancelQueued := context.WithCancel(ctx)
	queued := commitAsync(queuedCtx, c, saveOp("queued", "k", 0))
	waitCommits(t, c, 2)
	kept := commitAsync(ctx, c, saveOp("kept", "k", 0))
	waitCommits(t, c, 3)

	cancelQueued()
	if o := recv(t, queued); !errors.Is(o.err, context.Canceled) || o.res != nil {
		t.Errorf("canceled while queued: %+v, %v; want context.Canceled", o.res, o.err)
	}
	cancelInFlight() // its Apply, which its own goroutine runs, is still held at the gate
	close(g.gate)
	if o := recv(t, inFlight); o.err != nil && !errors.Is(o.err, context.Canceled) {
		t.Errorf("canceled while leading its Apply: %+v, %v; want its result or context.Canceled", o.res, o.err)
	}
	if o := recv(t, kept); o.err != nil || !o.res[0].OK {
		t.Errorf("kept: %+v, %v", o.res, o.err)
	}
	if g.sent("queued", "k") {
		t.Errorf("the ops of a Commit canceled while queued were sent")
	}
	if _, err := mem.LoadRecord(ctx, "queued", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record of the canceled commit: %v, want ErrNotFound", err)
	}
	if res, err := c.Commit(ctx, []store.Op{saveOp("after", "k", 0)}); err != nil || !res[0].OK {
		t.Errorf("Commit after the cancellations: %+v, %v", res, err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	before := c.Stats()
	if res, err := c.Commit(done, []store.Op{saveOp("never", "k", 0)}); !errors.Is(err, context.Canceled) || res != nil {
		t.Errorf("Commit with a canceled context: %+v, %v", res, err)
	}
	if c.Stats() != before {
		t.Errorf("a Commit with a canceled context was queued: %+v -> %+v", before, c.Stats())
	}
}

// TestCommitterCloseDrains: Close applies the pending commits before it
// returns; Commit after Close is ErrUnavailable.
func TestCommitterCloseDrains(t *testing.T) {
	mem := newMem(t)
	g := newGated(mem)
	c := store.NewCommitter(g, store.CommitterOptions{})
	ctx := testenv.Context(t, 10*time.Second)
	outs := []<-chan commitOut{commitAsync(ctx, c, saveOp("c0", "k", 0))}
	g.waitEntered(t)
	for i := 1; i < 5; i++ {
		outs = append(outs, commitAsync(ctx, c, saveOp("c"+strconv.Itoa(i), "k", 0)))
	}
	waitCommits(t, c, 5)
	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	// Closing: new commits are refused at once.
	testenv.Eventually(t, 5*time.Second, func() bool {
		_, err := c.Commit(ctx, nil)
		return errors.Is(err, store.ErrUnavailable)
	}, "Commit not refused after Close")
	select {
	case <-closed:
		t.Fatal("Close returned with commits pending")
	default:
	}
	close(g.gate)
	for i, out := range outs {
		if o := recv(t, out); o.err != nil || !o.res[0].OK {
			t.Errorf("commit %d: %+v, %v", i, o.res, o.err)
		}
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the pending commits were applied")
	}
	if st := c.Stats(); st.Batches != 2 || st.Ops != 5 {
		t.Errorf("Stats = %+v, want 2 batches of 5 ops", st)
	}
	if _, err := c.Commit(ctx, []store.Op{saveOp("late", "k", 0)}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Commit after Close: %v, want ErrUnavailable", err)
	}
	c.Close() // again: no-op
}

// TestCommitterErrors: a whole-batch error reaches every caller of the
// batch and each result; per-op errors stay per op.
func TestCommitterErrors(t *testing.T) {
	ctx := testenv.Context(t, 10*time.Second)
	mem := newMem(t)
	c := store.NewCommitter(mem, store.CommitterOptions{})
	defer c.Close()
	res, err := c.Commit(ctx, []store.Op{saveOp("", "k", 0), saveOp("ok", "k", 0)})
	if err != nil || !errors.Is(res[0].Err, store.ErrInvalid) || !res[1].OK {
		t.Errorf("Commit with an invalid op: %+v, %v", res, err)
	}
	if res, err := c.Commit(ctx, nil); err != nil || len(res) != 0 {
		t.Errorf("Commit(nil) = %+v, %v", res, err)
	}
	_ = mem.Close()
	res, err = c.Commit(ctx, []store.Op{saveOp("a", "k", 0), saveOp("b", "k", 0)})
	if !errors.Is(err, store.ErrUnavailable) || len(res) != 2 || res[0].Err != err || res[1].Err != err {
		t.Errorf("Commit on a closed engine: %+v, %v; want ErrUnavailable on the batch and each result", res, err)
	}
}

// BenchmarkCommitter measures Commit of one SaveRecord from many
// goroutines at once (8 per CPU), as tm's input handlers would; ops/apply
// is the mean batch.
func BenchmarkCommitter(b *testing.B) {
	url := testenv.RedisURL(b)
	s, err := store.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	mem := store.NewMemory(store.MemoryOptions{})
	defer mem.Close()
	var callers atomic.Int64 // each goroutine of each run saves its own record
	b.Run("redis", func(b *testing.B) { benchCommitter(b, s, &callers) })
	b.Run("memory", func(b *testing.B) { benchCommitter(b, mem, &callers) })
}

func benchCommitter(b *testing.B, s store.BatchStore, callers *atomic.Int64) {
	c := store.NewCommitter(s, store.CommitterOptions{})
	defer c.Close()
	ctx := context.Background()
	value := make([]byte, 500)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		ck := "bench-commit-" + strconv.FormatInt(callers.Add(1), 10)
		op := []store.Op{{Kind: store.OpSaveRecord, CallKey: ck, Key: "ptx|z9hG4bK-1", Value: value, TTL: time.Minute}}
		for pb.Next() {
			res, err := c.Commit(ctx, op)
			if err != nil || !res[0].OK {
				b.Fatalf("Commit = %+v, %v", res, err)
			}
			op[0].Version = res[0].Version
		}
	})
	st := c.Stats()
	b.ReportMetric(float64(st.Ops)/float64(max(st.Batches, 1)), "ops/apply")
}

// deferAsync runs Defer; what its done gets arrives on the channel.
func deferAsync(c *store.Committer, within time.Duration, ops ...store.Op) <-chan commitOut {
	out := make(chan commitOut, 1)
	c.Defer(ops, within, func(res []store.OpResult, err error) { out <- commitOut{append([]store.OpResult(nil), res...), err} })
	return out
}

// TestCommitterDefer: deferred ops ride with the next Apply, whoever's
// it is, and go alone once their time is up; room for them is what
// MaxOps leaves; Close applies what waits; Defer after Close applies
// nothing.
func TestCommitterDefer(t *testing.T) {
	mem := newMem(t)
	g := newGated(mem)
	close(g.gate)
	c := store.NewCommitter(g, store.CommitterOptions{MaxOps: 4})
	ctx := testenv.Context(t, 10*time.Second)

	// Rides: a deferred save goes in the next caller's Apply, one batch.
	later := deferAsync(c, time.Hour, saveOp("d1", "k", 0))
	if o := recv(t, commitAsync(ctx, c, saveOp("c1", "k", 0))); o.err != nil || !o.res[0].OK {
		t.Fatalf("Commit = %+v, %v", o.res, o.err)
	}
	if o := recv(t, later); o.err != nil || len(o.res) != 1 || !o.res[0].OK || o.res[0].Version != 1 {
		t.Fatalf("the deferred save = %+v, %v; want applied, version 1", o.res, o.err)
	}
	if sizes := g.batchSizes(); len(sizes) != 1 || sizes[0] != 2 {
		t.Fatalf("batch sizes %v, want [2]: the deferred op rode with the commit", sizes)
	}

	// Room: a commit of MaxOps ops leaves none; the deferred op goes on
	// its own when its time is up, with a result of its own (a conflict).
	start := time.Now()
	later = deferAsync(c, 50*time.Millisecond, saveOp("d1", "k", 0))
	if o := recv(t, commitAsync(ctx, c, saveOp("c2", "a", 0), saveOp("c2", "b", 0), saveOp("c2", "c", 0), saveOp("c2", "d", 0))); o.err != nil {
		t.Fatal(o.err)
	}
	o := recv(t, later)
	if o.err != nil || len(o.res) != 1 || o.res[0].OK || o.res[0].Version != 1 {
		t.Fatalf("the second deferred save of d1 = %+v, %v; want a conflict at version 1", o.res, o.err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("the deferred op went after %v, before its 50ms", waited)
	}
	if sizes := g.batchSizes(); len(sizes) != 3 || sizes[1] != 4 || sizes[2] != 1 {
		t.Errorf("batch sizes %v, want [2 4 1]", sizes)
	}

	// Close applies what waits, and later Defers get ErrUnavailable.
	later = deferAsync(c, time.Hour, saveOp("d2", "k", 0))
	c.Close()
	if o := recv(t, later); o.err != nil || !o.res[0].OK {
		t.Fatalf("deferred before Close = %+v, %v; want applied", o.res, o.err)
	}
	if o := recv(t, deferAsync(c, time.Millisecond, saveOp("d3", "k", 0))); !errors.Is(o.err, store.ErrUnavailable) || len(o.res) != 1 || o.res[0].Err == nil {
		t.Fatalf("Defer after Close = %+v, %v; want ErrUnavailable", o.res, o.err)
	}
	if _, err := mem.LoadRecord(ctx, "d3", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("d3 after Close: %v, want not written", err)
	}
	if st := c.Stats(); st.Rode != 1 || st.Flushed != 2 {
		t.Errorf("Stats = %+v, want 1 op rode and 2 flushed (one by its timer, one by Close)", st)
	}
}
