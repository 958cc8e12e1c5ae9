package tm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipfsm"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/tm/internal/adapters"
	"github.com/sipbus/sipbus/services/tm/internal/app"
	"github.com/sipbus/sipbus/services/tm/internal/config"
	"github.com/sipbus/sipbus/services/tm/internal/ports"
	"github.com/sipbus/sipbus/services/tm/internal/routes"
	"github.com/sipbus/sipbus/services/tm/internal/uac"
)

// Config configures a tm instance; see the field docs. Zero values take defaults.
type Config = config.Config

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return config.Default() }

// Locator finds the contacts of an address of record; see app.Locator.
type Locator = app.Locator

// Target is one contact a Locator returns.
type Target = app.Target

// Store is what tm needs of the state store: records (read on a cache
// miss), group-committed writes, the partitions' deadline indexes and
// the membership of replicas. *store.Redis and *store.Memory are one.
type Store interface {
	app.RecordReader
	store.BatchStore
	store.IndexStore
	store.Membership
}

// Deps are what tm runs on.
type Deps struct {
	NC    *nats.Conn
	JS    jetstream.JetStream
	Store Store
	// Locate finds registered contacts (the registrar's location service);
	// nil uses only Config.Static.
	Locate Locator
	Log    *slog.Logger
	// Metrics, when set, gets tm's counters and decision latency
	// (RegisterMetrics).
	Metrics *obs.Metrics
	// Tracer, when set, traces tm's decisions (pkg/obs); nil: off.
	Tracer *obs.Tracer
	// Local, when set, is the in-process shortcut to the other services
	// of this process (`sipbus up`): the edge's messages arrive, and the
	// messages to send leave, through it.
	Local *bus.Local
}

// TM is a running transaction manager.
type TM struct {
	cfg     Config
	d       Deps
	log     *slog.Logger
	eng     *app.Engine
	pub     *bus.Publisher
	commit  *store.Committer
	sched   *ports.Scheduler
	edges   *ports.EdgeTable
	input   *ports.Input
	members *ports.Members
	svc     micro.Service
	inst    *mgmt.Instance    // management: sipbus ps
	tracked *location.Tracked // the location's copy in memory, when Deps.Locate reads one (metrics)
	dns     *sipdns.Resolver
	uac     *uac.Runner
	uacSub  *nats.Subscription

	cancel context.CancelFunc
	done   chan struct{}
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
	inst := mgmt.New("tm", cfg.ID)
	log = inst.Logger(log).With("service", "tm", "tm_id", cfg.ID)
	if cfg.FlowSecret == "" {
		log.Warn("tm: flow_secret (SIPBUS_FLOW_SECRET) is not set: flow tokens in Record-Route use a random key; set one secret on every tm replica, or in-dialog requests to phones on connections fail once their dialog's partition moves")
	}
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
	res, err := sipdns.New(sipdns.Config{Servers: cfg.Resolver, Timeout: cfg.ResolverTimeout, IPv6: advertisesIPv6(cfg.Advertise)})
	if err != nil {
		return nil, fmt.Errorf("resolver: %w", err)
	}
	dns := &adapters.DNS{R: res, Log: log}
	failover := cfg.FailoverTimeout
	if failover == 0 {
		failover = -1 // off: Timer B/F only
	}
	source := "sipbus/tm/" + cfg.ID
	t := &TM{cfg: cfg, d: d, log: log, dns: res, inst: inst}
	if l, ok := d.Locate.(*adapters.Location); ok {
		t.tracked, _ = l.Store.(*location.Tracked)
	}
	t.pub = bus.NewPublisher(d.JS, source, bus.PublisherOptions{Logger: log, AckEvery: bus.HotAckEvery, Local: d.Local})
	t.commit = store.NewCommitter(d.Store, store.CommitterOptions{})
	t.edges = ports.NewEdgeTable(nil)
	t.sched = ports.NewScheduler(func(ck, id string) { t.input.Due(ck, id) }, nil)
	sender := edgeapi.NewSender(t.pub, source)
	dialogs := uac.Dialogs{S: uacStore{d.Store, t.commit}}
	t.uac = uac.NewRunner(uac.Config{
		Advertise: cfg.Advertise, Listeners: listeners(cfg), Domains: cfg.Domains, NoAnswer: cfg.NoAnswer,
		Timers: sipfsm.Timers{T1: cfg.T1, T2: cfg.T2, T4: cfg.T4},
	}, uac.Deps{NC: d.NC, Send: sender, DNS: dns, Locate: loc, Dialogs: dialogs, Log: log})
	t.eng = app.NewEngine(app.Config{
		Advertise: cfg.Advertise, Listeners: listeners(cfg), FlowKey: []byte(cfg.FlowSecret),
		Self: selfNames(cfg), Domains: cfg.Domains,
		Timers:   sipfsm.Timers{T1: cfg.T1, T2: cfg.T2, T4: cfg.T4},
		NoAnswer: cfg.NoAnswer, Coalesce: cfg.Coalesce,
		FailoverTimeout: failover, LookupTimeout: cfg.ResolverTimeout + time.Second,
	}, app.Deps{
		Records: d.Store, Commit: t.commit, Sched: t.sched,
		Send:    sender,
		Dialogs: &uac.AppDialogs{Dialogs: dialogs, Pub: t.pub},
		Edges:   t.edges,
		Emit:    &adapters.Events{Pub: t.pub},
		Apps:    &adapters.Apps{Pub: t.pub},
		Locate:  loc, Routes: table, Log: log,
		Lag:    func() time.Duration { return t.input.Lag() },
		Behind: func(ck string, at time.Time) time.Duration { return t.input.Behind(ck, at) },
		DNS:    dns, Lookups: lookups(func(ck string, q sipdns.Query, done func(context.Context, []sipdns.Target, error) error) {
			t.input.Lookup(ck, q, done)
		}),
	})
	t.input = ports.NewInput(d.NC, t.eng, t.sched, t.edges, ports.InputOptions{
		ID: cfg.ID, T1: cfg.T1, QueueTarget: cfg.QueueTarget, QueueInterval: cfg.QueueInterval, DNS: dns, Log: log,
		Tracer: tracer(d.Tracer), Core: bus.CoreFor(d.NC, d.Local),
	})
	t.members = &ports.Members{ID: cfg.ID, Store: d.Store, Input: t.input, Log: log}
	if d.Metrics != nil {
		t.RegisterMetrics(d.Metrics)
	}
	return t, nil
}

// tracer is t as the input's Tracer: a nil interface when off.
func tracer(t *obs.Tracer) ports.Tracer {
	if t == nil {
		return nil
	}
	return t
}

// lookups adapts a function to app.Lookups (the input, built after the
// engine, runs them).
type lookups func(ck string, q sipdns.Query, done func(context.Context, []sipdns.Target, error) error)

func (f lookups) Lookup(ck string, q sipdns.Query, done func(context.Context, []sipdns.Target, error) error) {
	f(ck, q, done)
}

// advertisesIPv6 reports an IPv6 advertised address: AAAA records are
// used only then (edges that listen on IPv4 cannot reach them).
func advertisesIPv6(advertise string) bool {
	host, _, err := net.SplitHostPort(advertise)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is6() && !a.Is4In6()
}

// Resolver describes how next hops are resolved (its DNS servers), for
// a start-up line.
func (t *TM) Resolver() string { return t.dns.String() }

// listeners maps each transport to the edges' listener configured for it.
func listeners(cfg Config) map[string]string {
	m := map[string]string{}
	for tr, a := range map[string]string{"tcp": cfg.AdvertiseTCP, "tls": cfg.AdvertiseTLS, "ws": cfg.AdvertiseWS, "wss": cfg.AdvertiseWSS} {
		if a != "" {
			m[tr] = a
		}
	}
	return m
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

// Start joins the tm group, takes this replica's partitions (their
// messages, and the deadlines their previous owner left) and starts
// beating. It returns once the partitions are subscribed.
func (t *TM) Start(ctx context.Context) error {
	if err := t.edges.Watch(t.d.NC); err != nil {
		return fmt.Errorf("tm: edge beats: %w", err)
	}
	if err := t.members.Start(ctx); err != nil {
		return fmt.Errorf("tm: join: %w", err)
	}
	var err error
	// In-flight work: the transactions this replica holds in memory.
	t.inst.SetInFlight(func() int64 { return int64(t.eng.Cached()) })
	if t.svc, err = ports.Commands(t.d.NC, t.inst, t.eng, t.input); err != nil {
		_ = t.members.Stop(ctx)
		return fmt.Errorf("tm: command endpoint: %w", err)
	}
	if t.uacSub, err = ports.UAC(t.svc, t.d.NC, t.uac); err != nil {
		_ = t.svc.Stop()
		_ = t.members.Stop(ctx)
		return fmt.Errorf("tm: uac endpoint: %w", err)
	}
	if err := t.d.NC.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("tm: nats: %w", err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.cancel, t.done = cancel, make(chan struct{})
	go t.background(rctx)
	_, owned := t.members.View()
	t.log.Info("tm started", "advertise", t.cfg.Advertise, "domains", strings.Join(t.cfg.Domains, ","), "partitions", owned, "dns", t.dns.String())
	if len(t.dns.Servers()) == 0 {
		t.log.Warn("tm: no DNS server (none in /etc/resolv.conf, no resolver configured): next hops with a domain name fail with 503")
	}
	return nil
}

// background beats and sweeps the engine's memory.
func (t *TM) background(ctx context.Context) {
	defer close(t.done)
	go t.input.Beats(ctx)
	tick := time.NewTicker(t.eng.SweepEvery())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.eng.Sweep()
		}
	}
}

// Shutdown hands the replica's work over (README, "Graceful shutdown"):
// it stops taking new work (commands, uac, messages: held from now on),
// lets the inputs in flight finish, writes what it holds in memory, leaves
// the group (told on ports.ChangedSubject, the others subscribe to its
// partitions at once and say so on ports.TookSubject), passes the messages
// it held on to them, and flushes published events.
func (t *TM) Shutdown(ctx context.Context) error {
	var errs []error
	if t.svc != nil {
		errs = append(errs, t.svc.Stop())
	}
	if t.uacSub != nil {
		_ = t.uacSub.Unsubscribe()
	}
	t.uac.Stop(ctx) // the uacs this replica runs end; their dialogs stay in Redis
	t.members.Quiesce()
	t.input.BeginHandover()
	if t.cancel != nil {
		t.cancel()
		<-t.done
	}
	if n, err := t.eng.Handover(ctx); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		t.log.Info("tm: handover: records written", "records", n)
	}
	t.commit.Close()
	if _, err := t.members.Handover(ctx, ports.HandoverWait); err != nil {
		errs = append(errs, err)
	}
	if n := t.input.EndHandover(ctx); n > 0 {
		t.log.Info("tm: handover: messages passed on to the new owners", "messages", n)
	}
	errs = append(errs, t.members.Stop(ctx))
	t.input.Stop()
	t.edges.Stop()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	errs = append(errs, t.pub.Flush(fctx))
	// The events published without an acknowledgement (bus.HotAckEvery)
	// are on their way to the server before the process may exit.
	errs = append(errs, t.d.NC.FlushWithContext(fctx))
	return errors.Join(errs...)
}

// Partitions returns the live tm replicas and the partitions this one owns.
func (t *TM) Partitions() (members []string, owned []string) {
	members, _ = t.members.View()
	return members, t.input.Owned()
}

// Owner is the replica among members that owns the partition of callKey
// (rendezvous hashing, see ports.Members).
func Owner(callKey string, members []string) string {
	return ports.Owner(bus.Partition(callKey), members)
}

// NewLocationLocator reads the registrar's location service: live bindings
// (Path and the NAT received address honoured), and the subscriber
// directory to tell a user without bindings (480) from no user (404).
// dir may be nil.
func NewLocationLocator(loc location.Store, dir subscriber.Directory) Locator {
	return &adapters.Location{Store: loc, Directory: dir}
}

// uacStore gives the uac dialogs the store's reads and the group commit.
type uacStore struct {
	r app.RecordReader
	c *store.Committer
}

func (u uacStore) LoadRecord(ctx context.Context, callKey, key string) (store.Record, error) {
	return u.r.LoadRecord(ctx, callKey, key)
}

func (u uacStore) Commit(ctx context.Context, ops []store.Op) ([]store.OpResult, error) {
	return u.c.Commit(ctx, ops)
}

// UACRunning counts the uac commands this replica is running.
func (t *TM) UACRunning() int { return t.uac.Running() }
