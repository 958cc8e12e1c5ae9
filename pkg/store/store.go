// Package store is the state-store contract of sipbus: the state shared by
// the tm replicas. [Store] is all of it: idempotency markers
// ([OnceStore]), small versioned documents such as a proxy transaction
// with its branches and timers, or a dialog ([RecordStore]), batches of
// record and index writes in one round trip ([BatchStore], fronted by the
// group committer [Committer]), sorted indexes such as the deadlines of a
// tm partition's records ([IndexStore]) and the live members of a group of
// replicas ([Membership]). It has two engines, [Redis] and [Memory], with
// one conformance suite (storetest): Redis, for any deployment with more
// than one process, and memory, for `sipbus up` in one process and fast
// unit tests.
//
// There is no store of SIP transactions or timers as such: tm keeps each
// call's transactions in memory and writes them as records, their pending
// timers included, and keeps each transaction's next deadline in an
// in-memory heap (see services/tm/README.md); the edge keeps no state in
// the store.
//
// Semantics every engine guarantees:
//   - every operation on one marker or record is atomic (Redis: one Lua
//     script or one command; memory: one mutex), and so is each op of a
//     batch, but not the batch;
//   - every key has a TTL derived from the SIP timers by the caller, or is a
//     container bounded by its live entries (the indexes, the membership
//     groups); nothing grows without bound;
//   - every key has a hash tag, and all records of one call share the hash
//     tag {callkey}, so multi-key scripts work on Redis Cluster.
//
// # Choosing an engine
//
// [Open] picks the engine from a URL (the REDIS_URL setting):
//
//	""  or  memory://                     in-process memory engine
//	redis://[user:pass@]host:port/db      one Redis node (TCP)
//	rediss://...                          the same over TLS
//	unix://[user:pass@]/path/redis.sock?db=N
//	redis://h1:6379,h2:6379,h3:6379       Redis Cluster (comma-separated seeds;
//	                                      ?addr=h2:6379 works too)
//	redis://s1:26379,s2:26379/0?master_name=mymaster
//	                                      Sentinel: the hosts are sentinels,
//	                                      master_name selects the master
//
// Query parameters are go-redis's (see redis.ParseURL: dial_timeout,
// read_timeout, pool_size, ...; for Sentinel the userinfo authenticates to
// the sentinels and password= to the master), plus three of our own that are
// removed before the URL reaches go-redis:
//
//	prefix=sipbus     key prefix (RedisOptions.Prefix)
//	op_timeout=1s     deadline of each operation (RedisOptions.OpTimeout);
//	                  a bare number is milliseconds, 0 leaves only the
//	                  caller's context
//	cluster=true      Cluster mode with a single seed host (a Kubernetes
//	                  service name, say)
//
// Open always enables go-redis's ContextTimeoutEnabled, so op_timeout bounds
// reads and writes, and pings the server (at most [OpenPingTimeout]) before
// returning. Errors and logs never carry the URL's password: [RedactURL]
// replaces it (and password= parameters) with "xxxxx".
//
// # Redis key layout
//
// An idempotency marker is a string with a TTL (SET NX PX):
//
//	<prefix>:once:{<fnv>}:<key>
//
// where <fnv> is FNV-1a 32 of the key in 8 hex digits ([OnceKey]), so a key
// of any bytes, braces included, has a well-formed hash tag.
//
// A record is a HASH with a TTL, in the call's slot ([RecordKey]):
//
//	<prefix>:rec:{<callkey>}:<key>    v  version (decimal)
//	                                  d  value (binary-safe)
//
// The callkey is the hash tag, so all records of a call live in one
// Cluster slot; it must be non-empty and must not contain '{' or '}'. The
// key may hold any bytes. SaveRecord is one script: compare v, HSET v and
// d, PEXPIRE.
//
// An index is a ZSET whose name is its own hash tag ([IndexKey]):
//
//	<prefix>:idx:{<index>}    ZSET  member (any bytes), score = Op.Score
//
// The index name (tm uses "tm.deadlines.<partition>") must be non-empty
// without '{' or '}'; a score must be within ±2^53 ([MaxIndexScore]), the
// integers a double holds exactly. IndexRange is ZRANGEBYSCORE -inf max
// WITHSCORES: by score, then by member bytes.
//
// A membership group is a ZSET, its name the hash tag ([MembersKey]):
//
//	<prefix>:members:{<group>}    ZSET  member id (any bytes), score = lease
//	                                    end, unix ms of the client's clock
//
// Heartbeat is one pipeline: ZADD id now+ttl, ZREMRANGEBYSCORE -inf now,
// ZRANGE 0 -1 (sorted by id in the client); Leave is ZREM. A lease ends at
// its score: a member whose score is <= now is gone.
//
// Apply sends every op of a batch in one pipeline: OpSaveRecord the
// SaveRecord script (EVALSHA; the saves refused with NOSCRIPT go again
// with EVAL in a second round trip, with the later ops on the same records
// that may safely run again, so the order per record holds), OpPutRecord
// HSET and PEXPIRE, OpDeleteRecord DEL, OpIndexSet ZADD and OpIndexRemove
// ZREM. On Redis Cluster go-redis splits the pipeline per node.
//
// # TTL rules
//
// The caller derives every TTL from the SIP timers. Once, SaveRecord (and
// OpSaveRecord, OpPutRecord) and Heartbeat need ttl > 0; a record write
// replaces the record's remaining life (SaveRecord in the script that
// writes, OpPutRecord with PEXPIRE after its HSET in the same pipeline), so
// no record lives without a TTL. Indexes and membership groups have no TTL
// (see the layout): the writer removes index members (OpIndexRemove), and
// each Heartbeat drops the members whose lease ended. Times have
// millisecond precision; the memory engine reads TTLs against its clock
// (MemoryOptions.Now). Leases of Membership are the caller's clock:
// time.Now on Redis, MemoryOptions.Now in memory.
//
// # Errors
//
//   - [ErrNotFound]: no such record (redis.Nil maps to it); Once reports a
//     marker already set with false instead;
//   - [ErrUnavailable]: the engine cannot answer now: connection refused or
//     reset, timeouts (the per-operation deadline included), pool exhausted,
//     client closed, and the server replies LOADING, CLUSTERDOWN, TRYAGAIN,
//     MASTERDOWN, READONLY, NOREPLICAS, BUSY, max clients, OOM and
//     authentication failures. A deadline error also matches
//     context.DeadlineExceeded. The memory engine fails with
//     ErrUnavailable only after Close;
//   - [ErrInvalid]: a bad argument (empty key, callkey, group or member id,
//     braces in the callkey, index name or group, ttl <= 0 on Once,
//     SaveRecord or Heartbeat, a negative record version, an unknown op
//     kind, an empty index name or member, a score beyond ±2^53); a bug in
//     the caller. Apply reports it per op, in OpResult.Err, and sends the
//     other ops;
//   - a batch: Apply returns an error only when the whole batch failed
//     (ErrUnavailable, a canceled context, ...), and then every op's result
//     but the invalid ones carries it; otherwise each op has its own;
//   - a context canceled by the caller is returned wrapped (context.Canceled),
//     not as ErrUnavailable;
//   - any other server reply (WRONGTYPE, script error) is returned wrapped as
//     it is: it is a bug, not an outage.
package store

import "errors"

// Errors.
var (
	ErrNotFound    = errors.New("store: not found")
	ErrUnavailable = errors.New("store: unavailable")
	// ErrInvalid reports a bad argument: empty callkey, key, index name,
	// member or group, '{' or '}' in the callkey, index name or group,
	// ttl <= 0 where one is required, a negative record version, an
	// unknown op kind, an index score beyond ±2^53.
	ErrInvalid = errors.New("store: invalid argument")
)
