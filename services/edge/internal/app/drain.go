package app

import "time"

// Graceful drain (SIGTERM). A draining edge refuses new dialogs and new
// registrations with 503 and Retry-After (the phone or the proxy in front
// tries another edge: RFC 3261 §21.5.4) and goes on with everything that
// had started: retransmissions, responses, ACK, CANCEL, in-dialog
// requests, and the messages other services send through it. It is idle
// once no server transaction awaits its final response and no such work
// arrived for a quiet while (a new dialog refused counts: while traffic
// still comes here, the edge stays to answer it); then it may stop.

// Drain makes the edge refuse new dialogs from now on. The drain's start
// counts as work: the edge stays at least a quiet while after it. A
// request being handled as the drain begins has had its 100 Trying but
// may not be published yet (it counts as work only then), and an edge that
// had seen no work before would otherwise read as idle at once and close
// its listeners: its phones would get no 503 to move on with
// (TestShutdownDrains lost that race one run in six).
func (e *Edge) Drain() {
	e.work()
	e.draining.Store(true)
}

// Draining reports whether Drain was called.
func (e *Edge) Draining() bool { return e.draining.Load() }

// work records that a message of a started transaction or dialog was
// handled (published to the bus or sent for a service).
func (e *Edge) work() { e.lastWork.Store(e.opt.Now().UnixNano()) }

// Idle reports whether a draining edge may stop: no work arrived for
// quiet and no server transaction awaits a final response, or no work at
// all arrived for stalled (a transaction that makes no progress, a call
// ringing for long, is left to the other edges: its final response goes to
// the advertised address, and SIP's retransmissions find them).
func (e *Edge) Idle(quiet, stalled time.Duration) bool {
	since := e.opt.Now().UnixNano() - e.lastWork.Load()
	return since >= int64(quiet) && (since >= int64(stalled) || e.cache.pending() == 0)
}

// pending counts the server transactions without a final response.
func (c *txCache) pending() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for _, t := range s.m {
			if t.status < 200 {
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}
