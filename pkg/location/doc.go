// Package location is the sipbus location service, the heir of Kamailio's
// usrloc: the bindings of addresses-of-record (AOR) to Contact URIs that the
// registrar writes and tm reads to route requests to registered devices.
//
// It has two engines with one conformance suite (locationtest): Redis, for
// any deployment with more than one process, and Memory, for `sipbus up` in
// one process and fast tests. Tracked wraps the Redis engine for readers
// that look AORs up often (tm): it keeps what Lookup read in memory while
// Redis tells it of every change (CLIENT TRACKING in broadcasting mode).
//
// # Semantics
//
// An AOR is "user@host" (ParseAOR). A binding's identity is its Contact URI
// compared as SameContact does (RFC 3261 §19.1.4, reduced to an equivalence),
// or, for an RFC 5626 contact (+sip.instance and reg-id), the instance and
// reg-id: a REGISTER of the same flow through a new NAT binding replaces the
// old Contact (reported as removed + added).
//
// Apply is RFC 3261 §10.3 steps 6-8 for one REGISTER, atomically: the
// Call-ID/CSeq ordering of step 7 (same Call-ID and a CSeq not higher than a
// stored binding's fails the whole request with ErrOutOfOrder; a new Call-ID
// replaces), Contact: * (step 6), removals (expires 0), additions, refreshes
// and a cap on bindings (ErrTooMany, only when the request adds one).
// Nothing is changed when Apply fails. Every binding that is added ends
// with exactly one Removed or Expired change, from Apply, Remove or Expire:
// Apply drops (and reports) bindings it finds expired; Expire reports the
// rest, each once across concurrent callers. NextExpiry tells when Expire
// will next have work (the earliest expiry), so an expiry loop sleeps until
// then instead of polling. Lookup never returns an expired binding, whether
// or not Expire has run. Times are stored with millisecond precision, q as
// q*1000.
//
// Errors wrap ErrNotFound, ErrOutOfOrder, ErrTooMany, ErrInvalid or
// ErrUnavailable (Redis down, timeouts, transient server replies: see the
// mapping of pkg/internal/rediserr, shared with store, subscriber and
// digest), or a canceled context.
//
// # Redis key layout
//
//	<prefix>:loc:{<aor>}      HASH   field: canonical contact [+ " instance=<id> reg-id=<n>"]
//	                                 value: the binding as JSON (see record)
//	<prefix>:locx:{x<shard>}  ZSET   expiry index, 16 shards (ExpiryShard: FNV-1a 32
//	                                 of the AOR mod 16); member AOR, score the
//	                                 earliest expiry (Unix ms) of its bindings
//	<prefix>:locaors          ZSET   every AOR with bindings, score 0 (ZRANGEBYLEX
//	                                 pages AORs)
//
// The AOR is the hash tag of its hash, so Apply is one Lua script on one key
// and runs on Redis Cluster. The hash's TTL is the remaining life of its
// latest-expiring binding plus TTLMargin, computed from the caller's clock
// (Update.Now) inside the script; a hash holding a permanent binding has no
// TTL, as provisioning data (subscribers) has none. The TTL only bounds
// memory when no replica runs Expire.
//
// The indexes live in other slots, so they are updated after the script:
// on one server (a *redis.Client: standalone or Sentinel) in the same
// pipeline, which the server runs in order right behind the script, so a
// REGISTER is one round trip; on Cluster (or Ring) in a second round trip.
// The expiry index is only lowered (ZADD LT) by writers, so its score is
// never later than the AOR's earliest expiry; an early score costs Expire a
// look at an AOR with nothing due. Expire claims due AORs per shard (a Lua
// script moves them ExpireLease ahead so concurrent callers share the work),
// expires each AOR with a per-AOR script (which alone decides what is
// returned: exactly once), sets the AOR's new score, then re-reads the AOR
// and lowers the score again if a REGISTER slipped in between. The AOR list
// is added to with ZADD NX and taken from by remove-then-recheck, so a
// concurrent REGISTER never leaves an AOR unlisted. A write whose index
// update fails returns ErrUnavailable although the bindings were written;
// the next write of the AOR (the UA's retry) repairs the index.
//
// # Group commit
//
// On one server, concurrent Applies share round trips: the first Apply
// finding no pipeline in flight sends its script and index updates at
// once; those arriving meanwhile queue and leave together, up to 128 per
// pipeline, when that pipeline is answered (no timer, so an Apply alone
// waits for nothing). Each still runs its own script, atomically, in
// arrival order, and gets its own answer; a caller whose context ends
// while it waits gets the context's error and its update is not sent.
// At 5,000 REGISTER/s the registrar's lanes keep several Applies in
// flight, and a pipeline's write and read system calls were a quarter of
// Apply's CPU. After a failover (NOSCRIPT) a call repeats alone with EVAL.
// The batching is package groupcommit's, as for tm's store.Committer.
//
// NextExpiry is one round trip whatever the number of bindings: a pipeline
// of ZRANGE <shard> 0 0 WITHSCORES over the expiry shards, the lowest score
// of the answers. A score is never later than its AOR's earliest expiry,
// except while the AOR is claimed (ExpireLease ahead); one left early by a
// refresh or a removal makes NextExpiry early, and the Expire at that time
// sets it right.
//
// # Memory engine
//
// One mutex, a map of AORs to their bindings; Expire and NextExpiry walk
// every AOR (NextExpiry is exact). Times are the callers' (no clock is read
// except by Add without Updated).
package location
