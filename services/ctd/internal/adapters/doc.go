// Package adapters implements ctd's ports on Redis and in memory: the call
// store with compare-and-set on a version, the deadline index and the
// dialog index, and the API tokens.
//
// Redis keys (prefix default "sipbus"):
//
//	<p>:ctd:call:{<id>}     hash v (version), s (the state as JSON); TTL 24 h, 1 h when done
//	<p>:ctd:deadlines       sorted set id -> deadline (Unix ms)
//	<p>:ctd:dialog:<dialog> string: the call id owning a tm dialog; TTL 24 h
//	<p>:ctd:dialog:ring:<caller AOR>><callee AOR>  the latest call between the two (State.Watch)
//	<p>:ctd:watches         sorted set State.Watch -> when its dialog key expires (Unix ms)
//	<p>:ctd:token:<sha256>  string: the AOR of an API token
//
// A call's record is written by one Lua script (compare-and-set on v).
// The deadline index lives on another key (another Cluster slot), so it is
// written around the script: the new deadline is added before the record
// is saved and removed only after a saved record has none. A replica dying
// between the two leaves an index entry that points at nothing due: the
// timer loop loads the call, finds nothing to do and mends the entry.
package adapters
