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
// What is shed is a share, not everything, and the share follows the
// queue's delay (a PI controller, as PIE does for packets, RFC 8033):
// while a signal holds, each interval the share refused grows by the
// delay's excess over the target (integral: a queue that stands above
// the target keeps cutting, slowly) and by how much the delay changed
// since the step before (proportional: a growing queue cuts at once, a
// draining one gives back at once). At the signal's onset the whole
// excess counts as change: the cut follows how far the queue stands
// above the target. Without a signal the refused share decays by an
// eighth an interval, and is gone plateauHold intervals after the latest
// signal ended.
//
// Its predecessor cut the share by a quarter each interval the signal
// held and the delay did not fall (AIMD). The signal lags the queue: a
// replica's detector holds until a window averages under half the
// target, and its beat holds at the edge until it says otherwise. The
// cuts went on while the queue was already empty: at twice the max rate
// the share swung from everything to a twentieth and back every three
// seconds, the queue empty half of the time and the CPU at half its
// capacity. Here a signal that holds while the queue drains reads a
// delay under the target, and the refused share shrinks.
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
	share  atomic.Int64
	at     atomic.Int64 // unix ns of the latest step
	over   atomic.Bool  // the signal at the latest step
	excess atomic.Int64 // the delay's excess over the target at the latest step, gateOne units of the target
	calm   atomic.Int64 // unix ns the latest signal ended
}

const (
	gateOne = 1 << 16
	gateMin = gateOne / 64 // some new dialogs always pass: they carry the measure that ends the episode
	// The controller's gains, as divisors: each interval a signal
	// holds, the refused share grows by excess/gainI and by
	// (excess-previous)/gainP, the excess being the delay's over the
	// target in units of the target. At twice the max rate the queue
	// grows by about a target an interval with nothing refused; the
	// proportional gain (a target's growth refuses an eighth) keeps the
	// loop stable with the signal two intervals behind the queue, the
	// integral one (a thirty-second an interval for a queue a target or
	// more above it) settles it within a few seconds near the target.
	gainP, gainI = 8, 32
	// plateauHold is how long, in intervals, after a signal ended what is
	// left of the refused share is dropped: the load that caused it is gone.
	plateauHold = 20
)

func newGate() *gate {
	g := &gate{}
	g.share.Store(gateOne)
	return g
}

// step moves the share for the signal over, with the queueing delay
// behind it, at now (once an interval, or at once when the signal
// changes) and returns it. Without a signal, the decay counts the
// intervals since the latest step: a gate no request touched for a while
// is open again.
func (g *gate) step(now int64, over bool, delay, target, interval int64) int64 {
	last := g.at.Load()
	if now-last < interval && over == g.over.Load() {
		return g.share.Load()
	}
	if !g.at.CompareAndSwap(last, now) {
		return g.share.Load() // another request steps it
	}
	refused := gateOne - g.share.Load()
	wasOver := g.over.Swap(over)
	if over {
		e := excess(delay, target)
		prev := g.excess.Swap(e) // 0 at the onset: the whole excess is change
		refused += (e - prev) / gainP
		// The integral counts at most a target's excess, and none
		// while the queue drains: the delay is measured as inputs leave
		// the queue, so it lags the share by the queue's own length;
		// counted whole, a 400 ms queue at twice the max rate piled the
		// refused share up to everything by the time the queue showed
		// the cuts.
		if i := min(max(e, -gateOne), gateOne); i < 0 || e >= prev {
			refused += i / gainI
		}
	} else {
		g.excess.Store(0)
		if wasOver {
			g.calm.Store(now)
		}
		for n := min(max((now-last)/interval, 1), 64); n > 0 && refused > 0; n-- {
			refused -= max(refused/8, gateOne/256)
		}
		if now-g.calm.Load() >= plateauHold*interval {
			refused = 0
		}
	}
	s := gateOne - min(max(refused, 0), gateOne-gateMin)
	g.share.Store(s)
	return s
}

// excess is how far delay stands above target, in gateOne units of the
// target (negative below it), between minus one target and eight. A
// signal without a delay (a beat that does not carry it) counts as a
// queue at twice the target.
func excess(delay, target int64) int64 {
	if delay <= 0 || target <= 0 {
		return gateOne
	}
	return min(max((delay-target)*gateOne/target, -gateOne), 8*gateOne)
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
