package ports

import (
	"bufio"
	"bytes"
	"crypto/sha1" // RFC 6455 §4.2.2 defines Sec-WebSocket-Accept with SHA-1
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// WSOptions tune the WebSocket transports.
type WSOptions struct {
	// Origins are the origins (scheme://host[:port]) whose pages may open
	// a WebSocket, "*" for any. A request without Origin (not from a
	// browser) is always accepted; a browser page is accepted from its
	// own origin (the Origin's host is the Host it connected to) and from
	// these.
	Origins []string
	// PongWait is how long a ping sent to an idle connection waits for
	// an answer before the connection is closed; default 10s, or the idle
	// timeout when that is shorter.
	PongWait time.Duration
}

// maxHandshake bounds the HTTP request of a WebSocket opening handshake.
const maxHandshake = 16 << 10

// handshakeError refuses an opening handshake with an HTTP status and a
// fixed text (never anything the peer sent).
type handshakeError struct {
	status int
	reason string
	header string // an extra response header line, or ""
}

func (e *handshakeError) Error() string { return fmt.Sprintf("%d %s", e.status, e.reason) }

// wsUpgrade reads a WebSocket opening handshake (RFC 6455 §4.2.1) from br
// and answers it on w: 101 with the subprotocol sip (RFC 7118 §4.1), or an
// HTTP error that says what is wrong (and is returned, a *handshakeError).
func wsUpgrade(br *bufio.Reader, w io.Writer, o WSOptions) error {
	accept, err := checkUpgrade(br, o)
	var he *handshakeError
	switch {
	case errors.As(err, &he):
		body := he.reason + "\n"
		_, _ = fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s",
			he.status, http.StatusText(he.status), len(body), he.header, body)
		return he
	case err != nil:
		return err
	}
	_, err = fmt.Fprintf(w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: sip\r\n\r\n", accept)
	return err
}

// checkUpgrade reads and checks the request; it returns the
// Sec-WebSocket-Accept value.
func checkUpgrade(br *bufio.Reader, o WSOptions) (string, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return "", &handshakeError{status: http.StatusBadRequest, reason: "malformed or oversized HTTP request"}
	}
	if req.Body != nil {
		_ = req.Body.Close()
	}
	h := req.Header
	switch {
	case req.Method != http.MethodGet:
		return "", &handshakeError{status: http.StatusMethodNotAllowed, reason: "a WebSocket opening handshake is a GET", header: "Allow: GET\r\n"}
	case req.ContentLength > 0:
		return "", &handshakeError{status: http.StatusBadRequest, reason: "a WebSocket opening handshake has no body"}
	case !hasToken(h.Values("Connection"), "upgrade") || !hasToken(h.Values("Upgrade"), "websocket"):
		return "", &handshakeError{status: http.StatusUpgradeRequired, reason: "this is a SIP WebSocket endpoint (RFC 7118): upgrade to websocket",
			header: "Upgrade: websocket\r\nConnection: Upgrade\r\n"}
	case h.Get("Sec-WebSocket-Version") != "13":
		return "", &handshakeError{status: http.StatusUpgradeRequired, reason: "Sec-WebSocket-Version must be 13", header: "Sec-WebSocket-Version: 13\r\n"}
	}
	key := strings.TrimSpace(h.Get("Sec-WebSocket-Key"))
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return "", &handshakeError{status: http.StatusBadRequest, reason: "Sec-WebSocket-Key must be 16 bytes in base64"}
	}
	if !hasToken(h.Values("Sec-WebSocket-Protocol"), "sip") {
		return "", &handshakeError{status: http.StatusBadRequest, reason: "Sec-WebSocket-Protocol must offer sip (RFC 7118)"}
	}
	if !originAllowed(h.Get("Origin"), req.Host, o.Origins) {
		return "", &handshakeError{status: http.StatusForbidden, reason: "origin not allowed (see the edge's ws_origins)"}
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// hasToken reports whether a comma-separated header holds token (any case).
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// originAllowed is the origin policy of WSOptions.Origins.
func originAllowed(origin, host string, allowed []string) bool {
	if origin == "" {
		return true
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(a, origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// serveWS runs one WebSocket connection (ws, or wss after its TLS
// handshake): the opening handshake, then one SIP message per WebSocket
// message (RFC 7118 §5) to the handler, in order. A message of CRLF CRLF
// is a keep-alive ping, answered with a CRLF message (the way SIP.js
// keeps its connection alive); a WebSocket ping gets its pong. An idle
// connection gets a ping, and is closed when no answer comes.
func (t *Flows) serveWS(transport string, conn net.Conn) {
	remote := addrPortOf(conn.RemoteAddr())
	lr := &io.LimitedReader{R: conn, N: maxHandshake}
	br := bufio.NewReaderSize(lr, 4096)
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := wsUpgrade(br, conn, t.opt.WS); err != nil {
		t.opt.Counters.HandshakeFailed.Add(1)
		var he *handshakeError
		if errors.As(err, &he) {
			t.peerFault("edge: websocket handshake refused", "transport", transport, "remote", remote, "status", he.status, "reason", he.reason)
		} else {
			t.peerFault("edge: websocket handshake failed", "transport", transport, "remote", remote, "err", err)
		}
		return
	}
	_ = conn.SetDeadline(time.Time{})
	lr.N = math.MaxInt64
	f := t.register(transport, conn, nil)
	f.frame = func(b []byte) error {
		_, err := conn.Write(wsAppendFrame(make([]byte, 0, len(b)+10), wsDataOp(b), b))
		return err
	}
	defer t.unregister(f)
	t.readWS(f, &wsReader{r: br, max: t.opt.MaxMessage})
}

// readWS reads messages until the connection ends or misbehaves.
func (t *Flows) readWS(f *flow, r *wsReader) {
	h, ctx := t.handlerCtx()
	pongWait := t.opt.WS.PongWait
	if pongWait <= 0 {
		pongWait = min(10*time.Second, t.opt.Idle)
	}
	pinged := false
	for {
		wait := t.opt.Idle
		if pinged {
			wait = pongWait
		}
		_ = f.conn.SetReadDeadline(time.Now().Add(wait))
		op, p, err := r.next()
		var we *wsError
		switch {
		case errors.Is(err, errWSIdle) && !pinged:
			pinged = true
			if f.control(wsPing, nil) != nil {
				return
			}
			continue
		case errors.As(err, &we):
			if we.code == wsCloseTooBig {
				t.opt.Counters.Dropped.Add(1)
				t.peerFault("edge: websocket message over the limit, connection closed (1009)", "transport", f.transport,
					"remote", f.remote, "flow", f.id, "size", r.tooBig, "max_message", t.opt.MaxMessage)
			} else {
				t.opt.Counters.Dropped.Add(1)
				t.peerFault("edge: websocket protocol error, connection closed", "transport", f.transport,
					"remote", f.remote, "flow", f.id, "code", we.code, "reason", we.reason)
			}
			_ = f.control(wsClose, wsClosePayload(we.code, we.reason))
			linger(f.conn, 4*t.opt.MaxMessage)
			return
		case err != nil:
			return // EOF, reset, no answer to the ping, or Close
		}
		pinged = false
		switch op {
		case wsPong:
		case wsPing:
			if f.control(wsPong, p) != nil {
				return
			}
		case wsClose:
			code := []byte(nil)
			if len(p) >= 2 {
				code = p[:2]
			}
			_ = f.control(wsClose, code)
			return
		default:
			if bytes.Equal(p, crlfcrlf) {
				t.opt.Counters.Keepalives.Add(1)
				if f.write(crlf) != nil {
					return
				}
				continue
			}
			if len(bytes.Trim(p, "\r\n")) == 0 {
				continue // a pong of the peer's own, or an empty message
			}
			t.opt.Counters.Received.Add(1)
			if t.gated(f.transport, f.remote.Addr(), p) {
				return // a blocked source: the connection is closed
			}
			pk := app.Packet{Transport: f.transport, Local: f.local, Remote: f.remote, Flow: f.id, Data: p, At: time.Now()}
			if h != nil {
				h.Handle(ctx, &pk)
			}
		}
	}
}

// control writes one control frame.
func (f *flow) control(op byte, payload []byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	_ = f.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := f.conn.Write(wsAppendFrame(make([]byte, 0, len(payload)+2), op, payload))
	return err
}

// goingAway tells a WebSocket peer the edge is shutting down (close 1001),
// without waiting long for a peer that does not read.
func (f *flow) goingAway() {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	_ = f.conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	_, _ = f.conn.Write(wsAppendFrame(nil, wsClose, wsClosePayload(wsCloseGoingAway, "edge shutting down")))
}

// linger reads and drops what the peer still sends, up to max bytes or a
// second, before the connection is closed: closing a socket with unread
// data resets it, and the peer would lose the close frame just sent
// (RFC 6455 §7.1.1: the server closes the TCP connection after the close
// handshake).
func linger(c net.Conn, max int) {
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(c, int64(max)))
}
