package obs

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target of every sipbus process when
// GOGC is not set. A sipbus process allocates per message (~100 kB a call
// in `sipbus up`) and keeps a live heap of tens to a couple of hundred MB
// (the caches of the edge and tm, and in `sipbus up` the embedded NATS
// server's dedupe window and per-block subject index), so Go's default of
// 100 collects often at a few hundred calls/s. 400, the previous value,
// grew the heap to five times the live heap: every new peak is memory the
// kernel hands over page by page (a fault and a cleared page each; on a
// virtual machine that gives freed memory back to its host, ~20 µs a page
// instead of ~1.4), and at the max call rate those faults cost more than
// the collections they saved (the collector took 2 % of the CPU). 150,
// measured on `sipbus up` alternating at 2,500 calls/s for 15 s: p99
// INVITE->200 23-68 ms and 483-567 µs a call against 731-1,035 ms and
// 613-659 µs at 400 (both steps failed), half the page faults; 100 and 120
// no better than 150; at 300 calls/s no difference beyond the noise.
// GOGC and GOMEMLIMIT in the environment still win (k8s/ sets GOMEMLIMIT
// under each container's memory limit).
const GCPercent = 150

// SetGCDefault applies GCPercent unless GOGC is set. Every main calls it
// first.
func SetGCDefault() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
