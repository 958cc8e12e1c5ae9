package obs

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target of every sipbus process when
// GOGC is not set. A sipbus process allocates per message and keeps a
// small live heap (the caches of the edge and tm, the stream's block
// cache: tens of MB), so the default of 100 runs a collection every second
// at a few hundred calls/s and GC becomes ~7 % of the CPU of a call. 400
// trades heap (up to 5x the live heap) for a quarter of the collections;
// GOGC and GOMEMLIMIT in the environment still win (k8s/ sets GOMEMLIMIT
// under each container's memory limit).
const GCPercent = 400

// SetGCDefault applies GCPercent unless GOGC is set. Every main calls it
// first.
func SetGCDefault() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
