// Package subscriber is the subscriber directory of sipbus, heir of
// SER/serweb's subscriber table: who may register, with which credentials.
// Two engines, one conformance suite (subscribertest): Redis, shared by
// every registrar replica, and memory, for `sipbus up` and unit tests.
//
// # Credentials
//
// A Subscriber holds HA1 values (package digest), never a password:
// SetPassword computes H(user ":" realm ":" password) for MD5 and SHA-256
// and drops the password. The realm is the AOR's domain (lower case) and
// the username is the AOR's user part, so a registrar for that domain
// challenges with realm = domain, and a password change for a subscriber
// whose domain changes must be set again.
//
// # Addresses of record
//
// An AOR is "user@domain" (ParseAOR also accepts "sip:" and "sips:" URIs,
// and drops their parameters and headers). The user part is compared byte
// for byte (SIP user parts are case-sensitive); the domain is lower-cased,
// an IPv4 or IPv6 address is written in canonical form ("[::1]"), and a
// trailing dot is dropped. Internationalized domains must be given in
// their ASCII (punycode) form. Every Directory method accepts any spelling
// ParseAOR accepts and works on the canonical "user@domain".
//
// # Redis layout
//
//	<prefix>:sub:{<aor>}   HASH, one per subscriber; the AOR is the hash tag
//	<prefix>:subs          ZSET of every AOR, score 0, for List (ZRANGEBYLEX)
//
// Hash fields: aor, ha1_md5, ha1_sha256, name, email, enabled ("1"/"0"),
// created and updated (unix milliseconds), missed_call ("1"/"0": the
// missed-call mail on or off; absent, in entries written before it
// existed, means on), tz (IANA zone name, "" = UTC) and admin ("1"/"0":
// manages every subscriber on the web page; absent means not). Times have
// millisecond precision.
//
// Redis.Key names a subscriber's hash for the scripts of other packages
// that check, in the round trip of their own write, that an AOR is a
// subscriber (services/web keeps call histories of subscribers only).
//
// # Notifications
//
// A subscriber with an Email gets a mail for each missed call unless
// MissedCallOptOut is set (`sipbus user set AOR --missed-call-email off`);
// the mail shows times in TZ (`--tz Europe/Paris`; default UTC). The
// zone database is the Go runtime's own (time/tzdata), so a zone name
// validates the same on every host.
//
// Subscribers have no TTL. Everything else sipbus keeps in Redis is SIP
// state that expires with its timers (see package store); subscribers are
// provisioning data, created and removed by an operator, and live until
// Remove.
//
// On a single node (a *redis.Client, Sentinel included) Add, Update and
// Remove are each one Lua script over both keys, so the hash and the index
// never disagree. On Redis Cluster the index lives in another slot than the
// hash, which one script cannot touch, so the engine runs the hash script
// first and the index command (ZADD or ZREM) second, and any other client
// type (ClusterClient, Ring, AutoPipeliner) is treated the same way. An
// interruption between the two leaves either a hash that List does not show
// (after Add: repeat the Add, which returns ErrExists and indexes it, or
// Update it) or an index entry without a hash (after Remove: List skips it,
// and repeating the Remove, which returns ErrNotFound, drops it). Get never
// depends on the index.
//
// # Errors
//
// ErrNotFound, ErrExists, ErrInvalid (a bad AOR or field; the message names
// it), ErrUnavailable (Redis cannot answer: connection refused, timeouts,
// LOADING, CLUSTERDOWN, ...; the memory engine never returns it). A context
// canceled by the caller is returned wrapped. Only ctx bounds a Redis
// operation: use a client with ContextTimeoutEnabled (store.Open's are) and
// contexts with deadlines.
package subscriber
