package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Config is the web page's settings (pkg/service: each yaml key is also a
// flag and a SIPBUS_WEB_* variable; see the README's settings table).
type Config struct {
	// ID names this instance in logs.
	ID string `yaml:"id" help:"names this instance in logs"`
	// Secret signs the session cookies: hex of at least 32 bytes, the
	// same on every replica (openssl rand -hex 32). Validate decodes it
	// into SessionKey.
	Secret string `yaml:"secret" env:"SIPBUS_WEB_SECRET" secret:"true" help:"signs the session cookies: hex of at least 32 bytes (openssl rand -hex 32), the same on every replica; required"`
	// SessionKey is the decoded Secret. `sipbus up` sets it directly: to
	// $SIPBUS_WEB_SECRET or a random key (sessions then end with the
	// process).
	SessionKey []byte `yaml:"-"`
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration `yaml:"session_ttl" help:"how long a sign-in lasts"`
	// SecureCookies sets the Secure flag over plain HTTP too (behind a
	// TLS-terminating proxy); over TLS it is always set.
	SecureCookies bool `yaml:"secure_cookies" help:"set the cookies' Secure flag over plain HTTP too (behind a TLS-terminating proxy)"`
	// Domains an admin may add users in; empty: any. The shared
	// SIPBUS_DOMAINS: the domains tm and the registrar serve.
	Domains []string `yaml:"domains" env:"SIPBUS_DOMAINS" help:"the domains an admin may add users in (the local domains tm and the registrar serve); empty: any"`
	// HistoryLen is how many calls each user's history keeps.
	HistoryLen int `yaml:"history_len" help:"how many calls each user's history keeps (1 to 10000)"`
	// HistoryTTL is how long a history untouched by a new call stays.
	HistoryTTL time.Duration `yaml:"history_ttl" help:"how long a history untouched by a new call stays (at least 1h)"`
	// PhonebookMax is the most entries of one phonebook.
	PhonebookMax int `yaml:"phonebook_max" help:"the most entries of one phonebook (1 to 100000)"`
	// LockoutFailures wrong passwords for one AOR from one address within
	// LockoutWindow block that AOR from that address for LockoutBlock;
	// LockoutSourceFailures wrong passwords from one address, whatever
	// the AOR, block the address.
	LockoutFailures       int           `yaml:"lockout_failures" help:"wrong passwords for one AOR from one address within lockout_window that block the AOR from that address"`
	LockoutSourceFailures int           `yaml:"lockout_source_failures" help:"wrong passwords from one address, whatever the AOR, within lockout_window that block the address"`
	LockoutWindow         time.Duration `yaml:"lockout_window" help:"the window the sign-in failures are counted in"`
	LockoutBlock          time.Duration `yaml:"lockout_block" help:"how long a lockout lasts"`
	// Consumer is the durable consumer of call events that fills the
	// histories (one per deployment: the replicas share it): it takes
	// call.ended, and Consumer+"-missed" takes call.missed.
	Consumer string `yaml:"consumer" help:"the durable consumer of call events that fills the histories, shared by the replicas (call.ended; the name with -missed appended takes call.missed)"`
}

// Default returns the defaults (without a SessionKey).
func Default() Config {
	return Config{ID: "web", SessionTTL: 12 * time.Hour, HistoryLen: 100, HistoryTTL: 90 * 24 * time.Hour,
		PhonebookMax: 2000, LockoutFailures: 5, LockoutSourceFailures: 20, LockoutWindow: 15 * time.Minute,
		LockoutBlock: 15 * time.Minute, Consumer: "web-history"}
}

// DecodeSecret sets SessionKey from Secret (hex, at least 32 bytes); the
// error names the setting, never the value.
func (c *Config) DecodeSecret() error {
	if c.Secret == "" {
		return errors.New("secret (SIPBUS_WEB_SECRET): required: hex of at least 32 bytes (openssl rand -hex 32), the same on every replica")
	}
	k, err := hex.DecodeString(c.Secret)
	if err != nil || len(k) < 32 {
		return errors.New("secret (SIPBUS_WEB_SECRET): want at least 32 bytes in hex (openssl rand -hex 32)")
	}
	c.SessionKey = k
	return nil
}

// Validate reports every problem, joined, each naming its key.
func (c Config) Validate() error {
	var errs []error
	if len(c.SessionKey) < 32 {
		errs = append(errs, fmt.Errorf("web: session key: %d bytes, want at least 32", len(c.SessionKey)))
	}
	if c.SessionTTL < time.Minute {
		errs = append(errs, fmt.Errorf("web: session_ttl %v: want at least 1m", c.SessionTTL))
	}
	if c.HistoryLen < 1 || c.HistoryLen > 10000 {
		errs = append(errs, fmt.Errorf("web: history_len %d: want 1 to 10000", c.HistoryLen))
	}
	if c.HistoryTTL < time.Hour {
		errs = append(errs, fmt.Errorf("web: history_ttl %v: want at least 1h", c.HistoryTTL))
	}
	if c.PhonebookMax < 1 || c.PhonebookMax > 100000 {
		errs = append(errs, fmt.Errorf("web: phonebook_max %d: want 1 to 100000", c.PhonebookMax))
	}
	if c.LockoutFailures < 1 {
		errs = append(errs, fmt.Errorf("web: lockout_failures %d: want at least 1", c.LockoutFailures))
	}
	if c.LockoutSourceFailures < 1 {
		errs = append(errs, fmt.Errorf("web: lockout_source_failures %d: want at least 1", c.LockoutSourceFailures))
	}
	if c.LockoutWindow < time.Second || c.LockoutBlock < time.Second {
		errs = append(errs, fmt.Errorf("web: lockout_window %v, lockout_block %v: want at least 1s each", c.LockoutWindow, c.LockoutBlock))
	}
	if c.Consumer == "" {
		errs = append(errs, errors.New("web: consumer: empty"))
	}
	return errors.Join(errs...)
}
