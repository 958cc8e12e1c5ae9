// Command ctd runs one click-to-dial replica as its own process against an
// existing NATS server and Redis (call state and API tokens are in Redis,
// shared by every replica): the deployment shape. `sipbus ctd serve` and
// `sipbus up` run the same service.
//
//	ctd [-http 0.0.0.0:8080] [-log-level info]
//
// Settings come from the environment: SIPBUS_NATS_URL (default
// nats://127.0.0.1:4222), REDIS_URL (required), SIPBUS_CTD_ID (default
// ctd-<hostname>-<pid>), SIPBUS_CTD_ADMIN_TOKEN (optional). -http serves the
// API under /v1/calls beside /healthz, /readyz and /metrics. SIGINT or
// SIGTERM make /readyz fail, then stop it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/confload"
	"github.com/sipbus/sipbus/pkg/httpfront"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/ctd"
)

func main() {
	obs.SetGCDefault() // GOGC=400 unless GOGC is set
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ctd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ctd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP address ip:port of the API, /healthz, /readyz and /metrics")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	env := ctd.ProcessEnv{NATS: "nats://127.0.0.1:4222"}
	cfg := ctd.DefaultConfig()
	if err := errors.Join(confload.FromEnv(&env, getenv), confload.FromEnv(&cfg, getenv)); err != nil {
		return err
	}
	if cfg.ID == "" {
		h, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("ctd-%s-%d", h, os.Getpid())
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if env.Redis == "" {
		return errors.New("REDIS_URL: required: call state and API tokens are shared by the replicas in Redis")
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	rc, prefix, err := store.OpenRedisClient(ctx, env.Redis)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer rc.Close()
	nc, err := nats.Connect(env.NATS, nats.Name("sipbus-ctd-"+cfg.ID), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("SIPBUS_NATS_URL %s: %w", env.NATS, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	health, metrics := &obs.Health{}, obs.NewMetrics("ctd")
	health.Add("nats", obs.NATS(nc, metrics.NATSRTT))
	health.Add("stream", obs.Stream(js, bus.DefaultStream))
	health.Add("redis", obs.Redis(func(ctx context.Context) error { return rc.Ping(ctx).Err() }, metrics.RedisRTT))
	srv, err := httpfront.Listen(*httpAddr, log)
	if err != nil {
		return fmt.Errorf("-http: %w", err)
	}
	obs.Mount(srv.Mux, health, metrics)
	started := health.Starting("ctd")
	s, err := ctd.New(cfg, ctd.Deps{NC: nc, JS: js, State: ctd.StateOn(rc, prefix), Directory: subscriber.NewRedis(rc, prefix),
		Log: log, Metrics: metrics})
	if err != nil {
		return err
	}
	s.Mount(srv.Mux)
	go func() {
		if err := srv.Serve(); err != nil {
			log.Error("http: stopped serving", "err", err)
		}
	}()
	if err := s.Start(ctx); err != nil {
		_ = srv.Shutdown(context.Background())
		if ctx.Err() != nil {
			return nil // SIGTERM while starting
		}
		return err
	}
	started()
	log.Info("ctd serving", "id", cfg.ID, "url", srv.URL())
	<-ctx.Done()
	health.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(s.Shutdown(sctx), srv.Shutdown(sctx))
}
