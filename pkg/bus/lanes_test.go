package bus_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// The overload detector reads windows of an interval (the input that
// finds a window over is its last): two averaging the
// target or more in a row make it overloaded, one averaging below half the
// target ends it, and single fast inputs or one slow window change
// nothing (the queues it watches run in parallel; bursts drain). No input
// for a second ends it too.
func TestOverload(t *testing.T) {
	o := bus.Overload{Target: 20 * time.Millisecond, Interval: 100 * time.Millisecond}
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	steps := []struct {
		at      time.Duration
		sojourn time.Duration
		changed bool
		over    bool
	}{
		{0, 5 * ms, false, false},
		{10 * ms, 30 * ms, false, false},
		{60 * ms, 40 * ms, false, false},  // not a whole interval yet
		{111 * ms, 40 * ms, false, false}, // window 0-111 averages 28.75 ms: the first above
		{150 * ms, 50 * ms, false, false},
		{160 * ms, 5 * ms, false, false},
		{215 * ms, 12 * ms, true, true}, // window 111-215, 22.3 ms: the second in a row: overloaded
		{230 * ms, 2 * ms, false, true}, // a fast input ends nothing
		{260 * ms, 30 * ms, false, true},
		{320 * ms, 5 * ms, false, true},    // window 215-320, 12.3 ms: under the target, not under half
		{425 * ms, 5 * ms, true, false},    // window 320-425, 5 ms: over
		{430 * ms, 500 * ms, false, false}, // a burst...
		{530 * ms, 30 * ms, false, false},  // ...makes one window of 265 ms
		{560 * ms, 5 * ms, false, false},
		{640 * ms, 5 * ms, false, false},   // and the next averages 5 ms: it drained, no overload
		{1700 * ms, 30 * ms, false, false}, // after a pause: a new window
		{1710 * ms, 30 * ms, false, false},
		{1805 * ms, 30 * ms, false, false},
		{1910 * ms, 30 * ms, true, true},
		{2500 * ms, 30 * ms, false, true}, // 590 ms without input: still overloaded
		{2910 * ms, 30 * ms, false, true}, // window 1910-2910
		{4000 * ms, 30 * ms, true, false}, // no input for 1.09 s: over
	}
	for i, s := range steps {
		at := t0.Add(s.at)
		if got := o.Observe(s.sojourn, at); got != s.changed || o.OverloadedAt(at) != s.over {
			t.Errorf("step %d (%v at %v): changed %v overloaded %v, want %v %v", i, s.sojourn, s.at, got, o.OverloadedAt(at), s.changed, s.over)
		}
		if s.at == 111*ms && o.Mean() != 28750*time.Microsecond {
			t.Errorf("Mean() after the first window = %v, want 28.75ms", o.Mean())
		}
		if s.at == 215*ms && o.Mean() != 67*ms/3 {
			t.Errorf("Mean() after the second window = %v, want %v", o.Mean(), 67*ms/3)
		}
		if s.at == 4000*ms && o.Mean() != 0 {
			t.Errorf("Mean() after a pause = %v, want 0 (nothing queued)", o.Mean())
		}
		if s.at == 2910*ms {
			if !o.OverloadedAt(at.Add(900 * ms)) {
				t.Error("overloaded state gone 900 ms after the latest input (the limit is a second)")
			}
			if o.OverloadedAt(at.Add(1100 * ms)) {
				t.Error("still overloaded 1.1 s after the latest input: with no input nothing queues")
			}
		}
	}
	if o.Last() != 30*time.Millisecond {
		t.Errorf("Last() = %v", o.Last())
	}
}

// Lanes run the jobs of one key one at a time in submission order, the
// priority queue first, and every job runs before Stop returns.
func TestLanes(t *testing.T) {
	l := bus.NewLanes(4, 16, time.Second, time.Second)
	var mu sync.Mutex
	order := map[string][]int{}
	var running atomic.Int32
	for i := range 200 {
		key := []string{"a", "b", "c"}[i%3]
		l.Submit(key, false, func(time.Duration) {
			if running.Add(1) > 4 {
				t.Error("more jobs at once than lanes")
			}
			mu.Lock()
			order[key] = append(order[key], i)
			mu.Unlock()
			running.Add(-1)
		})
	}
	l.Stop()
	total := 0
	for key, seq := range order {
		total += len(seq)
		for j := 1; j < len(seq); j++ {
			if seq[j] < seq[j-1] {
				t.Fatalf("key %s ran out of order: %v", key, seq)
			}
		}
	}
	if total != 200 {
		t.Errorf("%d jobs ran, want 200", total)
	}

	// Priority first: with the lane busy, a priority job queued after a
	// normal one runs before it.
	l = bus.NewLanes(1, 16, time.Second, time.Second)
	block := make(chan struct{})
	var got []string
	l.Submit("k", false, func(time.Duration) { <-block })
	l.Submit("k", false, func(time.Duration) { got = append(got, "normal") })
	l.Submit("k", true, func(time.Duration) { got = append(got, "prio") })
	close(block)
	l.Stop()
	if len(got) != 2 || got[0] != "prio" {
		t.Errorf("ran %v, want prio before normal", got)
	}
}

// Lanes report a standing queue: jobs that wait longer than the target
// for a whole interval make it overloaded, and OnChange hears it.
func TestLanesOverload(t *testing.T) {
	l := bus.NewLanes(1, 1024, time.Millisecond, 5*time.Millisecond)
	changes := make(chan bool, 16)
	l.OnChange = func(over bool) { changes <- over }
	for range 100 {
		l.Submit("k", false, func(time.Duration) { time.Sleep(time.Millisecond) })
	}
	select {
	case over := <-changes:
		if !over {
			t.Errorf("first change %v, want overloaded", over)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("100 queued jobs of 1ms each never made the lanes overloaded")
	}
	l.Stop()
}

func TestIDs(t *testing.T) {
	g := bus.NewIDs()
	seen := map[string]bool{}
	for range 1000 {
		id := g.Next()
		if seen[id] || len(id) < 15 {
			t.Fatalf("id %q repeated or too short", id)
		}
		seen[id] = true
	}
	if a, b := bus.NewIDs().Next(), bus.NewIDs().Next(); a == b {
		t.Errorf("two generators made the same id %q", a)
	}
}

func TestBeatDecode(t *testing.T) {
	if _, err := bus.DecodeBeat([]byte(`{"service":"tm"}`)); err == nil {
		t.Error("a beat without id decoded")
	}
	if _, err := bus.DecodeBeat([]byte(`{`)); err == nil {
		t.Error("bad JSON decoded")
	}
	b, err := bus.DecodeBeat([]byte(`{"service":"tm","id":"tm-1","every_ms":200,"overloaded":true}`))
	if err != nil || !b.Overloaded || b.Every() != 200*time.Millisecond {
		t.Errorf("beat %+v %v", b, err)
	}
	if (&bus.Beat{}).Every() != bus.DefaultBeatEvery {
		t.Error("a beat without every_ms must mean the default interval")
	}
}

// KeyHash is FNV-1a 32: its published test vectors, so every shard that
// uses it spreads calls as the lanes do.
func TestKeyHash(t *testing.T) {
	for key, want := range map[string]uint32{"": 0x811c9dc5, "a": 0xe40c292c, "foobar": 0xbf9cf968} {
		if got := bus.KeyHash(key); got != want {
			t.Errorf("KeyHash(%q) = %#x, want %#x", key, got, want)
		}
	}
}

// TestBackstop: a replica refuses a new request only when it waited T1 or
// longer while its detector holds.
func TestBackstop(t *testing.T) {
	o := bus.Overload{Target: 10 * time.Millisecond, Interval: 10 * time.Millisecond}
	const t1 = 500 * time.Millisecond
	if o.Backstop(time.Second, t1) {
		t.Error("refused without a standing queue")
	}
	now := time.Now()
	for i := range 5 {
		o.Observe(50*time.Millisecond, now.Add(time.Duration(i)*6*time.Millisecond))
	}
	if !o.OverloadedAt(now.Add(24 * time.Millisecond)) {
		t.Fatal("the detector does not hold after three windows at five times the target")
	}
	if o.Backstop(t1-time.Millisecond, t1) {
		t.Error("refused a request that waited under T1")
	}
	if !o.Backstop(t1, t1) {
		t.Error("let through a request that waited T1 while overloaded")
	}
}

// More lanes share the same queue rather than adding to it; a lane never
// queues fewer than 64.
func TestDefaultLaneDepth(t *testing.T) {
	for _, c := range []struct{ lanes, depth int }{
		{0, 1024}, {64, 1024}, {256, 256}, {1024, 64}, {4096, 64},
	} {
		if got := bus.DefaultLaneDepth(c.lanes); got != c.depth {
			t.Errorf("DefaultLaneDepth(%d) = %d, want %d", c.lanes, got, c.depth)
		}
	}
}
