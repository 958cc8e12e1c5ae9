// Package edge is the sipbus SIP edge: UDP and TCP listeners that index every
// message, absorb retransmissions, answer bad requests statelessly, shed new
// dialogs under overload, and publish the rest as v2 SIP events (the raw
// message; see events.SIP); and the sender of what other services publish
// for the edges (see pkg/edgeapi).
//
// The edge needs NATS only. Its one piece of state beyond open TCP
// connections is a cache of the server transactions it forwarded, with the
// last response sent for each, so that a retransmission reaching it is
// answered without a round trip; the authority on a transaction is tm's
// record in Redis, so a retransmission that reaches another edge is
// answered by tm.
//
// Decisions worth knowing:
//   - The edge checks messages in the proxy role (Proxy-Require, not
//     Require; unknown methods and content types pass on to tm).
//   - Responses to UDP requests go to the source address, to the source port
//     when the Via asks for rport (RFC 3581) or cannot be read, else to the
//     sent-by port (RFC 3261 §18.2.2). TCP responses use the same connection.
//   - Retransmissions it answers are counted (sipbus.edge.<id>.stats), not
//     published; the log holds every distinct message.
//   - Overload: while its own queue, or the queue of a tm or registrar
//     replica (their beats), holds a standing delay, new dialogs get a
//     stateless 503 with Retry-After; responses and in-dialog requests are
//     served first.
//   - When the bus fails, a new request is answered 503 with Retry-After
//     (never a hang), and the edge recovers on its own.
//   - Flood control comes first (app.Flood, Kamailio's pike): a source
//     sending more than flood_limit requests per flood_window is blocked
//     for flood_block (datagrams dropped unread, TCP connections closed and
//     refused) and one sipbus.edge.blocked event is published on
//     edge.blocked.<id>. Responses are never limited. The allow list
//     defaults to this host's loopback addresses 127.0.0.1 and ::1 only.
//   - UDP keepalives (CRLF, double CRLF) are dropped silently and counted;
//     STUN Binding requests on the SIP port are answered (RFC 5626
//     §4.4.2, package stun).
package edge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/edge/internal/app"
	"github.com/sipbus/sipbus/services/edge/internal/config"
	"github.com/sipbus/sipbus/services/edge/internal/ports"
)

// Config configures an edge; see the field docs. Zero values take defaults.
type Config = config.Config

// Counters is a snapshot of the edge's traffic counters.
type Counters = app.Snapshot

// LoadConfig reads a YAML config file (unknown keys are errors).
func LoadConfig(path string) (Config, error) { return config.Load(path) }

// ApplyEnv overrides cfg from SIPBUS_EDGE_* environment variables.
func ApplyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	return config.ApplyEnv(cfg, lookup)
}

// Deps are what an edge runs on.
type Deps struct {
	NC  *nats.Conn          // messages to send, beats, the stats endpoint
	JS  jetstream.JetStream // for publishing events
	Log *slog.Logger
}

// Edge is a running edge.
type Edge struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	counters *app.Counters
	core     *app.Edge
	flood    *app.Flood // nil: flood control off
	pub      *bus.Publisher
	udp      *ports.UDP
	tcp      *ports.TCP
	bus      *ports.Bus
}

// New validates cfg and binds the listeners. Serve with Run.
func New(cfg Config, d Deps) (*Edge, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.NC == nil || d.JS == nil {
		return nil, errors.New("edge: Deps.NC and Deps.JS are required")
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("service", "edge", "edge_id", cfg.ID)
	e := &Edge{cfg: cfg, deps: d, log: log, counters: new(app.Counters)}
	if cfg.FloodLimit != config.FloodOff {
		allow, _ := cfg.FloodAllowPrefixes() // validated
		e.flood = app.NewFlood(app.FloodOptions{
			Limit: cfg.FloodLimit, Window: cfg.FloodWindow, Block: cfg.FloodBlock, Allow: allow, MaxSources: cfg.FloodSources,
		}, e.counters, func(b app.Block) { e.core.Blocked(b) })
	}
	// With both on port 0, TCP takes the port UDP got, as SIP expects; that
	// port may be taken for TCP (another socket's ephemeral port), so a few
	// attempts are made.
	var err error
	for attempt := 0; ; attempt++ {
		err = e.listen(cfg, log)
		if err == nil || attempt == 4 || !e.bothEphemeral(cfg) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if e.cfg.Advertise == "" {
		if e.udp != nil {
			e.cfg.Advertise = e.udp.Addr().String()
		} else {
			e.cfg.Advertise = e.tcp.Addr().String()
		}
	}
	secret := []byte(cfg.SLSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	source := "sipbus/edge/" + cfg.ID
	e.pub = bus.NewPublisher(d.JS, source, bus.PublisherOptions{Logger: log, AckEvery: bus.HotAckEvery})
	e.core = app.New(app.Options{
		ID: cfg.ID, Source: source, CacheMax: cfg.CacheMax, Republish: cfg.Republish,
		RetryAfter: cfg.RetryAfter, QueueTarget: cfg.QueueTarget, QueueInterval: cfg.QueueInterval,
		Server: cfg.Server, Supported: cfg.Supported, Signer: sipmsg.NewSigner(secret), Log: log,
		BusReady: func() bool { return d.NC.IsConnected() && e.pub.Healthy() },
		Flood:    e.flood,
	}, &ports.Transports{UDP: e.udp, TCP: e.tcp}, e.pub, bus.NewIDs(), e.counters)
	return e, nil
}

func (e *Edge) bothEphemeral(cfg Config) bool {
	ap, err := netip.ParseAddrPort(cfg.UDP)
	return err == nil && cfg.UDP == cfg.TCP && ap.Port() == 0
}

// listen binds the UDP and TCP listeners the config asks for.
func (e *Edge) listen(cfg Config, log *slog.Logger) error {
	var err error
	e.udp, e.tcp = nil, nil
	if cfg.UDP != "-" {
		e.udp, err = ports.ListenUDP(cfg.UDP, ports.UDPOptions{
			Workers: cfg.Workers, Queue: cfg.Queue, MaxMessage: cfg.MaxMessage, Gate: e.gate(), Counters: e.counters, Log: log,
		})
		if err != nil {
			return err
		}
	}
	if cfg.TCP != "-" {
		addr := cfg.TCP
		// With both on port 0, put TCP on the port UDP got, as SIP expects.
		if e.udp != nil && cfg.UDP == cfg.TCP {
			if ap, _ := netip.ParseAddrPort(addr); ap.Port() == 0 {
				addr = e.udp.Addr().String()
			}
		}
		e.tcp, err = ports.ListenTCP(addr, cfg.ID, ports.TCPOptions{
			Idle: cfg.TCPIdle, MaxConns: cfg.TCPMaxConns, MaxMessage: cfg.MaxMessage, Gate: e.gate(), Counters: e.counters, Log: log,
		})
		if err != nil {
			if e.udp != nil {
				_ = e.udp.Close()
			}
			return err
		}
	}
	return nil
}

// gate is the listeners' flood control (a nil interface when it is off).
func (e *Edge) gate() ports.Gate {
	if e.flood == nil {
		return nil
	}
	return e.flood
}

// ID is the edge's id.
func (e *Edge) ID() string { return e.cfg.ID }

// UDPAddr and TCPAddr are the bound listen addresses (invalid when disabled).
func (e *Edge) UDPAddr() netip.AddrPort {
	if e.udp == nil {
		return netip.AddrPort{}
	}
	return e.udp.Addr()
}

// TCPAddr is the bound TCP listen address.
func (e *Edge) TCPAddr() netip.AddrPort {
	if e.tcp == nil {
		return netip.AddrPort{}
	}
	return e.tcp.Addr()
}

// Shedding reports whether new dialogs for tm are refused now (overload).
func (e *Edge) Shedding() bool { return e.core.Shedding(app.ServiceTM) }

// Advertise is the address other services put in Via for this edge.
func (e *Edge) Advertise() string { return e.cfg.Advertise }

// Counters reads the traffic counters.
func (e *Edge) Counters() Counters { return e.core.Snapshot() }

// Run serves until ctx ends, then stops cleanly: the listeners first
// (messages in progress finish), then the NATS side (messages to send
// already received go out), then pending publishes are flushed.
func (e *Edge) Run(ctx context.Context) error {
	b, err := ports.StartBus(ctx, e.deps.NC, e.core, ports.BusOptions{Log: e.log})
	if err != nil {
		e.closeListeners()
		return fmt.Errorf("edge: nats: %w", err)
	}
	serveCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	if e.udp != nil {
		wg.Add(1)
		go func() { defer wg.Done(); e.udp.Serve(serveCtx, e.core) }()
	}
	if e.tcp != nil {
		wg.Add(1)
		go func() { defer wg.Done(); e.tcp.Serve(serveCtx, e.core) }()
	}
	e.log.Info("edge up", "udp", e.UDPAddr(), "tcp", e.TCPAddr(), "advertise", e.cfg.Advertise)
	<-ctx.Done()
	e.closeListeners()
	wg.Wait()
	b.Stop()
	fctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	if err := e.pub.Flush(fctx); err != nil {
		e.log.Warn("flush events on shutdown", "err", err)
	}
	e.log.Info("edge stopped", "counters", e.core.Snapshot())
	return nil
}

func (e *Edge) closeListeners() {
	if e.udp != nil {
		_ = e.udp.Close()
	}
	if e.tcp != nil {
		_ = e.tcp.Close()
	}
}
