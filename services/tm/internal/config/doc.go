// Package config is the configuration of tm, the transaction manager: where
// NATS and the store are, the addresses it advertises (one per transport of
// the edges), its local domains, its route table file, its RFC 3261 timers
// and the DNS servers that resolve next hops.
//
// Load starts from Default, overlays a YAML file decoded strictly (an
// unknown key is an error with its line; durations are Go durations such
// as 500ms) and then the environment (FromEnv). Validate fills the defaults
// that derive from other keys, normalizes and reports every problem, each
// naming its key. A sample with every key is testdata/tm.yaml:
//
//	id: tm-1
//	nats: nats://nats-1:4222,nats://nats-2:4222
//	redis: redis://redis:6379/0
//	advertise: proxy.example.com:5060
//	advertise_tls: proxy.example.com:5061
//	domains: [example.com, example.org]
//	routes: /etc/sipbus/routes.yaml
//	t1: 500ms
//	t2: 4s
//	t4: 5s
//	no_answer: 90s
//	queue_target: 50ms
//	resolver: [10.0.0.2, 10.0.0.3:53]
//	failover_timeout: 3s
//	static:
//	  alice@example.com: [sip:alice@192.0.2.21:5060]
//
// Keys, environment variables and defaults:
//
//	key        environment        default
//	id         SIPBUS_TM_ID       the host name
//	nats       SIPBUS_NATS_URL    nats://127.0.0.1:4222
//	redis      REDIS_URL          "" (memory://, one process only)
//	advertise  SIPBUS_ADVERTISE   required
//	advertise_tcp  SIPBUS_ADVERTISE_TCP  advertise
//	advertise_tls  SIPBUS_ADVERTISE_TLS  advertise (sipbus up: its edge's tls listener)
//	advertise_ws   SIPBUS_ADVERTISE_WS   advertise (sipbus up: its edge's ws listener)
//	advertise_wss  SIPBUS_ADVERTISE_WSS  advertise (sipbus up: its edge's wss listener)
//	flow_secret    SIPBUS_FLOW_SECRET    random per process; set the same on every replica
//	domains    SIPBUS_DOMAINS     localhost and the host of advertise
//	routes     SIPBUS_ROUTES      "" (routes.Default())
//	t1         SIPBUS_T1          500ms
//	t2         SIPBUS_T2          4s
//	t4         SIPBUS_T4          5s
//	no_answer  SIPBUS_NO_ANSWER   60s
//	queue_target    SIPBUS_TM_QUEUE_TARGET    50ms
//	queue_interval  SIPBUS_TM_QUEUE_INTERVAL  100ms
//	coalesce        SIPBUS_TM_COALESCE        20ms
//	aliases    SIPBUS_ALIASES     none
//	resolver   SIPBUS_RESOLVER    none: /etc/resolv.conf (and /etc/hosts)
//	resolver_timeout  SIPBUS_RESOLVER_TIMEOUT  2s
//	failover_timeout  SIPBUS_FAILOVER_TIMEOUT  5s (0: Timer B only)
//	static     -                  none
//
// resolver, resolver_timeout and failover_timeout drive the RFC 3263
// resolution of next hops with a domain name and the failover between
// their targets; see internal/app (dns.go) and pkg/sipdns.
package config
