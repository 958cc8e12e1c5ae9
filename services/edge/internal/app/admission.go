package app

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// admission is the edge's overload control (the heir of Kamailio's pike and
// ratelimit's feedback pipes): past capacity, new dialogs get a stateless
// 503 with Retry-After at the edge, the cheapest place to say no, so that
// the calls already admitted keep their resources and finish.
//
// Two signals, each a queueing delay that stands above a target
// (bus.Overload: a burst that drains by itself is not overload; a standing
// queue is):
//   - local: how long a datagram waited in this edge's queue before a
//     worker took it (observe);
//   - remote: the beats of tm and registrar replicas (bus.Beat), which
//     report the same measure for their own input queues (beat).
//
// A signal turns the service's gate from open into a rate limit: a token
// bucket that lets limit new dialogs a second through and refuses the
// rest. The limit is anchored to what the service serves, not to what
// arrives: served is the rate of new dialogs the service has answered,
// each counted once, when the edge sends the first response a service
// sends for it (a 180 relayed by tm, a registrar's 200 or 401, a final
// when nothing came before it; not the edge's own 100 Trying): tm's work
// for a call is done when it relays the callee's first answer, and a
// final would wait for a callee that rings for seconds. It is measured
// each interval and smoothed. While a queue stands, what goes out is the
// capacity, so each interval the limit moves halfway (limitPull; from the
// admitted rate at the onset) to the served rate scaled by the queue's
// delay (rateFactor): a tenth less for each target the delay stands above
// its target, a little more while it stands under it. Being recomputed
// from the served rate, the limit does not compound: a cut that the
// lagging signal repeats while the queue already drains cuts no deeper,
// and once the queue is empty the served rate is the admitted one and the
// limit climbs from it. Without a signal the limit grows by gateGrow/2 an
// interval, and the gate opens plateauHold intervals after the latest
// signal ended. TestGateHoldsTheCapacity runs the loop against a model of
// a replica (its queue, its detector, beats an interval late).
//
// Its predecessors gated a share of the arrivals (AIMD, then a PI
// controller on the share, as PIE does for packets). A share's right value
// depends on the offered load, which the edge does not control, and the
// signal lags the queue (a replica's detector holds until a window
// averages under half the target; its beat comes an interval later): at
// twice the max rate the share swung between a quarter and nine tenths
// every four seconds, the INVITE->200 delay between 0.2 and 1 s, and the
// retransmissions that delay caused took CPU from the calls. A rate's
// right value is the capacity, which the served rate measures.
//
// Only requests that start something new are gated (initial INVITE,
// REGISTER, out-of-dialog MESSAGE, SUBSCRIBE, OPTIONS...); responses,
// ACK, CANCEL, BYE and every in-dialog request pass, and the UDP queues
// serve them first.
type admission struct {
	local bus.Overload

	mu     sync.Mutex
	remote map[string]map[string]report      // service -> instance -> its latest overloaded beat
	worst  atomic.Pointer[map[string]report] // service -> latest "overloaded until", longest delay

	gates map[string]*gate // ServiceTM, ServiceRegistrar; read-only
}

func newAdmission(target, interval time.Duration) *admission {
	a := &admission{
		local:  bus.Overload{Target: target, Interval: interval},
		remote: make(map[string]map[string]report),
		gates:  map[string]*gate{ServiceTM: newGate(target, interval), ServiceRegistrar: newGate(target, interval)},
	}
	a.worst.Store(&map[string]report{})
	return a
}

// report is what a replica's beat said: overloaded until (unix ns), with
// its latest window's average queueing delay (ns).
type report struct{ until, delay int64 }

// gate is one service's admission: open, or a token bucket at limit new
// dialogs a second.
type gate struct {
	served           atomic.Int64 // new dialogs it let through that a service answered, since the latest step
	target, interval int64        // ns, the detector's (bus.Overload)

	mu       sync.Mutex
	limited  bool
	limit    float64 // new dialogs a second while limited
	tokens   float64
	filled   int64   // unix ns tokens were last added
	at       int64   // unix ns of the latest step
	over     bool    // the signal at the latest step
	calm     int64   // unix ns the latest signal ended
	arrived  int64   // new dialogs since the latest step
	admitted int64   // of them, let through
	rate     float64 // served a second, smoothed
	arrivals float64 // new dialogs a second, smoothed
	passed   float64 // of them let through a second, smoothed
}

func newGate(target, interval time.Duration) *gate {
	return &gate{target: int64(target), interval: int64(interval)}
}

// share is the part of the new dialogs let through lately (1 while open).
// Called with g.mu held.
func (g *gate) share() float64 {
	if !g.limited || g.arrivals <= 0 {
		return 1
	}
	return min(g.passed/g.arrivals, 1)
}

const (
	// gateFloor: whatever the served rate, a limit lets at least this
	// share of the arrivals through (and one new dialog an interval):
	// they carry the measures that end the episode.
	gateFloor = 1.0 / 64
	// gateGrow is the most the limit grows in an interval over the
	// served rate while the queue stands under its target; without a
	// signal it grows by half that over itself (the queue's delay is
	// then unknown, but under half the target).
	gateGrow = 1.0 / 16
	// limitPull is how far the limit moves each interval toward the
	// served rate scaled by the delay (starting from the admitted rate
	// at the onset): a replica's pause (a collection, a slow Redis reply)
	// at 95 % of its capacity shows as a served rate under the arrivals
	// for an interval or two; taken whole, it refused twice as many new
	// dialogs as it needed to drain the queue, and a step at the max rate
	// that meets one fails.
	limitPull = 1.0 / 2
	// plateauHold is how long, in intervals, after a signal ended the
	// limit holds (and grows): the load that caused it may still be there.
	plateauHold = 20
)

// rateFactor scales the served rate into the limit for a queue whose
// delay stands excess targets above its target (negative: under it): a
// tenth less for each target above, so that the excess drains in about
// ten targets' time (a second at the default target: slower than the
// signal's lag, which a quarter a target was not: in a model of the loop
// with the signal two intervals behind, it swung the served rate between
// 0.7 and 1 of the capacity), at least a quarter of the served rate; up
// to gateGrow more under it.
func rateFactor(excess float64) float64 {
	if excess >= 0 {
		return max(1-excess/10, 0.25)
	}
	return 1 + gateGrow*min(-excess, 1)
}

// excess is how far delay stands above target, in targets (negative below
// it, down to -1). A signal without a delay (a beat that does not carry
// it) counts as a queue at twice the target.
func excess(delay, target int64) float64 {
	if delay <= 0 || target <= 0 {
		return 1
	}
	return max(float64(delay-target)/float64(target), -1)
}

// step closes the interval at now (once an interval, or at once when the
// signal changes): it takes the interval's measures and moves the limit
// for the signal over with the queueing delay behind it. Called with
// g.mu held.
func (g *gate) step(now int64, over bool, delay int64) {
	interval := g.interval
	dt := now - g.at
	if g.at != 0 && dt < interval && over == g.over {
		return
	}
	served := g.served.Swap(0)
	if g.at != 0 && dt > 0 {
		// The measures of the interval, smoothed over about four;
		// after a long quiet one the interval's own.
		perSec := func(n int64) float64 { return float64(n) * 1e9 / float64(dt) }
		w := 0.25
		if dt >= 8*interval {
			w = 1
		}
		g.rate += (perSec(served) - g.rate) * w
		g.arrivals += (perSec(g.arrived) - g.arrivals) * w
		g.passed += (perSec(g.admitted) - g.passed) * w
	}
	g.at, g.arrived, g.admitted = now, 0, 0
	wasOver := g.over
	g.over = over
	switch {
	case over:
		if !g.limited {
			g.limited, g.tokens, g.filled, g.limit = true, 0, now, g.passed
		}
		g.limit += (g.rate*rateFactor(excess(delay, g.target)) - g.limit) * limitPull
	case g.limited:
		if wasOver {
			g.calm = now
		}
		if now-g.calm >= plateauHold*interval {
			g.limited = false
			break
		}
		n := min(max(dt/interval, 1), 64)
		g.limit = max(g.limit, g.rate) * math.Pow(1+gateGrow/2, float64(n))
	}
	if g.limited {
		g.limit = min(max(g.limit, g.arrivals*gateFloor, 1e9/float64(interval)), 1e9)
	}
}

// take decides for one new dialog at now: true if it passes. Called with
// g.mu held, after step.
func (g *gate) take(now int64) bool {
	g.arrived++
	if g.limited {
		// the bucket holds at most an interval's worth (one at least)
		burst := max(g.limit*float64(g.interval)/1e9, 1)
		g.tokens = min(g.tokens+g.limit*float64(now-g.filled)/1e9, burst)
		g.filled = now
		if g.tokens < 1 {
			return false
		}
		g.tokens--
	}
	g.admitted++
	return true
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

// gate returns service's gate, stepped to now, locked: the caller unlocks.
func (a *admission) gate(now time.Time, service string) *gate {
	g := a.gates[service]
	if g == nil {
		g = a.gates[ServiceTM]
	}
	over, delay := a.overloaded(now, service)
	g.mu.Lock()
	g.step(now.UnixNano(), over, delay)
	return g
}

// admit decides for one new dialog for service at now: the gate that let
// it through (the first response sent for it counts as served there), or
// nil: refused.
func (a *admission) admit(now time.Time, service string) *gate {
	g := a.gate(now, service)
	defer g.mu.Unlock()
	if !g.take(now.UnixNano()) {
		return nil
	}
	return g
}

// shedding reports whether service's new dialogs pass a limit now.
func (a *admission) shedding(now time.Time, service string) bool {
	g := a.gate(now, service)
	defer g.mu.Unlock()
	return g.limited
}

// Load is the admission state for one service at one instant, for
// metrics.
type Load struct {
	QueueDelay time.Duration // the latest datagram's wait in this edge's queue
	Overloaded bool          // this edge's own detector
	Replicas   bool          // a replica's beat says overloaded
	Share      float64       // of the new dialogs let through lately, 0..1
	Limit      float64       // new dialogs a second the gate lets through (0: open)
	Served     float64       // new dialogs let through that a service answered, a second, smoothed
}

func (a *admission) load(now time.Time, service string) Load {
	l := Load{QueueDelay: a.local.Last(), Overloaded: a.local.OverloadedAt(now), Share: 1}
	l.Replicas = (*a.worst.Load())[service].until > now.UnixNano()
	if g := a.gates[service]; g != nil {
		g.mu.Lock()
		l.Share, l.Served = g.share(), g.rate
		if g.limited {
			l.Limit = g.limit
		}
		g.mu.Unlock()
	}
	return l
}

// Services a new request is for: REGISTER goes to the registrar, every
// other request to tm.
const (
	ServiceTM        = "tm"
	ServiceRegistrar = "registrar"
)
