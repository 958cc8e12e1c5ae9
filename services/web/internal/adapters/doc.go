// Package adapters keeps the web service's state: each user's phonebook
// and call history, in Redis (shared by replicas) or in memory (`sipbus up`
// without Redis). Both engines pass the same cases (state_test.go runs
// each case on both).
//
// # Redis layout
//
//	<prefix>:web:pb:{<aor>}     HASH entry id -> JSON app.Entry. Provisioning
//	                            data like the subscriber directory: no TTL;
//	                            at most phonebook_max fields.
//	<prefix>:web:calls:{<aor>}  LIST of JSON app.Call, newest first, trimmed
//	                            to history_len; TTL history_ttl, renewed by
//	                            each new call.
//	<prefix>:web:callids:{<aor>} ZSET of the lines' IDs, score the order of
//	                            arrival, trimmed and renewed with the list.
//
// A history line is one Lua script: it writes nothing unless the
// subscriber's hash exists (subscriber.Redis.Key: the line's AOR is a
// subscriber), skips a call whose ID is in the id set already (a
// redelivered event), then LPUSH, LTRIM and PEXPIRE, and the same for the
// id. The lines of a call event go in
// one pipeline (Redis.Record), so the event costs one round trip. The
// memory engine asks the directory instead.
package adapters
