package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestUDPLoss: the first INVITE towards the callee and the first 200
// towards the caller are lost on the wire. tm's Timer A retransmits the
// INVITE; the callee's 2xx retransmission is relayed; the call completes
// and ends with one call.ended.
func TestUDPLoss(t *testing.T) {
	sipPort, natsPort := testenv.FreePort(t, "udp"), testenv.FreePort(t, "tcp")
	uac, uas := newUA(t), newUA(t)
	proxy := fmt.Sprintf("127.0.0.1:%d", sipPort)
	p := start(t, "up", "--sip", proxy, "--data", t.TempDir(), "--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort),
		"--log-level", "warn", "--static", "bob@localhost=sip:bob@"+uas.addr)
	p.waitLine(t, "ready", 30*time.Second)
	calls := watchCalls(t, fmt.Sprintf("nats://127.0.0.1:%d", natsPort))

	uac.send(proxy, fmt.Sprintf(`INVITE sip:bob@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-loss-1;rport
From: <sip:alice@localhost>;tag=alice1
To: <sip:bob@localhost>
Call-ID: loss-1@test
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, uac.addr, uac.addr))
	first := uas.recv(5*time.Second, isRequest("INVITE"))
	if first == nil {
		t.Fatal("the callee got no INVITE")
	}
	// Lost: the callee never sees it. tm retransmits after T1 (500ms).
	start := time.Now()
	inv := uas.recv(3*time.Second, isRequest("INVITE"))
	if inv == nil {
		t.Fatal("tm did not retransmit the INVITE (Timer A)")
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("retransmission after %v: want about T1 = 500ms", d)
	}
	if string(inv.Raw) != string(first.Raw) {
		t.Errorf("the retransmission differs from the first INVITE:\n%s\n---\n%s", first.Raw, inv.Raw)
	}
	rr := inv.Value(sipmsg.HRecordRoute)
	ok := sipmsg.Reply(inv, 200, "OK", sipmsg.ReplyOptions{ToTag: "bob1", Headers: []string{"Record-Route: " + rr, "Contact: <sip:bob@" + uas.addr + ">"}})
	viaOf := func(m *sipmsg.Msg) string { v, _ := m.TopVia(); return v.SentBy() }
	uas.sendRaw(viaOf(inv), ok)
	if uac.recv(3*time.Second, isResponse(200, "INVITE")) == nil {
		t.Fatal("the first 200 was not relayed")
	}
	// That 200 is lost: the caller sends no ACK; the callee retransmits.
	var answer *sipmsg.Msg
	for i := 0; i < 6 && answer == nil; i++ {
		uas.sendRaw(viaOf(inv), ok)
		answer = uac.recv(time.Second, isResponse(200, "INVITE"))
	}
	if answer == nil {
		t.Fatal("the retransmitted 200 was not relayed")
	}
	route := answer.Value(sipmsg.HRecordRoute)
	for _, req := range []string{"ACK", "BYE"} {
		cseq := "1 ACK"
		if req == "BYE" {
			cseq = "2 BYE"
		}
		uac.send(proxy, fmt.Sprintf(`%s sip:bob@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-loss-%s;rport
Route: %s
From: <sip:alice@localhost>;tag=alice1
To: <sip:bob@localhost>;tag=bob1
Call-ID: loss-1@test
CSeq: %s
Max-Forwards: 70
Content-Length: 0

`, req, uas.addr, uac.addr, strings.ToLower(req), route, cseq))
		m := uas.recv(5*time.Second, isRequest(req))
		if m == nil {
			t.Fatalf("the %s did not reach the callee", req)
		}
		if req == "BYE" {
			uas.sendRaw(viaOf(m), sipmsg.Reply(m, 200, "OK", sipmsg.ReplyOptions{}))
			if uac.recv(5*time.Second, isResponse(200, "BYE")) == nil {
				t.Fatal("the 200 to BYE was not relayed")
			}
		}
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, terms, _ := calls.terminals("loss-1@test")
		return terms["ended:caller"] == 1
	}, "no call.ended")
	if _, terms, _ := calls.terminals("loss-1@test"); len(terms) != 1 {
		t.Errorf("terminal events %v", terms)
	}
}
