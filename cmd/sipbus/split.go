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
	"github.com/sipbus/sipbus/pkg/store"
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

// openStore opens the shared state store (tm).
func (f *sharedFlags) openStore(ctx context.Context) (store.Store, error) {
	st, err := store.Open(ctx, *f.redis)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	return st, nil
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

// cmdTM runs one transaction manager as its own process.
func cmdTM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tm", stderr)
	id := fs.String("id", "", "tm id (default the host name); unique per process")
	advertise := fs.String("advertise", os.Getenv("SIPBUS_ADVERTISE"), "host:port put in Via and Record-Route: where the edges are reached (required; default $SIPBUS_ADVERTISE)")
	configFile := fs.String("config", "", "tm YAML config file (strict; SIPBUS_* variables override it, flags override both): t2, t4, workers, static, ...")
	var aliases listFlag
	fs.Var(&aliases, "alias", "another host:port that addresses this proxy, e.g. every other edge (repeatable)")
	advTCP := fs.String("advertise-tcp", "", "host:port of the edges' TCP listener in Via and Record-Route (default --advertise; $SIPBUS_ADVERTISE_TCP)")
	advTLS := fs.String("advertise-tls", "", "host:port of the edges' TLS listener (default --advertise; $SIPBUS_ADVERTISE_TLS)")
	advWS := fs.String("advertise-ws", "", "host:port of the edges' WebSocket listener (default --advertise; $SIPBUS_ADVERTISE_WS)")
	advWSS := fs.String("advertise-wss", "", "host:port of the edges' secure WebSocket listener (default --advertise; $SIPBUS_ADVERTISE_WSS)")
	tmf := addTMFlags(fs)
	sf := addSharedFlags(fs)
	stopDebug, err := sf.parse(fs, args)
	if err != nil {
		return err
	}
	defer stopDebug()
	if *advertise == "" {
		return errUsage{errors.New("--advertise: required (the SIP address of the edges, host:port)")}
	}
	cfg, err := tm.LoadConfig(*configFile)
	if err != nil {
		return errUsage{fmt.Errorf("--config: %w", err)}
	}
	if *id != "" {
		cfg.ID = *id
	}
	if len(aliases) > 0 {
		cfg.Aliases = aliases
	}
	for _, a := range []struct{ flag, dst *string }{{advTCP, &cfg.AdvertiseTCP}, {advTLS, &cfg.AdvertiseTLS}, {advWS, &cfg.AdvertiseWS}, {advWSS, &cfg.AdvertiseWSS}} {
		if *a.flag != "" {
			*a.dst = *a.flag
		}
	}
	if err := tmf.apply(fs, &cfg, *advertise); err != nil {
		return err
	}
	log, nc, js, err := sf.connect(ctx, "tm", stderr, true)
	if err != nil {
		return err
	}
	defer nc.Close()
	st, err := sf.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	locate, err := tm.LocatorFor(st)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	t, err := tm.New(cfg, tm.Deps{NC: nc, JS: js, Store: st, Log: log, Locate: locate})
	if err != nil {
		return err
	}
	return serve(ctx, t, stdout, fmt.Sprintf("tm %s: advertise %s, domains %v, dns %s", cfg.ID, cfg.Advertise, cfg.Domains, t.Resolver()))
}

// cmdRegistrar runs one registrar as its own process.
func cmdRegistrar(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("registrar", stderr)
	id := fs.String("id", "", "registrar id (default the host name); unique per process")
	var domains listFlag
	fs.Var(&domains, "domain", "local SIP domain = digest realm (repeatable; required)")
	regf := addRegFlags(fs)
	sf := addSharedFlags(fs)
	stopDebug, err := sf.parse(fs, args)
	if err != nil {
		return err
	}
	defer stopDebug()
	cfg := registrar.DefaultConfig()
	if *id != "" {
		cfg.ID = *id
	}
	cfg.Domains = domains
	cfg.AuthSecret = os.Getenv("SIPBUS_AUTH_SECRET")
	cfg.Redis = *sf.redis
	if err := regf.apply(&cfg); err != nil {
		return err
	}
	log, nc, js, err := sf.connect(ctx, "registrar", stderr, true)
	if err != nil {
		return err
	}
	defer nc.Close()
	state, closeState, err := registrar.OpenState(ctx, *sf.redis)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	defer closeState()
	reg, err := registrar.New(cfg, registrar.Deps{NC: nc, JS: js, State: state, Log: log})
	if err != nil {
		return err
	}
	return serve(ctx, reg, stdout, fmt.Sprintf("registrar %s: domains %v, auth %s", cfg.ID, cfg.Domains, cfg.Auth))
}
