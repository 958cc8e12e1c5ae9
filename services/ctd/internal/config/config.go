package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/sipbus/sipbus/services/ctd/internal/app"
)

// Config is a ctd replica's settings (pkg/service: each yaml key is also
// a flag and a SIPBUS_CTD_* variable; see the README's settings table).
type Config struct {
	// ID names the replica (CloudEvent source sipbus/ctd/<ID>); the
	// service fills ctd-<hostname>-<pid> when it is empty.
	ID string `yaml:"id" help:"names the replica (CloudEvent source sipbus/ctd/ID), unique per process; default ctd-HOSTNAME-PID"`
	// RingTimeout is how long the caller's phones ring.
	RingTimeout time.Duration `yaml:"ring_timeout" help:"how long the caller's phones ring"`
	// ReferTimeout bounds the answer to REFER and to the 3PCC re-INVITE;
	// it is also how long a replica that died with one in flight holds
	// the call before another takes it over (Timer F by default).
	ReferTimeout time.Duration `yaml:"refer_timeout" help:"how long the answer to REFER (or the 3PCC re-INVITE) may take; also the takeover delay after a replica died"`
	// NotifyTimeout is how long after the 202 the first NOTIFY may take.
	NotifyTimeout time.Duration `yaml:"notify_timeout" help:"how long after the 202 the first NOTIFY may take"`
	// CalleeTimeout is how long the callee may ring.
	CalleeTimeout time.Duration `yaml:"callee_timeout" help:"how long the callee may ring"`
	// Fallback lists the REFER answers that start RFC 3725 third-party
	// call control (408: no answer); empty turns the fallback off.
	Fallback []int `yaml:"fallback" help:"REFER answers that start RFC 3725 third-party call control (408 = no answer); empty (--fallback= or fallback: []) turns it off"`
	// FallbackNoNotify starts 3PCC when no NOTIFY came after the 202
	// (off: BYE; the phone may be calling already).
	FallbackNoNotify bool `yaml:"fallback_no_notify" help:"also start third-party call control when no NOTIFY came within notify_timeout after the 202 (false: BYE; the phone may be calling already)"`
	// Tick is how often the replica looks for due deadlines.
	Tick time.Duration `yaml:"tick" help:"how often the replica looks for due deadlines"`
	// AdminToken, when set, is an operator bearer token for the HTTP API
	// (may dial from any AOR). Never logged.
	AdminToken string `yaml:"admin_token" secret:"true" help:"an operator bearer token for the HTTP API (may dial from any AOR); default none"`
}

// Default returns the defaults (ID empty).
func Default() Config {
	p := app.DefaultPolicy()
	return Config{RingTimeout: p.RingTimeout, ReferTimeout: p.ReferTimeout, NotifyTimeout: p.NotifyTimeout,
		CalleeTimeout: p.CalleeTimeout, Fallback: p.Fallback, Tick: 250 * time.Millisecond}
}

// Validate reports every problem, each naming its key.
func (c Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("id: required"))
	}
	for _, d := range []struct {
		k string
		v time.Duration
	}{{"ring_timeout", c.RingTimeout}, {"refer_timeout", c.ReferTimeout}, {"notify_timeout", c.NotifyTimeout},
		{"callee_timeout", c.CalleeTimeout}, {"tick", c.Tick}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", d.k))
		}
	}
	for _, s := range c.Fallback {
		if s < 300 || s > 699 {
			errs = append(errs, fmt.Errorf("fallback: %d is not a final status of 300..699", s))
		}
	}
	return errors.Join(errs...)
}

// Policy is the part of c every call carries.
func (c Config) Policy() app.Policy {
	p := app.DefaultPolicy()
	p.RingTimeout, p.ReferTimeout, p.NotifyTimeout, p.CalleeTimeout = c.RingTimeout, c.ReferTimeout, c.NotifyTimeout, c.CalleeTimeout
	p.Fallback, p.FallbackNoNotify = append([]int(nil), c.Fallback...), c.FallbackNoNotify
	return p
}
