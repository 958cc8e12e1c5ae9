package main

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// tcpUA is a SIP user agent on one TCP connection, as a phone behind NAT
// keeps it: everything it receives comes over that connection.
type tcpUA struct {
	t    *testing.T
	conn net.Conn
	in   chan *sipmsg.Msg
}

func dialTCPUA(t *testing.T, to string) *tcpUA {
	t.Helper()
	c, err := net.DialTimeout("tcp", to, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	u := &tcpUA{t: t, conn: c, in: make(chan *sipmsg.Msg, 64)}
	t.Cleanup(func() { _ = c.Close() })
	go u.read()
	return u
}

func (u *tcpUA) read() {
	defer close(u.in)
	var fr sipmsg.Framer
	buf, tmp := []byte(nil), make([]byte, 32<<10)
	for {
		n, err := u.conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			skip, size, ferr := fr.Next(buf)
			if ferr != nil || size == 0 {
				if ferr == nil && skip > 0 {
					buf = buf[skip:]
				}
				break
			}
			if m, err := sipmsg.Parse(append([]byte(nil), buf[skip:skip+size]...), sipmsg.Stream); err == nil {
				u.in <- m
			}
			buf = buf[skip+size:]
		}
		if err != nil {
			return
		}
	}
}

func (u *tcpUA) send(raw string) {
	u.t.Helper()
	if _, err := u.conn.Write([]byte(strings.ReplaceAll(raw, "\n", "\r\n"))); err != nil {
		u.t.Fatal(err)
	}
}

func (u *tcpUA) sendRaw(raw []byte) {
	u.t.Helper()
	if _, err := u.conn.Write(raw); err != nil {
		u.t.Fatal(err)
	}
}

// recv returns the next message accepted by match within d (nil: none).
func (u *tcpUA) recv(d time.Duration, match func(*sipmsg.Msg) bool) *sipmsg.Msg {
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-u.in:
			if !ok {
				return nil
			}
			if match(m) {
				return m
			}
		case <-timeout:
			return nil
		}
	}
}

// TestNATFlowAcrossEdges: a phone registers over TCP through edge A with
// a Contact nobody can reach (a closed port, as a private address behind a
// NAT would be); a caller's INVITE enters at edge B. Edge processes, tm and
// the registrar are separate processes on one NATS and one Redis. The
// phone gets the INVITE over its own connection at edge A; it answers, and
// the caller's ACK and BYE, which enter at edge B and name the phone's
// unreachable Contact, reach it over the same connection; the call ends
// with one call.ended. Then the phone calls a UDP callee over its
// connection, and the callee's BYE, entering at edge B, reaches it too.
func TestNATFlowAcrossEdges(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	ns := testenv.NATS(t)
	natsURL := ns.ClientURL()
	edgeA := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	edgeB := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	unreachable := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp")) // nothing listens there
	shared := []string{"--nats", natsURL, "--redis", redisURL, "--log-level", "warn"}
	for _, args := range [][]string{
		{"edge", "--id", "a", "--udp", edgeA, "--tcp", edgeA},
		{"edge", "--id", "b", "--udp", edgeB, "--tcp", edgeB},
		{"tm", "--id", "tm1", "--advertise", edgeA, "--aliases", edgeB, "--domains", "localhost"},
		{"registrar", "--id", "reg1", "--domains", "localhost", "--auth", "off"},
	} {
		start(t, append(args, sharedFor(args[0], shared)...)...).waitLine(t, "ready", 30*time.Second)
	}
	calls := watchCalls(t, natsURL)

	phone := dialTCPUA(t, edgeA)
	contact := "<sip:bob@" + unreachable + ";transport=tcp>"
	phone.send(fmt.Sprintf(`REGISTER sip:localhost SIP/2.0
Via: SIP/2.0/TCP %s;branch=z9hG4bK-nat-reg;rport
From: <sip:bob@localhost>;tag=nat-r
To: <sip:bob@localhost>
Call-ID: nat-reg@test
CSeq: 1 REGISTER
Contact: %s
Expires: 600
Max-Forwards: 70
Content-Length: 0

`, unreachable, contact))
	if phone.recv(5*time.Second, isResponse(200, "REGISTER")) == nil {
		t.Fatal("the REGISTER over TCP got no 200 on its connection")
	}
	if out := cli(t, natsURL, "ul", "show", "bob@localhost"); !strings.Contains(out, unreachable) {
		t.Fatalf("ul show bob@localhost:\n%s", out)
	}

	caller := newUA(t)
	callID := "nat-flow-1@test"
	caller.send(edgeB, fmt.Sprintf(`INVITE sip:bob@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-nat-inv;rport
From: <sip:alice@localhost>;tag=alice1
To: <sip:bob@localhost>
Call-ID: %s
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, caller.addr, callID, caller.addr))
	inv := phone.recv(5*time.Second, isRequest("INVITE"))
	if inv == nil {
		t.Fatal("the phone got no INVITE over its connection at edge A")
	}
	if v, _ := inv.TopVia(); v.Transport != "TCP" {
		t.Errorf("top Via %s/%s: want TCP", v.Transport, v.SentBy())
	}
	rr := inv.Value(sipmsg.HRecordRoute)
	hdrs := []string{"Record-Route: " + rr, "Contact: " + contact}
	phone.sendRaw(sipmsg.Reply(inv, 180, "Ringing", sipmsg.ReplyOptions{ToTag: "bob1", Headers: hdrs}))
	if caller.recv(5*time.Second, isResponse(180, "INVITE")) == nil {
		t.Fatal("the 180 did not reach the caller")
	}
	phone.sendRaw(sipmsg.Reply(inv, 200, "OK", sipmsg.ReplyOptions{ToTag: "bob1", Headers: hdrs}))
	answer := caller.recv(5*time.Second, isResponse(200, "INVITE"))
	if answer == nil {
		t.Fatal("the 200 did not reach the caller")
	}
	route := answer.Value(sipmsg.HRecordRoute)
	inDialog := func(method, cseq string) string {
		return fmt.Sprintf(`%s sip:bob@%s;transport=tcp SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-nat-%s;rport
Route: %s
From: <sip:alice@localhost>;tag=alice1
To: <sip:bob@localhost>;tag=bob1
Call-ID: %s
CSeq: %s
Max-Forwards: 70
Content-Length: 0

`, method, unreachable, caller.addr, strings.ToLower(method), route, callID, cseq)
	}
	caller.send(edgeB, inDialog("ACK", "1 ACK"))
	if phone.recv(5*time.Second, isRequest("ACK")) == nil {
		t.Fatal("the ACK (Request-URI: the unreachable Contact) did not reach the phone over its connection")
	}
	caller.send(edgeB, inDialog("BYE", "2 BYE"))
	bye := phone.recv(5*time.Second, isRequest("BYE"))
	if bye == nil {
		t.Fatal("the BYE did not reach the phone over its connection")
	}
	phone.sendRaw(sipmsg.Reply(bye, 200, "OK", sipmsg.ReplyOptions{}))
	if caller.recv(5*time.Second, isResponse(200, "BYE")) == nil {
		t.Fatal("the 200 to BYE did not reach the caller")
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, terms, _ := calls.terminals(callID)
		return terms["ended:caller"] == 1
	}, "no call.ended for the call")

	// The phone calls out over its connection; the callee (UDP) hangs up
	// through edge B, its BYE naming the phone's unreachable Contact.
	carol := newUA(t)
	register(carol, edgeB, "carol", "sip:carol@"+carol.addr, "")
	if carol.recv(5*time.Second, isResponse(200, "REGISTER")) == nil {
		t.Fatal("carol's REGISTER got no 200")
	}
	callID2 := "nat-flow-2@test"
	phone.send(fmt.Sprintf(`INVITE sip:carol@localhost SIP/2.0
Via: SIP/2.0/TCP %s;branch=z9hG4bK-nat-out;rport
From: <sip:bob@localhost>;tag=bob2
To: <sip:carol@localhost>
Call-ID: %s
CSeq: 1 INVITE
Contact: %s
Max-Forwards: 70
Content-Length: 0

`, unreachable, callID2, contact))
	inv2 := carol.recv(5*time.Second, isRequest("INVITE"))
	if inv2 == nil {
		t.Fatal("carol got no INVITE from the phone")
	}
	rr2 := inv2.Value(sipmsg.HRecordRoute)
	carol.sendRaw(edgeB, sipmsg.Reply(inv2, 200, "OK", sipmsg.ReplyOptions{ToTag: "carol2",
		Headers: []string{"Record-Route: " + rr2, "Contact: <sip:carol@" + carol.addr + ">"}}))
	ok2 := phone.recv(5*time.Second, isResponse(200, "INVITE"))
	if ok2 == nil {
		t.Fatal("the phone got no 200 over its connection")
	}
	phone.send(fmt.Sprintf(`ACK sip:carol@%s SIP/2.0
Via: SIP/2.0/TCP %s;branch=z9hG4bK-nat-out-ack;rport
Route: %s
From: <sip:bob@localhost>;tag=bob2
To: <sip:carol@localhost>;tag=carol2
Call-ID: %s
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

`, carol.addr, unreachable, ok2.Value(sipmsg.HRecordRoute), callID2))
	if carol.recv(5*time.Second, isRequest("ACK")) == nil {
		t.Fatal("carol got no ACK")
	}
	carol.send(edgeB, fmt.Sprintf(`BYE sip:bob@%s;transport=tcp SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-nat-carol-bye;rport
Route: %s
From: <sip:carol@localhost>;tag=carol2
To: <sip:bob@localhost>;tag=bob2
Call-ID: %s
CSeq: 1 BYE
Max-Forwards: 70
Content-Length: 0

`, unreachable, carol.addr, rr2, callID2))
	bye2 := phone.recv(5*time.Second, isRequest("BYE"))
	if bye2 == nil {
		t.Fatal("carol's BYE did not reach the phone over its connection")
	}
	phone.sendRaw(sipmsg.Reply(bye2, 200, "OK", sipmsg.ReplyOptions{}))
	if carol.recv(5*time.Second, isResponse(200, "BYE")) == nil {
		t.Fatal("the phone's 200 to BYE did not reach carol")
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, terms, _ := calls.terminals(callID2)
		return terms["ended:callee"] == 1
	}, "no call.ended by the callee for the phone's call")
}
