package edge_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	pion "github.com/pion/stun/v3"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/edge"
)

// peerAt is a UDP SIP peer bound to ip (127.0.0.2 stands for another host:
// all of 127.0.0.0/8 is loopback on Linux).
func peerAt(t *testing.T, s *stack, ip string) *uac {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("bind %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &uac{t: t, conn: c, to: net.UDPAddrFromAddrPort(s.edge.UDPAddr())}
}

// blockedEvents collects the sipbus.edge.blocked events on the bus, each
// decoded and validated against its schema.
type blockedEvents struct {
	mu  sync.Mutex
	evs []*events.EdgeBlocked
	raw []*bus.Event
}

func watchBlocked(t *testing.T, nc *nats.Conn) *blockedEvents {
	t.Helper()
	w := &blockedEvents{}
	sub, err := nc.Subscribe("edge."+bus.EdgeEventBlocked+".>", func(m *nats.Msg) {
		ev, err := bus.Decode(m)
		if err != nil {
			t.Errorf("blocked event on %s does not decode: %v", m.Subject, err)
			return
		}
		if err := events.Validate(ev); err != nil {
			t.Errorf("blocked event does not validate: %v", err)
		}
		var d events.EdgeBlocked
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Errorf("blocked event data: %v", err)
		}
		w.mu.Lock()
		w.evs, w.raw = append(w.evs, &d), append(w.raw, ev)
		w.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *blockedEvents) all() ([]*events.EdgeBlocked, []*bus.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*events.EdgeBlocked(nil), w.evs...), append([]*bus.Event(nil), w.raw...)
}

// fromSource counts the request events whose source address is ip.
func (s *stack) fromSource(ip string) int {
	n := 0
	for _, ev := range s.ofType(events.TypeRequestReceived) {
		if ap, err := netip.ParseAddrPort(ev.Remote); err == nil && ap.Addr().String() == ip {
			n++
		}
	}
	return n
}

// TestFloodBlocksUDPSource: a source past its limit is blocked: what it
// sends after is dropped unread and never published, one
// sipbus.edge.blocked event says so, another source goes on unharmed, a
// response from the blocked source still passes, and the block ends after
// its cool-down.
func TestFloodBlocksUDPSource(t *testing.T) {
	s := newStack(t, stackOptions{cfg: edge.Config{
		FloodLimit: 20, FloodWindow: time.Second, FloodBlock: 2 * time.Second, FloodAllow: []string{"none"},
	}})
	blocked := watchBlocked(t, s.nc)
	flooder, legit := peerAt(t, s, "127.0.0.2"), peerAt(t, s, "127.0.0.1")

	for i := range 100 {
		flooder.send(request("OPTIONS", fmt.Sprintf("z9hG4bK-flood-%d", i), fmt.Sprintf("flood-%d@test", i), flooder.port()))
	}
	for i := range 5 {
		legit.send(request("OPTIONS", fmt.Sprintf("z9hG4bK-legit-%d", i), fmt.Sprintf("legit-%d@test", i), legit.port()))
	}
	// A response from the blocked source is never limited.
	inv, _ := sipmsg.Parse([]byte(request("INVITE", "z9hG4bK-out", "out@test", 5060)), sipmsg.Datagram)
	flooder.conn.WriteToUDP(sipmsg.Reply(inv, 180, "Ringing", sipmsg.ReplyOptions{ToTag: "b1"}), flooder.to)

	testenv.Eventually(t, 5*time.Second, func() bool {
		return s.fromSource("127.0.0.1") == 5 && len(s.ofType(events.TypeResponseReceived)) == 1
	}, "the other source's requests and the response were not all published: %+v", s.edge.Counters())
	s.settle()
	if n := s.fromSource("127.0.0.2"); n != 20 {
		t.Errorf("%d requests of the flooding source published, want its limit, 20", n)
	}
	c := s.edge.Counters()
	if c.Flooded != 80 || c.Blocks != 1 || c.Dropped != 0 {
		t.Errorf("counters flooded %d blocks %d dropped %d; want 80, 1, 0", c.Flooded, c.Blocks, c.Dropped)
	}
	testenv.Eventually(t, 5*time.Second, func() bool { evs, _ := blocked.all(); return len(evs) == 1 },
		"no sipbus.edge.blocked event")
	evs, raw := blocked.all()
	b := evs[0]
	if b.Edge != "e1" || b.Source != "127.0.0.2" || b.Transport != "udp" || b.Count != 21 || b.Limit != 20 ||
		b.WindowMs != 1000 || b.Until.Sub(b.At) != 2*time.Second {
		t.Errorf("blocked event %+v", b)
	}
	if raw[0].Subject != "127.0.0.2" || raw[0].Source != "sipbus/edge/e1" || raw[0].Type != events.TypeEdgeBlocked {
		t.Errorf("CloudEvent subject %q source %q type %q", raw[0].Subject, raw[0].Source, raw[0].Type)
	}
	if flooder.recv(200*time.Millisecond) != "" {
		t.Error("the blocked source got an answer")
	}

	// The flood stopped: after the cool-down the source is served again.
	testenv.Eventually(t, 10*time.Second, func() bool {
		flooder.send(request("OPTIONS", "z9hG4bK-after-"+time.Now().Format("150405.000"), "after@test", flooder.port()))
		time.Sleep(100 * time.Millisecond)
		return s.fromSource("127.0.0.2") > 20
	}, "the source was not served again after its block")
	if evs, _ := blocked.all(); len(evs) != 1 {
		t.Errorf("%d blocked events, want 1", len(evs))
	}
}

// TestFloodClosesTCP: a source flooding over TCP has its connection closed
// and new connections refused while it is blocked.
func TestFloodClosesTCP(t *testing.T) {
	s := newStack(t, stackOptions{cfg: edge.Config{
		FloodLimit: 5, FloodWindow: time.Second, FloodBlock: time.Minute, FloodAllow: []string{"none"},
	}})
	blocked := watchBlocked(t, s.nc)
	dial := func() net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 3 * time.Second}
		c, err := d.Dial("tcp", s.edge.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	closed := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !strings.Contains(err.Error(), "timeout")
	}
	c := dial()
	var all strings.Builder
	for i := range 10 {
		all.WriteString(strings.Replace(request("OPTIONS", fmt.Sprintf("z9hG4bK-tcpflood-%d", i), fmt.Sprintf("tcpflood-%d@test", i), 5060), "SIP/2.0/UDP", "SIP/2.0/TCP", 1))
	}
	if _, err := c.Write([]byte(all.String())); err != nil {
		t.Fatal(err)
	}
	if !closed(c) {
		t.Fatal("the flooding connection was not closed")
	}
	// The connection counted as one request: four messages passed.
	s.settle()
	if n := s.fromSource("127.0.0.2"); n != 4 {
		t.Errorf("%d requests published, want 4 (the limit of 5 less the connection)", n)
	}
	if !closed(dial()) {
		t.Fatal("a new connection from the blocked source was not refused")
	}
	testenv.Eventually(t, 5*time.Second, func() bool { evs, _ := blocked.all(); return len(evs) == 1 },
		"no sipbus.edge.blocked event")
	if evs, _ := blocked.all(); evs[0].Transport != "tcp" || evs[0].Source != "127.0.0.2" {
		t.Errorf("blocked event %+v", evs[0])
	}
	// Another source connects and is served.
	other, err := net.Dial("tcp", s.edge.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Write([]byte(strings.Replace(request("OPTIONS", "z9hG4bK-tcp-ok", "tcp-ok@test", 5060), "SIP/2.0/UDP", "SIP/2.0/TCP", 1))); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return s.fromSource("127.0.0.1") == 1 }, "the other source was not served")
}

// TestDefaultAllowListIsThisHostOnly: with the defaults, 127.0.0.1 is never
// limited and 127.0.0.2 is.
func TestDefaultAllowListIsThisHostOnly(t *testing.T) {
	s := newStack(t, stackOptions{cfg: edge.Config{FloodLimit: 10, FloodWindow: time.Second}})
	local, other := peerAt(t, s, "127.0.0.1"), peerAt(t, s, "127.0.0.2")
	for i := range 30 {
		local.send(request("OPTIONS", fmt.Sprintf("z9hG4bK-l-%d", i), fmt.Sprintf("l-%d@test", i), local.port()))
		other.send(request("OPTIONS", fmt.Sprintf("z9hG4bK-o-%d", i), fmt.Sprintf("o-%d@test", i), other.port()))
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return s.fromSource("127.0.0.1") == 30 }, "127.0.0.1 was limited")
	s.settle()
	if n := s.fromSource("127.0.0.2"); n != 10 {
		t.Errorf("127.0.0.2: %d published, want 10", n)
	}
}

// TestUDPKeepalivesAndSTUN: CRLF and double-CRLF datagrams are dropped
// silently (no event, no answer, not counted as bad input); a STUN Binding
// request from a real STUN client (pion/stun) gets the address the edge
// sees.
func TestUDPKeepalivesAndSTUN(t *testing.T) {
	s := newStack(t, stackOptions{})
	u := newUAC(t, s)
	u.send("\r\n\r\n")
	u.send("\r\n")
	if got := u.recv(300 * time.Millisecond); got != "" {
		t.Errorf("a keepalive was answered: %q", got)
	}
	req := pion.MustBuild(pion.TransactionID, pion.BindingRequest, pion.Fingerprint)
	if _, err := u.conn.WriteToUDP(req.Raw, u.to); err != nil {
		t.Fatal(err)
	}
	raw := u.recv(3 * time.Second)
	if raw == "" {
		t.Fatal("no answer to the STUN Binding request")
	}
	res := new(pion.Message)
	if err := pion.Decode([]byte(raw), res); err != nil {
		t.Fatalf("answer is not STUN: %v", err)
	}
	var xor pion.XORMappedAddress
	if err := xor.GetFrom(res); err != nil || res.Type != pion.BindingSuccess || res.TransactionID != req.TransactionID {
		t.Fatalf("answer %v: %v", res, err)
	}
	if xor.Port != u.port() || !xor.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("mapped address %v:%d, want 127.0.0.1:%d", xor.IP, xor.Port, u.port())
	}
	// Then SIP goes on as usual on the same socket.
	u.send(request("OPTIONS", "z9hG4bK-after-ka", "after-ka@test", u.port()))
	s.waitType(events.TypeRequestReceived, 1)
	s.settle()
	c := s.edge.Counters()
	if c.Keepalives != 2 || c.STUN != 1 || c.Dropped != 0 || c.Published != 1 {
		t.Errorf("counters keepalives %d stun %d dropped %d published %d; want 2, 1, 0, 1", c.Keepalives, c.STUN, c.Dropped, c.Published)
	}
}
