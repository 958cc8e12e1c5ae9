// Command web runs the sipbus web page as its own process against an
// existing NATS server (the event stream) and Redis (the subscriber
// directory, the location service, phonebooks, histories, sessions): the
// deployment shape, as many replicas as wanted behind one address. For a
// laptop, `sipbus up` serves the page inside everything else.
//
//	web -redis redis://redis:6379 [-nats nats://nats:4222] [-http 0.0.0.0:8080] [-domain D]... [-secure-cookies] [-log-level info]
//
// -http serves the page with /healthz, /readyz (NATS, the stream, Redis)
// and /metrics.
//
// SIPBUS_WEB_SECRET (hex, at least 32 bytes, the same on every replica)
// signs the sessions; it is required here. The click-to-dial API is served
// by `sipbus ctd serve`: route /v1/ to it on the same origin. SIGINT or
// SIGTERM stop it.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/confload"
	"github.com/sipbus/sipbus/pkg/httpfront"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/web"
)

func main() {
	obs.SetGCDefault() // GOGC=400 unless GOGC is set
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "web:", err)
		os.Exit(1)
	}
}

type domains []string

func (d *domains) String() string     { return strings.Join(*d, ",") }
func (d *domains) Set(v string) error { *d = append(*d, v); return nil }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := web.ProcessEnv{NATS: "nats://127.0.0.1:4222"}
	if err := confload.FromEnv(&env, getenv); err != nil {
		return err
	}
	natsURL := fs.String("nats", env.NATS, "NATS server URL (default $SIPBUS_NATS_URL)")
	redisURL := fs.String("redis", env.Redis, "Redis URL (default $REDIS_URL); required")
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP address ip:port")
	secure := fs.Bool("secure-cookies", false, "set the Secure flag on cookies over plain HTTP (behind a TLS-terminating proxy)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	var doms domains
	fs.Var(&doms, "domain", "a domain admins may add users in (repeat; default any)")
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
	cfg := web.DefaultConfig()
	key, err := hex.DecodeString(env.Secret)
	if err != nil || len(key) < 32 {
		return errors.New("SIPBUS_WEB_SECRET: required, at least 32 bytes in hex (openssl rand -hex 32), the same on every replica")
	}
	cfg.SessionKey, cfg.SecureCookies, cfg.Domains = key, *secure, doms
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *redisURL == "" {
		return errors.New("-redis (REDIS_URL): required: the directory, the location service and the page's state are in Redis")
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	rc, prefix, err := store.OpenRedisClient(ctx, *redisURL)
	if err != nil {
		return fmt.Errorf("-redis: %w", err)
	}
	defer rc.Close()
	nc, err := nats.Connect(*natsURL, nats.Name("sipbus-web"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("-nats %s: %w", *natsURL, err)
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	srv, err := httpfront.Listen(*httpAddr, log)
	if err != nil {
		return fmt.Errorf("-http: %w", err)
	}
	health, metrics := &obs.Health{}, obs.NewMetrics("web")
	health.Add("nats", obs.NATS(nc, metrics.NATSRTT))
	health.Add("stream", obs.Stream(js, bus.DefaultStream))
	health.Add("redis", obs.Redis(func(ctx context.Context) error { return rc.Ping(ctx).Err() }, metrics.RedisRTT))
	obs.Mount(srv.Mux, health, metrics)
	started := health.Starting("web")
	w, err := web.New(cfg, web.Deps{NC: nc, JS: js, Directory: subscriber.NewRedis(rc, prefix), Locations: location.NewRedis(rc, prefix),
		State: web.StateOn(rc, prefix), Log: log})
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	w.Mount(srv.Mux)
	started()
	go func() {
		if err := srv.Serve(); err != nil {
			log.Error("http: stopped serving", "err", err)
		}
	}()
	log.Info("web serving", "url", srv.URL())
	<-ctx.Done()
	health.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(srv.Shutdown(sctx), w.Shutdown(sctx))
}
