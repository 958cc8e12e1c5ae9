package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestForking: bob has two contacts at q=1 and one at q=0.5. The INVITE
// goes to both q=1 contacts at once (parallel); when both fail it goes to
// the q=0.5 contact (serial). Each non-2xx is ACKed hop by hop. In a second
// call, a 2xx on one parallel branch CANCELs the other; in a third, every
// branch fails and the best response (RFC 3261 §16.7: the lowest class,
// 503 never) goes upstream.
func TestForking(t *testing.T) {
	sipPort, natsPort := testenv.FreePort(t, "udp"), testenv.FreePort(t, "tcp")
	uac, a, b, c := newUA(t), newUA(t), newUA(t), newUA(t)
	proxy := fmt.Sprintf("127.0.0.1:%d", sipPort)
	p := start(t, "up", "--sip", proxy, "--data", t.TempDir(), "--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort),
		"--log-level", "warn",
		"--static", "bob@localhost=sip:bob@"+a.addr+",sip:bob@"+b.addr+",<sip:bob@"+c.addr+">;q=0.5")
	p.waitLine(t, "ready", 30*time.Second)

	invite := func(n int) {
		uac.send(proxy, fmt.Sprintf(`INVITE sip:bob@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-fork-%d;rport
From: <sip:alice@localhost>;tag=f%d
To: <sip:bob@localhost>
Call-ID: fork-%d@test
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, uac.addr, n, n, n, uac.addr))
	}
	must := func(t *testing.T, u *ua, what string, match func(*sipmsg.Msg) bool) *sipmsg.Msg {
		t.Helper()
		m := u.recv(5*time.Second, match)
		if m == nil {
			t.Fatalf("%s: not received; sipbus stderr:\n%s", what, p.stderr.String())
		}
		return m
	}
	answer := func(u *ua, req *sipmsg.Msg, code int) {
		v, _ := req.TopVia()
		raw := sipmsg.Reply(req, code, "", sipmsg.ReplyOptions{ToTag: fmt.Sprintf("t%d", code), Headers: []string{"Contact: <sip:bob@" + u.addr + ">"}})
		u.sendRaw(v.SentBy(), raw)
	}
	noINVITE := func(t *testing.T, u *ua, what string, d time.Duration) {
		t.Helper()
		if m := u.recv(d, isRequest("INVITE")); m != nil {
			t.Fatalf("%s got an INVITE it should not", what)
		}
	}

	t.Run("parallel then serial", func(t *testing.T) {
		invite(1)
		ia := must(t, a, "INVITE at a (q=1)", isRequest("INVITE"))
		ib := must(t, b, "INVITE at b (q=1)", isRequest("INVITE"))
		noINVITE(t, c, "c (q=0.5) before a and b failed", 300*time.Millisecond)
		answer(a, ia, 486)
		must(t, a, "ACK for a's 486", isRequest("ACK"))
		answer(b, ib, 480)
		must(t, b, "ACK for b's 480", isRequest("ACK"))
		ic := must(t, c, "INVITE at c after the q=1 group failed", isRequest("INVITE"))
		answer(c, ic, 200)
		if m := must(t, uac, "200 from c", isResponse(200, "INVITE")); m.Value(sipmsg.HContact) != "<sip:bob@"+c.addr+">" {
			t.Errorf("200 Contact %q", m.Value(sipmsg.HContact))
		}
		if m := uac.recv(500*time.Millisecond, func(m *sipmsg.Msg) bool { return !m.Request && m.StatusCode >= 300 }); m != nil {
			t.Errorf("a failure reached the caller: %d", m.StatusCode)
		}
	})
	t.Run("2xx cancels the other branch", func(t *testing.T) {
		invite(2)
		ia := must(t, a, "INVITE at a", isRequest("INVITE"))
		ib := must(t, b, "INVITE at b", isRequest("INVITE"))
		answer(a, ia, 180)
		must(t, uac, "180 from a", isResponse(180, "INVITE"))
		answer(b, ib, 200)
		must(t, uac, "200 from b", isResponse(200, "INVITE"))
		cancel := must(t, a, "CANCEL at a", isRequest("CANCEL"))
		if v, _ := cancel.TopVia(); v.Branch != mustVia(ia).Branch {
			t.Errorf("CANCEL branch %q, INVITE branch %q", v.Branch, mustVia(ia).Branch)
		}
		answer(a, cancel, 200)
		answer(a, ia, 487)
		must(t, a, "ACK for a's 487", isRequest("ACK"))
		noINVITE(t, c, "c (the call was answered)", 300*time.Millisecond)
		if m := uac.recv(500*time.Millisecond, isResponse(487, "INVITE")); m != nil {
			t.Error("the cancelled branch's 487 reached the caller")
		}
	})
	t.Run("best response", func(t *testing.T) {
		invite(3)
		ia := must(t, a, "INVITE at a", isRequest("INVITE"))
		ib := must(t, b, "INVITE at b", isRequest("INVITE"))
		answer(a, ia, 503)
		answer(b, ib, 486)
		ic := must(t, c, "INVITE at c", isRequest("INVITE"))
		answer(c, ic, 404)
		m := must(t, uac, "final response", func(m *sipmsg.Msg) bool { return !m.Request && m.StatusCode >= 300 })
		if m.StatusCode != 486 && m.StatusCode != 404 {
			t.Errorf("best response %d, want a 4xx (486 or 404), never 503", m.StatusCode)
		}
	})
}

func mustVia(m *sipmsg.Msg) sipmsg.Via { v, _ := m.TopVia(); return v }
