package config

import (
	"fmt"
	"log/slog"
	"os"
	"time"

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

	// AuthAlgorithms are the digest algorithms offered, one challenge
	// each, in this order: "SHA-256" and "MD5" (RFC 8760 §2.3: SHA-256
	// first; a UA answers the first it supports, and one that knows only
	// MD5 skips it). Listing only MD5 serves old UAs that take the first
	// challenge whatever its algorithm. Default [SHA-256, MD5].
	AuthAlgorithms []string `yaml:"auth_algorithms" env:"SIPBUS_REGISTRAR_AUTH_ALGORITHMS"`

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
		AuthAlgorithms: []string{"SHA-256", "MD5"},
		NonceTTL:       defaultNonceTTL,
		MinExpires:     defaultMinExpires,
		MaxExpires:     defaultMaxExpires,
		DefaultExpires: defaultDefaultExpires,
		MaxContacts:    defaultMaxContacts,
		ExpiryScan:     defaultExpiryScan,
		Workers:        defaultWorkers,
	}
}

// AuthOn reports whether REGISTERs must authenticate (Auth is not "off").
func (c Config) AuthOn() bool { return c.Auth != AuthOff }

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
		slog.Bool("auth_secret_set", c.AuthSecret != ""), slog.String("auth_algorithms", fmt.Sprint(c.AuthAlgorithms)), slog.Duration("nonce_ttl", c.NonceTTL),
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
