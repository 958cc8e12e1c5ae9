package obs

import (
	"context"
	"runtime"
	"testing"
	"time"
)

func TestProcsNext(t *testing.T) {
	p := &Procs{Max: 4, Up: 0.75, Down: 0.6, Every: 50 * time.Millisecond, Hold: 100 * time.Millisecond}
	steps := []struct {
		name string
		cur  int
		used float64 // cores
		want int
	}{
		{"busy one P gets a second", 1, 0.8, 2},
		{"quiet one P stays", 1, 0.3, 1},
		{"one quiet reading is not enough to drop", 2, 0.4, 2},
		{"two in a row (Hold / Every) drop one", 2, 0.4, 1},
		{"a reading between the thresholds resets the count", 2, 0.4, 2},
		{"", 2, 0.7, 2},
		{"so the next quiet reading is the first again", 2, 0.4, 2},
		{"busy two Ps get a third", 2, 1.6, 3},
		{"never above Max", 4, 3.9, 4},
		{"three Ps drop to two under 1.2 cores", 3, 1.1, 3},
		{"", 3, 1.1, 2},
	}
	low := 0
	for _, s := range steps {
		if got := p.Next(s.cur, s.used, &low); got != s.want {
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
