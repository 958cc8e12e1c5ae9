// Command edge runs one sipbus SIP edge against an existing NATS server:
// the deployment shape (one edge per pod). The edge needs no Redis. For a
// laptop, `sipbus up` runs everything in one process instead.
//
//	edge [-config edge.yaml] [-nats URL]
//
// Settings come from the YAML file, then SIPBUS_EDGE_* variables; NATS_URL
// names the server.
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
	"github.com/sipbus/sipbus/services/edge"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}

func run() error {
	cfgPath := flag.String("config", "", "YAML config file")
	natsURL := flag.String("nats", envOr("NATS_URL", nats.DefaultURL), "NATS server URL")
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
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	nc, err := nats.Connect(*natsURL, nats.Name("sipbus-edge"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("-nats %s: %w", *natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	e, err := edge.New(cfg, edge.Deps{NC: nc, JS: js, Log: log})
	if err != nil {
		return err
	}
	return e.Run(ctx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
