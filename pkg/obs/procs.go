package obs

import (
	"context"
	"os"
	"runtime"
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
// has, one fewer once it has used less than Down of one P fewer for Hold.
// Quick up, because load arrives at once and a process short of a P
// queues (a call ramp stepping from idle to 1,500 calls/s lost datagrams
// in the 250 ms the first version waited); slow down, so a pause between
// bursts does not cost the next burst its P. Reading CPU time (getrusage)
// every Every costs nothing measurable.
type Procs struct {
	Max      int           // the ceiling; default runtime.GOMAXPROCS(0) at start
	Every    time.Duration // default 50ms
	Hold     time.Duration // default 2s
	Up, Down float64       // default 0.75 and 0.6

	// Changed, when set, is told each new value.
	Changed func(procs int)
}

// AdaptProcs runs Procs with its defaults until ctx ends, unless the
// environment sets GOMAXPROCS (then that number stays) or SIPBUS_PROCS=fixed.
// Every main calls it.
func AdaptProcs(ctx context.Context) {
	if os.Getenv("GOMAXPROCS") != "" || os.Getenv("SIPBUS_PROCS") == "fixed" {
		return
	}
	go (&Procs{}).Run(ctx)
}

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
	low := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c := cpuTime()
			used := float64(c-lastCPU) / float64(now.Sub(lastAt)) // in cores
			lastCPU, lastAt = c, now
			next := p.Next(cur, used, &low)
			if next != cur {
				runtime.GOMAXPROCS(next)
				cur = next
				if p.Changed != nil {
					p.Changed(next)
				}
			}
		}
	}
}

// Next is the number of Ps after a reading of used cores with cur Ps;
// low counts the readings in a row that asked for fewer (Hold / Every of
// them drop one).
func (p *Procs) Next(cur int, used float64, low *int) int {
	switch {
	case used > p.Up*float64(cur) && cur < p.Max:
		*low = 0
		return cur + 1
	case cur > 1 && used < p.Down*float64(cur-1):
		if *low++; *low >= max(1, int(p.Hold/p.Every)) {
			*low = 0
			return cur - 1
		}
	default:
		*low = 0
	}
	return cur
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
