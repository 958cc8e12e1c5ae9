package config

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/store"
)

// Config configures one registrar instance. Default() holds the defaults
// named in each field's comment; Load overlays a YAML file and the
// environment; Validate completes, normalizes and checks the result.
type Config struct {
	// ID names this instance (in events, the micro service metadata and
	// logs): [A-Za-z0-9_-], at most 64 characters. Default: the host name,
	// other bytes replaced by '-'.
	ID string `yaml:"id" env:"SIPBUS_REGISTRAR_ID"`

	// NATS is the NATS server URL, or several separated by commas
	// (nats://, tls://, ws:// or wss://). Default nats://127.0.0.1:4222.
	NATS string `yaml:"nats" env:"SIPBUS_NATS_URL"`

	// Redis is where the subscriber directory, the location service and
	// the digest nonce counters live (redis://, rediss://, unix://, the
	// forms of store.Open). Default "": memory://, which only a single
	// process can use.
	Redis string `yaml:"redis" env:"REDIS_URL"`

	// Domains are the local domains: a REGISTER whose To host is not one
	// of them gets 403, and each is the digest realm of its users. Host
	// names or IP addresses, no port; Validate lower-cases them and writes
	// IPv6 addresses in brackets. Required when Auth is "required"; with
	// auth off, empty means every domain is served. The environment
	// variable is the one tm reads too.
	Domains []string `yaml:"domains" env:"SIPBUS_DOMAINS"`

	// Auth is "required" (digest authentication of every REGISTER, RFC
	// 3261 §22) or "off" (anybody may register any AOR of a local domain:
	// tests and closed networks only). Default "required".
	Auth string `yaml:"auth" env:"SIPBUS_REGISTRAR_AUTH"`

	// AuthSecret is the HMAC key of the digest nonces, at least 16 bytes
	// (32 random bytes recommended). Every replica must share it, or a
	// nonce minted by one is refused by another. Default "": a random
	// secret is generated at start with a warning (one replica only).
	// Never printed: String, GoString and LogValue leave it out.
	AuthSecret string `yaml:"auth_secret" env:"SIPBUS_AUTH_SECRET"`

	// AuthAlgorithms are the digest algorithms every client is offered,
	// one challenge each, in this order: "MD5" and "SHA-256". Default
	// [MD5]: one challenge per realm, which every SIP client answers (as
	// Kamailio, OpenSIPS and Asterisk challenge). Clients that take the
	// first challenge whatever its algorithm (sipsak 0.9.8), or fail on
	// any they cannot compute (baresip 1.0), break on a SHA-256 challenge;
	// move the clients that handle it to SHA-256 with AuthSHA256Domains
	// and AuthSHA256UserAgents instead.
	AuthAlgorithms []string `yaml:"auth_algorithms" env:"SIPBUS_REGISTRAR_AUTH_ALGORITHMS"`

	// AuthSHA256Domains are local domains whose clients are offered
	// SHA-256 first, then AuthAlgorithms (RFC 8760 §2.3): for domains
	// whose phones all handle SHA-256. Default none.
	AuthSHA256Domains []string `yaml:"auth_sha256_domains" env:"SIPBUS_REGISTRAR_AUTH_SHA256_DOMAINS"`

	// AuthSHA256UserAgents are regular expressions (RE2 syntax, unanchored,
	// case-sensitive unless (?i)); a REGISTER whose User-Agent matches one
	// is offered SHA-256 first, then AuthAlgorithms, whatever its domain.
	// In the environment the list is comma-separated, so a pattern with a
	// comma goes in the file. Default none.
	AuthSHA256UserAgents []string `yaml:"auth_sha256_user_agents" env:"SIPBUS_REGISTRAR_AUTH_SHA256_USER_AGENTS"`

	// AuthFailWindow is how long failed authentications (a wrong password,
	// an unknown user) are counted, per (user, source address) and per
	// source address: a fixed window from the first failure. Default 1m.
	AuthFailWindow time.Duration `yaml:"auth_fail_window" env:"SIPBUS_REGISTRAR_AUTH_FAIL_WINDOW"`

	// AuthFailPerUser failures of one user from one source address within
	// AuthFailWindow block that user from that address for AuthFailBlock
	// (answered 403 "Too many failed authentications" without checking
	// the password); the user's phones elsewhere go on. 0 turns it off.
	// Default 10.
	AuthFailPerUser int `yaml:"auth_fail_per_user" env:"SIPBUS_REGISTRAR_AUTH_FAIL_PER_USER"`

	// AuthFailPerSource failures from one source address (an IPv6 /64)
	// within AuthFailWindow, whatever the users, block the address for
	// every user for AuthFailBlock. Set it above what a NAT with many
	// phones may fail at once; 0 turns it off (behind an SBC that hides
	// the phones' addresses). Default 100.
	AuthFailPerSource int `yaml:"auth_fail_per_source" env:"SIPBUS_REGISTRAR_AUTH_FAIL_PER_SOURCE"`

	// AuthFailBlock is how long a block lasts, from the failure that
	// reached a limit. Default 10m.
	AuthFailBlock time.Duration `yaml:"auth_fail_block" env:"SIPBUS_REGISTRAR_AUTH_FAIL_BLOCK"`

	// NonceTTL is how long a nonce stays fresh; an older one is answered
	// with a new challenge and stale=true. Default 5m.
	NonceTTL time.Duration `yaml:"nonce_ttl" env:"SIPBUS_REGISTRAR_NONCE_TTL"`

	// MinExpires is the shortest registration accepted: a shorter one gets
	// 423 Interval Too Brief with Min-Expires. Default 60s, at most 1h.
	MinExpires time.Duration `yaml:"min_expires" env:"SIPBUS_REGISTRAR_MIN_EXPIRES"`

	// MaxExpires caps registrations (longer ones are shortened to it).
	// Default 3600s.
	MaxExpires time.Duration `yaml:"max_expires" env:"SIPBUS_REGISTRAR_MAX_EXPIRES"`

	// DefaultExpires applies to a Contact without an expires parameter in
	// a REGISTER without an Expires header. Default 3600s.
	DefaultExpires time.Duration `yaml:"default_expires" env:"SIPBUS_REGISTRAR_DEFAULT_EXPIRES"`

	// MaxContacts caps the bindings of one AOR; a REGISTER that would
	// exceed it gets 403 "Too many contacts". 0 means unlimited. Default
	// 10.
	MaxContacts int `yaml:"max_contacts" env:"SIPBUS_REGISTRAR_MAX_CONTACTS"`

	// ExpiryScan is the least time between two scans for expired bindings
	// (which remove them and emit reg.contact.expired; any replica may
	// scan, each binding is reported once). The registrar sleeps until the
	// next binding expires, looking again at least every 30s for bindings
	// other replicas made, so an idle registrar does not scan; bindings
	// expiring one after the other are removed in batches, at most one
	// scan per ExpiryScan. Default 1s, less than 10m.
	ExpiryScan time.Duration `yaml:"expiry_scan" env:"SIPBUS_REGISTRAR_EXPIRY_SCAN"`

	// Workers bounds the REGISTER events handled at once. Default 64.
	Workers int `yaml:"workers" env:"SIPBUS_REGISTRAR_WORKERS"`
}

// Auth modes.
const (
	AuthRequired = "required"
	AuthOff      = "off"
)

// Defaults.
const (
	defaultNATS           = "nats://127.0.0.1:4222"
	defaultNonceTTL       = 5 * time.Minute
	defaultAuthFailWindow = time.Minute
	defaultAuthFailUser   = 10
	defaultAuthFailSource = 100
	defaultAuthFailBlock  = 10 * time.Minute
	defaultMinExpires     = 60 * time.Second
	defaultMaxExpires     = 3600 * time.Second
	defaultDefaultExpires = 3600 * time.Second
	defaultMaxContacts    = 10
	defaultExpiryScan     = time.Second
	defaultWorkers        = 64
)

// Default returns the configuration without file or environment. With
// auth required it does not validate until Domains is set.
func Default() Config {
	return Config{
		ID:             hostID(),
		NATS:           defaultNATS,
		Auth:           AuthRequired,
		AuthAlgorithms: []string{"MD5"},
		NonceTTL:       defaultNonceTTL,

		AuthFailWindow:    defaultAuthFailWindow,
		AuthFailPerUser:   defaultAuthFailUser,
		AuthFailPerSource: defaultAuthFailSource,
		AuthFailBlock:     defaultAuthFailBlock,
		MinExpires:        defaultMinExpires,
		MaxExpires:        defaultMaxExpires,
		DefaultExpires:    defaultDefaultExpires,
		MaxContacts:       defaultMaxContacts,
		ExpiryScan:        defaultExpiryScan,
		Workers:           defaultWorkers,
	}
}

// AuthOn reports whether REGISTERs must authenticate (Auth is not "off").
func (c Config) AuthOn() bool { return c.Auth != AuthOff }

// AuthFailLimits are the brute-force limits (AuthFail*) as pkg/digest
// takes them.
func (c Config) AuthFailLimits() digest.Limits {
	return digest.Limits{Window: c.AuthFailWindow, PerUser: c.AuthFailPerUser, PerSource: c.AuthFailPerSource, Block: c.AuthFailBlock}
}

// printable is Config without its methods, for String.
type printable Config

// String describes c without AuthSecret and without the passwords of the
// NATS and Redis URLs.
func (c Config) String() string {
	if c.AuthSecret != "" {
		c.AuthSecret = "[redacted]"
	}
	c.NATS, c.Redis = store.RedactURL(c.NATS), store.RedactURL(c.Redis)
	return fmt.Sprintf("%+v", printable(c))
}

// GoString is String, so %#v does not print the secret either.
func (c Config) GoString() string { return "config.Config" + c.String() }

// LogValue keeps AuthSecret out of slog output.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", c.ID), slog.String("domains", fmt.Sprint(c.Domains)), slog.String("auth", c.Auth),
		slog.Bool("auth_secret_set", c.AuthSecret != ""), slog.String("auth_algorithms", fmt.Sprint(c.AuthAlgorithms)),
		slog.String("auth_sha256_domains", fmt.Sprint(c.AuthSHA256Domains)), slog.String("auth_sha256_user_agents", fmt.Sprint(c.AuthSHA256UserAgents)),
		slog.Duration("auth_fail_window", c.AuthFailWindow), slog.Int("auth_fail_per_user", c.AuthFailPerUser),
		slog.Int("auth_fail_per_source", c.AuthFailPerSource), slog.Duration("auth_fail_block", c.AuthFailBlock),
		slog.Duration("nonce_ttl", c.NonceTTL),
		slog.Duration("min_expires", c.MinExpires), slog.Duration("max_expires", c.MaxExpires),
		slog.Duration("default_expires", c.DefaultExpires), slog.Int("max_contacts", c.MaxContacts),
		slog.Duration("expiry_scan", c.ExpiryScan), slog.Int("workers", c.Workers),
	)
}

// hostID is the host name made a valid ID.
func hostID() string {
	h, _ := os.Hostname()
	out := make([]byte, 0, len(h))
	for i := 0; i < len(h) && len(out) < maxIDLen; i++ {
		switch c := h[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			out = append(out, c)
		default:
			out = append(out, '-')
		}
	}
	if len(out) == 0 {
		return "registrar"
	}
	return string(out)
}
