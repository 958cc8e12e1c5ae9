package config

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the web page.
type Config struct {
	// ID names this instance in logs; default "web".
	ID string `yaml:"id"`
	// SessionKey signs session cookies: at least 32 bytes, the same on
	// every replica. `sipbus up` takes $SIPBUS_WEB_SECRET or makes a
	// random one per process (sessions then end with the process).
	SessionKey []byte `yaml:"-"`
	// SessionTTL is how long a sign-in lasts; default 12h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// SecureCookies sets the Secure flag over plain HTTP too (behind a
	// TLS-terminating proxy); default false (set over TLS).
	SecureCookies bool `yaml:"secure_cookies"`
	// Domains an admin may add users in; empty: any.
	Domains []string `yaml:"domains"`
	// HistoryLen is how many calls each user's history keeps; default 100.
	HistoryLen int `yaml:"history_len"`
	// HistoryTTL is how long a history untouched by a new call stays;
	// default 90 days.
	HistoryTTL time.Duration `yaml:"history_ttl"`
	// PhonebookMax is the most entries of one phonebook; default 2000.
	PhonebookMax int `yaml:"phonebook_max"`
	// LockoutFailures wrong passwords for one AOR from one address within
	// LockoutWindow block that AOR from that address for LockoutBlock;
	// default 5. LockoutSourceFailures (default 20) wrong passwords from
	// one address, whatever the AOR, block the address.
	LockoutFailures       int           `yaml:"lockout_failures"`
	LockoutSourceFailures int           `yaml:"lockout_source_failures"`
	LockoutWindow         time.Duration `yaml:"lockout_window"` // default 15m
	LockoutBlock          time.Duration `yaml:"lockout_block"`  // default 15m
	// Consumer is the durable consumer of call events that fills the
	// histories; default "web-history".
	Consumer string `yaml:"consumer"`
}

// Default returns the defaults (without a SessionKey).
func Default() Config {
	return Config{ID: "web", SessionTTL: 12 * time.Hour, HistoryLen: 100, HistoryTTL: 90 * 24 * time.Hour,
		PhonebookMax: 2000, LockoutFailures: 5, LockoutSourceFailures: 20, LockoutWindow: 15 * time.Minute,
		LockoutBlock: 15 * time.Minute, Consumer: "web-history"}
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
