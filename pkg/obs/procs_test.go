package obs

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestProcsNext(t *testing.T) {
	p := &Procs{Max: 4, Up: 0.6, Down: 0.55, Every: 50 * time.Millisecond, Hold: 100 * time.Millisecond}
	steps := []struct {
		name string
		cur  int
		used float64 // cores
		want int
		// overloaded: a watched signal says so
		overloaded bool
	}{
		{"busy one P gets a second", 1, 0.7, 2, false},
		{"quiet one P stays", 1, 0.5, 1, false},
		{"one P in overload gets a second, whatever the CPU reads", 1, 0.4, 2, true},
		{"one quiet reading is not enough to drop", 2, 0.4, 2, false},
		{"a Hold of readings averaging under Down drops one", 2, 0.5, 1, false},
		{"", 2, 0.4, 2, false},
		{"a busy reading in the Hold keeps the Ps", 2, 0.8, 2, false},
		{"", 2, 0.4, 2, false},
		{"until it leaves the window", 2, 0.4, 1, false},
		{"overload adds a P", 2, 0.4, 3, true},
		{"and another", 3, 0.1, 4, true},
		{"overload at the ceiling keeps the Ps", 4, 0.1, 4, true},
		{"", 4, 0.1, 4, true},
		{"four Ps drop to three under 1.65 cores on average", 4, 1.6, 4, false},
		{"", 4, 1.6, 3, false},
		{"busy three Ps get a fourth", 3, 1.9, 4, false},
		{"never above Max", 4, 3.9, 4, false},
	}
	for _, s := range steps {
		if got := p.Next(s.cur, Reading{Used: s.used, Overloaded: s.overloaded}); got != s.want {
			t.Fatalf("%q: Next(%d Ps, %.1f cores) = %d, want %d", s.name, s.cur, s.used, got, s.want)
		}
	}
}

// Run lowers GOMAXPROCS of an idle process to one and restores the
// ceiling when its context ends.
func TestProcsRunIdle(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Fatalf("needs 2 CPUs to see GOMAXPROCS change, this machine has %d", runtime.NumCPU())
	}
	before := runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithCancel(context.Background())
	changed := make(chan int, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&Procs{Max: 2, Every: 20 * time.Millisecond, Hold: 40 * time.Millisecond, Changed: func(n int) { changed <- n }}).Run(ctx)
	}()
	select {
	case n := <-changed:
		if n != 1 {
			t.Fatalf("an idle process went to %d Ps, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an idle process kept its Ps")
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS = %d, want 1", got)
	}
	cancel()
	<-done
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("after Run: GOMAXPROCS = %d, want the ceiling 2", got)
	}
	runtime.GOMAXPROCS(before)
}

// A second P while the collector is due or marks, taken back as the
// cycle ends unless the load keeps it.
func TestProcsGC(t *testing.T) {
	p := &Procs{Max: 4, Up: 0.75, Down: 0.6, Every: 50 * time.Millisecond, Hold: 100 * time.Millisecond}
	steps := []struct {
		name string
		cur  int
		r    Reading
		want int
	}{
		{"the collector due on one P: a second", 1, Reading{Used: 0.3, GC: true}, 2},
		{"held while it marks, however quiet", 2, Reading{Used: 0.1, GC: true}, 2},
		{"", 2, Reading{Used: 0.1, GC: true}, 2},
		{"back to one as the cycle ends", 2, Reading{Used: 0.3}, 1},
		{"again", 1, Reading{Used: 0.3, GC: true}, 2},
		{"the cycle ends with the load at 0.7 cores: the P stays", 2, Reading{Used: 0.7}, 2},
		{"then the ordinary rule: a Hold under Down of one drops it", 2, Reading{Used: 0.5}, 2},
		{"", 2, Reading{Used: 0.5}, 1},
		{"the collector adds no third P", 2, Reading{Used: 0.5, GC: true}, 2},
		{"load adds a third while it marks", 2, Reading{Used: 1.6, GC: true}, 3},
		{"the cycle's end does not take a load's P", 3, Reading{Used: 1.6}, 3},
	}
	for _, s := range steps {
		if got := p.Next(s.cur, s.r); got != s.want {
			t.Fatalf("%q: Next(%d Ps, %+v) = %d, want %d", s.name, s.cur, s.r, got, s.want)
		}
	}
}

// gcWatch says due once the heap allocated since the latest cycle has
// covered GCRunway of the way to the goal, and not right after a cycle.
func TestGCWatch(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	var w gcWatch
	keep := make([][]byte, 0, 1024)
	for range 8 << 10 { // 8 MB of live heap, so that the goal is not the 4 MB minimum
		keep = append(keep, make([]byte, 1024))
	}
	runtime.GC()
	if w.due() {
		t.Fatal("due on the first reading")
	}
	var sink []byte
	due := false
	for i := 0; i < 1<<16 && !due; i++ { // at most 256 MB
		sink = make([]byte, 4096)
		due = w.due()
	}
	if !due {
		t.Fatal("never due while 256 MB were allocated")
	}
	runtime.GC()
	if w.due() {
		t.Fatal("due right after a cycle ended")
	}
	runtime.KeepAlive(keep)
	runtime.KeepAlive(sink)
}
