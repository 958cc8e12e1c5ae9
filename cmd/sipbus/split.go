package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/registrar"
	"github.com/sipbus/sipbus/services/tm"
)

// sharedFlags are what a service run as its own process needs: the shared
// NATS and the shared Redis (the in-memory store cannot be shared, so tm
// and the registrar refuse it; the edge needs no Redis), the log level and
// --debug-addr.
type sharedFlags struct {
	nats, redis, logLevel, debugAddr *string
}

func addSharedFlags(fs *flag.FlagSet) *sharedFlags {
	return &sharedFlags{
		nats:      fs.String("nats", defaultNATS(), "NATS server URL (JetStream enabled)"),
		redis:     fs.String("redis", os.Getenv("REDIS_URL"), "Redis URL shared by every tm and registrar process (required for them; the edge ignores it; default $REDIS_URL)"),
		logLevel:  fs.String("log-level", "info", "debug, info, warn or error"),
		debugAddr: addDebugFlag(fs),
	}
}

// parse parses args and starts the profile server of --debug-addr; the
// returned function stops it.
func (f *sharedFlags) parse(fs *flag.FlagSet, args []string) (func(), error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	return startDebug(*f.debugAddr)
}

// connect validates the shared flags and connects to NATS and the stream;
// needRedis refuses a missing or in-memory --redis.
func (f *sharedFlags) connect(ctx context.Context, name string, stderr io.Writer, needRedis bool) (*slog.Logger, *nats.Conn, jetstream.JetStream, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(*f.logLevel)); err != nil {
		return nil, nil, nil, errUsage{fmt.Errorf("--log-level: %v", err)}
	}
	if needRedis && (*f.redis == "" || *f.redis == "memory://") {
		return nil, nil, nil, errUsage{errors.New("--redis: required: separate edge, tm and registrar processes share state through Redis (use `sipbus up` for one process)")}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	nc, err := nats.Connect(*f.nats, nats.Name("sipbus-"+name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--nats %s: %w", *f.nats, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, nil, err
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		nc.Close()
		return nil, nil, nil, fmt.Errorf("--nats %s: stream %s: %w", *f.nats, bus.DefaultStream, err)
	}
	return log, nc, js, nil
}

// service is a long-lived component with Start and Shutdown (tm, registrar).
type longService interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// serve starts s, prints banner and "ready", waits for ctx (SIGINT or
// SIGTERM), and shuts s down within 10 seconds.
func serve(ctx context.Context, s longService, stdout io.Writer, banner string) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nready\n", banner)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Shutdown(sctx)
	fmt.Fprintf(stdout, "stopped\n")
	return err
}

// cmdTM runs one transaction manager as its own process: the tm
// command's code (service.Main with tm.Spec; settings in
// services/tm/README.md).
func cmdTM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return service.Main(ctx, tm.Spec, args, service.IO{Stdout: stdout, Stderr: stderr})
}

// cmdRegistrar runs one registrar as its own process: the registrar
// command's code (service.Main with registrar.Spec; settings in
// services/registrar/README.md).
func cmdRegistrar(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return service.Main(ctx, registrar.Spec, args, service.IO{Stdout: stdout, Stderr: stderr})
}
