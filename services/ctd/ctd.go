package ctd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/ctd/internal/adapters"
	"github.com/sipbus/sipbus/services/ctd/internal/app"
	"github.com/sipbus/sipbus/services/ctd/internal/config"
	"github.com/sipbus/sipbus/services/ctd/internal/ports"
)

// Config configures a replica (field docs in internal/config).
type Config = config.Config

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return config.Default() }

// Authenticate identifies an HTTP request's user: the AOR it acts for, or
// admin (any AOR). The web page plugs its signed session in with it.
type Authenticate = ports.Authenticate

// State is what a replica keeps in Redis (or memory): calls and tokens.
type State interface {
	ports.Store
	ports.Tokens
}

// StateFor is the ctd state beside the process's store st: on its Redis
// client, or in memory when st is the memory engine.
func StateFor(st store.Store) State {
	if r, ok := st.(*store.Redis); ok {
		c, p := r.Client()
		return adapters.NewRedis(c, p)
	}
	return adapters.NewMemory()
}

// StateOn is the ctd state on a Redis client with key prefix p.
func StateOn(c redis.UniversalClient, p string) State { return adapters.NewRedis(c, p) }

// UAC is how requests go out: tm's uac (TMClient) in production.
type UAC = ports.UAC

// TMClient is UAC on tm's uac command over nc.
func TMClient(nc *nats.Conn) UAC { return &adapters.TM{Client: &tmapi.Client{NC: nc}} }

// Deps are what a replica runs on.
type Deps struct {
	NC    *nats.Conn
	JS    jetstream.JetStream
	State State
	// UAC defaults to TMClient(NC).
	UAC UAC
	// Directory, when set, refuses calls from AORs that are not
	// subscribers (404).
	Directory subscriber.Directory
	// Auth is tried before the API tokens (the web page's session).
	Auth Authenticate
	Log  *slog.Logger
	Now  func() time.Time
	// Tracer, when set, makes a traced call.ringing of one of ctd's
	// calls a span (ctd.call_ringing) that the ctd.* events it causes
	// join; nil is off.
	Tracer *obs.Tracer
	// Metrics, when set, gets sipbus_ctd_calls_total{outcome}: each call
	// counted once, when it first reaches a terminal phase (connected,
	// failed or cancelled; a 3PCC call's later "ended" is not counted).
	Metrics *obs.Metrics
	// Local, in one process with tm (`sipbus up`), brings call.ringing
	// from tm in-process (bus.Local): one event per call that no longer
	// crosses the NATS server back into the process. Nil: NATS.
	Local *bus.Local
}

// Owner is the tm dialog owner of ctd's dialogs: tm publishes their
// in-dialog requests on app.ctd.dialog.<dialog id>.
const Owner = "ctd"

// QueueGroup shares in-dialog requests and commands among replicas.
const QueueGroup = "sipbus-ctd"

// Service is one ctd replica.
type Service struct {
	cfg    Config
	d      Deps
	log    *slog.Logger
	store  ports.Store
	tokens ports.Tokens
	uac    ports.UAC
	emit   ports.Emitter
	now    func() time.Time
	pol    app.Policy
	api    *ports.API

	base   context.Context
	cancel context.CancelFunc
	dead   atomic.Bool
	wg     sync.WaitGroup
	sub    *nats.Subscription
	ring   bus.Sub
	svc    micro.Service
	inst   *mgmt.Instance // management: sipbus ps lists this replica
	stop   chan struct{}
	once   sync.Once
	calls  *prometheus.CounterVec // nil without Deps.Metrics
	// announce hears SubjectRing; rings is what it heard (rings.go).
	announce *nats.Subscription
	rings    *ringKeys
}

// New validates cfg and builds a replica; Start runs it.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ctd: config: %w", err)
	}
	if d.NC == nil || d.JS == nil || d.State == nil {
		return nil, errors.New("ctd: Deps.NC, Deps.JS and Deps.State are required")
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	inst := mgmt.New("ctd", cfg.ID)
	log = inst.Logger(log.With("service", "ctd", "ctd_id", cfg.ID))
	s := &Service{cfg: cfg, d: d, log: log, inst: inst, store: d.State, tokens: d.State, uac: d.UAC, now: d.Now, pol: cfg.Policy(),
		rings: newRingKeys(MaxRingKeys)}
	if d.Metrics != nil {
		s.calls = d.Metrics.CTDCalls()
	}
	if s.uac == nil {
		s.uac = TMClient(d.NC)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.emit = &adapters.Bus{Pub: bus.NewPublisher(d.JS, "sipbus/ctd/"+cfg.ID, bus.PublisherOptions{Logger: log})}
	var users ports.Users
	if d.Directory != nil {
		users = dirUsers{d.Directory}
	}
	s.api = &ports.API{Calls: s, Users: users, Log: log, NewID: NewID,
		Auth: ports.AnyOf(d.Auth, ports.AdminToken(cfg.AdminToken), ports.TokenAuth(d.State))}
	return s, nil
}

type dirUsers struct{ d subscriber.Directory }

func (u dirUsers) Exists(ctx context.Context, aor string) (bool, error) {
	_, err := u.d.Get(ctx, aor)
	if errors.Is(err, subscriber.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// NewID is a fresh call id ("c" and 24 hex digits).
func NewID() string { return "c" + tmapi.NewID() }

// Mount serves the HTTP API on mux (the process's httpfront mux).
func (s *Service) Mount(mux *http.ServeMux) { s.api.Mount(mux) }

// Start subscribes to the ring announcements and reads the RingKeys the
// store holds, subscribes to the in-dialog requests of ctd's dialogs and
// to call.ringing, serves the commands and runs the timer loop. A store
// that cannot be read leaves every call.ringing looked up until the timer
// loop reads it.
func (s *Service) Start(ctx context.Context) error {
	s.base, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.stop = make(chan struct{})
	ann, err := s.d.NC.Subscribe(SubjectRing, s.onRingAnnouncement)
	if err != nil {
		return fmt.Errorf("ctd: subscribe %s: %w", SubjectRing, err)
	}
	s.announce = ann
	s.ringGap()
	if err := s.seedRings(s.base); err != nil {
		s.log.Warn("ctd: read the ring keys (call.ringing is looked up until it works)", "err", err)
	}
	sub, err := s.d.NC.QueueSubscribe(tmapi.DialogSubjects(Owner), QueueGroup, s.onDialogRequest)
	if err != nil {
		_ = ann.Unsubscribe()
		return fmt.Errorf("ctd: subscribe %s: %w", tmapi.DialogSubjects(Owner), err)
	}
	s.sub = sub
	ring, err := bus.CoreFor(s.d.NC, s.d.Local).QueueSubscribe("call."+bus.CallEventRinging+".*", QueueGroup, s.onCallRinging)
	if err != nil {
		_ = ann.Unsubscribe()
		_ = sub.Unsubscribe()
		return fmt.Errorf("ctd: subscribe call.ringing: %w", err)
	}
	s.ring = ring
	if err := s.serveCommands(); err != nil {
		_ = ann.Unsubscribe()
		_ = sub.Unsubscribe()
		_ = ring.Unsubscribe()
		return err
	}
	s.wg.Add(1)
	go s.timers()
	return nil
}

// Shutdown stops taking work and waits (until ctx ends) for the requests
// in flight. Calls are not ended: another replica, or this one started
// again, continues them.
func (s *Service) Shutdown(ctx context.Context) error {
	s.halt()
	if s.sub != nil {
		_ = s.sub.Drain()
		_ = s.ring.Drain()
		_ = s.announce.Unsubscribe()
	}
	if s.svc != nil {
		_ = s.svc.Stop()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	if s.cancel != nil {
		s.cancel()
	}
	return nil
}

// Abandon stops the replica as SIGKILL would: no more NATS, no timer,
// answers in flight are dropped, nothing is cleaned up. For tests of
// another replica's takeover.
func (s *Service) Abandon() {
	s.dead.Store(true)
	s.halt()
	if s.sub != nil {
		_ = s.sub.Unsubscribe()
		_ = s.ring.Unsubscribe()
		_ = s.announce.Unsubscribe()
	}
	if s.svc != nil {
		_ = s.svc.Stop()
	}
	if s.cancel != nil {
		s.cancel()
	}
}

// halt stops the timer loop.
func (s *Service) halt() {
	if s.stop != nil {
		s.once.Do(func() { close(s.stop) })
	}
}

// Dial implements ports.Calls: store the call, then start it.
func (s *Service) Dial(ctx context.Context, id, owner, from, to string) (app.State, error) {
	st := app.NewState(id, owner, from, to, s.pol, s.now())
	// A deadline from the start: a replica dying between Create and the
	// first INVITE leaves a call that another one ends at the ring timeout.
	st.Timer, st.Deadline = app.TimerRing, st.Created.Add(s.pol.RingTimeout)
	if toAOR, err := location.ParseAOR(to); err == nil {
		st.Watch = RingKey(owner, toAOR)
	}
	if _, err := s.store.Create(ctx, st); err != nil {
		return app.State{}, err
	}
	if st.Watch != "" {
		s.announceRing(st.Watch)
	}
	// One INVITE to the caller's AOR: tm forks it to every registered
	// phone, the first 2xx wins and tm CANCELs the others.
	return s.apply(ctx, id, app.Input{Kind: app.InStart, Contacts: []string{from}})
}

// Get implements ports.Calls.
func (s *Service) Get(ctx context.Context, id string) (app.State, error) {
	return s.store.Load(ctx, id)
}

// Hangup implements ports.Calls.
func (s *Service) Hangup(ctx context.Context, id string) (app.State, error) {
	return s.apply(ctx, id, app.Input{Kind: app.InDelete})
}

// CreateToken makes an API token for aor (`sipbus ctd token AOR`).
func (s *Service) CreateToken(ctx context.Context, aor string) (string, error) {
	return s.tokens.CreateToken(ctx, strings.TrimSpace(aor))
}
