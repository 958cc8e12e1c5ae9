// Package edge is the sipbus SIP edge: UDP, TCP, TLS, WebSocket and secure
// WebSocket listeners that index every message, absorb retransmissions,
// answer bad requests statelessly, shed new dialogs under overload, and
// publish the rest as v2 SIP events (the raw message; see events.SIP); and
// the sender of what other services publish for the edges (see
// pkg/edgeapi).
//
// The edge needs NATS only. Its one piece of state beyond open connections
// is a cache of the server transactions it forwarded, with the last
// response sent for each, so that a retransmission reaching it is answered
// without a round trip; the authority on a transaction is tm's record in
// Redis, so a retransmission that reaches another edge is answered by tm.
//
// It runs in the one service shape (pkg/service): [Spec] is what `sipbus
// edge` and the edge's own main run; its settings are [Config]'s keys
// (README.md, "Settings"). [New] validates and binds the listeners, so
// that their addresses are known before the edge serves (`sipbus up` gives
// them to tm); [Edge.Start] serves; [Edge.Shutdown] is the graceful drain
// (new dialogs get 503 "Shutting Down", what had started finishes, within
// the drain setting); [Edge.Run] is both.
//
// Decisions worth knowing:
//   - The edge checks messages in the proxy role (Proxy-Require, not
//     Require; unknown methods and content types pass on to tm).
//   - Responses to UDP requests go to the source address, to the source port
//     when the Via asks for rport (RFC 3581) or cannot be read, else to the
//     sent-by port (RFC 3261 §18.2.2). Responses to a request that came
//     over a connection use the same connection.
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
//     for flood_block (datagrams dropped unread, connections of every
//     transport closed and refused) and one sipbus.edge.blocked event is published on
//     edge.blocked.<id>. Responses are never limited. The allow list
//     defaults to this host's loopback addresses 127.0.0.1 and ::1 only.
//   - UDP keepalives (CRLF, double CRLF) are dropped silently and counted;
//     STUN Binding requests on the SIP port are answered (RFC 5626
//     §4.4.2, package stun).
//
// Connections (tcp, tls, ws, wss). Every connection, accepted or dialled,
// is a flow "<edge id>~<n>" (ids unique across transports); a message
// received on one carries its flow, and a message to send may name it
// (sipdest "ws:/e1~7"), so responses, and requests to a phone registered
// over a connection, go back on that connection whatever its transport.
// A connection is counted against tcp_max_conns from its accept, its TLS
// handshake or WebSocket upgrade included, and closed after tcp_idle
// without a byte from the peer.
//   - Keep-alives (RFC 5626 §4.4.1): a CRLF CRLF ping between messages is
//     answered with a CRLF pong, on TCP and TLS as on WebSocket (a message
//     of CRLF CRLF, the way SIP.js keeps alive, gets a CRLF message); it
//     resets the idle timer and is counted, never published. An idle
//     WebSocket is sent a WebSocket ping (browsers answer by themselves)
//     and closed when no pong comes within 10s; TCP and TLS peers keep
//     their connections open with CRLF pings or by re-registering.
//   - Connection reuse (RFC 5923): a request over TCP or TLS whose top Via
//     has ;alias makes that connection the way to the peer's address at
//     the Via's port; only the port is taken from the Via (the address is
//     the connection's, as Kamailio's tcp_accept_aliases), so a peer can
//     alias nothing but itself. A message to an address with an open
//     connection (dialled, or aliased) uses it; else tcp and tls dial one.
//     A WebSocket peer is reached over its own connection only.
//   - TLS (RFC 3261 §26, RFC 5630): TLS 1.2 or newer; the certificate and
//     key come from PEM files (tls_cert, tls_key), read again when either
//     file changes (checked at most once a second on a handshake; a pair
//     that does not load is logged and the previous one stays). Without
//     files a self-signed certificate for localhost and the listener's
//     address is made in memory, and only when every tls and wss listener
//     is on loopback: a listener others reach refuses to start without a
//     real certificate. Client certificates are not asked for (phones
//     have none). Servers the edge dials are verified against the system's
//     CAs and tls_ca, by the host name of the target when the sipdest
//     carries one (#name) and else by IP address; tls_insecure turns
//     verification off, for tests only. A failed handshake closes the
//     connection with a log line (rate-limited) and is counted.
//   - WebSocket (RFC 6455, RFC 7118): any path; the handshake must offer
//     the subprotocol sip (else 400), version 13 (else 426); one SIP
//     message per WebSocket message, text or binary (the edge sends text
//     when the message is UTF-8, else binary); a message over max_message
//     closes the connection with 1009 and a log line, a protocol error
//     with 1002, a text message that is not UTF-8 with 1007. Origins: a
//     client without Origin (not a browser) is accepted; a browser page
//     from the same origin (its Origin's host is the Host it connected
//     to) and from ws_origins ("*" for any), and refused with 403
//     otherwise: a page from elsewhere cannot make a visitor's browser a
//     SIP client of yours. No extension (permessage-deflate) is
//     negotiated.
package edge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/edge/internal/app"
	"github.com/sipbus/sipbus/services/edge/internal/config"
	"github.com/sipbus/sipbus/services/edge/internal/ports"
)

// Config configures an edge; see the field docs. Zero values take defaults.
type Config = config.Config

// Counters is a snapshot of the edge's traffic counters.
type Counters = app.Snapshot

// ListenError is a tcp, tls, ws or wss listener that could not be bound.
type ListenError = ports.ListenError

// Off reports a listen address that disables its transport ("", "-" or "off").
func Off(addr string) bool { return config.Off(addr) }

// Deps are what an edge runs on.
type Deps struct {
	NC  *nats.Conn          // messages to send, beats, the stats endpoint
	JS  jetstream.JetStream // for publishing events
	Log *slog.Logger
	// Tracer, when set, traces messages (pkg/obs); nil: off.
	Tracer *obs.Tracer
	// Local, when set, is the in-process shortcut to the other services
	// of this process (`sipbus up`): received messages are published
	// through it and messages to send arrive through it.
	Local *bus.Local
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
	flows    *ports.Flows
	streams  map[string]*ports.Listener // tcp, tls, ws, wss
	inst     *mgmt.Instance             // management: sipbus ps

	bus      *ports.Bus // set by Start
	serving  sync.WaitGroup
	stopOnce sync.Once
}

// New validates cfg and binds the listeners (so that their addresses are
// known before the edge serves: `sipbus up` gives them to tm). Serve with
// Start and stop with Shutdown, or do both with Run.
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
	inst := mgmt.New("edge", cfg.ID)
	log = inst.Logger(log).With("service", "edge", "edge_id", cfg.ID)
	e := &Edge{cfg: cfg, deps: d, log: log, counters: new(app.Counters), inst: inst}
	if cfg.FloodLimit != config.FloodOff {
		allow, _ := cfg.FloodAllowPrefixes() // validated
		e.flood = app.NewFlood(app.FloodOptions{
			Limit: cfg.FloodLimit, Window: cfg.FloodWindow, Block: cfg.FloodBlock, Allow: allow, MaxSources: cfg.FloodSources,
		}, e.counters, func(b app.Block) { e.core.Blocked(b) })
	}
	sopt := ports.StreamOptions{
		Idle: cfg.TCPIdle, MaxConns: cfg.TCPMaxConns, MaxMessage: cfg.MaxMessage,
		WS: ports.WSOptions{Origins: cfg.WSOrigins}, Gate: e.gate(), Counters: e.counters, Log: log,
	}
	if !config.Off(cfg.TLS) || !config.Off(cfg.WSS) {
		t, err := ports.NewTLS(ports.TLSOptions{
			CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, SelfSigned: selfSignedHosts(cfg),
			CAFiles: cfg.TLSCA, Insecure: cfg.TLSInsecure, Log: log,
		})
		if err != nil {
			return nil, err
		}
		sopt.TLS = t
	}
	// With UDP and TCP both on port 0, TCP takes the port UDP got, as SIP
	// expects; that port may be taken for TCP (another socket's ephemeral
	// port), so a few attempts are made.
	var err error
	for attempt := 0; ; attempt++ {
		e.flows = ports.NewFlows(cfg.ID, sopt)
		err = e.listen(cfg, log)
		if err == nil || attempt == 4 || !bothEphemeral(cfg) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if e.cfg.Advertise == "" {
		e.cfg.Advertise = e.firstAddr()
	}
	secret := []byte(cfg.SLSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	source := "sipbus/edge/" + cfg.ID
	e.pub = bus.NewPublisher(d.JS, source, bus.PublisherOptions{Logger: log, AckEvery: bus.HotAckEvery, Local: d.Local})
	e.core = app.New(app.Options{
		ID: cfg.ID, Source: source, CacheMax: cfg.CacheMax, Republish: cfg.Republish,
		RetryAfter: cfg.RetryAfter, QueueTarget: cfg.QueueTarget, QueueInterval: cfg.QueueInterval,
		Server: cfg.Server, Supported: cfg.Supported, Signer: sipmsg.NewSigner(secret), Log: log,
		BusReady: func() bool { return d.NC.IsConnected() && e.pub.Healthy() },
		Flood:    e.flood,
		Flows:    e.flows.Conns,
		Tracer:   tracer(d.Tracer),
	}, &ports.Transports{UDP: e.udp, Flows: e.flows}, e.pub, bus.NewIDs(), e.counters)
	return e, nil
}

// drain refuses new dialogs and waits, at most cfg.Drain and until ctx
// ends, until the transactions and dialogs that had started are done
// (app.Edge.Idle).
func (e *Edge) drain(ctx context.Context) {
	e.core.Drain()
	start := time.Now()
	deadline := start.Add(e.cfg.Drain)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !e.core.Idle(config.DrainQuiet, config.DrainStalled) {
		if time.Now().After(deadline) {
			e.log.Warn("edge: drain: deadline passed with work in flight", "drain", e.cfg.Drain)
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			e.log.Warn("edge: drain: shutdown timeout passed with work in flight")
			return
		}
	}
	e.log.Info("edge drained", "took", time.Since(start).Round(time.Millisecond))
}

// tracer is t as the core's Tracer: a nil interface when tracing is off.
func tracer(t *obs.Tracer) app.Tracer {
	if t == nil {
		return nil
	}
	return t
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

// Shedding reports whether new dialogs for tm, or REGISTERs for the
// registrar, are refused now (overload).
func (e *Edge) Shedding() bool {
	return e.core.Shedding(app.ServiceTM) || e.core.Shedding(app.ServiceRegistrar)
}

// Advertise is the address other services put in Via for this edge.
func (e *Edge) Advertise() string { return e.cfg.Advertise }

// Load is the overload control's state for one service (app.ServiceTM,
// app.ServiceRegistrar): the edge's own queueing delay and detector, the
// replicas' beats, and the share of new dialogs let through.
type Load = app.Load

// Load reads the overload control's state for service now.
func (e *Edge) Load(service string) Load { return e.core.Load(service) }

// Counters reads the traffic counters.
func (e *Edge) Counters() Counters { return e.core.Snapshot() }

// Start serves: it subscribes to the messages other services send
// through this edge and starts reading the listeners New bound. It
// returns at once; the edge serves until Shutdown.
func (e *Edge) Start(ctx context.Context) error {
	b, err := ports.StartBus(ctx, e.deps.NC, e.core, ports.BusOptions{Log: e.log, Inst: e.inst, Core: bus.CoreFor(e.deps.NC, e.deps.Local)})
	if err != nil {
		e.closeListeners()
		return fmt.Errorf("edge: nats: %w", err)
	}
	e.bus = b
	// The listeners serve until Shutdown closes them, not until ctx ends:
	// a draining edge still reads (answers 503 to new dialogs, forwards
	// what belongs to the calls it has).
	serveCtx := context.WithoutCancel(ctx)
	e.flows.Start(serveCtx, e.core)
	if e.udp != nil {
		e.serving.Add(1)
		go func() { defer e.serving.Done(); e.udp.Serve(serveCtx, e.core) }()
	}
	for _, l := range e.streams {
		e.serving.Add(1)
		go func() { defer e.serving.Done(); l.Serve() }()
	}
	e.log.Info("edge up", "listen", e.Listeners(), "advertise", e.cfg.Advertise)
	return nil
}

// Shutdown stops the edge gracefully: new dialogs and registrations get
// 503 "Shutting Down" with Retry-After while the transactions and dialogs
// that had started go on, until they are done, the drain setting passed
// or ctx ends; then the listeners close (messages in progress finish),
// then the connections, then the NATS side (messages to send already
// received go out), and pending publishes are flushed. Call it once,
// after Start.
func (e *Edge) Shutdown(ctx context.Context) error {
	if e.bus == nil {
		return errors.New("edge: Shutdown before Start")
	}
	e.stopOnce.Do(func() {
		e.drain(ctx)
		e.closeListeners()
		e.flows.Close()
		e.serving.Wait()
		e.flows.Wait()
		e.bus.Stop()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := e.pub.Flush(fctx); err != nil {
			e.log.Warn("flush events on shutdown", "err", err)
		}
		e.log.Info("edge stopped", "counters", e.core.Snapshot())
	})
	return nil
}

// Run serves until ctx ends, then shuts down (Start, then Shutdown
// without a deadline beyond the drain setting).
func (e *Edge) Run(ctx context.Context) error {
	if err := e.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return e.Shutdown(context.Background())
}
