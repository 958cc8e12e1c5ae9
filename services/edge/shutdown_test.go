package edge_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/edge"
)

// startEdge makes an edge with New and serves it with Start, on a real
// NATS server; the test calls Shutdown.
func startEdge(t *testing.T, cfg edge.Config) (*edge.Edge, *nats.Conn) {
	t.Helper()
	ns := testenv.NATS(t)
	nc, js := testenv.Connect(t, ns.ClientURL())
	ctx := testenv.Context(t, 60*time.Second)
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{Memory: true}); err != nil {
		t.Fatalf("stream: %v", err)
	}
	e, err := edge.New(cfg, edge.Deps{NC: nc, JS: js, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return e, nc
}

func udpPeer(t *testing.T, e *edge.Edge) *uac {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &uac{t: t, conn: c, to: net.UDPAddrFromAddrPort(e.UDPAddr())}
}

// TestShutdownDrains: Shutdown is the edge's graceful stop (what SIGTERM
// calls through pkg/service). While an INVITE that had started awaits its
// final response, a new dialog gets 503 "Shutting Down" with
// Retry-After, a request within a dialog still reaches the bus, and
// Shutdown returns once the drain setting has passed; then the listener is
// closed.
func TestShutdownDrains(t *testing.T) {
	const drain = 1500 * time.Millisecond
	e, nc := startEdge(t, edge.Config{ID: "e-drain", UDP: "127.0.0.1:0", TCP: "-", Drain: drain})
	byes := make(chan *nats.Msg, 4)
	sub, err := nc.ChanSubscribe(bus.RequestInFilter("BYE"), byes)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	u := udpPeer(t, e)
	u.send(request("INVITE", "z9hG4bK-dr-1", "dr-1@test", u.port(), "Contact: <sip:alice@127.0.0.1>"))
	if r := u.mustRecv("100 Trying"); r.StatusCode != 100 {
		t.Fatalf("INVITE before the drain got %d", r.StatusCode)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- e.Shutdown(context.Background()) }()

	var got *sipmsg.Msg
	testenv.Eventually(t, 3*time.Second, func() bool {
		u.send(request("INVITE", "z9hG4bK-dr-"+sipmsg.NewTag(), "dr-"+sipmsg.NewTag()+"@test", u.port(), "Contact: <sip:alice@127.0.0.1>"))
		raw := u.recv(500 * time.Millisecond)
		m, err := sipmsg.Parse([]byte(raw), sipmsg.Datagram)
		if err == nil && m.StatusCode == 503 {
			got = m
			return true
		}
		return false
	}, "a new INVITE during the drain got no 503")
	if reason := string(got.Bytes(got.Reason)); reason != "Shutting Down" || got.Value(sipmsg.HRetryAfter) == "" {
		t.Errorf("new dialog during the drain: 503 %q, Retry-After %q, want 503 Shutting Down with Retry-After", reason, got.Value(sipmsg.HRetryAfter))
	}
	bye := strings.Replace(request("BYE", "z9hG4bK-dr-bye", "dr-0@test", u.port()), "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=b1", 1)
	u.send(bye)
	select {
	case <-byes:
	case <-time.After(3 * time.Second):
		t.Error("a BYE within a dialog during the drain did not reach the bus")
	}

	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(drain + 5*time.Second):
		t.Fatalf("Shutdown did not return within the drain setting %v", drain)
	}
	if took := time.Since(start); took < drain-200*time.Millisecond {
		t.Errorf("Shutdown returned after %v with an INVITE in flight, want about the drain setting %v", took, drain)
	}
	u.send(request("OPTIONS", "z9hG4bK-dr-after", "dr-after@test", u.port()))
	if raw := u.recv(300 * time.Millisecond); raw != "" {
		t.Errorf("the edge answered after Shutdown: %q", raw)
	}
}

// TestShutdownBoundedByContext: a drain longer than the time Shutdown is
// given stops when its context ends (pkg/service's shutdown_timeout).
func TestShutdownBoundedByContext(t *testing.T) {
	e, _ := startEdge(t, edge.Config{ID: "e-ctx", UDP: "127.0.0.1:0", TCP: "-", Drain: 30 * time.Second})
	u := udpPeer(t, e)
	u.send(request("INVITE", "z9hG4bK-ctx-1", "ctx-1@test", u.port(), "Contact: <sip:alice@127.0.0.1>"))
	u.mustRecv("100 Trying")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("Shutdown took %v with a 300ms context", took)
	}
}
