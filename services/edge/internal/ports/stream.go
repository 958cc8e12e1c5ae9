package ports

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// Listener accepts the connections of one transport (tcp, tls, ws, wss)
// into the edge's flow table. Each connection runs on its own goroutine:
// the TLS handshake (tls, wss), the WebSocket upgrade (ws, wss), then the
// messages it carries, in order, to the handler.
type Listener struct {
	transport string
	ln        net.Listener
	flows     *Flows
}

// ListenError is a listener that could not be bound.
type ListenError struct {
	Transport, Addr string
	Err             error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("edge: %s listen %s: %v", e.Transport, e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// Listen binds addr ("ip:port"; port 0 picks one) for transport. tls and
// wss need flows' options to carry a TLSConfig.
func Listen(transport, addr string, flows *Flows) (*Listener, error) {
	switch transport {
	case app.TCP, app.WS:
	case app.TLS, app.WSS:
		if flows.opt.TLS == nil {
			return nil, fmt.Errorf("edge: %s listen %s: no certificate configured", transport, addr)
		}
	default:
		return nil, fmt.Errorf("edge: %s is not a connection transport", transport)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Transport: transport, Addr: addr, Err: err}
	}
	flows.enable(transport)
	return &Listener{transport: transport, ln: ln, flows: flows}, nil
}

// Addr is the bound address.
func (l *Listener) Addr() netip.AddrPort { return addrPortOf(l.ln.Addr()) }

// Transport is the listener's transport.
func (l *Listener) Transport() string { return l.transport }

// Serve accepts connections until Close. The connections it accepted
// live on until Flows.Close.
func (l *Listener) Serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.flows.opt.Log.Warn("edge: accept", "transport", l.transport, "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if g := l.flows.opt.Gate; g != nil && !g.Admit(l.transport, addrPortOf(c.RemoteAddr()).Addr(), time.Now()) {
			_ = c.Close() // a blocked source: refused (counted by the gate)
			continue
		}
		if err := l.flows.admit(c); err != nil {
			l.flows.opt.Counters.Dropped.Add(1)
			_ = c.Close()
			continue
		}
		go l.session(c)
	}
}

// Close stops accepting.
func (l *Listener) Close() error { return l.ln.Close() }

// session runs one accepted connection to its end.
func (l *Listener) session(c net.Conn) {
	t := l.flows
	defer t.release(c)
	conn := c
	if l.transport == app.TLS || l.transport == app.WSS {
		tc := tls.Server(c, t.opt.TLS.server)
		_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			t.opt.Counters.HandshakeFailed.Add(1)
			t.peerFault("edge: tls handshake failed, connection closed", "transport", l.transport,
				"remote", addrPortOf(c.RemoteAddr()), "err", err)
			return
		}
		_ = c.SetDeadline(time.Time{})
		conn = tc
	}
	switch l.transport {
	case app.TCP, app.TLS:
		f := t.register(l.transport, conn, nil)
		defer t.unregister(f)
		t.readStream(f)
	case app.WS, app.WSS:
		t.serveWS(l.transport, conn)
	}
}

// crlfKeepalive splits the CRLF keep-alives (RFC 5626 §3.5.1, §4.4.1) off the
// front of a stream buffer: each double CRLF is a ping, answered with one
// CRLF (a pong); a single CRLF (a pong of the peer's own, or padding) is
// dropped once what follows shows it is not the start of a ping. It
// returns how many bytes to drop and how many pings there were.
func crlfKeepalive(buf []byte) (drop, pings int) {
	for {
		rest := buf[drop:]
		switch {
		case bytes.HasPrefix(rest, crlfcrlf):
			pings++
			drop += 4
		case bytes.HasPrefix(rest, crlf) && len(rest) >= 4:
			drop += 2 // followed by something that is not CRLF: not a ping
		default:
			return drop, pings
		}
	}
}

// pingArriving reports a buffer that may still become a ping: a proper
// prefix of CRLF CRLF (empty included).
func pingArriving(buf []byte) bool { return len(buf) < 4 && bytes.HasPrefix(crlfcrlf, buf) }

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

// readStream frames a TCP or TLS stream by Content-Length (RFC 3261
// §18.3), answers CRLF keep-alives, and hands each message to the handler
// in order. A framing error, an oversized frame or the idle timeout (no
// byte received, keep-alives included) closes the connection.
func (t *Flows) readStream(f *flow) {
	h, ctx := t.handlerCtx()
	if ctx == nil {
		ctx = context.Background()
	}
	fr := sipmsg.Framer{MaxHeader: t.opt.MaxMessage, MaxBody: t.opt.MaxMessage}
	buf := make([]byte, 0, 8192)
	tmp := make([]byte, 32<<10)
	for {
		_ = f.conn.SetReadDeadline(time.Now().Add(t.opt.Idle))
		n, err := f.conn.Read(tmp)
		if n > 0 {
			buf = append(buf, tmp[:n]...)
			for {
				drop, pings := crlfKeepalive(buf)
				for range pings {
					t.opt.Counters.Keepalives.Add(1)
					if err := f.write(crlf); err != nil {
						return
					}
				}
				if drop > 0 {
					buf = append(buf[:0], buf[drop:]...)
				}
				if pingArriving(buf) {
					break
				}
				skip, size, ferr := fr.Next(buf)
				if ferr != nil {
					t.opt.Counters.Dropped.Add(1)
					t.peerFault("edge: bad stream framing, connection closed", "transport", f.transport,
						"remote", f.remote, "flow", f.id, "err", ferr)
					return
				}
				if size == 0 {
					if skip > 0 { // stray CR or LF bytes
						buf = append(buf[:0], buf[skip:]...)
					}
					break
				}
				t.opt.Counters.Received.Add(1)
				if t.gated(f.transport, f.remote.Addr(), buf[skip:skip+size]) {
					return // a blocked source: the connection is closed
				}
				p := app.Packet{Transport: f.transport, Local: f.local, Remote: f.remote, Flow: f.id,
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
