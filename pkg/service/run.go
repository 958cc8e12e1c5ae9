package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/rawio"
)

// Common are the settings every service takes besides its own.
type Common struct {
	NATS           string        `yaml:"nats" env:"SIPBUS_NATS_URL" help:"NATS server URL, or several separated by commas (JetStream enabled)"`
	Redis          string        `yaml:"redis" env:"SIPBUS_REDIS_URL" help:"Redis URL (redis://, rediss://, unix://) shared by every replica; put a password in the variable, not the flag"`
	StreamReplicas int           `yaml:"stream_replicas" env:"SIPBUS_STREAM_REPLICAS" help:"replicas of the event stream when this service creates it (3 on a 3-node NATS cluster); an existing stream is left as it is"`
	HTTP           string        `yaml:"http" help:"ip:port serving /healthz, /readyz and /metrics (and the service's pages), or off"`
	LogLevel       string        `yaml:"log_level" help:"debug, info, warn or error"`
	LogFormat      string        `yaml:"log_format" help:"json (one object per line) or text"`
	DebugAddr      string        `yaml:"debug_addr" help:"loopback ip:port serving Go's profiles (/debug/pprof/), or empty for none"`
	Shutdown       time.Duration `yaml:"shutdown_timeout" help:"how long a graceful stop (SIGTERM) may take before the process exits anyway; keep Kubernetes' terminationGracePeriodSeconds above it"`
}

// Redis says whether a service keeps state in Redis.
type Redis int

const (
	// RedisRequired: the service refuses to start without a shared Redis
	// (memory:// cannot be shared between processes).
	RedisRequired Redis = iota
	// RedisNone: the service keeps no state in Redis and takes no redis
	// setting (the edge).
	RedisNone
)

// Service is what a Spec builds: started once, shut down once.
// Shutdown is the graceful drain; it returns when the service's work is
// finished or handed over, or when ctx ends.
type Service interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Banner is implemented by a service that prints lines (its addresses)
// on stdout between starting and "ready".
type Banner interface{ Banner() string }

// Spec is one service for Main.
type Spec[C any] struct {
	Name    string // edge, tm, registrar, notifier, ctd, web: SIPBUS_<NAME>_*, metrics, logs
	Summary string // one line for the usage
	Redis   Redis
	HTTP    string // the default --http; "" is off
	// Default returns the service's defaults.
	Default func() C
	// Validate checks the loaded settings (and fills what derives from
	// them); its errors name the key. nil: C's own Validate method, if it
	// has one.
	Validate func(*C) error
	// Build makes the service from its settings and what Main made ready.
	Build func(ctx context.Context, cfg *C, d *Deps) (Service, error)
}

// Deps is what Main makes ready for Build.
type Deps struct {
	Common  Common
	NC      *nats.Conn
	JS      jetstream.JetStream
	Log     *slog.Logger
	Health  *obs.Health
	Metrics *obs.Metrics
	Tracer  *obs.Tracer
	// Mux is the --http server's mux (nil when --http is off): a service
	// mounts its own pages and API on it.
	Mux    *http.ServeMux
	Stdout io.Writer
	closes []func()
}

// OnClose runs f when Main returns (last added, first run): close what
// Build opened.
func (d *Deps) OnClose(f func()) { d.closes = append(d.closes, f) }

// settings are the common and the service's settings, one YAML mapping.
type settings[C any] struct {
	Common `yaml:",inline"`
	Svc    C `yaml:",inline"`
}

// IO is where Main reads the environment and writes.
type IO struct {
	Getenv         func(string) string
	Stdout, Stderr io.Writer
}

func (o IO) withDefaults() IO {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	return o
}

// Load reads spec's settings from args, the file and the environment,
// and validates them; Main calls it, and the tests of every service.
func Load[C any](spec Spec[C], args []string, o IO) (Common, C, error) {
	o = o.withDefaults()
	s := settings[C]{Common: spec.commonDefaults(), Svc: spec.Default()}
	l := spec.loader(o)
	if err := l.Load(&s, args); err != nil {
		return s.Common, s.Svc, err
	}
	if err := s.Common.validate(spec.Redis); err != nil {
		return s.Common, s.Svc, UsageError{err}
	}
	validate := spec.Validate
	if v, ok := any(&s.Svc).(interface{ Validate() error }); ok && validate == nil {
		validate = func(*C) error { return v.Validate() }
	}
	if validate != nil {
		if err := validate(&s.Svc); err != nil {
			return s.Common, s.Svc, UsageError{fmt.Errorf("config: %w", err)}
		}
	}
	return s.Common, s.Svc, nil
}

// Settings returns the settings of spec, common first, and a value
// holding their defaults (for Fields, Default and the README tables).
func Settings[C any](spec Spec[C]) ([]Field, any) {
	s := &settings[C]{Common: spec.commonDefaults(), Svc: spec.Default()}
	return spec.loader(IO{}).fields(s), s
}

func (spec Spec[C]) loader(o IO) Loader {
	l := Loader{Name: spec.Name, Getenv: o.Getenv, Stderr: o.Stderr}
	if spec.Redis == RedisNone {
		l.Skip = []string{"redis"}
	}
	return l
}

func (spec Spec[C]) commonDefaults() Common {
	return Common{NATS: nats.DefaultURL, StreamReplicas: 1, HTTP: spec.HTTP, LogLevel: "info", LogFormat: "json", Shutdown: 45 * time.Second}
}

func (c *Common) validate(r Redis) error {
	var errs []error
	if r == RedisRequired && (c.Redis == "" || c.Redis == "memory://") {
		errs = append(errs, errors.New("redis (--redis, SIPBUS_REDIS_URL): required: replicas share their state in Redis (`sipbus up` runs everything in one process without it)"))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("log_format %q: want json or text", c.LogFormat))
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("stream_replicas %d: want 1 to 5", c.StreamReplicas))
	}
	if c.Shutdown <= 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout %v: want more than 0", c.Shutdown))
	}
	return errors.Join(errs...)
}

func (c *Common) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel)) // validated
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Main runs spec's service until ctx ends (SIGINT, SIGTERM), then shuts it
// down gracefully. It returns flag.ErrHelp after printing the usage, and a
// UsageError for bad settings.
func Main[C any](ctx context.Context, spec Spec[C], args []string, o IO) (err error) {
	o = o.withDefaults()
	com, cfg, err := Load(spec, args, o)
	if err != nil {
		return err
	}
	stopDebug, err := StartDebug(com.DebugAddr)
	if err != nil {
		return UsageError{fmt.Errorf("debug_addr: %w", err)}
	}
	defer stopDebug()
	d := &Deps{Common: com, Log: com.logger(o.Stderr), Stdout: o.Stdout}
	defer func() {
		for i := len(d.closes) - 1; i >= 0; i-- {
			d.closes[i]()
		}
	}()
	nc, err := nats.Connect(com.NATS, nats.Name("sipbus-"+spec.Name), nats.MaxReconnects(-1), nats.SetCustomDialer(rawio.NewDialer(nats.DefaultTimeout)))
	if err != nil {
		return fmt.Errorf("nats %s: %w", RedactURL(com.NATS), err)
	}
	d.OnClose(func() { _ = nc.Drain() })
	d.NC = nc
	if d.JS, err = jetstream.New(nc); err != nil {
		return err
	}
	if err := ensureStream(ctx, d.JS, com.StreamReplicas); err != nil {
		return fmt.Errorf("nats %s: %w", RedactURL(com.NATS), err)
	}
	d.Health, d.Metrics = &obs.Health{}, obs.NewMetrics(spec.Name)
	d.Health.Add("nats", obs.NATS(nc, d.Metrics.NATSRTT))
	d.Health.Add("stream", obs.Stream(d.JS, bus.DefaultStream))
	if spec.Redis == RedisRequired {
		check, closeCheck, err := obs.RedisURL(ctx, com.Redis, d.Metrics.RedisRTT)
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		d.OnClose(func() { _ = closeCheck() })
		d.Health.Add("redis", check)
	}
	hs, err := obs.Listen(com.HTTP, d.Health, d.Metrics, d.Log)
	if err != nil {
		return UsageError{fmt.Errorf("http: %w", err)}
	}
	if hs != nil {
		d.Mux = hs.Mux
		defer hs.Shutdown(context.Background())
	}
	tracer, stopTracing, err := obs.TracingFromEnv(ctx, spec.Name, spec.Name)
	if err != nil {
		return err
	}
	defer stopTracing(context.Background())
	d.Tracer = tracer
	started := d.Health.Starting(spec.Name)
	svc, err := spec.Build(ctx, &cfg, d)
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	started()
	fmt.Fprintf(o.Stdout, "sipbus %s\n", spec.Name)
	if b, ok := svc.(Banner); ok {
		fmt.Fprint(o.Stdout, strings.TrimRight(b.Banner(), "\n")+"\n")
	}
	if hs != nil {
		fmt.Fprintf(o.Stdout, "  http   %s\n", hs.URL())
	}
	fmt.Fprintln(o.Stdout, "ready")
	<-ctx.Done()
	d.Health.Drain()
	d.Log.Info(spec.Name+": stopping", "timeout", com.Shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), com.Shutdown)
	defer cancel()
	err = svc.Shutdown(sctx)
	fmt.Fprintln(o.Stdout, "stopped")
	return err
}

// ensureStream creates the event stream with replicas when it does not
// exist; an existing stream keeps its settings (the operator's).
func ensureStream(ctx context.Context, js jetstream.JetStream, replicas int) error {
	_, err := js.Stream(ctx, bus.DefaultStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = bus.EnsureStream(ctx, js, bus.StreamConfig{Replicas: replicas})
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", bus.DefaultStream, err)
	}
	return nil
}

// RedactURL leaves the credentials out of a NATS URL (or a comma-separated
// list of them) for messages.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if scheme := strings.Index(p, "://"); scheme >= 0 && scheme < at {
				parts[i] = p[:scheme+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// Exit is the main of a service's own command: Main with the process's
// arguments, environment and signals; exit status 2 for bad settings, 1
// for any other error.
func Exit[C any](spec Spec[C]) {
	obs.SetGCDefault()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx = obs.WithProcs(ctx, obs.AdaptProcs(ctx)) // GOMAXPROCS follows the load unless set (pkg/obs)
	err := Main(ctx, spec, os.Args[1:], IO{})
	stop()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", spec.Name, err)
	var u UsageError
	if errors.As(err, &u) {
		os.Exit(2)
	}
	os.Exit(1)
}

// Names are the flags (without dashes) and the environment variables
// spec's service reads, --config and SIPBUS_<NAME>_CONFIG included: what
// a manifest or a README may name.
func Names[C any](spec Spec[C]) (flags, env map[string]bool) {
	flags = map[string]bool{"config": true}
	env = map[string]bool{"SIPBUS_" + strings.ToUpper(spec.Name) + "_CONFIG": true}
	fields, _ := Settings(spec)
	for _, f := range fields {
		if f.Flag != "" {
			flags[f.Flag] = true
		}
		if f.Env != "" {
			env[f.Env] = true
		}
	}
	return flags, env
}
