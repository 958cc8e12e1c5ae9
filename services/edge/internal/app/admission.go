package app

import (
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
// Only requests that start something new are shed (initial INVITE,
// REGISTER, out-of-dialog MESSAGE, SUBSCRIBE, OPTIONS...); responses,
// ACK, CANCEL, BYE and every in-dialog request pass, and the UDP queues
// serve them first.
type admission struct {
	local bus.Overload

	mu     sync.Mutex
	remote map[string]map[string]time.Time  // service -> instance -> overloaded until
	until  atomic.Pointer[map[string]int64] // service -> latest "overloaded until", unix nanos
}

func newAdmission(target, interval time.Duration) *admission {
	a := &admission{local: bus.Overload{Target: target, Interval: interval}, remote: make(map[string]map[string]time.Time)}
	a.until.Store(&map[string]int64{})
	return a
}

// observe feeds one queueing delay measured at now.
func (a *admission) observe(sojourn time.Duration, now time.Time) { a.local.Observe(sojourn, now) }

// beat records a replica's report: service instance id is overloaded until
// `until`, or not overloaded (zero until). Beats are rare (one a second,
// a few more on a change), so the table is rebuilt each time and read
// without a lock.
func (a *admission) beat(service, id string, until time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	inst := a.remote[service]
	if inst == nil {
		inst = make(map[string]time.Time)
		a.remote[service] = inst
	}
	if until.IsZero() {
		delete(inst, id)
	} else {
		inst[id] = until
	}
	next := make(map[string]int64, len(a.remote))
	for svc, m := range a.remote {
		for _, u := range m {
			if n := u.UnixNano(); n > next[svc] {
				next[svc] = n
			}
		}
	}
	a.until.Store(&next)
}

// shed reports whether a new dialog for service is refused at now.
func (a *admission) shed(now time.Time, service string) bool {
	return a.local.OverloadedAt(now) || (*a.until.Load())[service] > now.UnixNano()
}

// Services a new request is for: REGISTER goes to the registrar, every
// other request to tm.
const (
	ServiceTM        = "tm"
	ServiceRegistrar = "registrar"
)
