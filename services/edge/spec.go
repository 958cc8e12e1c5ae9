package edge

import (
	"context"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/edge/internal/config"
)

// Spec is the edge in the one service shape (pkg/service): `sipbus edge`
// and the edge's own main (services/edge/cmd/edge) both run
// service.Main(ctx, edge.Spec, ...). The edge keeps no state in Redis.
//
// The settings are Config's keys: udp and tcp default to 127.0.0.1:5060;
// tls, ws and wss are off until given an address; a tls or wss listener
// without tls_cert and tls_key gets a self-signed certificate made in
// memory, and only on loopback (Validate refuses one others can reach).
var Spec = service.Spec[Config]{
	Name:     "edge",
	Summary:  "the SIP edge: UDP, TCP, TLS, WebSocket and secure WebSocket listeners publishing SIP on NATS",
	Redis:    service.RedisNone,
	HTTP:     "off",
	Default:  defaults,
	Validate: validate,
	Build:    build,
}

// defaults are Config's defaults, but for the id, which depends on the
// host (Validate fills it), so that the README table is the same
// everywhere.
func defaults() Config {
	c := Config{}.Defaults()
	c.ID = ""
	return c
}

// validate takes "off", "-" and an empty address alike as a listener
// that is off, fills the id from the host name when it is empty, and
// checks the rest (every error names its key). A zero the settings give
// is refused, not replaced by a default.
func validate(c *Config) error {
	for _, a := range []*string{&c.UDP, &c.TCP, &c.TLS, &c.WS, &c.WSS} {
		if config.Off(*a) {
			*a = "-"
		}
	}
	if c.ID == "" {
		c.ID = Config{}.Defaults().ID
	}
	return c.Validate()
}

// build binds the listeners (a listener that cannot be bound is an error
// naming its key and address) and exports the edge's metrics.
func build(_ context.Context, c *Config, d *service.Deps) (service.Service, error) {
	e, err := New(*c, Deps{NC: d.NC, JS: d.JS, Log: d.Log, Tracer: d.Tracer})
	if err != nil {
		return nil, err
	}
	RegisterMetrics(d.Metrics, e)
	return e, nil
}
