// Command edge runs one sipbus SIP edge against an existing NATS server:
// the deployment shape (one edge per pod). The edge needs no Redis. For a
// laptop, `sipbus up` runs everything in one process instead.
//
//	edge [-config edge.yaml] [-nats URL] [-http ADDR|off]
//
// Settings come from the YAML file, then SIPBUS_EDGE_* variables;
// SIPBUS_NATS_URL (or NATS_URL, or -nats) names the server. -http serves
// /healthz, /readyz (NATS connected, the stream present) and /metrics.
package main

import (
	"context"
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
	"github.com/sipbus/sipbus/services/edge"
)

func main() {
	obs.SetGCDefault() // GOGC=400 unless GOGC is set
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}

func run() error {
	cfgPath := flag.String("config", "", "YAML config file")
	natsFlag := flag.String("nats", "", "NATS server URL (default $SIPBUS_NATS_URL, else $NATS_URL, else nats://127.0.0.1:4222)")
	httpAddr := flag.String("http", "off", "HTTP address ip:port for /healthz, /readyz and /metrics, or off")
	flag.Parse()

	var cfg edge.Config
	if *cfgPath != "" {
		var err error
		if cfg, err = edge.LoadConfig(*cfgPath); err != nil {
			return err
		}
	}
	if err := edge.ApplyEnv(&cfg, os.LookupEnv); err != nil {
		return err
	}
	natsURL := *natsFlag
	for _, v := range []string{cfg.NATS, os.Getenv("NATS_URL"), nats.DefaultURL} {
		if natsURL == "" {
			natsURL = v
		}
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	nc, err := nats.Connect(natsURL, nats.Name("sipbus-edge"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("-nats %s: %w", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{Replicas: cfg.StreamReplicas}); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	tracer, stopTracing, err := obs.TracingFromEnv(ctx, "edge", cfg.ID)
	if err != nil {
		return err
	}
	defer stopTracing(context.Background())
	e, err := edge.New(cfg, edge.Deps{NC: nc, JS: js, Log: log, Tracer: tracer})
	if err != nil {
		return err
	}
	health, metrics := &obs.Health{}, obs.NewMetrics("edge")
	health.Add("nats", obs.NATS(nc, metrics.NATSRTT))
	health.Add("stream", obs.Stream(js, bus.DefaultStream))
	edge.RegisterMetrics(metrics, e)
	hs, err := obs.Listen(*httpAddr, health, metrics, log)
	if err != nil {
		return fmt.Errorf("-http: %w", err)
	}
	defer hs.Shutdown(context.Background())
	go func() { <-ctx.Done(); health.Drain() }()
	return e.Run(ctx)
}
