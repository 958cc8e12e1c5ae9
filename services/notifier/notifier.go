package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/notifier/internal/adapters"
	"github.com/sipbus/sipbus/services/notifier/internal/app"
	"github.com/sipbus/sipbus/services/notifier/internal/config"
	"github.com/sipbus/sipbus/services/notifier/internal/ports"
)

// Config configures a notifier; see the field docs (internal/config).
type Config = config.Config

// ExecRule is one exec rule of Config.Exec.
type ExecRule = config.ExecRule

// SMTP is a parsed SMTP URL (ParseSMTP).
type SMTP = config.SMTP

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return config.Default() }

// ParseSMTP parses an SMTP URL; its String never shows the password.
func ParseSMTP(raw string) (SMTP, error) { return config.ParseSMTP(raw) }

// State is the notifier's shared state: fences, rate limits, digests.
type State = ports.State

// Deps are what the notifier runs on. OpenState or StateFor make
// Directory and State.
type Deps struct {
	NC        *nats.Conn
	JS        jetstream.JetStream
	Directory subscriber.Directory
	State     State
	Log       *slog.Logger
	// Now is the clock of rate-limit windows and digests; nil is
	// time.Now. For tests.
	Now func() time.Time
	// Metrics, when set, gets the notifier's counters (RegisterMetrics).
	Metrics *obs.Metrics
	// Tracer, when set, makes each traced event a span
	// (notifier.missed_call, notifier.exec); nil is off.
	Tracer *obs.Tracer
}

// OpenState opens the directory and the state named by url: "" or
// memory:// gives in-process engines (one process only: `sipbus up`), a
// redis:// URL (any form store.Open accepts) the Redis engines on one
// client, which close closes.
func OpenState(ctx context.Context, url string) (subscriber.Directory, State, func() error, error) {
	url = strings.TrimSpace(url)
	if url == "" || url == "memory:" || strings.HasPrefix(url, "memory://") {
		return subscriber.NewMemory(), adapters.NewMemory(nil), func() error { return nil }, nil
	}
	c, prefix, err := store.OpenRedisClient(ctx, url)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("notifier: state: %w", err)
	}
	return subscriber.NewRedis(c, prefix), adapters.NewRedis(c, prefix), c.Close, nil
}

// StateFor returns the notifier's state beside the process's transaction
// store st: on its Redis client, or in memory when st is the memory
// engine (the directory then is the registrar's, in the same process).
func StateFor(st store.Store) State {
	if r, ok := st.(*store.Redis); ok {
		return stateOn(r.Client())
	}
	return adapters.NewMemory(nil)
}

func stateOn(c redis.UniversalClient, prefix string) State { return adapters.NewRedis(c, prefix) }

// Notifier is a running notifier.
type Notifier struct {
	cfg  Config
	d    Deps
	log  *slog.Logger
	pub  *bus.Publisher
	h    *ports.Handlers
	subs []*bus.Subscription
	svc  micro.Service

	cancel context.CancelFunc
	wg     sync.WaitGroup
	stopMu sync.Mutex
}

// New validates cfg, parses the templates and builds the notifier; Start
// runs it.
func New(cfg Config, d Deps) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notifier: config: %w", err)
	}
	if d.NC == nil || d.JS == nil || d.Directory == nil || d.State == nil {
		return nil, errors.New("notifier: Deps.NC, Deps.JS, Deps.Directory and Deps.State are required")
	}
	tmpl, err := app.LoadTemplates(cfg.Templates)
	if err != nil {
		return nil, fmt.Errorf("notifier: config: templates: %w", err)
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	inst := mgmt.New("notifier", cfg.ID)
	log = inst.Logger(log).With("service", "notifier", "notifier_id", cfg.ID)
	now := d.Now
	if now == nil {
		now = time.Now
	}
	pub := bus.NewPublisher(d.JS, "sipbus/notifier/"+cfg.ID, bus.PublisherOptions{Logger: log})
	h := &ports.Handlers{
		ID: cfg.ID, Directory: d.Directory, State: d.State, Runner: adapters.Exec{},
		Failures: &adapters.Failures{JS: d.JS, Pub: pub}, Templates: tmpl, Log: log, Now: now,
		Options:   app.Options{Domain: cfg.MessageIDDomain, WebURL: cfg.WebURL, Limit: cfg.RateLimit, Window: cfg.RateWindow},
		RateLimit: cfg.RateLimit, RateWindow: cfg.RateWindow, Backoff: cfg.Backoff, MaxDeliver: cfg.MaxDeliver,
		Lease: cfg.Lease, FenceTTL: cfg.FenceTTL,
	}
	if s, ok := cfg.SMTPServer(); ok {
		replyTo := cfg.ReplyTo
		h.Sender = &adapters.SMTP{Server: s, TLS: cfg.TLSConfig(), From: cfg.FromAddress(), ReplyTo: replyTo, Timeout: cfg.SMTPTimeout}
	}
	for _, r := range cfg.Exec {
		h.Rules = append(h.Rules, ports.Rule{Name: r.Name, Events: r.Events, Argv: r.Argv, Env: r.Env, Dir: r.Dir,
			Timeout: r.Timeout, Concurrency: r.Concurrency})
	}
	h.Inst = inst
	n := &Notifier{cfg: cfg, d: d, log: log, pub: pub, h: h}
	if d.Metrics != nil {
		n.RegisterMetrics(d.Metrics)
	}
	return n, nil
}

// Start subscribes the missed-call mail (when a mail server is set) and
// every exec rule on their durable consumers, serves the commands and
// starts the digest loop. The stream must exist (bus.EnsureStream). A
// consumer created for the first time starts at new events: a notifier
// deployed into a running system does not mail the calls missed before.
func (n *Notifier) Start(ctx context.Context) error {
	cfg := n.cfg
	if n.h.Sender != nil {
		sub, err := bus.Subscribe(ctx, n.d.JS, ports.ConsumerMissedCall, bus.TypedFunc(n.h.OnCallMissed), bus.SubscribeOptions{
			Filters: []string{"call." + bus.CallEventMissed + ".*"}, Concurrency: cfg.Concurrency,
			AckWait: cfg.AckWait, MaxDeliver: cfg.MaxDeliver, Backoff: cfg.Backoff, DeliverNew: true,
			Timeout: cfg.SMTPTimeout + 5*time.Second, Logger: n.log, Middleware: []bus.Middleware{n.h.Track, obs.TraceEvents(n.d.Tracer, "notifier.missed_call")},
		})
		if err != nil {
			return fmt.Errorf("notifier: subscribe: %w", err)
		}
		n.subs = append(n.subs, sub)
	}
	for _, r := range n.h.Rules {
		filters, err := app.ExecFilters(r.Events)
		if err != nil {
			n.stopSubs(ctx)
			return err
		}
		sub, err := bus.Subscribe(ctx, n.d.JS, ports.ConsumerExec(r.Name), n.h.OnExec(r), bus.SubscribeOptions{
			Filters: filters, Concurrency: r.Concurrency, AckWait: cfg.AckWait, MaxDeliver: cfg.MaxDeliver,
			Backoff: cfg.Backoff, DeliverNew: true, Timeout: r.Timeout + 15*time.Second, Logger: n.log,
			Middleware: []bus.Middleware{n.h.Track, obs.TraceEvents(n.d.Tracer, "notifier.exec")},
		})
		if err != nil {
			n.stopSubs(ctx)
			return fmt.Errorf("notifier: exec %s: subscribe: %w", r.Name, err)
		}
		n.subs = append(n.subs, sub)
	}
	svc, err := n.h.Commands(n.d.NC)
	if err != nil {
		n.stopSubs(ctx)
		return fmt.Errorf("notifier: command endpoints: %w", err)
	}
	n.svc = svc
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	if n.h.Sender != nil && cfg.RateLimit > 0 {
		n.wg.Go(func() { n.h.RunDigests(rctx, cfg.DigestPoll) })
	}
	smtp := "none"
	if s, ok := cfg.SMTPServer(); ok {
		smtp = s.String()
	}
	n.log.Info("notifier started", "smtp", smtp, "exec_rules", len(n.h.Rules), "rate_limit", cfg.RateLimit, "rate_window", cfg.RateWindow)
	return nil
}

func (n *Notifier) stopSubs(ctx context.Context) {
	for _, s := range n.subs {
		_ = s.Stop(ctx)
	}
	n.subs = nil
}

// Shutdown stops the commands and the consumers (in-flight mails and
// programs finish, until ctx ends), the digest loop, and flushes. A
// second call does nothing more.
func (n *Notifier) Shutdown(ctx context.Context) error {
	n.stopMu.Lock()
	defer n.stopMu.Unlock()
	var errs []error
	if n.svc != nil {
		errs = append(errs, n.svc.Stop())
		n.svc = nil
	}
	for _, s := range n.subs {
		errs = append(errs, s.Stop(ctx))
	}
	n.subs = nil
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	errs = append(errs, n.pub.Flush(ctx))
	return errors.Join(errs...)
}

// Stats are the notifier's counters.
type Stats struct {
	Sent, Duplicates, Folded, Digests, Skipped, Temporary, DeadLettered, Ran, ExecFailed uint64
}

// Stats returns the counters.
func (n *Notifier) Stats() Stats {
	c := &n.h.Counters
	return Stats{Sent: c.Sent.Load(), Duplicates: c.Duplicates.Load(), Folded: c.Folded.Load(), Digests: c.Digests.Load(),
		Skipped: c.Skipped.Load(), Temporary: c.Temporary.Load(), DeadLettered: c.DeadLettered.Load(),
		Ran: c.Ran.Load(), ExecFailed: c.ExecFailed.Load()}
}

// SMTPServer is the mail server (ok false with smtp: none).
func (n *Notifier) SMTPServer() (SMTP, bool) { return n.cfg.SMTPServer() }

// TypeFailed is the CloudEvent type of the notifier's dead letters.
const TypeFailed = events.TypeNotifyFailed
