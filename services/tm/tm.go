package tm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/tm/internal/adapters"
	"github.com/sipbus/sipbus/services/tm/internal/app"
	"github.com/sipbus/sipbus/services/tm/internal/config"
	"github.com/sipbus/sipbus/services/tm/internal/ports"
	"github.com/sipbus/sipbus/services/tm/internal/routes"
)

// Config configures a tm instance; see the field docs. Zero values take defaults.
type Config = config.Config

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return config.Default() }

// LoadConfig reads a YAML config file strictly (unknown keys are errors).
func LoadConfig(path string) (Config, error) { return config.Load(path) }

// Locator finds the contacts of an address of record; see app.Locator.
type Locator = app.Locator

// Target is one contact a Locator returns.
type Target = app.Target

// Deps are what tm runs on.
type Deps struct {
	NC    *nats.Conn
	JS    jetstream.JetStream
	Store store.Store // transactions (read), records, timers, once markers
	// Locate finds registered contacts (the registrar's location service);
	// nil uses only Config.Static.
	Locate Locator
	Log    *slog.Logger
}

// TM is a running transaction manager.
type TM struct {
	cfg  Config
	d    Deps
	log  *slog.Logger
	eng  *app.Engine
	pub  *bus.Publisher
	sub  *bus.Subscription
	svc  micro.Service
	tmrs *ports.Timers

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates cfg and builds tm; Start runs it.
func New(cfg Config, d Deps) (*TM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.NC == nil || d.JS == nil || d.Store == nil {
		return nil, errors.New("tm: Deps.NC, Deps.JS and Deps.Store are required")
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("service", "tm", "tm_id", cfg.ID)
	table := routes.Default()
	if cfg.Routes != "" {
		t, err := routes.Load(cfg.Routes)
		if err != nil {
			return nil, err
		}
		table = t
	}
	var loc adapters.Chain
	if d.Locate != nil {
		loc = append(loc, d.Locate)
	}
	if len(cfg.Static) > 0 {
		loc = append(loc, adapters.Static(cfg.Static))
	}
	pub := bus.NewPublisher(d.JS, "sipbus/tm/"+cfg.ID, bus.PublisherOptions{})
	eng := app.NewEngine(app.Config{
		Advertise: cfg.Advertise, Self: selfNames(cfg), Domains: cfg.Domains,
		Timers:   sipfsm.Timers{T1: cfg.T1, T2: cfg.T2, T4: cfg.T4},
		NoAnswer: cfg.NoAnswer,
	}, app.Deps{
		Records: d.Store, Timers: d.Store, Once: d.Store, Tx: d.Store,
		Send:   &adapters.Edges{Client: &edgeapi.Client{NC: d.NC}},
		Emit:   &adapters.Events{Pub: pub},
		Apps:   &adapters.Apps{Pub: pub},
		Locate: loc, Routes: table, Log: log,
	})
	return &TM{cfg: cfg, d: d, log: log, eng: eng, pub: pub}, nil
}

// selfNames are the host[:port] forms that address this proxy.
func selfNames(cfg Config) []string {
	names := append([]string{cfg.Advertise}, cfg.Aliases...)
	if host, port, err := net.SplitHostPort(cfg.Advertise); err == nil {
		names = append(names, host)
		if port == "5060" {
			names = append(names, host)
		}
		for _, d := range cfg.Domains {
			names = append(names, net.JoinHostPort(d, port))
		}
	}
	return names
}

// Start subscribes to SIP events and starts the timer loop.
func (t *TM) Start(ctx context.Context) error {
	sub, err := ports.Consume(ctx, t.d.JS, t.eng, t.cfg.Workers, t.log)
	if err != nil {
		return fmt.Errorf("tm: %w", err)
	}
	t.sub = sub
	if t.svc, err = ports.Commands(t.d.NC, t.cfg.ID, t.eng); err != nil {
		_ = sub.Stop(ctx)
		return fmt.Errorf("tm: command endpoint: %w", err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.cancel = cancel
	t.tmrs = &ports.Timers{Store: t.d.Store, Engine: t.eng, Log: t.log}
	t.wg.Add(1)
	go func() { defer t.wg.Done(); t.tmrs.Run(rctx) }()
	t.log.Info("tm started", "advertise", t.cfg.Advertise, "domains", strings.Join(t.cfg.Domains, ","))
	return nil
}

// Shutdown stops consuming, lets in-flight events finish (until ctx ends),
// stops the timer loop and flushes published events.
func (t *TM) Shutdown(ctx context.Context) error {
	var errs []error
	if t.svc != nil {
		errs = append(errs, t.svc.Stop())
	}
	if t.sub != nil {
		errs = append(errs, t.sub.Stop(ctx))
	}
	if t.cancel != nil {
		t.cancel()
	}
	t.wg.Wait()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	errs = append(errs, t.pub.Flush(fctx))
	return errors.Join(errs...)
}

// Run starts tm and runs until ctx ends.
func Run(ctx context.Context, cfg Config, d Deps) error {
	t, err := New(cfg, d)
	if err != nil {
		return err
	}
	if err := t.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return t.Shutdown(sctx)
}

// NewLocationLocator reads the registrar's location service: live bindings
// (Path and the NAT received address honoured), and the subscriber
// directory to tell a user without bindings (480) from no user (404).
// dir may be nil.
func NewLocationLocator(loc location.Store, dir subscriber.Directory) Locator {
	return &adapters.Location{Store: loc, Directory: dir}
}
