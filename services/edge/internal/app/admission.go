package app

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// admission is the edge's overload control (the heir of Kamailio's pike and
// load-based ratelimit, done the CoDel way): past capacity, new dialogs get
// a stateless 503 with Retry-After at the edge, the cheapest place to say
// no, so that the calls already admitted keep their resources and finish.
//
// Two signals, each a queueing delay that stands above a target
// (bus.Overload: a burst that drains by itself is not overload; a standing
// queue is):
//   - local: how long a datagram waited in this edge's queue before a
//     worker took it (observe);
//   - remote: the beats of tm and registrar replicas (bus.Beat), which
//     report the same measure for their own input queues (beat).
//
// What is shed is a share, not everything (AIMD, as TCP's window): while a
// signal holds, the share of new dialogs let through is cut at once (by
// a half when the queue stands at twice its target or more, by an eighth
// when just above it: onsetCut) and by a quarter each interval after, but only while the queue does not
// drain (its latest window's average delay no lower than the one before);
// without a signal it grows back by a sixteenth an interval, by a
// sixty-fourth near the share at which the latest overload began
// (regrowth). A gate that
// shut completely made tm's queue run dry within an interval and reopen to
// twice the rate its CPU carries: at 2× the max rate only 79 % of the max
// got through. A gate that kept cutting while the queue drained (the
// signal lags the queue by the time the queue takes to drain) swung from
// everything to its floor and back every second and a half: at 2,500
// calls/s offered to a machine carrying 1,250, 64 % of the max got through
// while the CPU idled between swings. The share settles near what tm
// carries, with its queue near the target.
//
// Only requests that start something new are shed (initial INVITE,
// REGISTER, out-of-dialog MESSAGE, SUBSCRIBE, OPTIONS...); responses,
// ACK, CANCEL, BYE and every in-dialog request pass, and the UDP queues
// serve them first.
type admission struct {
	local bus.Overload

	mu     sync.Mutex
	remote map[string]map[string]report      // service -> instance -> its latest overloaded beat
	worst  atomic.Pointer[map[string]report] // service -> latest "overloaded until", longest delay

	gates map[string]*gate // ServiceTM, ServiceRegistrar; read-only
	draw  func(n int64) int64
}

func newAdmission(target, interval time.Duration) *admission {
	a := &admission{
		local:  bus.Overload{Target: target, Interval: interval},
		remote: make(map[string]map[string]report),
		gates:  map[string]*gate{ServiceTM: newGate(), ServiceRegistrar: newGate()},
		draw:   rand.Int64N,
	}
	a.worst.Store(&map[string]report{})
	return a
}

// report is what a replica's beat said: overloaded until (unix ns), with
// its latest window's average queueing delay (ns).
type report struct{ until, delay int64 }

// gate is the share of one service's new dialogs that pass, in gateOne
// units.
type gate struct {
	share atomic.Int64
	at    atomic.Int64 // unix ns of the latest step
	over  atomic.Bool  // the signal at the latest step
	delay atomic.Int64 // the queueing delay at the latest step, ns
	peak  atomic.Int64 // the share at the latest overload's onset, before the cut
	calm  atomic.Int64 // unix ns the latest overload ended
}

const (
	gateOne = 1 << 16
	gateMin = gateOne / 64 // some new dialogs always pass: they carry the measure that ends the episode
	// plateauHold is how long, in intervals, after an overload ended the
	// share grows back slowly near the share at which it began.
	plateauHold = 20
)

func newGate() *gate {
	g := &gate{}
	g.share.Store(gateOne)
	return g
}

// step moves the share for the signal over, with the queueing delay
// behind it, at now (once an interval, or at once when the signal
// changes) and returns it. The growth counts the intervals since the
// latest step: a gate no request touched for a while is open again.
func (g *gate) step(now int64, over bool, delay, target, interval int64) int64 {
	last := g.at.Load()
	if now-last < interval && over == g.over.Load() {
		return g.share.Load()
	}
	if !g.at.CompareAndSwap(last, now) {
		return g.share.Load() // another request steps it
	}
	s := g.share.Load()
	prev := g.delay.Swap(delay)
	switch wasOver := g.over.Swap(over); {
	case over && !wasOver:
		g.peak.Store(s)
		s = onsetCut(s, delay, target)
	case over && delay < prev:
		// the queue drains at this share: cutting more would starve it
	case over:
		s = s * 3 / 4
	default:
		if wasOver {
			g.calm.Store(now)
		}
		s += regrowth(s, g.peak.Load(), now-g.calm.Load(), interval) * min(max((now-last)/interval, 1), 16)
	}
	s = min(max(s, gateMin), gateOne)
	g.share.Store(s)
	return s
}

// regrowth is how much the share s grows back in an interval without a
// signal: a sixteenth, but a sixty-fourth once within an eighth of peak
// (the share at which the latest overload began) while that overload ended
// less than plateauHold intervals ago (calm ns). The share at an onset is
// above what the machine carries (the signal lags the queue); growing back
// to it at full pace swung the share between a third and everything every
// two seconds at twice the max rate, and the CPU idled in the troughs.
// Slowly near it, the next onset comes at a share nearer the right one
// (TCP CUBIC's plateau). Once the overload is long over, the full pace:
// the load that caused it is gone.
func regrowth(s, peak, calm, interval int64) int64 {
	if s >= peak-peak/8 && calm < plateauHold*interval {
		return gateOne / 64
	}
	return gateOne / 16
}

// onsetCut is the share s cut at the start of an overload whose queue
// averaged delay against target: in proportion to how far it stands
// above the target (target/delay), between a half (a queue twice the
// target or longer: the growth of twice the max rate) and seven eighths
// (a queue just above it: a burst at the max rate that stood two
// windows). Halving at every onset refused half the new calls of a step
// at the max rate for each such burst, and the share then grew back to
// everything, past what the machine carries, within a second.
func onsetCut(s, delay, target int64) int64 {
	if delay <= 0 || target <= 0 {
		return s / 2
	}
	return min(max(s*target/delay, s/2), s*7/8)
}

// observe feeds one queueing delay measured at now.
func (a *admission) observe(sojourn time.Duration, now time.Time) { a.local.Observe(sojourn, now) }

// beat records a replica's report: service instance id is overloaded until
// `until` with a queue whose latest window averaged delay, or not
// overloaded (zero until). Beats are rare (one a second, one an interval
// while overloaded), so the table is rebuilt each time and read without a
// lock.
func (a *admission) beat(service, id string, until time.Time, delay time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	inst := a.remote[service]
	if inst == nil {
		inst = make(map[string]report)
		a.remote[service] = inst
	}
	if until.IsZero() {
		delete(inst, id)
	} else {
		inst[id] = report{until: until.UnixNano(), delay: int64(delay)}
	}
	next := make(map[string]report, len(a.remote))
	for svc, m := range a.remote {
		for _, r := range m {
			n := next[svc]
			next[svc] = report{until: max(n.until, r.until), delay: max(n.delay, r.delay)}
		}
	}
	a.worst.Store(&next)
}

// overloaded reports whether this edge or a replica of service says it is
// overloaded at now, and the longest queueing delay behind the signals
// (the latest window's average of each).
func (a *admission) overloaded(now time.Time, service string) (bool, int64) {
	over, delay := a.local.OverloadedAt(now), int64(0)
	if over {
		delay = int64(a.local.Mean())
	}
	if r := (*a.worst.Load())[service]; r.until > now.UnixNano() {
		over, delay = true, max(delay, r.delay)
	}
	return over, delay
}

// share steps service's gate at now and returns the share of its new
// dialogs that pass, in gateOne units.
func (a *admission) share(now time.Time, service string) int64 {
	g := a.gates[service]
	if g == nil {
		g = a.gates[ServiceTM]
	}
	over, delay := a.overloaded(now, service)
	return g.step(now.UnixNano(), over, delay, int64(a.local.Target), int64(a.local.Interval))
}

// shed decides for one new dialog for service at now: refused, or let
// through.
func (a *admission) shed(now time.Time, service string) bool {
	s := a.share(now, service)
	return s < gateOne && a.draw(gateOne) >= s
}

// shedding reports whether some of service's new dialogs are refused now.
func (a *admission) shedding(now time.Time, service string) bool {
	return a.share(now, service) < gateOne
}

// Load is the admission state for one service at one instant, for
// metrics.
type Load struct {
	QueueDelay time.Duration // the latest datagram's wait in this edge's queue
	Overloaded bool          // this edge's own detector
	Replicas   bool          // a replica's beat says overloaded
	Share      float64       // of the new dialogs let through, 0..1
}

func (a *admission) load(now time.Time, service string) Load {
	l := Load{QueueDelay: a.local.Last(), Overloaded: a.local.OverloadedAt(now), Share: 1}
	l.Replicas = (*a.worst.Load())[service].until > now.UnixNano()
	if g := a.gates[service]; g != nil {
		l.Share = float64(g.share.Load()) / gateOne
	}
	return l
}

// Services a new request is for: REGISTER goes to the registrar, every
// other request to tm.
const (
	ServiceTM        = "tm"
	ServiceRegistrar = "registrar"
)
