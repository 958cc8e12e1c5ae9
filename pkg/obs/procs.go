package obs

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Procs adapts GOMAXPROCS to the process's load, between Min and Max.
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
// The floor is two Ps (DefaultMinProcs), not one: on one P whatever runs
// holds up every SIP message behind it, and the garbage collector's mark
// worker ran for 1-2 ms at a time there (an execution trace of `sipbus
// up` at 300 calls/s on one P: its longest runs, all of them above 1 ms).
// With two Ps the mark worker takes one and the messages the other.
// Measured on 2 cores at 300 calls/s, fresh `up`: p99 INVITE->200 3.0-3.6
// ms on two Ps against 3.3-5.2 on one (eight runs), for 13-28 % more CPU
// a call and 12-15 % more a REGISTER at 1,500/s (a thread woken per
// hand-off: 4.1 context switches a REGISTER against 1.8). A higher GOGC
// on one P did not do it (fewer cycles, but each new page of a larger
// heap costs, bench/RESULTS.md round 20). Where the machine has more
// cores, the Ps above two still follow the load.
type Procs struct {
	Min      int           // the floor; default DefaultMinProcs (at most Max)
	Max      int           // the ceiling; default runtime.GOMAXPROCS(0) at start
	Every    time.Duration // default 50ms
	Hold     time.Duration // default 2s
	Up, Down float64       // default 0.75 and 0.6

	// Changed, when set, is told each new value.
	Changed func(procs int)

	mu    sync.Mutex
	watch []func() bool

	quiet []float64 // the readings since the last change, at most a Hold of them (Run's)
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

// DefaultMinProcs is the floor of a Procs without Min.
const DefaultMinProcs = 2

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
	if p.Min <= 0 {
		p.Min = DefaultMinProcs
	}
	p.Min = min(p.Min, p.Max)
	if p.Max <= p.Min {
		return
	}
	defer runtime.GOMAXPROCS(p.Max)
	t := time.NewTicker(p.Every)
	defer t.Stop()
	cur := runtime.GOMAXPROCS(0)
	lastCPU, lastAt := cpuTime(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c := cpuTime()
			r := Reading{Used: float64(c-lastCPU) / float64(now.Sub(lastAt)), Overloaded: p.overloaded()}
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
}

// Next is the number of Ps after reading r with cur Ps. Not safe for
// concurrent use: Run calls it.
func (p *Procs) Next(cur int, r Reading) int {
	switch {
	case (r.Used > p.Up*float64(cur) || r.Overloaded) && cur < p.Max:
		p.quiet = p.quiet[:0]
		return cur + 1
	case r.Overloaded || cur <= max(1, p.Min):
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
