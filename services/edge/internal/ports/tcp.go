package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// Errors of the TCP transport.
var (
	ErrNoFlow     = app.ErrNoFlow
	ErrTooManyTCP = errors.New("edge: too many tcp connections")
)

// TCP is a SIP TCP listener and the table of this edge's TCP flows (accepted
// and dialled connections). A flow id is "<edge id>~<n>", so any service can
// tell which edge holds a connection from the id alone.
type TCP struct {
	ln       net.Listener
	edgeID   string
	opt      TCPOptions
	seq      atomic.Uint64
	mu       sync.Mutex
	flows    map[string]*flow
	closing  atomic.Bool
	wg       sync.WaitGroup
	handler  Handler
	serveCtx context.Context
}

// TCPOptions tune the TCP transport.
type TCPOptions struct {
	Idle       time.Duration // close a connection idle this long
	MaxConns   int
	MaxMessage int  // largest header section + body
	Gate       Gate // flood control (app.Flood): counts connections and requests; nil: none
	Counters   *app.Counters
	Log        *slog.Logger
}

type flow struct {
	id     string
	conn   net.Conn
	remote netip.AddrPort
	wmu    sync.Mutex
}

// ListenTCP binds addr.
func ListenTCP(addr, edgeID string, opt TCPOptions) (*TCP, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("edge: tcp listen %s: %w", addr, err)
	}
	return &TCP{ln: ln, edgeID: edgeID, opt: opt, flows: map[string]*flow{}}, nil
}

// Addr is the bound address.
func (t *TCP) Addr() netip.AddrPort { return t.ln.Addr().(*net.TCPAddr).AddrPort() }

// Serve accepts connections until Close and reads each on its own
// goroutine; it returns when every connection has been closed.
func (t *TCP) Serve(ctx context.Context, h Handler) {
	t.mu.Lock()
	t.handler, t.serveCtx = h, ctx
	t.mu.Unlock()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.closing.Load() || errors.Is(err, net.ErrClosed) {
				break
			}
			t.opt.Log.Warn("tcp accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if t.opt.Gate != nil && !t.opt.Gate.Admit(app.TCP, remoteAddr(c), time.Now()) {
			_ = c.Close() // a blocked source: refused (counted by the gate)
			continue
		}
		if _, err := t.add(c); err != nil {
			t.opt.Counters.Dropped.Add(1)
			_ = c.Close()
		}
	}
	t.wg.Wait()
}

func (t *TCP) add(c net.Conn) (*flow, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.flows) >= t.opt.MaxConns {
		return nil, ErrTooManyTCP
	}
	if t.closing.Load() {
		return nil, net.ErrClosed
	}
	ra := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	f := &flow{
		id:     t.edgeID + "~" + strconv.FormatUint(t.seq.Add(1), 10),
		conn:   c,
		remote: netip.AddrPortFrom(ra.Addr().Unmap(), ra.Port()),
	}
	t.flows[f.id] = f
	t.wg.Add(1)
	go t.read(f)
	return f, nil
}

func (t *TCP) remove(f *flow) {
	t.mu.Lock()
	delete(t.flows, f.id)
	t.mu.Unlock()
	_ = f.conn.Close()
}

// read frames the stream by Content-Length (RFC 3261 §18.3) and hands each
// message to the handler in order. A framing error, an oversized frame or
// the idle timeout closes the connection.
func (t *TCP) read(f *flow) {
	defer t.wg.Done()
	defer t.remove(f)
	t.mu.Lock()
	h, ctx := t.handler, t.serveCtx
	t.mu.Unlock()
	local := f.conn.LocalAddr().(*net.TCPAddr).AddrPort()
	fr := sipmsg.Framer{MaxHeader: t.opt.MaxMessage, MaxBody: t.opt.MaxMessage}
	buf := make([]byte, 0, 8192)
	tmp := make([]byte, 32<<10)
	for {
		_ = f.conn.SetReadDeadline(time.Now().Add(t.opt.Idle))
		n, err := f.conn.Read(tmp)
		if n > 0 {
			buf = append(buf, tmp[:n]...)
			for {
				skip, size, ferr := fr.Next(buf)
				if ferr != nil {
					t.opt.Counters.Dropped.Add(1)
					return
				}
				if size == 0 {
					if skip > 0 {
						buf = append(buf[:0], buf[skip:]...)
					}
					break
				}
				t.opt.Counters.Received.Add(1)
				if t.opt.Gate != nil && !isResponse(buf[skip:skip+size]) && !t.opt.Gate.Admit(app.TCP, f.remote.Addr(), time.Now()) {
					return // a blocked source: the connection is closed
				}
				p := app.Packet{Transport: app.TCP, Local: local, Remote: f.remote, Flow: f.id,
					Data: buf[skip : skip+size], At: time.Now()}
				if h != nil {
					h.Handle(ctx, &p)
				}
				buf = append(buf[:0], buf[skip+size:]...)
			}
		}
		if err != nil {
			return // EOF, idle timeout, reset, or Close
		}
	}
}

func remoteAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// Dial opens a connection to addr (when the peer has no flow to us yet),
// registers it as a flow of this edge and starts reading responses from it.
func (t *TCP) Dial(ctx context.Context, addr netip.AddrPort) (string, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return "", fmt.Errorf("edge: tcp dial %s: %w", addr, err)
	}
	f, err := t.add(c)
	if err != nil {
		_ = c.Close()
		return "", err
	}
	return f.id, nil
}

// FlowTo returns an open flow to addr, if one exists (connection reuse,
// RFC 3261 §18.1.1 / RFC 5923 spirit).
func (t *TCP) FlowTo(addr netip.AddrPort) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, f := range t.flows {
		if f.remote == addr {
			return id
		}
	}
	return ""
}

// Send writes b on flow id.
func (t *TCP) Send(id string, b []byte) error {
	t.mu.Lock()
	f := t.flows[id]
	t.mu.Unlock()
	if f == nil {
		return fmt.Errorf("%w: %s", ErrNoFlow, id)
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	_ = f.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := f.conn.Write(b); err != nil {
		_ = f.conn.Close()
		return fmt.Errorf("edge: tcp send on %s: %w", id, err)
	}
	t.opt.Counters.Sent.Add(1)
	return nil
}

// Remote returns the peer address of a flow.
func (t *TCP) Remote(id string) (netip.AddrPort, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.flows[id]
	if f == nil {
		return netip.AddrPort{}, false
	}
	return f.remote, true
}

// Close stops accepting and closes every connection.
func (t *TCP) Close() error {
	t.closing.Store(true)
	err := t.ln.Close()
	t.mu.Lock()
	for _, f := range t.flows {
		_ = f.conn.Close()
	}
	t.mu.Unlock()
	return err
}
