package ports

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// Errors of the connection transports.
var (
	ErrNoFlow       = app.ErrNoFlow
	ErrTooManyConns = errors.New("edge: too many connections")
	// ErrTooManyTCP is the former name of ErrTooManyConns.
	ErrTooManyTCP = ErrTooManyConns
)

// Timeouts of a connection.
const (
	// handshakeTimeout bounds a TLS handshake and a WebSocket upgrade.
	handshakeTimeout = 10 * time.Second
	// dialTimeout bounds connecting (and the TLS handshake) to a peer.
	dialTimeout = 5 * time.Second
	// writeTimeout bounds one write to a connection.
	writeTimeout = 5 * time.Second
)

// StreamOptions tune the connection transports (TCP, TLS, WS, WSS).
type StreamOptions struct {
	Idle       time.Duration // close a connection that received nothing this long
	MaxConns   int           // open connections at most, handshakes included, all transports together
	MaxMessage int           // largest message (header section + body; a WebSocket message)
	// TLS is the TLS side (certificates, outbound verification); nil
	// when neither tls nor wss is enabled.
	TLS *TLSConfig
	WS  WSOptions
	// Gate is flood control (app.Flood): it counts connections and the
	// requests they carry, and refuses those of a blocked source; nil:
	// none.
	Gate     Gate
	Counters *app.Counters
	Log      *slog.Logger
}

// Flows is the table of this edge's connections, accepted and dialled,
// over every connection transport. A flow id is "<edge id>~<n>", unique
// across transports, so any service can tell which edge holds a
// connection from the id alone. A connection counts against MaxConns from
// its accept (a TLS handshake or a WebSocket upgrade in progress
// included) until it is closed.
type Flows struct {
	edgeID  string
	opt     StreamOptions
	seq     atomic.Uint64
	mu      sync.Mutex
	flows   map[string]*flow
	aliases map[aliasKey]string // RFC 5923 alias: (transport, peer ip:port) -> flow
	open    map[net.Conn]struct{}
	enabled map[string]bool // transports with a listener
	closing bool
	wg      sync.WaitGroup
	handler Handler
	ctx     context.Context
	logs    *logLimiter
}

type aliasKey struct {
	transport string
	addr      netip.AddrPort
}

// flow is one open connection.
type flow struct {
	id        string
	transport string
	conn      net.Conn // the TLS connection for tls and wss
	remote    netip.AddrPort
	local     netip.AddrPort
	wmu       sync.Mutex
	// frame writes one message on a WebSocket; nil writes the bytes as
	// they are (TCP, TLS).
	frame   func(b []byte) error
	aliases []aliasKey
}

// NewFlows returns an empty table for edge edgeID.
func NewFlows(edgeID string, opt StreamOptions) *Flows {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Counters == nil {
		opt.Counters = new(app.Counters)
	}
	return &Flows{
		edgeID: edgeID, opt: opt, flows: map[string]*flow{}, aliases: map[aliasKey]string{},
		open: map[net.Conn]struct{}{}, enabled: map[string]bool{}, logs: newLogLimiter(10, time.Second),
	}
}

// Start sets the handler of every message read from a connection (dialled
// connections read responses too).
func (t *Flows) Start(ctx context.Context, h Handler) {
	t.mu.Lock()
	t.handler, t.ctx = h, ctx
	t.mu.Unlock()
}

func (t *Flows) handlerCtx() (Handler, context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.handler, t.ctx
}

// enable records a transport with a listener: only those are sent on.
func (t *Flows) enable(transport string) {
	t.mu.Lock()
	t.enabled[transport] = true
	t.mu.Unlock()
}

// Enabled reports whether transport has a listener on this edge.
func (t *Flows) Enabled(transport string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.enabled[transport]
}

// gated reports a request from a blocked source (flood control counted
// it): its connection is closed. Responses are never limited.
func (t *Flows) gated(transport string, from netip.Addr, msg []byte) bool {
	return t.opt.Gate != nil && !isResponse(msg) && !t.opt.Gate.Admit(transport, from, time.Now())
}

// admit counts a new connection against MaxConns; the caller runs it on
// a goroutine that calls release (t.wg is held until then).
func (t *Flows) admit(c net.Conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return net.ErrClosed
	}
	if len(t.open) >= t.opt.MaxConns {
		return ErrTooManyConns
	}
	t.open[c] = struct{}{}
	t.wg.Add(1)
	return nil
}

// release ends what admit started: the connection is closed and no
// longer counted.
func (t *Flows) release(c net.Conn) {
	_ = c.Close()
	t.mu.Lock()
	delete(t.open, c)
	t.mu.Unlock()
	t.wg.Done()
}

// register makes an admitted, handshaken connection a flow.
func (t *Flows) register(transport string, c net.Conn, frame func([]byte) error) *flow {
	ra := addrPortOf(c.RemoteAddr())
	f := &flow{
		id:        t.edgeID + "~" + strconv.FormatUint(t.seq.Add(1), 10),
		transport: transport, conn: c, frame: frame,
		remote: ra, local: addrPortOf(c.LocalAddr()),
	}
	t.mu.Lock()
	t.flows[f.id] = f
	t.mu.Unlock()
	return f
}

// unregister removes a flow and its aliases (the connection is closed by
// release).
func (t *Flows) unregister(f *flow) {
	t.mu.Lock()
	delete(t.flows, f.id)
	for _, k := range f.aliases {
		if t.aliases[k] == f.id {
			delete(t.aliases, k)
		}
	}
	t.mu.Unlock()
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Len is the number of open flows (handshakes in progress not included).
func (t *Flows) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.flows)
}

// Conns is the number of open connections, handshakes in progress included.
func (t *Flows) Conns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.open)
}

// Send writes one message on flow id: the bytes for TCP and TLS, one
// WebSocket message for WS and WSS. A write that fails closes the
// connection.
func (t *Flows) Send(id string, b []byte) error {
	t.mu.Lock()
	f := t.flows[id]
	t.mu.Unlock()
	if f == nil {
		return fmt.Errorf("%w: %s", ErrNoFlow, id)
	}
	if err := f.write(b); err != nil {
		_ = f.conn.Close()
		return fmt.Errorf("edge: %s send on %s: %w", f.transport, id, err)
	}
	t.opt.Counters.Sent.Add(1)
	t.opt.Counters.SIP.Count(app.DirOut, b)
	return nil
}

func (f *flow) write(b []byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	_ = f.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if f.frame != nil {
		return f.frame(b)
	}
	_, err := f.conn.Write(b)
	return err
}

// Transport is the transport of flow id ("" when it is gone).
func (t *Flows) Transport(id string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.flows[id]; f != nil {
		return f.transport
	}
	return ""
}

// Remote returns the peer address of a flow.
func (t *Flows) Remote(id string) (netip.AddrPort, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.flows[id]
	if f == nil {
		return netip.AddrPort{}, false
	}
	return f.remote, true
}

// FlowTo returns an open flow of transport to addr, if there is one
// (connection reuse, RFC 3261 §18.1.1): a connection whose peer is addr
// (one this edge dialled), or one whose peer aliased addr (RFC 5923).
func (t *Flows) FlowTo(transport string, addr netip.AddrPort) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.aliases[aliasKey{transport, addr}]; ok {
		return id
	}
	for id, f := range t.flows {
		if f.transport == transport && f.remote == addr {
			return id
		}
	}
	return ""
}

// Alias lets requests to the peer's address at port reuse flow id
// (RFC 5923): the peer sent a request on it with ;alias in its Via. Only
// the port comes from the peer; the address is the connection's, so a
// peer can alias nothing but itself (Kamailio's tcp_accept_aliases).
func (t *Flows) Alias(id string, port uint16) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.flows[id]
	if f == nil || port == 0 {
		return
	}
	k := aliasKey{f.transport, netip.AddrPortFrom(f.remote.Addr(), port)}
	if old, ok := t.aliases[k]; ok && old == id {
		return
	}
	t.aliases[k] = id // the newest connection of the peer wins
	f.aliases = append(f.aliases, k)
}

// Dial opens a connection of transport (tcp or tls) to addr, makes it a
// flow of this edge and reads what the peer sends on it. For TLS the
// server's certificate is verified against name, or the IP address when
// name is "" (see TLSConfig).
func (t *Flows) Dial(ctx context.Context, transport string, addr netip.AddrPort, name string) (string, error) {
	if transport != app.TCP && transport != app.TLS {
		return "", fmt.Errorf("edge: no %s connection to %s (a WebSocket peer is reached on its own connection only)", transport, addr)
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	d := net.Dialer{}
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return "", fmt.Errorf("edge: %s dial %s: %w", transport, addr, err)
	}
	if err := t.admit(c); err != nil {
		_ = c.Close()
		return "", err
	}
	conn := c
	if transport == app.TLS {
		if t.opt.TLS == nil {
			t.release(c)
			return "", fmt.Errorf("edge: tls dial %s: tls is not configured", addr)
		}
		tc := tls.Client(c, t.opt.TLS.client(addr, name))
		if err := tc.HandshakeContext(ctx); err != nil {
			t.release(c)
			return "", fmt.Errorf("edge: tls dial %s: %w", addr, err)
		}
		conn = tc
	}
	f := t.register(transport, conn, nil)
	go func() {
		defer t.release(c)
		defer t.unregister(f)
		t.readStream(f)
	}()
	return f.id, nil
}

// Close closes every connection, flows and handshakes alike; new ones are
// refused. Wait waits for their goroutines.
// A WebSocket is told first (close 1001, going away).
func (t *Flows) Close() {
	t.mu.Lock()
	t.closing = true
	conns := make([]net.Conn, 0, len(t.open))
	for c := range t.open {
		conns = append(conns, c)
	}
	var ws []*flow
	for _, f := range t.flows {
		if f.frame != nil {
			ws = append(ws, f)
		}
	}
	t.mu.Unlock()
	for _, f := range ws {
		f.goingAway()
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// Wait returns when every connection goroutine has ended.
func (t *Flows) Wait() { t.wg.Wait() }

// logLimiter lets a few log lines about bad peers through per interval
// and counts the rest, so a flood of bad handshakes cannot flood the log.
type logLimiter struct {
	mu         sync.Mutex
	max        int
	every      time.Duration
	start      time.Time
	n          int
	suppressed int
}

func newLogLimiter(max int, every time.Duration) *logLimiter {
	return &logLimiter{max: max, every: every}
}

// allow reports whether a line may be logged now, and how many were
// suppressed since the last one that was.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.every {
		l.start, l.n = now, 0
	}
	if l.n >= l.max {
		l.suppressed++
		return false, 0
	}
	l.n++
	s := l.suppressed
	l.suppressed = 0
	return true, s
}

// peerFault logs a fault of a peer (a bad handshake, an oversized
// WebSocket message): a few lines per second, the rest counted in the
// next line's "suppressed".
func (t *Flows) peerFault(msg string, args ...any) {
	ok, suppressed := t.logs.allow(time.Now())
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	t.opt.Log.Info(msg, args...)
}
