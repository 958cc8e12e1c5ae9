// Package config is the configuration of the registrar: where NATS and
// Redis are, its local domains (the digest realms), authentication, and
// the REGISTER policy (RFC 3261 §10.3).
//
// Load starts from Default, overlays a YAML file decoded strictly (an
// unknown key is an error with its line; durations are Go durations such
// as 60s) and then the environment (FromEnv). Validate fills what derives
// from other keys, normalizes and reports every problem, each naming its
// key. A sample with every key is testdata/registrar.yaml:
//
//	id: registrar-1
//	nats: nats://nats-1:4222,nats://nats-2:4222
//	redis: redis://redis:6379/0
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
//	workers: 64
//
// (auth_secret is best given in the environment, SIPBUS_AUTH_SECRET, so
// it stays out of files.)
//
// Keys, environment variables and defaults:
//
//	key                      environment                               default
//	id                       SIPBUS_REGISTRAR_ID                       the host name
//	nats                     SIPBUS_NATS_URL                           nats://127.0.0.1:4222
//	redis                    REDIS_URL                                 "" (memory://, one process only)
//	domains                  SIPBUS_DOMAINS                            required with auth required
//	auth                     SIPBUS_REGISTRAR_AUTH                     required (or off)
//	auth_secret              SIPBUS_AUTH_SECRET                        generated at start (one replica only)
//	auth_algorithms          SIPBUS_REGISTRAR_AUTH_ALGORITHMS          MD5 (challenges every client gets, in order)
//	auth_sha256_domains      SIPBUS_REGISTRAR_AUTH_SHA256_DOMAINS      none (their clients: SHA-256 first)
//	auth_sha256_user_agents  SIPBUS_REGISTRAR_AUTH_SHA256_USER_AGENTS  none (RE2; a match: SHA-256 first)
//	auth_fail_window         SIPBUS_REGISTRAR_AUTH_FAIL_WINDOW         1m
//	auth_fail_per_user       SIPBUS_REGISTRAR_AUTH_FAIL_PER_USER       10 (per user and source address; 0 = off)
//	auth_fail_per_source     SIPBUS_REGISTRAR_AUTH_FAIL_PER_SOURCE     100 (per source address; 0 = off)
//	auth_fail_block          SIPBUS_REGISTRAR_AUTH_FAIL_BLOCK          10m
//	nonce_ttl                SIPBUS_REGISTRAR_NONCE_TTL                5m
//	min_expires              SIPBUS_REGISTRAR_MIN_EXPIRES              60s
//	max_expires              SIPBUS_REGISTRAR_MAX_EXPIRES              3600s
//	default_expires          SIPBUS_REGISTRAR_DEFAULT_EXPIRES          3600s
//	max_contacts             SIPBUS_REGISTRAR_MAX_CONTACTS             10 (0 = unlimited)
//	expiry_scan              SIPBUS_REGISTRAR_EXPIRY_SCAN              1s
//	workers                  SIPBUS_REGISTRAR_WORKERS                  64
package config
