package app

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultMinExpires     = 60 * time.Second
	DefaultMaxExpires     = 3600 * time.Second
	DefaultDefaultExpires = 3600 * time.Second
	DefaultMaxContacts    = 10
)

// maxDelta is the largest delta-seconds (RFC 3261 §20.19, §25.1).
const maxDelta = 1<<32 - 1

// Options are the registrar's REGISTER policy.
type Options struct {
	// Domains are the local domains (lower case). A REGISTER whose To host
	// is not one of them gets 403 "Domain not served here". Empty: every
	// domain is served (a single-tenant test setup; deployments list them).
	Domains []string
	// MinExpires is the shortest registration accepted; a shorter non-zero
	// one gets 423 Interval Too Brief with Min-Expires. Default 60s; at
	// most 1h (RFC 3261 §10.3 step 7 allows 423 only below one hour).
	MinExpires time.Duration
	// MaxExpires caps registrations: longer requests are shortened to it
	// (RFC 3261 §10.3 step 7 lets the registrar shorten, never lengthen).
	// Default 3600s.
	MaxExpires time.Duration
	// DefaultExpires applies to a Contact with neither an expires parameter
	// nor an Expires header. Default 3600s.
	DefaultExpires time.Duration
	// MaxContacts caps the Contacts one REGISTER may add and the bindings an
	// AOR may hold (location.Update.MaxContacts). Default 10; < 0 means
	// unlimited.
	MaxContacts int
}

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if o.MinExpires == 0 {
		o.MinExpires = DefaultMinExpires
	}
	if o.MaxExpires == 0 {
		o.MaxExpires = DefaultMaxExpires
	}
	if o.DefaultExpires == 0 {
		o.DefaultExpires = DefaultDefaultExpires
	}
	if o.MaxContacts == 0 {
		o.MaxContacts = DefaultMaxContacts
	}
	return o
}

// Validate reports every problem of o (after defaults), each naming its
// field.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.MinExpires < 0 || o.MinExpires > time.Hour {
		errs = append(errs, fmt.Errorf("MinExpires %v: must be between 0 and 1h", o.MinExpires))
	}
	if o.MaxExpires < o.MinExpires || o.MaxExpires > maxDelta*time.Second {
		errs = append(errs, fmt.Errorf("MaxExpires %v: must be between MinExpires (%v) and 2^32-1 seconds", o.MaxExpires, o.MinExpires))
	}
	if o.DefaultExpires < o.MinExpires || o.DefaultExpires > o.MaxExpires {
		errs = append(errs, fmt.Errorf("DefaultExpires %v: must be between MinExpires (%v) and MaxExpires (%v)", o.DefaultExpires, o.MinExpires, o.MaxExpires))
	}
	for i, d := range o.Domains {
		if d == "" || d != strings.ToLower(d) || strings.ContainsAny(d, " \t@") {
			errs = append(errs, fmt.Errorf("Domains[%d] %q: must be a lower-case host name", i, d))
		}
	}
	return errors.Join(errs...)
}

// served reports whether host is a local domain.
func (o *Options) served(host string) bool {
	if len(o.Domains) == 0 {
		return true
	}
	for _, d := range o.Domains {
		if strings.EqualFold(d, host) {
			return true
		}
	}
	return false
}

// seconds is d in whole seconds, rounded up.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
