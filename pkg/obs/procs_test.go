package obs

import (
	"context"
	"runtime"
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

// Run with a floor of one lowers GOMAXPROCS of an idle process to one and
// restores the ceiling when its context ends.
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
		(&Procs{Min: 1, Max: 2, Every: 20 * time.Millisecond, Hold: 40 * time.Millisecond, Changed: func(n int) { changed <- n }}).Run(ctx)
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

// The default floor is two Ps: an idle process keeps them.
func TestProcsFloor(t *testing.T) {
	p := &Procs{Min: 2, Max: 4, Up: 0.75, Down: 0.6, Every: 50 * time.Millisecond, Hold: 50 * time.Millisecond}
	if got := p.Next(2, Reading{Used: 0}); got != 2 {
		t.Fatalf("an idle process at the floor of 2 Ps went to %d", got)
	}
	if got := p.Next(3, Reading{Used: 0}); got != 2 {
		t.Fatalf("an idle process with 3 Ps went to %d, want the floor 2", got)
	}

	if runtime.NumCPU() < 2 {
		t.Fatalf("needs 2 CPUs to see GOMAXPROCS stay at 2, this machine has %d", runtime.NumCPU())
	}
	before := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(before)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	changed := make(chan int, 8)
	// Max 2 and the default floor: nothing to adapt, Run returns at once.
	(&Procs{Max: 2, Every: 10 * time.Millisecond, Hold: 20 * time.Millisecond, Changed: func(n int) { changed <- n }}).Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("Run with Min = Max ran until its context ended")
	}
	if len(changed) > 0 || runtime.GOMAXPROCS(0) != 2 {
		t.Fatalf("GOMAXPROCS = %d after %d changes, want 2 untouched", runtime.GOMAXPROCS(0), len(changed))
	}
}
