// Command tm runs one sipbus transaction manager replica against an
// existing NATS server and Redis: the deployment shape (one replica per pod,
// any number of them). For a laptop, `sipbus up` runs everything in one
// process instead.
//
//	tm [-config tm.yaml] [-http ADDR|off]
//
// Settings come from the YAML file, then SIPBUS_* variables (SIPBUS_ADVERTISE,
// SIPBUS_DOMAINS, SIPBUS_ROUTES, REDIS_URL, SIPBUS_NATS_URL, ...; see
// services/tm/README.md).
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
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/services/tm"
)

func main() {
	obs.SetGCDefault() // GOGC=400 unless GOGC is set
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tm:", err)
		os.Exit(1)
	}
}

func run() error {
	cfgPath := flag.String("config", "", "YAML config file (strict: an unknown key is an error)")
	httpAddr := flag.String("http", "off", "HTTP address ip:port for /healthz, /readyz and /metrics, or off")
	flag.Parse()
	cfg, err := tm.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Redis == "" || cfg.Redis == "memory://" {
		return errors.New("redis (or REDIS_URL) is required: tm replicas share state in Redis")
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := store.Open(ctx, cfg.Redis)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer st.Close()
	locate, err := tm.LocatorFor(st)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	nc, err := nats.Connect(cfg.NATS, nats.Name("sipbus-tm-"+cfg.ID), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("nats %s: %w", cfg.NATS, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	health, metrics := &obs.Health{}, obs.NewMetrics("tm")
	health.Add("nats", obs.NATS(nc, metrics.NATSRTT))
	health.Add("stream", obs.Stream(js, bus.DefaultStream))
	health.Add("redis", obs.Redis(st.Ping, metrics.RedisRTT))
	hs, err := obs.Listen(*httpAddr, health, metrics, log)
	if err != nil {
		return fmt.Errorf("-http: %w", err)
	}
	defer hs.Shutdown(context.Background())
	go func() { <-ctx.Done(); health.Drain() }()
	tracer, stopTracing, err := obs.TracingFromEnv(ctx, "tm", cfg.ID)
	if err != nil {
		return err
	}
	defer stopTracing(context.Background())
	started := health.Starting("tm")
	t, err := tm.New(cfg, tm.Deps{NC: nc, JS: js, Store: st, Log: log, Locate: locate, Metrics: metrics, Tracer: tracer})
	if err != nil {
		return err
	}
	if err := t.Start(ctx); err != nil {
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
	return t.Shutdown(sctx)
}
