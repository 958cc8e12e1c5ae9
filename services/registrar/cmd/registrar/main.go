// Command registrar runs one sipbus registrar against an existing NATS
// server (the edges' stream) and Redis: the deployment shape (one
// registrar per pod, as many pods as needed). For a laptop, `sipbus up`
// runs everything in one process instead.
//
//	registrar [-config registrar.yaml] [-log-level info] [-http ADDR|off]
//
// Settings come from the YAML file, then the environment (SIPBUS_NATS_URL,
// REDIS_URL, SIPBUS_DOMAINS, SIPBUS_AUTH_SECRET, SIPBUS_REGISTRAR_*; see
// the service README). SIGINT or SIGTERM drain it: the command endpoints
// stop, in-flight REGISTERs finish, published events are flushed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/services/registrar"
)

func main() {
	obs.SetGCDefault() // GOGC=400 unless GOGC is set
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "registrar:", err)
		os.Exit(1)
	}
}

func run() error {
	cfgPath := flag.String("config", "", "YAML config file (keys: see the README); the environment overrides it")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error")
	httpAddr := flag.String("http", "off", "HTTP address ip:port for /healthz, /readyz and /metrics, or off")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	cfg, err := registrar.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	state, closeState, err := registrar.OpenState(ctx, cfg.Redis)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer closeState()
	nc, err := nats.Connect(cfg.NATS, nats.Name("sipbus-registrar-"+cfg.ID), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// The edges own the stream's settings; create it with the defaults
	// only when no edge has yet.
	if _, err := js.Stream(ctx, bus.DefaultStream); errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
			return fmt.Errorf("stream: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("stream %s: %w", bus.DefaultStream, err)
	}
	health, metrics := &obs.Health{}, obs.NewMetrics("registrar")
	health.Add("nats", obs.NATS(nc, metrics.NATSRTT))
	health.Add("stream", obs.Stream(js, bus.DefaultStream))
	redisCheck, closeCheck, err := obs.RedisURL(ctx, cfg.Redis, metrics.RedisRTT)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer closeCheck()
	health.Add("redis", redisCheck)
	hs, err := obs.Listen(*httpAddr, health, metrics, log)
	if err != nil {
		return fmt.Errorf("-http: %w", err)
	}
	defer hs.Shutdown(context.Background())
	go func() { <-ctx.Done(); health.Drain() }()
	started := health.Starting("registrar")
	r, err := registrar.New(cfg, registrar.Deps{NC: nc, JS: js, State: state, Log: log})
	if err != nil {
		return err
	}
	r.RegisterMetrics(metrics)
	if err := r.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // SIGTERM while starting
		}
		return err
	}
	started()
	<-ctx.Done()
	health.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.Shutdown(sctx)
}
