// Package config is the settings of the registrar: its local domains (the
// digest realms), authentication, the brute-force limits and the REGISTER
// policy (RFC 3261 §10.3).
//
// Config is a pkg/service settings struct: pkg/service loads it from
// flags, a YAML file (strict: an unknown key is an error with its line;
// durations are Go durations such as 60s) and SIPBUS_REGISTRAR_*
// variables, with the shared SIPBUS_DOMAINS and SIPBUS_AUTH_SECRET; the
// table of every key is in the service README (services/registrar/README.md,
// generated from the help tags). Validate fills what derives from other
// keys, normalizes and reports every problem, each naming its key. A
// sample (services/registrar/testdata/registrar.yaml has every key, with
// the common ones):
//
//	id: registrar-1
//	domains: [example.com, example.org]
//	auth: required
//	auth_algorithms: [MD5]
//	auth_sha256_domains: [example.org]
//	auth_sha256_user_agents: ['^Linphone/5']
//	auth_fail_window: 1m
//	auth_fail_per_user: 10
//	auth_fail_per_source: 100
//	auth_fail_block: 10m
//	nonce_ttl: 5m
//	min_expires: 60s
//	max_expires: 3600s
//	default_expires: 3600s
//	max_contacts: 10
//	expiry_scan: 1s
//	workers: 256
//
// auth_secret is a secret: it has no flag (a command line is visible in
// ps); give it in the environment, SIPBUS_AUTH_SECRET, so it stays out of
// files too.
package config
