package obs

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"time"
)

// Procs adapts GOMAXPROCS to the process's load, between one and Max.
//
// Why: a sipbus process hands every message from goroutine to goroutine
// (socket reader, bus, handler, writer). When one of them becomes
// runnable and a P is idle, the Go scheduler wakes a thread for it: at
// low load every hand-off is a futex wake and a context switch. Measured
// on 2 cores with `sipbus up` at 300 calls/s: 47 context switches and
// 1,700 µs of CPU per call with two Ps, 30 and 1,380 µs with one (−19 %).
// One P is not enough at high load (at 1,500 calls/s it lost 28 % of the
// calls that two carried), so the number follows the load: one P more as
// soon as a reading finds the process using more than Up of the Ps it
// has, or a watched signal (Watch: the edge shedding) says it is
// overloaded; one fewer once it has used less than Down of one P fewer
// for Hold. Quick up, because load arrives at once and a process short of
// a P queues; slow down, so a pause between bursts does not cost the next
// burst its P. The signal, because one P queues before it reads busy: a
// single P runs the network poller, the timers and every goroutine in
// turn, a burst of one delays all the others, and a REGISTER ramp on one
// P reading 0.7 cores was shed by the edge's queue-delay bound, which
// kept it under Up. The same load reads about 15 % less CPU on one P than
// on two, so Up well above Down leaves no load that flaps between them;
// and single 50 ms readings are noisy (CPU time is counted in ticks): an
// Up of 0.6 let the spikes of 300 calls/s on one P (0.45 cores on
// average) add the second P every few seconds (1,730 µs per call in the
// 02:52 make bench against 1,608 at 0.75 in the 02:21 one).
// Reading CPU time (getrusage) every Every costs nothing measurable.
//
// A second P while the garbage collector marks, whatever the load (GC):
// on one P whatever runs holds up every SIP message behind it, and the
// collector's mark worker ran for 0.5-2.2 ms at a time there (an
// execution trace of `sipbus up` at 300 calls/s on one P: its 13 longest
// runs were all the mark worker). With two the mark worker takes one
// and the messages the other. Two Ps all the time did that too (p99
// INVITE->200 at 300 calls/s 3.0-3.6 ms against 3.3-5.2 on one), but
// cost 13-28 % more CPU a call and 12-15 % a REGISTER at 1,500/s (a
// thread woken per hand-off: 4.1 context switches a REGISTER against
// 1.8); a higher GOGC on one P did not do it (fewer cycles, but each new
// page of a larger heap costs). The collector is due when the heap
// allocated since the last cycle ended has covered GCRunway of the way
// to the next goal (the runtime starts marking between 70 and 95 % of
// it): the second P comes a little before the mark and goes as the
// cycle ends, unless the load keeps it (bench/RESULTS.md round 20).
type Procs struct {
	Max      int           // the ceiling; default runtime.GOMAXPROCS(0) at start
	Every    time.Duration // default 50ms
	Hold     time.Duration // default 2s
	Up, Down float64       // default 0.75 and 0.6

	// Changed, when set, is told each new value.
	Changed func(procs int)

	mu    sync.Mutex
	watch []func() bool

	quiet []float64 // the readings since the last change, at most a Hold of them (Run's)
	forGC bool      // the latest P was added for the collector (Run's)
}

// AdaptProcs runs a Procs with its defaults until ctx ends and returns it,
// unless the environment sets GOMAXPROCS (then that number stays) or
// SIPBUS_PROCS=fixed: then it returns nil (SIPBUS_PROCS=log logs each
// change). Every main calls it.
func AdaptProcs(ctx context.Context) *Procs {
	if os.Getenv("GOMAXPROCS") != "" || os.Getenv("SIPBUS_PROCS") == "fixed" {
		return nil
	}
	p := &Procs{}
	if os.Getenv("SIPBUS_PROCS") == "log" {
		p.Changed = func(n int) { slog.Info("obs: GOMAXPROCS", "procs", n) }
	}
	go p.Run(ctx)
	return p
}

type procsKey struct{}

// WithProcs returns ctx carrying p, for the commands main runs.
func WithProcs(ctx context.Context, p *Procs) context.Context {
	return context.WithValue(ctx, procsKey{}, p)
}

// ProcsFrom is the Procs ctx carries, or nil.
func ProcsFrom(ctx context.Context) *Procs {
	p, _ := ctx.Value(procsKey{}).(*Procs)
	return p
}

// Watch adds an overload signal (an edge shedding, a queue standing): a
// reading while one says so adds a P and keeps the Ps. A nil Procs
// ignores it.
func (p *Procs) Watch(overloaded func() bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watch = append(p.watch, overloaded)
}

func (p *Procs) overloaded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.watch {
		if f() {
			return true
		}
	}
	return false
}

// GCRunway is the share of the way from the live heap to the next heap
// goal after which the collector counts as due (Reading.GC). The runtime
// triggers a cycle at 70 % of it at the earliest.
const GCRunway = 0.7

// Run adapts GOMAXPROCS until ctx ends, then restores Max.
func (p *Procs) Run(ctx context.Context) {
	if p.Max <= 0 {
		p.Max = runtime.GOMAXPROCS(0)
	}
	if p.Every <= 0 {
		p.Every = 50 * time.Millisecond
	}
	if p.Hold <= 0 {
		p.Hold = 2 * time.Second
	}
	if p.Up <= 0 {
		p.Up = 0.75
	}
	if p.Down <= 0 {
		p.Down = 0.6
	}
	if p.Max < 2 {
		return
	}
	defer runtime.GOMAXPROCS(p.Max)
	t := time.NewTicker(p.Every)
	defer t.Stop()
	cur := runtime.GOMAXPROCS(0)
	lastCPU, lastAt := cpuTime(), time.Now()
	var gc gcWatch
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c := cpuTime()
			r := Reading{Used: float64(c-lastCPU) / float64(now.Sub(lastAt)), Overloaded: p.overloaded(), GC: gc.due()}
			lastCPU, lastAt = c, now
			if next := p.Next(cur, r); next != cur {
				runtime.GOMAXPROCS(next)
				cur = next
				if p.Changed != nil {
					p.Changed(next)
				}
			}
		}
	}
}

// Reading is one look at the process.
type Reading struct {
	Used       float64 // cores of CPU time used since the last reading
	Overloaded bool    // a watched signal says so
	GC         bool    // the garbage collector is due or marking (GCRunway)
}

// gcWatch tells from runtime/metrics when the collector is due: the heap
// allocated since the latest cycle ended (as first seen) against the way
// from the live heap to the goal.
type gcWatch struct {
	s      [4]metrics.Sample
	cycles uint64 // cycles completed at the latest reading
	base   uint64 // bytes allocated when the latest cycle was first seen over
}

func (w *gcWatch) due() bool {
	if w.s[0].Name == "" {
		w.s[0].Name, w.s[1].Name = "/gc/cycles/total:gc-cycles", "/gc/heap/allocs:bytes"
		w.s[2].Name, w.s[3].Name = "/gc/heap/live:bytes", "/gc/heap/goal:bytes"
	}
	metrics.Read(w.s[:])
	for _, s := range w.s {
		if s.Value.Kind() != metrics.KindUint64 {
			return false // not in this runtime
		}
	}
	cycles, allocs, live, goal := w.s[0].Value.Uint64(), w.s[1].Value.Uint64(), w.s[2].Value.Uint64(), w.s[3].Value.Uint64()
	if cycles != w.cycles || w.base == 0 {
		w.cycles, w.base = cycles, allocs
		return false
	}
	return goal > live && float64(allocs-w.base) >= GCRunway*float64(goal-live)
}

// Next is the number of Ps after reading r with cur Ps. Not safe for
// concurrent use: Run calls it.
func (p *Procs) Next(cur int, r Reading) int {
	switch {
	case (r.Used > p.Up*float64(cur) || r.Overloaded) && cur < p.Max:
		p.quiet = p.quiet[:0]
		p.forGC = false
		return cur + 1
	case r.GC && cur < min(2, p.Max):
		// a second P for the mark, taken back as the cycle ends
		p.quiet = p.quiet[:0]
		p.forGC = true
		return 2
	case p.forGC && r.GC:
		return cur
	case p.forGC:
		p.forGC = false
		p.quiet = p.quiet[:0]
		if cur == 2 && r.Used < p.Down {
			return 1
		}
		return cur
	case r.Overloaded || cur == 1:
		p.quiet = p.quiet[:0]
	default:
		// one P fewer when the readings of the last Hold average under
		// Down of cur-1 Ps: single readings are noisy (CPU time is
		// counted in ticks), a Hold of them is not
		p.quiet = append(p.quiet, r.Used)
		n := max(1, int(p.Hold/p.Every))
		if len(p.quiet) > n {
			p.quiet = p.quiet[1:]
		}
		if len(p.quiet) == n && mean(p.quiet) < p.Down*float64(cur-1) {
			p.quiet = p.quiet[:0]
			return cur - 1
		}
	}
	return cur
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
