package main

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/tm"
)

// ua is a scripted SIP user agent on a loopback UDP socket.
type ua struct {
	t    *testing.T
	conn *net.UDPConn
	addr string
}

func newUA(t *testing.T) *ua {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &ua{t: t, conn: c, addr: c.LocalAddr().String()}
}

func (u *ua) send(to string, raw string) {
	u.t.Helper()
	a, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		u.t.Fatal(err)
	}
	if _, err := u.conn.WriteToUDP([]byte(strings.ReplaceAll(raw, "\n", "\r\n")), a); err != nil {
		u.t.Fatal(err)
	}
}

func (u *ua) sendRaw(to string, raw []byte) {
	u.t.Helper()
	a, _ := net.ResolveUDPAddr("udp", to)
	if _, err := u.conn.WriteToUDP(raw, a); err != nil {
		u.t.Fatal(err)
	}
}

// recv returns the next message accepted by match within d (nil: none).
func (u *ua) recv(d time.Duration, match func(*sipmsg.Msg) bool) *sipmsg.Msg {
	deadline := time.Now().Add(d)
	buf := make([]byte, 65535)
	for {
		_ = u.conn.SetReadDeadline(deadline)
		n, _, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			return nil
		}
		m, err := sipmsg.Parse(append([]byte(nil), buf[:n]...), sipmsg.Datagram)
		if err != nil {
			continue
		}
		if match(m) {
			return m
		}
	}
}

func isResponse(code int, method string) func(*sipmsg.Msg) bool {
	return func(m *sipmsg.Msg) bool {
		cs, _ := m.CSeq()
		return !m.Request && m.StatusCode == code && cs.Method == method
	}
}

func isRequest(method string) func(*sipmsg.Msg) bool {
	return func(m *sipmsg.Msg) bool { return m.Request && m.Str(m.Method) == method }
}

// TestScaleOut runs two edges and two tm replicas as separate processes on
// one NATS and one Redis. An INVITE sent to edge A and its retransmission
// to edge B is forwarded once; the callee's responses go to edge B and are
// relayed; the tm replica that handled the INVITE is killed in the middle
// of the call and the other finishes it: ACK and BYE pass, and the call has
// exactly one terminal event.
func TestScaleOut(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	ns := testenv.NATS(t)
	natsURL := ns.ClientURL()
	pa, pb := testenv.FreePort(t, "udp"), testenv.FreePort(t, "udp")
	edgeA, edgeB := fmt.Sprintf("127.0.0.1:%d", pa), fmt.Sprintf("127.0.0.1:%d", pb)
	calls := watchCalls(t, natsURL)
	uac, uas := newUA(t), newUA(t)

	for _, e := range []struct{ id, addr string }{{"a", edgeA}, {"b", edgeB}} {
		p := start(t, "edge", "--id", e.id, "--udp", e.addr, "--tcp", e.addr, "--nats", natsURL, "--log-level", "warn")
		p.waitLine(t, "ready", 30*time.Second)
	}
	tmArgs := func(id string) []string {
		return []string{"tm", "--id", id, "--advertise", edgeA, "--aliases", edgeB, "--domains", "localhost",
			"--config", tmConfig(t, map[string][]string{"bob@localhost": {"sip:bob@" + uas.addr}}), "--nats", natsURL, "--redis", redisURL, "--log-level", "warn"}
	}
	tm1 := start(t, tmArgs("tm1")...)
	tm1.waitLine(t, "ready", 30*time.Second)

	invite := fmt.Sprintf(`INVITE sip:bob@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-scaleout-1;rport
From: "Alice" <sip:alice@localhost>;tag=alice1
To: <sip:bob@localhost>
Call-ID: scaleout-1@test
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, uac.addr, uac.addr)
	uac.send(edgeA, invite)
	if uac.recv(3*time.Second, isResponse(100, "INVITE")) == nil {
		t.Fatal("no 100 Trying from edge A")
	}
	uac.send(edgeB, invite) // the retransmission reaches the other edge
	if uac.recv(3*time.Second, isResponse(100, "INVITE")) == nil {
		t.Fatal("edge B did not answer the retransmission with the stored 100 Trying")
	}

	inv := uas.recv(5*time.Second, isRequest("INVITE"))
	if inv == nil {
		t.Fatal("the callee got no INVITE")
	}
	rr := inv.Value(sipmsg.HRecordRoute)
	if !strings.Contains(rr, edgeA) || !strings.Contains(rr, ";lr") {
		t.Fatalf("Record-Route %q: want <sip:%s;lr>", rr, edgeA)
	}
	ringing := sipmsg.Reply(inv, 180, "Ringing", sipmsg.ReplyOptions{ToTag: "bob1", Headers: []string{"Record-Route: " + rr, "Contact: <sip:bob@" + uas.addr + ">"}})
	uas.sendRaw(edgeB, ringing) // responses arrive at the other edge
	if uac.recv(5*time.Second, isResponse(180, "INVITE")) == nil {
		t.Fatal("the 180 sent to edge B was not relayed to the caller")
	}
	if dup := uas.recv(time.Second, isRequest("INVITE")); dup != nil {
		t.Fatal("the callee got the INVITE twice: the retransmission to edge B was forwarded")
	}

	// A second replica joins; the first dies in the middle of the call.
	tm2 := start(t, tmArgs("tm2")...)
	tm2.waitLine(t, "ready", 30*time.Second)
	if err := tm1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	ok := sipmsg.Reply(inv, 200, "OK", sipmsg.ReplyOptions{ToTag: "bob1", Headers: []string{"Record-Route: " + rr, "Contact: <sip:bob@" + uas.addr + ">"}})
	var answer *sipmsg.Msg
	for i := 0; i < 20 && answer == nil; i++ { // the UAS core retransmits its 2xx (RFC 3261 §13.3.1.4)
		uas.sendRaw(edgeB, ok)
		answer = uac.recv(time.Second, isResponse(200, "INVITE"))
	}
	if answer == nil {
		t.Fatal("the 200 was not relayed after the tm replica was killed")
	}
	route := answer.Value(sipmsg.HRecordRoute)
	ack := fmt.Sprintf(`ACK sip:bob@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-scaleout-ack;rport
Route: %s
From: "Alice" <sip:alice@localhost>;tag=alice1
To: <sip:bob@localhost>;tag=bob1
Call-ID: scaleout-1@test
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

`, uas.addr, uac.addr, route)
	uac.send(edgeA, ack)
	if uas.recv(10*time.Second, isRequest("ACK")) == nil {
		t.Fatal("the ACK did not reach the callee")
	}
	bye := fmt.Sprintf(`BYE sip:bob@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-scaleout-bye;rport
Route: %s
From: "Alice" <sip:alice@localhost>;tag=alice1
To: <sip:bob@localhost>;tag=bob1
Call-ID: scaleout-1@test
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

`, uas.addr, uac.addr, route)
	uac.send(edgeB, bye)
	b := uas.recv(10*time.Second, isRequest("BYE"))
	if b == nil {
		t.Fatal("the BYE did not reach the callee")
	}
	uas.sendRaw(edgeA, sipmsg.Reply(b, 200, "OK", sipmsg.ReplyOptions{}))
	if uac.recv(10*time.Second, isResponse(200, "BYE")) == nil {
		t.Fatal("the 200 to BYE was not relayed")
	}

	testenv.Eventually(t, 10*time.Second, func() bool {
		_, terms, _ := calls.terminals("scaleout-1@test")
		return terms["ended:caller"] == 1
	}, "no call.ended for the call")
	time.Sleep(500 * time.Millisecond) // a doubled terminal event would arrive now
	n, terms, _ := calls.terminals("scaleout-1@test")
	if n != 1 || len(terms) != 1 || terms["ended:caller"] != 1 {
		t.Errorf("terminal events %v; want exactly one call.ended by the caller", terms)
	}
	calls.mu.Lock()
	types := calls.byID["scaleout-1@test"]
	calls.mu.Unlock()
	want := []string{events.TypeCallStarted, events.TypeCallRinging, events.TypeCallAnswered, events.TypeCallEnded}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("call events %v, want %v", types, want)
	}
}

func callKeyOf(callID string) string { return sipmsg.CallKey(callID) }

func hasLine(raw []byte, line string) bool {
	return strings.Contains(string(raw), "\r\n"+line+"\r\n")
}

func replyTo(req *sipmsg.Msg, code int, reason string) []byte {
	return sipmsg.Reply(req, code, reason, sipmsg.ReplyOptions{ToTag: "callee1"})
}

// TestSplitRegistrar runs the edge, tm and the registrar as three
// processes on one NATS and one Redis: a REGISTER through the edge binds,
// `sipbus ul show` sees it, and tm (a process of its own, reading the
// location service in Redis) routes an INVITE to the registered contact.
func TestSplitRegistrar(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	ns := testenv.NATS(t)
	natsURL := ns.ClientURL()
	edgeAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	shared := []string{"--nats", natsURL, "--redis", redisURL, "--log-level", "warn"}
	for _, args := range [][]string{
		{"edge", "--id", "e1", "--udp", edgeAddr, "--tcp", edgeAddr},
		{"tm", "--id", "tm1", "--advertise", edgeAddr, "--domains", "localhost"},
		{"registrar", "--id", "reg1", "--domains", "localhost", "--auth", "off"},
	} {
		start(t, append(args, sharedFor(args[0], shared)...)...).waitLine(t, "ready", 30*time.Second)
	}
	bob, uac := newUA(t), newUA(t)
	register(bob, edgeAddr, "bob", "sip:bob@"+bob.addr, "")
	if bob.recv(5*time.Second, isResponse(200, "REGISTER")) == nil {
		t.Fatal("the REGISTER got no 200 from the registrar process")
	}
	if out := cli(t, natsURL, "ul", "show", "bob@localhost"); !strings.Contains(out, "sip:bob@"+bob.addr) {
		t.Errorf("ul show bob@localhost:\n%s", out)
	}
	uac.send(edgeAddr, fmt.Sprintf(`INVITE sip:bob@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-split-1;rport
From: <sip:alice@localhost>;tag=a1
To: <sip:bob@localhost>
Call-ID: split-1@test
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, uac.addr, uac.addr))
	inv := bob.recv(5*time.Second, isRequest("INVITE"))
	if inv == nil {
		t.Fatal("tm did not route the INVITE to bob's registered contact")
	}
	bob.sendRaw(edgeAddr, replyTo(inv, 486, "Busy Here"))
	if uac.recv(5*time.Second, isResponse(486, "INVITE")) == nil {
		t.Fatal("the 486 did not come back")
	}
}

// TestPartitionOwnerKilled: two tm replicas share the partitions of the
// call keys; the one that owns the partition of a call is killed between
// the 180 and the 200. The other takes the partition over (its lease ends,
// it reads the call's transaction from Redis): the callee's retransmitted
// 200 reaches the caller, ACK and BYE pass, and the log holds exactly one
// call.answered and one call.ended for the call.
func TestPartitionOwnerKilled(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	ns := testenv.NATS(t)
	natsURL := ns.ClientURL()
	edgeAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	uac, uas := newUA(t), newUA(t)
	start(t, "edge", "--id", "e1", "--udp", edgeAddr, "--tcp", edgeAddr, "--nats", natsURL, "--log-level", "warn").waitLine(t, "ready", 30*time.Second)
	tms := map[string]*proc{}
	for _, id := range []string{"tm-a", "tm-b"} {
		p := start(t, "tm", "--id", id, "--advertise", edgeAddr, "--domains", "localhost",
			"--config", tmConfig(t, map[string][]string{"bob@localhost": {"sip:bob@" + uas.addr}}), "--nats", natsURL, "--redis", redisURL,
			"--log-level", "info", "--log-format", "text")
		p.waitLine(t, "ready", 30*time.Second)
		tms[id] = p
	}
	// Both replicas see each other (a lease renewal later at most).
	testenv.Eventually(t, 10*time.Second, func() bool {
		for _, p := range tms {
			if !strings.Contains(p.stderrString(), "members=\"[tm-a tm-b]\"") && !strings.Contains(p.stderrString(), "members=[tm-a tm-b]") {
				return false
			}
		}
		return true
	}, "the two tm replicas did not see each other")

	callID := "owner-killed-1@test"
	owner := tm.Owner(sipmsg.CallKey(callID), []string{"tm-a", "tm-b"})
	calls := readCallEvents(t, natsURL, callID)

	uac.send(edgeAddr, fmt.Sprintf(`INVITE sip:bob@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-owner-1;rport
From: "Alice" <sip:alice@localhost>;tag=alice1
To: <sip:bob@localhost>
Call-ID: %s
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, uac.addr, callID, uac.addr))
	inv := uas.recv(5*time.Second, isRequest("INVITE"))
	if inv == nil {
		t.Fatal("the callee got no INVITE")
	}
	rr := inv.Value(sipmsg.HRecordRoute)
	hdrs := []string{"Record-Route: " + rr, "Contact: <sip:bob@" + uas.addr + ">"}
	uas.sendRaw(edgeAddr, sipmsg.Reply(inv, 180, "Ringing", sipmsg.ReplyOptions{ToTag: "bob1", Headers: hdrs}))
	if uac.recv(5*time.Second, isResponse(180, "INVITE")) == nil {
		t.Fatal("the 180 was not relayed")
	}
	if err := tms[owner].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ok := sipmsg.Reply(inv, 200, "OK", sipmsg.ReplyOptions{ToTag: "bob1", Headers: hdrs})
	var answer *sipmsg.Msg
	for i := 0; i < 20 && answer == nil; i++ { // the UAS core retransmits its 2xx (RFC 3261 §13.3.1.4)
		uas.sendRaw(edgeAddr, ok)
		answer = uac.recv(time.Second, isResponse(200, "INVITE"))
	}
	if answer == nil {
		t.Fatalf("the 200 was not relayed after the owner (%s) of the call's partition was killed", owner)
	}
	route := answer.Value(sipmsg.HRecordRoute)
	uac.send(edgeAddr, fmt.Sprintf(`ACK sip:bob@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-owner-ack;rport
Route: %s
From: "Alice" <sip:alice@localhost>;tag=alice1
To: <sip:bob@localhost>;tag=bob1
Call-ID: %s
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

`, uas.addr, uac.addr, route, callID))
	if uas.recv(10*time.Second, isRequest("ACK")) == nil {
		t.Fatal("the ACK did not reach the callee")
	}
	uac.send(edgeAddr, fmt.Sprintf(`BYE sip:bob@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-owner-bye;rport
Route: %s
From: "Alice" <sip:alice@localhost>;tag=alice1
To: <sip:bob@localhost>;tag=bob1
Call-ID: %s
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

`, uas.addr, uac.addr, route, callID))
	b := uas.recv(10*time.Second, isRequest("BYE"))
	if b == nil {
		t.Fatal("the BYE did not reach the callee")
	}
	uas.sendRaw(edgeAddr, sipmsg.Reply(b, 200, "OK", sipmsg.ReplyOptions{}))
	if uac.recv(10*time.Second, isResponse(200, "BYE")) == nil {
		t.Fatal("the 200 to BYE was not relayed")
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return calls.count(events.TypeCallEnded) >= 1 }, "no call.ended in the log")
	time.Sleep(time.Second) // a doubled event would be stored by now
	if a, e, m := calls.count(events.TypeCallAnswered), calls.count(events.TypeCallEnded), calls.count(events.TypeCallMissed); a != 1 || e != 1 || m != 0 {
		t.Errorf("the log holds %d call.answered, %d call.ended, %d call.missed; want exactly 1, 1, 0 (%s was killed)", a, e, m, owner)
	}
}

// streamCalls counts the call events of one call the stream stored (an
// ordered consumer: what the stream's dedupe dropped is not counted).
type streamCalls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *streamCalls) count(typ string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[typ]
}

func readCallEvents(t *testing.T, natsURL, callID string) *streamCalls {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx := testenv.Context(t, 2*time.Minute)
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	ck := sipmsg.CallKey(callID)
	cons, err := js.OrderedConsumer(ctx, bus.DefaultStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"call.*." + bus.Partition(ck)}})
	if err != nil {
		t.Fatal(err)
	}
	c := &streamCalls{n: map[string]int{}}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if bus.CallKeyOf(m.Headers()) != ck {
			return // another call of the partition
		}
		c.mu.Lock()
		c.n[m.Headers().Get(bus.HeaderType)]++
		c.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return c
}
