package app

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

const (
	testIV     = int64(100 * time.Millisecond) // interval
	testTarget = int64(100 * time.Millisecond)
)

func near(got, want float64) bool { return math.Abs(got-want) <= want/100+1e-9 }

// stepServed closes n intervals of a gate that served perIV finals each,
// under the signal over with delay, and returns the time after them.
func stepServed(g *gate, at int64, n int, perIV int64, over bool, delay int64) int64 {
	for range n {
		at += testIV
		g.served.Add(perIV)
		g.mu.Lock()
		g.step(at, over, delay)
		g.mu.Unlock()
	}
	return at
}

// passes counts the new dialogs of one interval let through when they
// arrive every `every` ns from at.
func passes(g *gate, at, every int64) int {
	n := 0
	for i := range testIV / every {
		g.mu.Lock()
		if g.take(at + i*every) {
			n++
		}
		g.mu.Unlock()
	}
	return n
}

// The gate: open until a signal; then each interval the limit moves
// halfway (from the admitted rate at the onset) to the served rate scaled
// by the delay's excess over the target (a tenth less a target, at least
// a quarter; a sixteenth more at most under it), with a floor; the bucket
// lets the limit through; without a signal the limit grows by a
// thirty-second an interval and the gate opens plateauHold intervals
// after the signal ended.
func TestGateRate(t *testing.T) {
	g := newGate(time.Duration(testTarget), time.Duration(testIV))
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC).UnixNano()
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	at := stepServed(g, t0, 1, 0, false, 0)
	// 3,000 new dialogs a second arrive, 1,500 are served, open
	for range 40 {
		if n := passes(g, at, testIV/300); n != 300 {
			t.Fatalf("open gate let %d of 300 through", n)
		}
		at = stepServed(g, at, 1, 150, false, 0)
	}
	if g.limited || !near(g.rate, 1500) || !near(g.arrivals, 3000) {
		t.Fatalf("open gate: limited %v, served %.1f and arrived %.1f a second, want open at 1,500 and 3,000", g.limited, g.rate, g.arrivals)
	}
	passes(g, at, testIV/300)
	at = stepServed(g, at, 1, 150, true, ms(200))
	if want := 3000 + (1500*0.9-3000)*limitPull; !g.limited || !near(g.limit, want) {
		t.Fatalf("onset, a target above: limited %v at %.1f a second, want %.1f (from the admitted rate)", g.limited, g.limit, want)
	}
	for _, c := range []struct {
		name  string
		delay int64
		want  float64 // the limit, a second, once settled
	}{
		{"a target above", ms(200), 1500 * 0.9},
		{"three targets above", ms(400), 1500 * 0.7},
		{"ten above: the least", ms(1100), 1500 * 0.25},
		{"at the target", ms(100), 1500},
		{"half under it", ms(50), 1500 * (1 + gateGrow/2)},
		{"empty: a sixteenth more", ms(1), 1500 * (1 + gateGrow*0.99)},
		{"a beat without its delay: a target above", 0, 1500 * 0.9},
	} {
		before := g.limit
		at = stepServed(g, at, 1, 150, true, c.delay)
		if !near(g.limit, before+(c.want-before)*limitPull) {
			t.Errorf("%s: %.1f a second an interval on, want %.1f", c.name, g.limit, before+(c.want-before)*limitPull)
		}
		at = stepServed(g, at, 20, 150, true, c.delay)
		if !g.limited || !near(g.limit, c.want) {
			t.Errorf("%s: limited %v at %.1f a second, want %.1f", c.name, g.limited, g.limit, c.want)
		}
	}
	// The bucket lets the limit through: 1,350 a second is 135 an
	// interval of 3,000 arrivals a second (after it filled for one).
	passes(g, at, testIV/300)
	if n := passes(g, at+testIV, testIV/300); n < 134 || n > 136 {
		t.Errorf("%d of 300 through in an interval at a limit of %.1f, want 135", n, g.limit)
	}
	// Nothing served: the limit falls to the floor, a sixty-fourth of
	// the arrivals (3,000 a second) or one an interval.
	at += 2 * testIV
	for range 60 {
		passes(g, at, testIV/300)
		at = stepServed(g, at, 1, 0, true, ms(200))
	}
	if want := math.Max(g.arrivals/64, 10); !near(g.limit, want) || g.arrivals < 1000 {
		t.Errorf("nothing served: limit %.2f with %.0f arrivals a second, want %.2f", g.limit, g.arrivals, want)
	}
	// The signal ends: the limit grows by a thirty-second an interval
	// (from the served rate if that is higher), and the gate opens
	// plateauHold intervals after.
	at = stepServed(g, at, 1, 0, false, 0)
	l := g.limit
	at = stepServed(g, at, 1, 0, false, 0)
	if !near(g.limit, l*(1+gateGrow/2)) {
		t.Errorf("an interval without a signal: limit %.2f, want %.2f", g.limit, l*(1+gateGrow/2))
	}
	at = stepServed(g, at, plateauHold-2, 0, false, 0)
	if !g.limited {
		t.Error("open before plateauHold intervals")
	}
	stepServed(g, at, 1, 0, false, 0)
	if g.limited || g.share() != 1 {
		t.Errorf("plateauHold intervals after the signal: limited %v, share %.2f; want open", g.limited, g.share())
	}
}

// sim plays the edge in front of one tm replica for secs seconds in 1 ms
// ticks: offered new dialogs a second arrive at the gate, those let
// through queue for a server of capacity a second (each answered with a
// final as it leaves, counted as served), the replica's detector observes
// each one's wait, and its state reaches the edge as beats do: one
// interval later. The server's pace varies (0.7 to 1.3 of capacity, 20 ms
// at a time). It returns per second the new dialogs served and refused,
// and the longest wait.
var simStall int

func sim(a *admission, start time.Time, secs int, offered func(sec int) int, capacity int) (served, refused []int, maxWait []time.Duration) {
	rnd := rand.New(rand.NewPCG(1, 2))
	speed := 1.0
	g := a.gates[ServiceTM]
	det := &bus.Overload{Target: time.Duration(testTarget), Interval: time.Duration(testIV)}
	var queue []time.Time
	var arrive, work float64
	type beat struct {
		until time.Time
		delay time.Duration
	}
	var pending []beat // beats on their way, one an interval
	served, refused, maxWait = make([]int, secs), make([]int, secs), make([]time.Duration, secs)
	for tick := range secs * 1000 {
		now := start.Add(time.Duration(tick) * time.Millisecond)
		sec := tick / 1000
		for arrive += float64(offered(sec)) / 1000; arrive >= 1; arrive-- {
			if a.admit(now, ServiceTM) != nil {
				queue = append(queue, now)
			} else {
				refused[sec]++
			}
		}
		if tick%20 == 0 {
			speed = 0.7 + 0.6*rnd.Float64()
		}
		if simStall > 0 && tick >= 5000 && tick < 5000+simStall {
			speed = 0
		}
		for work += speed * float64(capacity) / 1000; work >= 1 && len(queue) > 0; work-- {
			w := now.Sub(queue[0])
			queue = queue[1:]
			det.Observe(w, now)
			maxWait[sec] = max(maxWait[sec], w)
			g.served.Add(1)
			served[sec]++
		}
		work = min(work, 1)
		if tick%int(testIV/int64(time.Millisecond)) == 0 {
			if len(pending) > 0 {
				a.beat(ServiceTM, "tm-1", pending[0].until, pending[0].delay)
				pending = pending[1:]
			}
			b := beat{}
			if det.OverloadedAt(now) {
				b = beat{until: now.Add(2 * time.Duration(testIV)), delay: det.Mean()}
			}
			pending = append(pending, b)
		}
	}
	return served, refused, maxWait
}

// A replica's pause at 95 % of its capacity (300 ms without serving)
// refuses a few new dialogs, under 1 % of those offered, and nothing
// before or well after it.
func TestGatePauseAtCapacity(t *testing.T) {
	simStall = 300
	defer func() { simStall = 0 }()
	a := newAdmission(time.Duration(testTarget), time.Duration(testIV))
	served, refused, maxWait := sim(a, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), 12, func(int) int { return 1900 }, 2000)
	t.Logf("served %v refused %v longest wait %v", served, refused, maxWait)
	n := 0
	for sec, r := range refused {
		n += r
		if r > 0 && (sec < 5 || sec > 8) {
			t.Errorf("second %d: %d refused, away from the pause", sec, r)
		}
	}
	if n == 0 || n > 12*1900/100 {
		t.Errorf("%d refused for a 300 ms pause, want some, under 1 %% of the offered", n)
	}
}

// At twice its capacity, the replica serves at least nine tenths of it
// every second once the gate has settled (from the third second of the
// overload), and then no new dialog waits T1 (no retransmissions); the
// limit follows the capacity, whatever the offered load. When the load
// falls under the capacity, the gate opens: nothing is refused.
func TestGateHoldsTheCapacity(t *testing.T) {
	const capacity = 1000
	a := newAdmission(time.Duration(testTarget), time.Duration(testIV))
	start := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	offered := func(sec int) int {
		switch {
		case sec < 2:
			return capacity / 2
		case sec < 22:
			return 2 * capacity
		case sec < 24:
			return 0
		default:
			return capacity * 8 / 10
		}
	}
	served, refused, maxWait := sim(a, start, 30, offered, capacity)
	t.Logf("served a second %v", served)
	t.Logf("refused a second %v", refused)
	t.Logf("longest wait a second %v", maxWait)
	for sec := 5; sec < 22; sec++ {
		if served[sec] < capacity*9/10 {
			t.Errorf("second %d at twice the capacity: %d served, want at least %d", sec, served[sec], capacity*9/10)
		}
		if maxWait[sec] >= 500*time.Millisecond {
			t.Errorf("second %d: a new dialog waited %v, past T1", sec, maxWait[sec])
		}
	}
	if maxWait[2] == 0 || maxWait[3] >= time.Second {
		t.Errorf("the overload's onset: the longest wait %v, %v; want a queue, under a second", maxWait[2], maxWait[3])
	}
	for sec := 24; sec < 30; sec++ {
		if refused[sec] != 0 {
			t.Errorf("second %d at 0.8 of the capacity: %d refused, want none", sec, refused[sec])
		}
	}
	if a.shedding(start.Add(30*time.Second), ServiceTM) {
		t.Error("still limiting under the capacity")
	}
}
