package tm

import (
	"context"
	"fmt"
	"strings"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/store"
)

// Spec is tm in the one service shape (pkg/service): `sipbus tm` and the
// tm command (cmd/tm) both run service.Main(ctx, tm.Spec, ...). Its
// settings are Config's keys and the common ones (nats, redis, http, ...);
// Redis is required: replicas share their transactions, the membership
// and the location service there.
var Spec = service.Spec[Config]{
	Name:    "tm",
	Summary: "transaction manager: stateful proxy, timers, forking and call events; replicas share their state in Redis",
	Redis:   service.RedisRequired,
	HTTP:    "off",
	Default: DefaultConfig,
	Build:   build,
}

// build opens the transaction store and the location service on the
// Redis of the common settings (one connection pool for both) and makes
// tm, its metrics on d.Metrics.
func build(ctx context.Context, cfg *Config, d *service.Deps) (service.Service, error) {
	st, err := store.Open(ctx, d.Common.Redis)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	d.OnClose(func() { _ = st.Close() })
	locate, stop, err := LocatorFor(st, d.Log)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	d.OnClose(func() { _ = stop() })
	t, err := New(*cfg, Deps{NC: d.NC, JS: d.JS, Store: st, Locate: locate, Log: d.Log, Metrics: d.Metrics, Tracer: d.Tracer})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Banner is what `sipbus tm` prints before "ready": the instance, the
// address it advertises, its domains and how it resolves next hops.
func (t *TM) Banner() string {
	return fmt.Sprintf("  tm     %s: advertise %s, domains %s, routes %s, dns %s",
		t.cfg.ID, t.cfg.Advertise, strings.Join(t.cfg.Domains, ","), orDefault(t.cfg.Routes, "default"), t.Resolver())
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
