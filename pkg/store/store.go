// Package store is the state-store contract of sipbus: the state shared by
// every edge and tm replica. [Store] is all of it: SIP transactions
// ([TxStore]), SIP timer deadlines any replica may fire ([TimerStore]),
// idempotency markers ([OnceStore]), small versioned documents such as a
// proxy transaction's branches or a dialog ([RecordStore]), batches of
// record and index writes in one round trip ([BatchStore], fronted by the
// group committer [Committer]), sorted indexes such as the deadlines of a
// tm partition's records ([IndexStore]) and the live members of a group of
// replicas ([Membership]). It has two engines, [Redis] and [Memory], with
// one conformance suite (storetest): Redis, for any deployment with more
// than one process, and memory, for `sipbus up` in one process and fast
// unit tests.
//
// Semantics every engine guarantees:
//   - every operation on one transaction, timer, marker or record is atomic
//     (Redis: one Lua script or one command; memory: one mutex), and so is
//     each op of a batch, but not the batch;
//   - every key has a TTL derived from the SIP timers by the caller, or is a
//     container bounded by its live entries (the timer shards, the indexes,
//     the membership groups); nothing grows without bound;
//   - every key has a hash tag, and all keys of one call share the hash tag
//     {callkey}, so multi-key scripts work on Redis Cluster.
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
// One transaction is one HASH:
//
//	<prefix>:tx:{<callkey>}:<txkey>
//
// The callkey is the hash tag, so all keys of a call live in one Cluster
// slot; it must be non-empty and must not contain '{' or '}'. The txkey may
// hold any bytes. Fields:
//
//	kind    KindServer / KindClient
//	method  method of the request that created the transaction
//	state   FSM state name
//	edge    id of the edge that created it
//	src     source of the request ("udp:ip:port", "tcp:flowid")
//	lst     status of the last response (0 when none)
//	lr      raw bytes of the last response (binary-safe)
//	ld      destination of the last response
//	rtx     retransmissions absorbed
//	ct, ut  created / updated, unix milliseconds
//
// A timer lives in one of 16 shards, chosen by a hash of its id (FNV-1a 32
// finished with Murmur3's fmix32, mod 16; [TimerKeys] computes it):
//
//	<prefix>:tmr:{t<shard>}    ZSET  member id, score = due unix ms, or the
//	                                 lease deadline while claimed
//	<prefix>:tmrd:{t<shard>}   HASH  id -> "<due ms>|<claims>|<token>|<payload>"
//
// The id may hold any bytes; the payload is the rest of the value after the
// third '|', any bytes. Arm, Cancel and Done are one script on the shard's
// two keys. Claim first counts the due timers of every shard (one pipeline
// of ZCOUNT, so an idle Claim is one round trip), then asks the shards with
// due timers in a rotating order from a random one, one script per shard
// (ZRANGEBYSCORE -inf now LIMIT 0 n; for each: a new token, claims + 1,
// score = now + lease), until it holds max timers. These
// two keys have no TTL: they are containers bounded by the live timers, as
// Done and Cancel remove every entry (and Redis drops an empty key). A timer
// nobody Done's keeps reappearing after each lease, so a caller must Done or
// re-Arm every timer it claims.
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
// SaveRecord is one script: compare v, HSET v and d, PEXPIRE.
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
// Apply sends every op of a batch in one pipeline, one command each:
// OpSaveRecord the SaveRecord script (EVALSHA; the saves refused with
// NOSCRIPT go again with EVAL in a second round trip, with the later ops
// on the same records that may safely run again, so the order per record
// holds), OpDeleteRecord DEL, OpIndexSet ZADD and OpIndexRemove ZREM. On
// Redis Cluster go-redis splits the pipeline per node.
//
// # TTL rules
//
// The caller derives every TTL from the SIP timers. CreateOrGet needs
// ttl > 0 and sets it on the new key; a retransmission (existing key) keeps
// the key's remaining life. SetResponse and UpdateState replace the remaining
// life when ttl > 0 and keep it when ttl <= 0. Expire(0) deletes the key
// (absent is fine); Expire(d > 0) sets the remaining life (absent is
// ErrNotFound). Every Redis write is followed by PEXPIRE in the same script,
// so no transaction lives without a TTL. Once, SaveRecord (and OpSaveRecord)
// and Heartbeat need ttl > 0; SaveRecord replaces the record's remaining
// life. Timers, indexes and membership groups have no TTL (see the layout):
// the writer removes index members (OpIndexRemove), and each Heartbeat
// drops the members whose lease ended. Times have millisecond precision; the memory engine reads
// TTLs against its clock (MemoryOptions.Now), and both engines compare
// timers with Claim's now argument, never a clock of their own. Leases of
// Membership are the caller's clock: time.Now on Redis, MemoryOptions.Now
// in memory.
//
// # Errors
//
//   - [ErrNotFound]: no such transaction or record (redis.Nil and the
//     scripts' own not-found reply map to it); the timer and once operations
//     report absence with false instead;
//   - [ErrUnavailable]: the engine cannot answer now: connection refused or
//     reset, timeouts (the per-operation deadline included), pool exhausted,
//     client closed, and the server replies LOADING, CLUSTERDOWN, TRYAGAIN,
//     MASTERDOWN, READONLY, NOREPLICAS, BUSY, max clients, OOM and
//     authentication failures. The edge answers 503 with Retry-After.
//     A deadline error also matches context.DeadlineExceeded. The memory
//     engine fails with ErrUnavailable only after Close;
//   - [ErrInvalid]: a bad argument (empty key, id, token or callkey, braces
//     in the callkey, index name or group, ttl <= 0 on create, Once,
//     SaveRecord or Heartbeat, a negative record version, Claim's max or
//     lease <= 0, status outside 100..699, an unknown op kind, an empty
//     index name or member, a score beyond ±2^53); a bug in the caller.
//     Apply reports it per op, in OpResult.Err, and sends the other ops;
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
	// ErrInvalid reports a bad argument: empty callkey, key, timer id,
	// token, index name, member or group, '{' or '}' in the callkey, index
	// name or group, ttl <= 0 where one is required, a negative record
	// version, Claim's max or lease <= 0, a status outside 100..699, an
	// unknown op kind, an index score beyond ±2^53.
	ErrInvalid = errors.New("store: invalid argument")
)
