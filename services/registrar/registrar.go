package registrar

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/services/registrar/internal/adapters"
	"github.com/sipbus/sipbus/services/registrar/internal/app"
	"github.com/sipbus/sipbus/services/registrar/internal/config"
	"github.com/sipbus/sipbus/services/registrar/internal/ports"
)

// Config configures a registrar instance; see the field docs (package
// internal/config). Zero values of durations and counts are invalid:
// start from DefaultConfig.
type Config = config.Config

// Auth modes of Config.Auth.
const (
	AuthRequired = config.AuthRequired
	AuthOff      = config.AuthOff
)

// DefaultConfig returns the defaults (auth required, which needs Domains).
func DefaultConfig() Config { return config.Default() }

// Deps are what the registrar runs on. OpenState makes the State from one
// URL.
type Deps struct {
	NC *nats.Conn
	JS jetstream.JetStream
	State
	Log *slog.Logger
	// Tracer, when set, makes each traced REGISTER a span
	// (registrar.register) whose traceparent its reply and its reg.*
	// events carry; nil is off.
	Tracer *obs.Tracer
	// Local, when set, is the in-process shortcut to the other services
	// of this process (`sipbus up`): REGISTERs arrive and replies leave
	// through it.
	Local *bus.Local
	// Now is the clock of REGISTER processing, nonces and expiry; nil
	// means time.Now. For tests.
	Now func() time.Time
}

// Registrar is a running registrar.
type Registrar struct {
	cfg    Config
	d      Deps
	log    *slog.Logger
	pub    *bus.Publisher
	reg    *ports.Register
	mg     *ports.Manager
	expiry *ports.Expiry

	in     *ports.Input
	load   atomic.Pointer[bus.Overload] // the input's detector, once started (metrics)
	svc    micro.Service
	inst   *mgmt.Instance // management: sipbus ps
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stopMu sync.Mutex
}

// New validates cfg and builds the registrar: one digest Authenticator per
// local domain (realm = domain; challenges per Config.AuthAlgorithms and
// the SHA-256 policy) and the brute-force limits when authentication is
// required. An empty
// Config.AuthSecret is replaced by a random one, with a warning: the
// replicas of a deployment must share it. Start runs it.
func New(cfg Config, d Deps) (*Registrar, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("registrar: config: %w", err)
	}
	if d.NC == nil || d.JS == nil || d.Location == nil || d.Directory == nil {
		return nil, errors.New("registrar: Deps.NC, Deps.JS, Deps.Location and Deps.Directory are required")
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	inst := mgmt.New("registrar", cfg.ID)
	log = inst.Logger(log).With("service", "registrar", "registrar_id", cfg.ID)
	now := d.Now
	if now == nil {
		now = time.Now
	}
	opt := app.Options{
		Domains: cfg.Domains, MinExpires: cfg.MinExpires, MaxExpires: cfg.MaxExpires,
		DefaultExpires: cfg.DefaultExpires, MaxContacts: cfg.MaxContacts,
	}
	if cfg.MaxContacts == 0 {
		opt.MaxContacts = -1 // unlimited
	}
	if err := opt.Validate(); err != nil {
		return nil, fmt.Errorf("registrar: config: %w", err)
	}
	var auth *ports.Auth
	if cfg.AuthOn() {
		var err error
		if auth, err = newAuth(cfg, d, now, log); err != nil {
			return nil, err
		}
	}
	source := "sipbus/registrar/" + cfg.ID
	pub := bus.NewPublisher(d.JS, source, bus.PublisherOptions{Logger: log, AckEvery: bus.HotAckEvery, Local: d.Local})
	emit := &adapters.Events{Pub: pub}
	r := &Registrar{cfg: cfg, d: d, log: log, pub: pub, inst: inst}
	r.reg = &ports.Register{
		Location: d.Location, Auth: auth, Send: edgeapi.NewSender(pub, source), Emit: emit,
		Options: opt, Now: now, Log: log,
	}
	r.mg = &ports.Manager{Directory: d.Directory, Location: d.Location, Domains: cfg.Domains, Emit: emit, Now: now, Log: log}
	r.expiry = &ports.Expiry{Store: d.Location, Emit: emit, Every: cfg.ExpiryScan, Now: now, Log: log}
	r.reg.Expiry = r.expiry
	return r, nil
}

// newAuth builds one Authenticator per local domain.
func newAuth(cfg Config, d Deps, now func() time.Time, log *slog.Logger) (*ports.Auth, error) {
	secret := []byte(cfg.AuthSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
		log.Warn("registrar: auth_secret (SIPBUS_AUTH_SECRET) is not set: using a random nonce secret; " +
			"every registrar replica must share one secret, or nonces minted by one are refused by the others")
	}
	nonces := d.Nonces
	if nonces == nil {
		nonces = digest.NewMemoryCounter(now)
		log.Warn("registrar: no shared nonce counter: replay protection holds within this process only")
	}
	policy := app.AuthPolicy{SHA256Domains: cfg.AuthSHA256Domains}
	for _, a := range cfg.AuthAlgorithms {
		policy.Default = append(policy.Default, digest.Algorithm(a))
	}
	for _, p := range cfg.AuthSHA256UserAgents {
		policy.SHA256UserAgents = append(policy.SHA256UserAgents, regexp.MustCompile(p)) // Validate compiled it
	}
	failures := d.Failures
	if failures == nil && cfg.AuthFailLimits().On() {
		failures = digest.NewMemoryFailures(now)
		log.Warn("registrar: no shared failure counter: brute-force limits hold within this process only")
	}
	auth := &ports.Auth{Realms: map[string]*digest.Authenticator{}, Policy: policy, Directory: d.Directory,
		Failures: failures, Limits: cfg.AuthFailLimits(), Log: log}
	accepted := policy.Accepted()
	for _, dom := range cfg.Domains {
		a, err := digest.New(digest.Options{Realm: dom, Secret: secret, NonceTTL: cfg.NonceTTL, Algorithms: accepted, Counter: nonces, Now: now})
		if err != nil {
			return nil, fmt.Errorf("registrar: digest for realm %s: %w", dom, err)
		}
		auth.Realms[dom] = a
	}
	return auth, nil
}

// Start subscribes to REGISTER requests, serves the management commands,
// beats and starts the expiry loop. The stream must exist
// (bus.EnsureStream).
func (r *Registrar) Start(ctx context.Context) error {
	in, err := ports.StartInput(ctx, r.d.NC, r.reg, ports.InputOptions{ID: r.cfg.ID, Lanes: r.cfg.Workers, Log: r.log, Tracer: r.d.Tracer, Core: bus.CoreFor(r.d.NC, r.d.Local)})
	if err != nil {
		return fmt.Errorf("registrar: subscribe to REGISTER: %w", err)
	}
	r.in = in
	r.load.Store(in.Load())
	r.inst.SetInFlight(in.InFlight.Load)
	if r.svc, err = ports.Commands(r.d.NC, r.inst, r.mg); err != nil {
		in.Stop()
		return fmt.Errorf("registrar: command endpoints: %w", err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.expiry.Run(rctx) }()
	go func() { defer r.wg.Done(); in.Beats(rctx) }()
	r.log.Info("registrar started", "domains", strings.Join(r.cfg.Domains, ","), "auth", r.cfg.Auth)
	return nil
}

// Shutdown stops the command endpoints and the input (queued REGISTERs
// finish), stops the expiry loop and flushes the published events. A
// second call only flushes again.
func (r *Registrar) Shutdown(ctx context.Context) error {
	r.stopMu.Lock()
	defer r.stopMu.Unlock()
	var errs []error
	if r.svc != nil {
		errs = append(errs, r.svc.Stop())
		r.svc = nil
	}
	if r.in != nil {
		r.in.Stop()
		r.in = nil
	}
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	errs = append(errs, r.pub.Flush(fctx))
	return errors.Join(errs...)
}
