package web

import (
	"context"
	"errors"
	"fmt"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// Spec is the web page in the one service shape (pkg/service): `sipbus
// web` and services/web/cmd/web run it. It needs Redis (the directory, the
// location service, phonebooks, histories, sessions) and --http (it is a
// web page: with --http off it refuses to start).
var Spec = service.Spec[Config]{
	Name:    "web",
	Summary: "the web page: sign-in, registered phones, calls, phonebook, admin",
	Redis:   service.RedisRequired,
	HTTP:    "127.0.0.1:8080",
	Default: DefaultConfig,
	Validate: func(c *Config) error {
		if err := c.DecodeSecret(); err != nil {
			return err
		}
		return c.Validate()
	},
	Build: build,
}

func build(ctx context.Context, cfg *Config, d *service.Deps) (service.Service, error) {
	if d.Mux == nil {
		return nil, service.UsageError{Err: errors.New("http (--http, SIPBUS_WEB_HTTP): off, but the web page is served on it: give an ip:port")}
	}
	rc, prefix, err := store.OpenRedisClient(ctx, d.Common.Redis)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	d.OnClose(func() { _ = rc.Close() })
	w, err := New(*cfg, Deps{NC: d.NC, JS: d.JS, Directory: subscriber.NewRedis(rc, prefix), Locations: location.NewRedis(rc, prefix),
		State: StateOn(rc, prefix), Log: d.Log, Tracer: d.Tracer})
	if err != nil {
		return nil, err
	}
	d.Health.Add("consumer", obs.Consumer(d.JS, bus.DefaultStream, cfg.Consumer, 10000, d.Metrics.ConsumerLag))
	d.Health.Add("consumer-missed", obs.Consumer(d.JS, bus.DefaultStream, MissedConsumer(cfg.Consumer), 10000, d.Metrics.ConsumerLag))
	w.Mount(d.Mux)
	return &served{w}, nil
}

// served is the page as Main runs it: the banner names the consumers.
type served struct{ *Service }

func (s *served) Banner() string {
	return fmt.Sprintf("  web    id %s, history consumers %s, %s", s.cfg.ID, s.cfg.Consumer, MissedConsumer(s.cfg.Consumer))
}
