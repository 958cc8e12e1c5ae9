package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/websession"
	"github.com/sipbus/sipbus/services/web/internal/adapters"
	"github.com/sipbus/sipbus/services/web/internal/config"
	"github.com/sipbus/sipbus/services/web/internal/ports"
)

// Config configures the page; see the field docs (internal/config).
type Config = config.Config

// DefaultConfig returns the defaults (set SessionKey).
func DefaultConfig() Config { return config.Default() }

// Locations looks bindings up: the registrar's location service.
type Locations = ports.Locations

// State is where the page keeps phonebooks, histories, session
// generations and sign-in failures.
type State struct {
	Phonebook   ports.Phonebooks
	History     ports.Histories
	Generations websession.Generations
	Failures    digest.FailureCounter
}

// StateFor returns the state beside the process's store st: on its Redis
// client, or in memory when st is the memory engine (one process), where
// histories are kept for the subscribers of dir, the process's directory.
// (On Redis the history checks the directory beside st, as StateOn says,
// which is where the process's directory is.)
func StateFor(st store.Store, dir subscriber.Directory) State {
	if r, ok := st.(*store.Redis); ok {
		c, prefix := r.Client()
		return StateOn(c, prefix)
	}
	m := adapters.NewMemory(dir)
	return State{Phonebook: m, History: m, Generations: websession.NewMemory(), Failures: digest.NewMemoryFailures(nil)}
}

// StateOn keeps the state on a Redis client under prefix. Histories are
// kept for the subscribers of the directory on the same client and prefix
// (subscriber.NewRedis(c, prefix)), checked in the script that writes
// them. Sign-in failures are counted apart from the registrar's (prefix +
// ":web").
func StateOn(c redis.UniversalClient, prefix string) State {
	r := adapters.NewRedis(c, prefix, subscriber.NewRedis(c, prefix))
	fp := "web"
	if prefix != "" {
		fp = prefix + ":web"
	}
	return State{Phonebook: r, History: r, Generations: websession.NewRedis(c, prefix), Failures: digest.NewRedisFailures(c, fp)}
}

var (
	_ ports.Phonebooks       = (*adapters.Redis)(nil)
	_ ports.Phonebooks       = (*adapters.Memory)(nil)
	_ ports.Histories        = (*adapters.Redis)(nil)
	_ ports.Histories        = (*adapters.Memory)(nil)
	_ websession.Generations = (*websession.Redis)(nil)
)

// Deps are what the page runs on.
type Deps struct {
	NC        *nats.Conn
	JS        jetstream.JetStream
	Directory subscriber.Directory
	Locations Locations
	State     State
	Log       *slog.Logger
	Now       func() time.Time // nil: time.Now
	Tracer    *obs.Tracer      // nil: no spans (web.history per traced call event)
	// Local, when set (sipbus up: the process's bus.Local), is where the
	// call events of the histories come from, in-process as tm publishes
	// them; the stream is read only to catch up (feed.go). Nil: durable
	// consumers (Start).
	Local bus.Core
}

// Service is the web page.
type Service struct {
	cfg  Config
	d    Deps
	srv  *ports.Server
	hub  *ports.Hub
	sess *websession.Manager
	log  *slog.Logger

	mu   sync.Mutex
	subs []*bus.Subscription
	feed *feed // Deps.Local's
}

// New validates cfg and builds the page; Mount serves it, Start feeds it.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st := d.State
	if d.NC == nil || d.JS == nil || d.Directory == nil || d.Locations == nil || st.Phonebook == nil ||
		st.History == nil || st.Generations == nil || st.Failures == nil {
		return nil, errors.New("web: Deps.NC, JS, Directory, Locations and every State part are required")
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("service", "web", "web_id", cfg.ID)
	sess, err := websession.New(websession.Config{Key: cfg.SessionKey, TTL: cfg.SessionTTL, Secure: cfg.SecureCookies}, d.Directory, st.Generations, d.Now)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	hub := &ports.Hub{Log: log}
	srv := &ports.Server{Cfg: cfg, Sessions: sess, Directory: d.Directory, Locations: d.Locations, Phonebook: st.Phonebook,
		History: st.History, Failures: st.Failures, Hub: hub, Log: log, Now: d.Now,
		Instances: adapters.Instances{NC: d.NC}}
	if err := srv.Init(); err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	return &Service{cfg: cfg, d: d, srv: srv, hub: hub, sess: sess, log: log}, nil
}

var _ ports.Instances = adapters.Instances{}

// Mount registers the page on mux (the process's httpfront mux): "/",
// /signin, /signout, /u/{aor}/..., /admin/..., /static/.
func (s *Service) Mount(mux *http.ServeMux) { s.srv.Mount(mux) }

// Sessions is the session manager: Sessions().Check(r) tells any handler
// of the process who is signed in.
func (s *Service) Sessions() *websession.Manager { return s.sess }

// Authenticate is for the click-to-dial API: the signed-in user, and for a
// request that changes something the CSRF token in X-CSRF-Token.
func (s *Service) Authenticate(r *http.Request) (aor string, admin bool, ok bool) {
	return ports.CheckAPI(s.sess)(r)
}

// Start subscribes the live hub (plain NATS) and the history consumers:
// durable, shared by the replicas, Config.Consumer on call.ended.* and
// MissedConsumer(Config.Consumer) on call.missed.*. The stream must exist.
//
// Two consumers of one filter each, not one of two filters: for a
// consumer of several filters the NATS server looks for the next message
// with a walk per matching subject of the block (there are 256 call.ended
// subjects, one per partition), each from the consumer's position to the
// next match; at 1,000 calls/s that walk was a tenth of `sipbus up`'s CPU.
// With one filter it walks once. The two kinds of line are disjoint (an
// answered call ends, an unanswered one is missed) and the history keeps
// one line per call and end, so nothing depends on their order.
func (s *Service) Start(ctx context.Context) error {
	if err := s.hub.Start(s.d.NC); err != nil {
		return err
	}
	if s.d.Local != nil {
		if err := s.startFeed(ctx); err != nil {
			s.hub.Stop()
			return err
		}
		s.log.Info("web started", "history", "in-process")
		return nil
	}
	var subs []*bus.Subscription
	for _, c := range []struct{ name, filter string }{
		{s.cfg.Consumer, ports.SubjectCallEnded},
		{MissedConsumer(s.cfg.Consumer), ports.SubjectCallMiss},
	} {
		sub, err := bus.Subscribe(ctx, s.d.JS, c.name, s.srv.HistoryHandler, bus.SubscribeOptions{
			Filters: []string{c.filter}, Concurrency: adapters.RecordWriters, Logger: s.log, // writes share lingering pipelines
			Middleware: []bus.Middleware{obs.TraceEvents(s.d.Tracer, "web.history")},
		})
		if err != nil {
			for _, sub := range subs {
				_ = sub.Stop(ctx)
			}
			s.hub.Stop()
			return fmt.Errorf("web: subscribe: %w", err)
		}
		subs = append(subs, sub)
	}
	s.mu.Lock()
	s.subs = subs
	s.mu.Unlock()
	s.log.Info("web started", "consumer", s.cfg.Consumer, "missed_consumer", MissedConsumer(s.cfg.Consumer))
	return nil
}

// MissedConsumer is the name of the durable consumer of call.missed.*
// that the history consumer named consumer comes with.
func MissedConsumer(consumer string) string { return consumer + "-missed" }

// Shutdown stops the consumers and the hub (open event streams end with
// the HTTP server's shutdown).
func (s *Service) Shutdown(ctx context.Context) error {
	s.hub.Stop()
	s.mu.Lock()
	subs, f := s.subs, s.feed
	s.subs, s.feed = nil, nil
	s.mu.Unlock()
	var errs []error
	if f != nil {
		errs = append(errs, f.stop(ctx))
	}
	for _, sub := range subs {
		errs = append(errs, sub.Stop(ctx))
	}
	return errors.Join(errs...)
}
