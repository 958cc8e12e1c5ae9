package bus_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// The overload detector is CoDel's: a delay above target is overload only
// once it held for a whole interval; one delay below ends it.
func TestOverload(t *testing.T) {
	o := bus.Overload{Target: 20 * time.Millisecond, Interval: 100 * time.Millisecond}
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at      time.Duration
		sojourn time.Duration
		changed bool
		over    bool
	}{
		{0, 5 * time.Millisecond, false, false},
		{10 * time.Millisecond, 30 * time.Millisecond, false, false}, // above: episode starts
		{60 * time.Millisecond, 40 * time.Millisecond, false, false}, // not a whole interval yet
		{111 * time.Millisecond, 40 * time.Millisecond, true, true},  // held 101ms: overloaded
		{150 * time.Millisecond, 50 * time.Millisecond, false, true},
		{160 * time.Millisecond, 10 * time.Millisecond, true, false},  // below: over at once
		{170 * time.Millisecond, 30 * time.Millisecond, false, false}, // a new episode starts from scratch
		{200 * time.Millisecond, 30 * time.Millisecond, false, false},
	}
	for i, s := range steps {
		if got := o.Observe(s.sojourn, t0.Add(s.at)); got != s.changed || o.Overloaded() != s.over {
			t.Errorf("step %d (%v at %v): changed %v overloaded %v, want %v %v", i, s.sojourn, s.at, got, o.Overloaded(), s.changed, s.over)
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
