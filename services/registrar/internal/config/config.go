package config

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
)

// Config is the registrar's settings (pkg/service: each field is a YAML
// key, the flag --key and the variable SIPBUS_REGISTRAR_KEY unless its env
// tag names a shared one). Default() holds the defaults; Validate
// completes, normalizes and checks them. Where NATS and Redis are, the
// HTTP address and logging are the settings every service shares
// (service.Common).
type Config struct {
	// ID names this instance (in events, the micro service metadata and
	// logs). Default (filled in by Validate): the host name, other bytes
	// replaced by '-'.
	ID string `yaml:"id" help:"instance name in events and logs: [A-Za-z0-9_-], at most 64 (default: the host name)"`

	// Domains are the local domains: a REGISTER whose To host is not one
	// of them gets 403, and each is the digest realm of its users. Host
	// names or IP addresses, no port; Validate lower-cases them and writes
	// IPv6 addresses in brackets. Required when Auth is "required"; with
	// auth off, empty means every domain is served. tm reads the same
	// variable.
	Domains []string `yaml:"domains" env:"SIPBUS_DOMAINS" help:"local SIP domains, each the digest realm of its users (required with auth required); tm reads the same variable"`

	// Auth is "required" (digest authentication of every REGISTER, RFC
	// 3261 §22) or "off" (anybody may register any AOR of a local domain:
	// tests and closed networks only).
	Auth string `yaml:"auth" help:"digest authentication of REGISTER: required, or off (tests and closed networks only)"`

	// AuthSecret is the HMAC key of the digest nonces, at least 16 bytes
	// (32 random bytes recommended). Every replica must share it, or a
	// nonce minted by one is refused by another. Default "": a random
	// secret is generated at start with a warning (one replica only).
	// Never printed: String, GoString and LogValue leave it out.
	AuthSecret string `yaml:"auth_secret" env:"SIPBUS_AUTH_SECRET" secret:"true" help:"HMAC key of the digest nonces, at least 16 bytes, the same on every replica (default: random per process, one replica only)"`

	// AuthAlgorithms are the digest algorithms every client is offered,
	// one challenge each, in this order: "MD5" and "SHA-256". Default
	// [MD5]: one challenge per realm, which every SIP client answers (as
	// Kamailio, OpenSIPS and Asterisk challenge). Clients that take the
	// first challenge whatever its algorithm (sipsak 0.9.8), or fail on
	// any they cannot compute (baresip 1.0), break on a SHA-256 challenge;
	// move the clients that handle it to SHA-256 with AuthSHA256Domains
	// and AuthSHA256UserAgents instead.
	AuthAlgorithms []string `yaml:"auth_algorithms" help:"digest algorithms every client is offered, one challenge each, in order: MD5, SHA-256 (MD5: every client answers it)"`

	// AuthSHA256Domains are local domains whose clients are offered
	// SHA-256 first, then AuthAlgorithms (RFC 8760 §2.3): for domains
	// whose phones all handle SHA-256.
	AuthSHA256Domains []string `yaml:"auth_sha256_domains" help:"local domains whose clients are offered SHA-256 first, then auth_algorithms (RFC 8760)"`

	// AuthSHA256UserAgents are regular expressions (RE2 syntax, unanchored,
	// case-sensitive unless (?i)); a REGISTER whose User-Agent matches one
	// is offered SHA-256 first, then AuthAlgorithms, whatever its domain.
	// As a flag or variable the list is comma-separated, so a pattern with
	// a comma goes in the file.
	AuthSHA256UserAgents []string `yaml:"auth_sha256_user_agents" help:"regular expressions (RE2): a REGISTER whose User-Agent matches one is offered SHA-256 first (a pattern with a comma: in the file)"`

	// AuthFailWindow is how long failed authentications (a wrong password,
	// an unknown user) are counted, per (user, source address) and per
	// source address: a fixed window from the first failure.
	AuthFailWindow time.Duration `yaml:"auth_fail_window" help:"how long failed authentications count, per user and source address and per source address"`

	// AuthFailPerUser failures of one user from one source address within
	// AuthFailWindow block that user from that address for AuthFailBlock
	// (answered 403 "Too many failed authentications" without checking
	// the password); the user's phones elsewhere go on. 0 turns it off.
	AuthFailPerUser int `yaml:"auth_fail_per_user" help:"failures of one user from one address that block that user from that address (0: off)"`

	// AuthFailPerSource failures from one source address (an IPv6 /64)
	// within AuthFailWindow, whatever the users, block the address for
	// every user for AuthFailBlock. Set it above what a NAT with many
	// phones may fail at once; 0 turns it off (behind an SBC that hides
	// the phones' addresses).
	AuthFailPerSource int `yaml:"auth_fail_per_source" help:"failures from one address (an IPv6 /64), any users, that block the address (0: off)"`

	// AuthFailBlock is how long a block lasts, from the failure that
	// reached a limit.
	AuthFailBlock time.Duration `yaml:"auth_fail_block" help:"how long a block after failed authentications lasts"`

	// NonceTTL is how long a nonce stays fresh; an older one is answered
	// with a new challenge and stale=true.
	NonceTTL time.Duration `yaml:"nonce_ttl" help:"how long a digest nonce stays fresh (older: a new challenge with stale=true)"`

	// MinExpires is the shortest registration accepted: a shorter one gets
	// 423 Interval Too Brief with Min-Expires. At most 1h.
	MinExpires time.Duration `yaml:"min_expires" help:"shortest registration accepted, whole seconds, at most 1h (shorter: 423 with Min-Expires)"`

	// MaxExpires caps registrations (longer ones are shortened to it).
	MaxExpires time.Duration `yaml:"max_expires" help:"longest registration; longer ones are shortened to it"`

	// DefaultExpires applies to a Contact without an expires parameter in
	// a REGISTER without an Expires header.
	DefaultExpires time.Duration `yaml:"default_expires" help:"expiry of a Contact without expires in a REGISTER without Expires"`

	// MaxContacts caps the bindings of one AOR; a REGISTER that would
	// exceed it gets 403 "Too many contacts". 0 means unlimited.
	MaxContacts int `yaml:"max_contacts" help:"most bindings of one AOR (more: 403 Too many contacts; 0: unlimited)"`

	// ExpiryScan is the least time between two scans for expired bindings
	// (which remove them and emit reg.contact.expired; any replica may
	// scan, each binding is reported once). The registrar sleeps until the
	// next binding expires, looking again at least every 30s for bindings
	// other replicas made, so an idle registrar does not scan; bindings
	// expiring one after the other are removed in batches, at most one
	// scan per ExpiryScan. Less than 10m.
	ExpiryScan time.Duration `yaml:"expiry_scan" help:"least time between two scans for expired bindings (less than 10m)"`

	// Workers is the number of lanes REGISTERs run on, and so the most
	// handled at once. A UA's REGISTERs (one Call-ID) share a lane and run
	// in order; other UAs whose Call-IDs hash to the same lane wait behind
	// them, through each one's Redis write. REGISTERs hold their lane
	// mostly waiting for Redis (the writes of all lanes share pipelines,
	// groupcommit), so lanes cost no round trips: 256 keep that
	// head-of-line wait rare at 10,000 REGISTER/s (64 made 100 ms queues
	// with a fifth of the CPU idle; bench/RESULTS.md, round 24).
	Workers int `yaml:"workers" help:"lanes REGISTERs run on (the most handled at once; a UA's in order)"`
}

// Auth modes.
const (
	AuthRequired = "required"
	AuthOff      = "off"
)

// Defaults.
const (
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
	defaultWorkers        = 256
)

// Default returns the defaults. With auth required it does not validate
// until Domains is set.
func Default() Config {
	return Config{
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

// String describes c without AuthSecret.
func (c Config) String() string {
	if c.AuthSecret != "" {
		c.AuthSecret = "[redacted]"
	}
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
