// Command notifier runs one sipbus notifier against an existing NATS
// server (the event stream) and Redis (fences, rate limits and the
// subscriber directory): the deployment shape, as many replicas as wanted
// on one durable consumer. For a laptop, `sipbus up --smtp dev` runs one
// inside everything else.
//
//	notifier [-config notifier.yaml] [-log-level info] [-http ADDR|off]
//
// Settings come from the YAML file, then the environment (SIPBUS_NATS_URL,
// REDIS_URL, SIPBUS_SMTP_URL, SIPBUS_MAIL_*, SIPBUS_NOTIFIER_*; see the
// service README). SIGINT or SIGTERM drain it: the commands stop, the
// mails and programs in flight finish (30 s at most), the rest stays in
// the stream for the other replicas.
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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/services/notifier"
	"github.com/sipbus/sipbus/services/notifier/internal/ports"
)

func main() {
	obs.SetGCDefault() // GOGC=400 unless GOGC is set
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "notifier:", err)
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
	cfg, err := notifier.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if cfg.Redis == "" {
		return errors.New("config: redis (REDIS_URL): required: replicas share their fences and the subscriber directory in Redis")
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, st, closeState, err := notifier.OpenState(ctx, cfg.Redis)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer closeState()
	nc, err := nats.Connect(cfg.NATS, nats.Name("sipbus-notifier-"+cfg.ID), nats.MaxReconnects(-1))
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
	health, metrics := &obs.Health{}, obs.NewMetrics("notifier")
	health.Add("nats", obs.NATS(nc, metrics.NATSRTT))
	health.Add("stream", obs.Stream(js, bus.DefaultStream))
	redisCheck, closeCheck, err := obs.RedisURL(ctx, cfg.Redis, metrics.RedisRTT)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer closeCheck()
	health.Add("redis", redisCheck)
	health.Add("consumer", obs.Consumer(js, bus.DefaultStream, ports.ConsumerMissedCall, 10000, metrics.ConsumerLag))
	hs, err := obs.Listen(*httpAddr, health, metrics, log)
	if err != nil {
		return fmt.Errorf("-http: %w", err)
	}
	defer hs.Shutdown(context.Background())
	go func() { <-ctx.Done(); health.Drain() }()
	return notifier.Run(ctx, cfg, notifier.Deps{NC: nc, JS: js, Directory: dir, State: st, Log: log, Metrics: metrics})
}
