package ctd

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// Spec is a click-to-dial replica in the one service shape (pkg/service):
// `sipbus ctd serve` and services/ctd/cmd/ctd run it. It needs Redis (calls
// and API tokens, shared by the replicas) and --http (its API: with --http
// off it refuses to start).
var Spec = service.Spec[Config]{
	Name:    "ctd",
	Summary: "click-to-dial: the /v1/calls API, REFER with RFC 3725 fallback",
	Redis:   service.RedisRequired,
	HTTP:    "127.0.0.1:8080",
	Default: DefaultConfig,
	Validate: func(c *Config) error {
		if c.ID == "" {
			h, _ := os.Hostname()
			c.ID = fmt.Sprintf("ctd-%s-%d", h, os.Getpid())
		}
		return c.Validate()
	},
	Build: build,
}

func build(ctx context.Context, cfg *Config, d *service.Deps) (service.Service, error) {
	if d.Mux == nil {
		return nil, service.UsageError{Err: errors.New("http (--http, SIPBUS_CTD_HTTP): off, but the click-to-dial API is served on it: give an ip:port")}
	}
	rc, prefix, err := store.OpenRedisClient(ctx, d.Common.Redis)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	d.OnClose(func() { _ = rc.Close() })
	s, err := New(*cfg, Deps{NC: d.NC, JS: d.JS, State: StateOn(rc, prefix), Directory: subscriber.NewRedis(rc, prefix),
		Log: d.Log, Metrics: d.Metrics, Tracer: d.Tracer})
	if err != nil {
		return nil, err
	}
	s.Mount(d.Mux)
	return &served{s}, nil
}

// served is a replica as Main runs it: the banner names it.
type served struct{ *Service }

func (s *served) Banner() string { return fmt.Sprintf("  ctd    %s: API /v1/calls", s.cfg.ID) }
