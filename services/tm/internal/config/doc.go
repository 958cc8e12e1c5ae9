// Package config is the settings of tm, the transaction manager: the
// addresses it advertises (one per transport of the edges), its local
// domains, its route table file, its RFC 3261 timers, overload control and
// the DNS servers that resolve next hops.
//
// Config is a pkg/service settings struct: pkg/service loads it from
// flags, a YAML file (strict: an unknown key is an error with its line;
// durations are Go durations such as 500ms) and SIPBUS_TM_* variables,
// with the shared SIPBUS_DOMAINS and SIPBUS_FLOW_SECRET; the table of every
// key is in the service README (services/tm/README.md, generated from the
// help tags). Validate fills the defaults that derive from other keys,
// normalizes and reports every problem, each naming its key. A sample
// (services/tm/testdata/tm.yaml has every key, with the common ones):
//
//	id: tm-1
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
// static (address of record to contacts) is a map and is set in the file
// only. resolver, resolver_timeout and failover_timeout drive the RFC 3263
// resolution of next hops with a domain name and the failover between
// their targets; see internal/app (dns.go) and pkg/sipdns.
package config
