package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/sipbus/sipbus/services/ctd/internal/app"
)

// Config configures a ctd replica.
type Config struct {
	// ID names the replica (CloudEvent source sipbus/ctd/<ID>). Required.
	ID string `yaml:"id" env:"SIPBUS_CTD_ID"`
	// RingTimeout is how long the caller's phones ring. Default 30s.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// ReferTimeout bounds the answer to REFER and to the 3PCC re-INVITE;
	// it is also how long a replica that died with one in flight holds
	// the call before another takes it over. Default 32s (Timer F).
	ReferTimeout time.Duration `yaml:"refer_timeout"`
	// NotifyTimeout is how long after the 202 the first NOTIFY may take.
	// Default 32s.
	NotifyTimeout time.Duration `yaml:"notify_timeout"`
	// CalleeTimeout is how long the callee may ring. Default 120s.
	CalleeTimeout time.Duration `yaml:"callee_timeout"`
	// Fallback lists the REFER answers that start RFC 3725 third-party
	// call control (408: no answer); empty turns the fallback off.
	// Default 405, 408, 489, 501, 603.
	Fallback []int `yaml:"fallback"`
	// FallbackNoNotify starts 3PCC when no NOTIFY came after the 202.
	// Default false (the phone may be calling already).
	FallbackNoNotify bool `yaml:"fallback_no_notify"`
	// Tick is how often the replica looks for due deadlines. Default 250ms.
	Tick time.Duration `yaml:"tick"`
	// AdminToken, when set, is an operator bearer token for the HTTP API
	// (may dial from any AOR). Default none. Never logged.
	AdminToken string `yaml:"admin_token" env:"SIPBUS_CTD_ADMIN_TOKEN"`
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
