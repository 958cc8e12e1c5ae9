package edge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/edge"
)

// wsDial connects a WebSocket client (github.com/coder/websocket, an
// implementation independent of the edge's) with the subprotocol sip.
func wsDial(t *testing.T, url string, opt *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	if opt == nil {
		opt = &websocket.DialOptions{}
	}
	if opt.Subprotocols == nil {
		opt.Subprotocols = []string{"sip"}
	}
	c, resp, err := websocket.Dial(testenv.Context(t, 5*time.Second), url, opt)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("websocket dial %s: %v (HTTP %d)", url, err, status)
	}
	if c.Subprotocol() != "sip" {
		t.Fatalf("subprotocol %q, want sip", c.Subprotocol())
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func wsRead(t *testing.T, c *websocket.Conn) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	return typ, string(b)
}

func wsWrite(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.Write(testenv.Context(t, 5*time.Second), websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("websocket write: %v", err)
	}
}

func wsRequest(method, branch, callID, transport string) string {
	return strings.Replace(request(method, branch, callID, 0), "Via: SIP/2.0/UDP 127.0.0.1:0", "Via: SIP/2.0/"+transport+" df7jal23ls0d.invalid", 1)
}

// TestWebSocketFlow: over ws and wss (the self-signed certificate made
// for loopback), a CRLF CRLF message gets a CRLF message, a request is
// published with its transport and flow, and the answer comes back on the
// WebSocket as one text message (RFC 7118 §5).
func TestWebSocketFlow(t *testing.T) {
	s := newStack(t, stackOptions{cfg: edge.Config{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", WS: "127.0.0.1:0", WSS: "127.0.0.1:0"}})
	// The wss client trusts the certificate the edge serves, once checked
	// to be the self-signed one for 127.0.0.1.
	probe, err := tls.Dial("tcp", s.edge.WSSAddr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	leaf := probe.ConnectionState().PeerCertificates[0]
	_ = probe.Close()
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	wssClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}

	for i, tc := range []struct {
		transport, url string
		opt            *websocket.DialOptions
	}{
		{"ws", "ws://" + s.edge.WSAddr().String() + "/", nil},
		{"wss", "wss://" + s.edge.WSSAddr().String() + "/sip", &websocket.DialOptions{HTTPClient: wssClient}},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			c := wsDial(t, tc.url, tc.opt)
			wsWrite(t, c, "\r\n\r\n")
			if typ, got := wsRead(t, c); got != "\r\n" || typ != websocket.MessageText {
				t.Fatalf("keep-alive answered %q (%v), want a CRLF text message", got, typ)
			}
			wsWrite(t, c, wsRequest("OPTIONS", "z9hG4bK-ws-"+tc.transport, "ws-"+tc.transport+"@test", strings.ToUpper(tc.transport)))
			ev := s.waitType(events.TypeRequestReceived, i+1)[i]
			if ev.Transport != tc.transport || !strings.HasPrefix(ev.Flow, "e1~") || ev.Local != s.edge.Addr(tc.transport).String() {
				t.Fatalf("event transport %q flow %q local %q", ev.Transport, ev.Flow, ev.Local)
			}
			req, _ := sipmsg.Parse(ev.Raw, sipmsg.Datagram)
			resp := sipmsg.Reply(req, 200, "OK", sipmsg.ReplyOptions{ToTag: "t1"})
			s.answer(ev, resp, "")
			if typ, got := wsRead(t, c); got != string(resp) || typ != websocket.MessageText {
				t.Fatalf("read %q (%v), want the 200 as one text message", got, typ)
			}
			_ = c.Close(websocket.StatusNormalClosure, "")
		})
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return s.edge.Flows() == 0 }, "%d flows left after the clients closed", s.edge.Flows())
	if k := s.edge.Counters().Keepalives; k != 2 {
		t.Errorf("keepalives %d, want 2", k)
	}
}

// TestWebSocketOversize: a message over max_message closes the connection
// with 1009 and a log line; nothing is published, nothing is left open.
func TestWebSocketOversize(t *testing.T) {
	s := newStack(t, stackOptions{cfg: edge.Config{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", WS: "127.0.0.1:0", MaxMessage: 2048}})
	c := wsDial(t, "ws://"+s.edge.WSAddr().String()+"/", nil)
	big := wsRequest("MESSAGE", "z9hG4bK-big", "big@test", "WS")
	big = strings.Replace(big, "Content-Length: 0\r\n\r\n", "Content-Type: text/plain\r\nContent-Length: 4000\r\n\r\n"+strings.Repeat("x", 4000), 1)
	wsWrite(t, c, big)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := c.Read(ctx)
	if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
		t.Fatalf("read after an oversized message: %v (close code %d), want close 1009", err, code)
	}
	s.waitLog("websocket message over the limit", "remote=127.0.0.1:", "size=", "max_message=2048")
	testenv.Eventually(t, 5*time.Second, func() bool { return s.edge.Flows() == 0 }, "%d flows left", s.edge.Flows())
	s.settle()
	if n := len(s.ofType(events.TypeRequestReceived)); n != 0 {
		t.Fatalf("%d events published for an oversized message", n)
	}
	// The edge still takes WebSocket clients.
	c2 := wsDial(t, "ws://"+s.edge.WSAddr().String()+"/", nil)
	wsWrite(t, c2, wsRequest("OPTIONS", "z9hG4bK-after", "after@test", "WS"))
	s.waitType(events.TypeRequestReceived, 1)
}

// TestWebSocketHandshakeRefused: no subprotocol sip gets 400, a page of
// another origin 403 (the same origin and a listed one pass), plain HTTP
// 426; each with a log line and nothing left open.
func TestWebSocketHandshakeRefused(t *testing.T) {
	s := newStack(t, stackOptions{cfg: edge.Config{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", WS: "127.0.0.1:0",
		WSOrigins: []string{"https://phone.example.com"}}})
	url := "ws://" + s.edge.WSAddr().String() + "/"
	for _, tc := range []struct {
		name   string
		opt    *websocket.DialOptions
		status int
	}{
		{"no sip subprotocol", &websocket.DialOptions{Subprotocols: []string{"chat"}}, 400},
		{"other origin", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}, Subprotocols: []string{"sip"}}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := websocket.Dial(testenv.Context(t, 5*time.Second), url, tc.opt)
			if err == nil || resp == nil || resp.StatusCode != tc.status {
				st := 0
				if resp != nil {
					st = resp.StatusCode
				}
				t.Fatalf("dial: %v, HTTP %d; want %d", err, st, tc.status)
			}
		})
	}
	wsDial(t, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://phone.example.com"}}})
	wsDial(t, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://" + s.edge.WSAddr().String()}}})
	resp, err := http.Get("http://" + s.edge.WSAddr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET answered %d, want 426", resp.StatusCode)
	}
	s.waitLog("websocket handshake refused", "status=403", "origin not allowed")
	s.waitLog("websocket handshake refused", "status=400", "must offer sip")
	// The 426 reaches the client before the edge counts it.
	testenv.Eventually(t, 3*time.Second, func() bool { return s.edge.Counters().HandshakesFailed == 3 },
		"counters %+v: want 3 refused handshakes", s.edge.Counters())
}

// TestWebSocketIdle: an idle WebSocket is pinged; a client that answers
// (browsers do by themselves) stays connected, one that does not is closed.
func TestWebSocketIdle(t *testing.T) {
	s := newStack(t, stackOptions{cfg: edge.Config{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", WS: "127.0.0.1:0", TCPIdle: 300 * time.Millisecond}})
	live := wsDial(t, "ws://"+s.edge.WSAddr().String()+"/", nil)
	readErr := make(chan error, 1)
	go func() { _, _, err := live.Read(context.Background()); readErr <- err }() // reading answers pings
	dead, err := net.Dial("tcp", s.edge.WSAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	fmt.Fprintf(dead, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n", s.edge.WSAddr())
	testenv.Eventually(t, 3*time.Second, func() bool { return s.edge.Flows() == 2 }, "two clients not connected")
	start := time.Now()
	_ = dead.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.Copy(io.Discard, dead) // the 101, a ping, then the close
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a client that answers no ping is still connected after 5s")
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
	time.Sleep(time.Second) // several idle periods: the live client answered each ping
	select {
	case err := <-readErr:
		t.Fatalf("the client that answers pings was disconnected: %v", err)
	default:
	}
	if n := s.edge.Flows(); n != 1 {
		t.Errorf("%d flows, want the live client's only", n)
	}
}
