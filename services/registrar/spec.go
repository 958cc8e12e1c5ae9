package registrar

import (
	"context"
	"fmt"
	"strings"

	"github.com/sipbus/sipbus/pkg/service"
)

// Spec is the registrar in the one service shape (pkg/service): `sipbus
// registrar` and the registrar command (cmd/registrar) both run
// service.Main(ctx, registrar.Spec, ...). Its settings are Config's keys
// and the common ones (nats, redis, http, ...); Redis is required: the
// replicas share the location service, the subscriber directory and the
// digest counters there.
var Spec = service.Spec[Config]{
	Name:    "registrar",
	Summary: "registrar: REGISTER with digest authentication, the location service and the subscriber directory in Redis",
	Redis:   service.RedisRequired,
	HTTP:    "off",
	Default: DefaultConfig,
	Build:   build,
}

// build opens the registrar's state on the Redis of the common settings
// and makes the registrar, its counters on d.Metrics.
func build(ctx context.Context, cfg *Config, d *service.Deps) (service.Service, error) {
	state, closeState, err := OpenState(ctx, d.Common.Redis)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	d.OnClose(func() { _ = closeState() })
	r, err := New(*cfg, Deps{NC: d.NC, JS: d.JS, State: state, Log: d.Log, Tracer: d.Tracer})
	if err != nil {
		return nil, err
	}
	r.RegisterMetrics(d.Metrics)
	return r, nil
}

// Banner is what `sipbus registrar` prints before "ready": the instance,
// its domains and whether REGISTERs authenticate.
func (r *Registrar) Banner() string {
	return fmt.Sprintf("  registrar  %s: domains %s, auth %s", r.cfg.ID, strings.Join(r.cfg.Domains, ","), r.cfg.Auth)
}
