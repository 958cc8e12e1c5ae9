package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipdns/dnstest"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/tmapi"
)

// TestUACSoftphone: `sipbus up`, a baresip registered as bob; `sipbus uac
// OPTIONS sip:bob@localhost` and `sipbus im sip:bob@localhost hello` are
// sent by tm to bob's registered contact and print bob's 200; an unknown
// user gets tm's 404 and a non-zero exit; bad input is refused naming the
// field (CLI exit 2; a raw command gets a JSON error with "field").
func TestUACSoftphone(t *testing.T) {
	s := startUp(t)
	log := watchBus(t, s.nats)
	cli(t, s.nats, "user", "add", "bob@localhost", "--password", "bob-secret")
	bob := startBaresip(t, "bob", readmeAccount(t, "bob", s.sip), "<sip:alice@localhost>")
	log.waitSIP(10*time.Second, "bob's 200 to REGISTER", func(s *events.SIP, m *sipmsg.Msg) bool {
		return sentTo(s, bob.sip) && m.StatusCode == 200 && cseqMethod(m) == "REGISTER"
	})

	out := cli(t, s.nats, "uac", "OPTIONS", "sip:bob@localhost")
	if !strings.Contains(out, "SIP/2.0 200 OK") {
		t.Errorf("sipbus uac OPTIONS printed %q, want bob's 200 OK", out)
	}
	log.waitSIP(5*time.Second, "the OPTIONS sent to bob's contact", func(s *events.SIP, m *sipmsg.Msg) bool {
		return sentTo(s, bob.sip) && m.Request && m.MethodID == sipmsg.OPTIONS
	})

	out = cli(t, s.nats, "im", "sip:bob@localhost", "hello", "-v")
	if !strings.Contains(out, "SIP/2.0 200") || !strings.Contains(out, "CSeq: 1 MESSAGE") {
		t.Errorf("sipbus im printed %q, want bob's 200 to MESSAGE in full (-v)", out)
	}
	msg := log.waitSIP(5*time.Second, "the MESSAGE sent to bob", func(s *events.SIP, m *sipmsg.Msg) bool {
		return sentTo(s, bob.sip) && m.Request && m.MethodID == sipmsg.MESSAGE
	})
	if got := msg.Str(msg.Body); got != "hello" || !strings.Contains(msg.Value(sipmsg.HContentType), "text/plain") {
		t.Errorf("MESSAGE body %q type %q, want hello as text/plain", got, msg.Value(sipmsg.HContentType))
	}

	stdout, stderr, code := cliExit(t, s.nats, "im", "sip:nobody@localhost", "hi")
	if code != 1 || !strings.Contains(stdout, "404") || !strings.Contains(stderr, "final response 404") {
		t.Errorf("im to an unknown user: exit %d, %q %q; want 1 and tm's 404", code, stdout, stderr)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"uac", "OPTIONS", "tel:+123"}, "request_uri"},
		{[]string{"uac", "OPTIONS", "sip:bob@localhost", "--header", "Via: SIP/2.0/UDP evil"}, "headers[0]: Via"},
		{[]string{"uac", "OPTIONS", "sip:bob@localhost", "--header", "no colon"}, "-header"},
		{[]string{"uac", "OPTIONS", "sip:bob@localhost", "--auth", "nopassword"}, "--auth"},
		{[]string{"uac", "OPTIONS"}, "METHOD URI"},
		{[]string{"uac", "OPTIONS", "sip:bob@localhost", "--body", "/nonexistent/file"}, "--body"},
	} {
		_, stderr, code := cliExit(t, s.nats, bad.args...)
		if code != 2 || !strings.Contains(stderr, bad.want) {
			t.Errorf("sipbus %s: exit %d, stderr %q; want 2 naming %q", strings.Join(bad.args, " "), code, stderr, bad.want)
		}
	}

	// A malformed command on the bus gets a JSON error naming the field.
	nc, err := nats.Connect(s.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, c := range []struct{ cmd, field string }{
		{`{"method":"OPTIONS","request_uri":"sip:bob@localhost","cseq":"one"}`, "cseq"},
		{`{"method":"OPTIONS","request_uri":"sip:bob@localhost","colour":"red"}`, "colour"},
		{`{"method":"OPTIONS","request_uri":"mailto:bob@localhost"}`, "request_uri"},
		{`{"method":"BYE","dialog_id":"0123456789abcdef-0123456789abcdef"}`, "dialog_id"},
	} {
		m, err := nc.Request(tmapi.SubjectUAC, []byte(c.cmd), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", c.cmd, err)
		}
		var r tmapi.Response
		if err := json.Unmarshal(m.Data, &r); err != nil || !r.Final || r.Error == "" || r.Field != c.field || (r.Status != 400 && r.Status != 404) {
			t.Errorf("%s: reply %s, want a final JSON error naming %q", c.cmd, m.Data, c.field)
		}
	}
}

// TestUACAuth: a next hop (SIPp) answers a MESSAGE 407; `sipbus im
// --auth` answers the challenge once (RFC 3261 §22.3: same Call-ID,
// CSeq + 1, Proxy-Authorization), the digest is right, and the 200 ends
// it. Without --auth the 407 is the final (exit 1).
func TestUACAuth(t *testing.T) {
	s := startUp(t)
	log := watchBus(t, s.nats)
	port := testenv.FreePort(t, "udp")
	hop := "sip:127.0.0.1:" + strconv.Itoa(port)
	sipp := runSIPp(t, "uas 407", "uas_407.xml", "-p", strconv.Itoa(port), "-m", "1")
	time.Sleep(300 * time.Millisecond) // SIPp binds its socket
	out := cli(t, s.nats, "im", "sip:carol@example.net", "hello carol", "--next-hop", hop, "--auth", "carol:carol-secret")
	sipp.wait(t, 20*time.Second)
	if !strings.Contains(out, "SIP/2.0 200 OK") || strings.Contains(out, "407") {
		t.Errorf("im --auth printed %q, want only the final 200 (the 407 is answered, not printed)", out)
	}
	var first, second *sipmsg.Msg
	first = log.waitSIP(5*time.Second, "the first MESSAGE", func(s *events.SIP, m *sipmsg.Msg) bool {
		return m.Request && m.MethodID == sipmsg.MESSAGE && s.Dest == "udp:127.0.0.1:"+strconv.Itoa(port) && m.Value(sipmsg.HProxyAuthorization) == ""
	})
	second = log.waitSIP(5*time.Second, "the MESSAGE with credentials", func(s *events.SIP, m *sipmsg.Msg) bool {
		return m.Request && m.MethodID == sipmsg.MESSAGE && m.Value(sipmsg.HProxyAuthorization) != ""
	})
	c1, _ := first.CSeq()
	c2, _ := second.CSeq()
	if second.CallID() != first.CallID() || c2.Seq != c1.Seq+1 {
		t.Errorf("retry: Call-ID %q CSeq %d after %q %d; want the same Call-ID and CSeq+1", second.CallID(), c2.Seq, first.CallID(), c1.Seq)
	}
	cr, err := digest.ParseCredentials(second.Value(sipmsg.HProxyAuthorization))
	if err != nil {
		t.Fatal(err)
	}
	// RFC 7616 §3.4.1, computed here independently of pkg/digest.
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	want := h(h("carol:sipp.test:carol-secret") + ":8f2a1c7e:" + cr.NC + ":" + cr.CNonce + ":auth:" + h("MESSAGE:"+cr.URI))
	if cr.Username != "carol" || cr.Realm != "sipp.test" || cr.URI != "sip:carol@example.net" || cr.QOP != "auth" || cr.Response != want {
		t.Errorf("credentials %+v, want carol's digest %s for sip:carol@example.net", cr, want)
	}

	// Without credentials the 407 is the answer.
	port2 := testenv.FreePort(t, "udp")
	sipp2 := runSIPp(t, "uas 407 no auth", "uas_407.xml", "-p", strconv.Itoa(port2), "-m", "1")
	time.Sleep(300 * time.Millisecond)
	stdout, stderr, code := cliExit(t, s.nats, "im", "sip:carol@example.net", "hi", "--next-hop", "sip:127.0.0.1:"+strconv.Itoa(port2))
	if code != 1 || !strings.Contains(stdout, "SIP/2.0 407") || !strings.Contains(stderr, "final response 407") {
		t.Errorf("im without --auth: exit %d %q %q; want 1 and the 407", code, stdout, stderr)
	}
	_ = sipp2.cmd.Process.Kill()
}

// TestUACDialogAcrossReplicas: an edge and two tm replicas as separate
// processes on one NATS and one Redis. A uac INVITE to a SIPp callee is
// answered (tm ACKs the 200); the replica that ran it is killed
// (SIGKILL); the other sends the BYE in the dialog from the record in
// Redis, and SIPp sees a clean call. Then a callee that hangs up: tm
// answers its BYE 200, tells the dialog's owner on
// app.<owner>.dialog.<id>, and the dialog is gone.
func TestUACDialogAcrossReplicas(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	ns := testenv.NATS(t)
	natsURL := ns.ClientURL()
	edgeAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	p := start(t, "edge", "--id", "e1", "--udp", edgeAddr, "--tcp", edgeAddr, "--nats", natsURL, "--log-level", "warn")
	p.waitLine(t, "ready", 30*time.Second)
	tms := map[string]*proc{}
	for _, id := range []string{"tm1", "tm2"} {
		tms[id] = start(t, "tm", "--id", id, "--advertise", edgeAddr, "--domains", "localhost", "--nats", natsURL, "--redis", redisURL, "--log-level", "warn")
		tms[id].waitLine(t, "ready", 30*time.Second)
	}
	log := watchBus(t, natsURL)
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &tmapi.Client{NC: nc}
	ctx := testenv.Context(t, 90*time.Second)

	port := testenv.FreePort(t, "udp")
	callee := runSIPp(t, "uas", "uas.xml", "-p", strconv.Itoa(port), "-m", "1")
	time.Sleep(300 * time.Millisecond)
	var prov []int
	r, err := c.UAC(ctx, &tmapi.UAC{Method: "INVITE", RequestURI: "sip:callee@127.0.0.1:" + strconv.Itoa(port), From: "sip:ctd@localhost",
		Body: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=sendonly\r\n", ContentType: "application/sdp",
		Owner: "test"}, func(r *tmapi.Response) { prov = append(prov, r.Status) })
	if err != nil || r.Status != 200 || r.DialogID == "" || !strings.HasPrefix(r.DialogID, sipmsg.CallKey(r.CallID)+"-") {
		t.Fatalf("INVITE: %+v %v; want 200 with a dialog id", r, err)
	}
	if len(prov) == 0 || prov[len(prov)-1] != 180 {
		t.Errorf("provisionals %v, want 180 streamed", prov)
	}
	invite := log.waitSIP(5*time.Second, "the INVITE sent", func(s *events.SIP, m *sipmsg.Msg) bool {
		return m.Request && m.MethodID == sipmsg.INVITE && m.CallID() == r.CallID && s.Type == events.TypeMessageSent
	})
	_ = invite
	var runner string
	log.waitSIP(5*time.Second, "the ACK tm sent for the 200", func(s *events.SIP, m *sipmsg.Msg) bool {
		if m.Request && m.MethodID == sipmsg.ACK && m.CallID() == r.CallID && s.Type == events.TypeMessageSent {
			runner = strings.TrimPrefix(s.Source, "sipbus/tm/")
			return true
		}
		return false
	})
	victim, ok := tms[runner]
	if !ok {
		t.Fatalf("the ACK came from %q, not a tm replica", runner)
	}
	_ = victim.cmd.Process.Signal(syscall.SIGKILL)
	for range victim.lines { // its stdout closes when it is gone
	}
	// The NATS server drops the dead replica's queue subscription when it
	// sees the connection close: wait until one tm answers a ping.
	testenv.Eventually(t, 10*time.Second, func() bool { return tmReplicas(nc) == 1 }, "one tm replica left after the SIGKILL")
	other := "tm1"
	if runner == "tm1" {
		other = "tm2"
	}
	bye, err := c.UAC(ctx, &tmapi.UAC{Method: "BYE", DialogID: r.DialogID}, nil)
	if err != nil || bye.Status != 200 || bye.DialogID != r.DialogID {
		t.Fatalf("BYE by the other replica: %+v %v", bye, err)
	}
	log.waitSIP(5*time.Second, "the BYE sent by "+other, func(s *events.SIP, m *sipmsg.Msg) bool {
		cs, _ := m.CSeq()
		return m.Request && m.MethodID == sipmsg.BYE && m.CallID() == r.CallID && s.Source == "sipbus/tm/"+other && cs.Seq == 2
	})
	callee.wait(t, 20*time.Second)
	if _, err := c.UAC(ctx, &tmapi.UAC{Method: "BYE", DialogID: r.DialogID}, nil); !isStatus(err, 404) {
		t.Errorf("a second BYE: %v, want 404 (the dialog ended with the first)", err)
	}

	// The callee hangs up: tm answers, the owner hears of it.
	dialogReqs := make(chan *nats.Msg, 4)
	sub, err := nc.ChanSubscribe(tmapi.DialogSubjects("test"), dialogReqs)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	port2 := testenv.FreePort(t, "udp")
	hangup := runSIPp(t, "uas_bye", "uas_bye.xml", "-p", strconv.Itoa(port2), "-m", "1")
	time.Sleep(300 * time.Millisecond)
	r2, err := c.UAC(ctx, &tmapi.UAC{Method: "INVITE", RequestURI: "sip:callee@127.0.0.1:" + strconv.Itoa(port2), Owner: "test"}, nil)
	if err != nil || r2.Status != 200 || r2.DialogID == "" {
		t.Fatalf("second INVITE: %+v %v", r2, err)
	}
	hangup.wait(t, 20*time.Second) // SIPp got 200 for its BYE
	select {
	case m := <-dialogReqs:
		s, err := events.DecodeSIP(m)
		if err != nil || m.Subject != tmapi.DialogSubject("test", r2.DialogID) || !strings.HasPrefix(string(s.Raw), "BYE ") || s.TxKey == "" {
			t.Errorf("owner got %s on %s (%v), want the BYE on %s", m.Data, m.Subject, err, tmapi.DialogSubject("test", r2.DialogID))
		}
	case <-time.After(5 * time.Second):
		t.Error("the owner was not told of the callee's BYE")
	}
	if _, err := c.UAC(ctx, &tmapi.UAC{Method: "BYE", DialogID: r2.DialogID}, nil); !isStatus(err, 404) {
		t.Errorf("BYE after the callee's: %v, want 404", err)
	}
}

func isStatus(err error, status int) bool {
	var e *tmapi.Error
	return errors.As(err, &e) && e.Status == status
}

// TestUACFork: a uac INVITE to an AOR of ours is forked to its contacts
// (static here, registered ones alike). One rings and is CANCELled when
// the other answers (RFC 3261 §9.1); two that both answer: the later 2xx
// is ACKed and BYEd (§13.2.2.4); a ringing INVITE whose command is
// cancelled ends with 487.
func TestUACFork(t *testing.T) {
	ports := map[string]int{}
	for _, n := range []string{"ans", "ring", "a1", "a2", "solo", "flow1"} {
		ports[n] = testenv.FreePort(t, "udp")
	}
	contact := func(n string) string { return fmt.Sprintf("sip:%s@127.0.0.1:%d", n, ports[n]) }
	s := startUp(t, "--static", "alice@localhost="+contact("ans")+","+contact("ring"),
		"--static", "bob@localhost="+contact("a1")+","+contact("a2"), "--static", "carol@localhost="+contact("solo"))
	nc, err := nats.Connect(s.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &tmapi.Client{NC: nc}
	ctx := testenv.Context(t, 90*time.Second)
	sipp := func(n, scenario string) *sipp {
		return runSIPp(t, n+" "+scenario, scenario, "-p", strconv.Itoa(ports[n]), "-m", "1")
	}

	// First 2xx wins; the ringing branch gets CANCEL.
	ans, ring := sipp("ans", "uas.xml"), sipp("ring", "uas_cancel.xml")
	time.Sleep(300 * time.Millisecond)
	r, err := c.UAC(ctx, &tmapi.UAC{Method: "INVITE", RequestURI: "sip:alice@localhost"}, nil)
	if err != nil || r.Status != 200 || r.Contact != contact("ans") || r.DialogID == "" {
		t.Fatalf("forked INVITE: %+v %v; want ans's 200", r, err)
	}
	ring.wait(t, 20*time.Second) // CANCEL, 487, ACK
	if bye, err := c.UAC(ctx, &tmapi.UAC{Method: "BYE", DialogID: r.DialogID}, nil); err != nil || bye.Status != 200 {
		t.Fatalf("BYE: %+v %v", bye, err)
	}
	ans.wait(t, 20*time.Second)

	// Both answer: one wins, the other is ACKed and BYEd by tm.
	a1, a2 := sipp("a1", "uas_200.xml"), sipp("a2", "uas_200.xml")
	time.Sleep(300 * time.Millisecond)
	r, err = c.UAC(ctx, &tmapi.UAC{Method: "INVITE", RequestURI: "sip:bob@localhost"}, nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("INVITE to two answering contacts: %+v %v", r, err)
	}
	if bye, err := c.UAC(ctx, &tmapi.UAC{Method: "BYE", DialogID: r.DialogID}, nil); err != nil || bye.Status != 200 {
		t.Fatalf("BYE: %+v %v", bye, err)
	}
	a1.wait(t, 20*time.Second)
	a2.wait(t, 20*time.Second)

	// The application cancels a ringing INVITE.
	solo := sipp("solo", "uas_cancel.xml")
	time.Sleep(300 * time.Millisecond)
	cctx, cancel := context.WithCancel(ctx)
	r, err = c.UAC(cctx, &tmapi.UAC{Method: "INVITE", RequestURI: "sip:carol@localhost"}, func(p *tmapi.Response) {
		if p.Status == 180 {
			cancel()
		}
	})
	cancel()
	if !errors.Is(err, context.Canceled) || r == nil || r.Status != 487 {
		t.Fatalf("cancelled INVITE: %+v %v; want the 487", r, err)
	}
	solo.wait(t, 20*time.Second)

	// RFC 3725 flow I: the application ACKs the 2xx itself, with the
	// answer, and the CLI sends the ACK and the BYE in the dialog.
	log := watchBus(t, s.nats)
	flow := sipp("flow1", "uas.xml")
	time.Sleep(300 * time.Millisecond)
	r, err = c.UAC(ctx, &tmapi.UAC{Method: "INVITE", RequestURI: contact("flow1"), ACK: tmapi.ACKByApp}, nil)
	if err != nil || r.Status != 200 || r.DialogID == "" {
		t.Fatalf("INVITE with ack app: %+v %v", r, err)
	}
	sdp := filepath.Join(t.TempDir(), "answer.sdp")
	if err := os.WriteFile(sdp, []byte("v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, s.nats, "uac", "ACK", "--dialog", r.DialogID, "--body", sdp, "--content-type", "application/sdp"); !strings.Contains(out, "200 ACK sent (tm)") {
		t.Errorf("uac ACK --dialog printed %q", out)
	}
	ack := log.waitSIP(5*time.Second, "the application's ACK", func(s *events.SIP, m *sipmsg.Msg) bool {
		return m.Request && m.MethodID == sipmsg.ACK && m.CallID() == r.CallID
	})
	if cs, _ := ack.CSeq(); cs.Seq != 1 || !strings.Contains(ack.Str(ack.Body), "m=audio 4000") {
		t.Errorf("ACK CSeq %d body %q; want the INVITE's CSeq and the answer", cs.Seq, ack.Str(ack.Body))
	}
	if out := cli(t, s.nats, "uac", "BYE", "--dialog", r.DialogID); !strings.Contains(out, "SIP/2.0 200 OK") {
		t.Errorf("uac BYE --dialog printed %q", out)
	}
	flow.wait(t, 20*time.Second)
}

// tmReplicas counts the tm replicas that answer a micro ping.
func tmReplicas(nc *nats.Conn) int {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return -1
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest("$SRV.PING."+tmapi.ServiceName, inbox, nil); err != nil {
		return -1
	}
	n := 0
	for {
		if _, err := sub.NextMsg(300 * time.Millisecond); err != nil {
			return n
		}
		n++
	}
}

// TestUACRefer: the click-to-dial path on the contract ctd builds on. A
// uac INVITE with an owner, a REFER in the dialog it created (202), the
// phone's two NOTIFYs (message/sipfrag 100, then 200) answered 200 by tm
// and delivered on app.<owner>.dialog.<id>, then the BYE.
func TestUACRefer(t *testing.T) {
	s := startUp(t)
	nc, err := nats.Connect(s.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &tmapi.Client{NC: nc}
	ctx := testenv.Context(t, 60*time.Second)
	notifies := make(chan *nats.Msg, 8)
	sub, err := nc.ChanSubscribe(tmapi.DialogSubjects("ctd"), notifies)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	port := testenv.FreePort(t, "udp")
	phone := runSIPp(t, "uas_refer", "uas_refer.xml", "-p", strconv.Itoa(port), "-m", "1")
	time.Sleep(300 * time.Millisecond)

	r, err := c.UAC(ctx, &tmapi.UAC{Method: "INVITE", RequestURI: fmt.Sprintf("sip:alice@127.0.0.1:%d", port), Owner: "ctd"}, nil)
	if err != nil || r.Status != 200 || r.DialogID == "" {
		t.Fatalf("INVITE: %+v %v", r, err)
	}
	refer, err := c.UAC(ctx, &tmapi.UAC{Method: "REFER", DialogID: r.DialogID, Headers: []string{"Refer-To: <sip:bob@localhost>"}}, nil)
	if err != nil || refer.Status != 202 || refer.DialogID != r.DialogID || refer.CSeq != 2 {
		t.Fatalf("REFER: %+v %v; want 202 in the dialog with CSeq 2", refer, err)
	}
	for _, want := range []string{"SIP/2.0 100 Trying", "SIP/2.0 200 OK"} {
		select {
		case m := <-notifies:
			ev, err := events.DecodeSIP(m)
			if err != nil {
				t.Fatal(err)
			}
			n, err := sipmsg.Parse(ev.Raw, sipmsg.Datagram)
			if err != nil || n.MethodID != sipmsg.NOTIFY || !strings.HasPrefix(n.Str(n.Body), want) || m.Subject != tmapi.DialogSubject("ctd", r.DialogID) {
				t.Errorf("owner got %q on %s (%v), want a NOTIFY with %q", ev.Raw, m.Subject, err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no NOTIFY with %q reached the owner", want)
		}
	}
	if bye, err := c.UAC(ctx, &tmapi.UAC{Method: "BYE", DialogID: r.DialogID}, nil); err != nil || bye.Status != 200 || bye.CSeq != 3 {
		t.Fatalf("BYE: %+v %v", bye, err)
	}
	phone.wait(t, 20*time.Second)
}

// TestUACTimersAndDNS: `sipbus up --t1 50ms --resolver` against a DNS
// server on loopback. A uac to a name is resolved (NAPTR, SRV, A: RFC
// 3263) and answered; a name that does not exist gets tm's 502 naming it;
// a silent peer gets the request retransmitted over UDP (Timer E, Timer A)
// until Timer F / Timer B (64*T1) ends it with 408.
func TestUACTimersAndDNS(t *testing.T) {
	peer, silent := newUA(t), newUA(t)
	_, peerPort, _ := strings.Cut(peer.addr, ":")
	srv := dnstest.Serve(t, "test", fmt.Sprintf(`
$TTL 300
@             IN SOA   ns.test. hostmaster.test. 1 60 60 60 30
pbx           IN NAPTR 10 10 "s" "SIP+D2U" "" _sip._udp.pbx.test.
_sip._udp.pbx IN SRV   10 0 %s a1.pbx.test.
a1.pbx        IN A     127.0.0.1
`, peerPort))
	s := startUp(t, "--t1", "50ms", "--resolver", srv.Addr)

	// The peer behind pbx.test answers the OPTIONS.
	answered := make(chan string, 1)
	go func() {
		m := peer.recv(10*time.Second, isRequest("OPTIONS"))
		if m == nil {
			answered <- "no OPTIONS reached the peer"
			return
		}
		v, _ := m.TopVia()
		peer.sendRaw(v.SentBy(), sipmsg.Reply(m, 200, "", sipmsg.ReplyOptions{ToTag: "peer1"}))
		answered <- ""
	}()
	out := cli(t, s.nats, "uac", "OPTIONS", "sip:bob@pbx.test")
	if msg := <-answered; msg != "" || !strings.Contains(out, "SIP/2.0 200 OK") {
		t.Errorf("OPTIONS to sip:bob@pbx.test: %s; printed %q", msg, out)
	}
	stdout, _, code := cliExit(t, s.nats, "uac", "OPTIONS", "sip:bob@missing.test")
	if code != 1 || !strings.Contains(stdout, "502 DNS: no such domain missing.test (tm)") {
		t.Errorf("OPTIONS to a name that does not exist: exit %d, %q", code, stdout)
	}

	// A silent peer: retransmissions, then 408 at 64*T1 = 3.2s.
	for _, method := range []string{"OPTIONS", "INVITE"} {
		start := time.Now()
		stdout, _, code := cliExit(t, s.nats, "uac", method, "sip:x@"+silent.addr)
		took := time.Since(start)
		if code != 1 || !strings.Contains(stdout, "408 Request Timeout (tm)") || took < 3*time.Second || took > 15*time.Second {
			t.Errorf("%s to a silent peer: exit %d after %v, %q; want tm's 408 after 64*T1", method, code, took, stdout)
		}
		n, branch := 0, ""
		for m := silent.recv(200*time.Millisecond, isRequest(method)); m != nil; m = silent.recv(200*time.Millisecond, isRequest(method)) {
			v, _ := m.TopVia()
			if branch == "" {
				branch = v.Branch
			}
			if v.Branch == branch {
				n++
			}
		}
		if n < 5 {
			t.Errorf("%s: the silent peer got %d copies, want the retransmissions of Timer %s (T1 50ms: 6 in 3.2s)", method, n, map[string]string{"OPTIONS": "E", "INVITE": "A"}[method])
		}
	}
}

// TestUACReinviteAckByApp: RFC 3725 flow I as ctd's fallback runs it. An
// INVITE without SDP whose 2xx the application ACKs, then a re-INVITE in
// the dialog, also ACKed by the application: each ACK carries the CSeq of
// its INVITE (1, then 2) and the body given; the BYE takes CSeq 3.
func TestUACReinviteAckByApp(t *testing.T) {
	s := startUp(t)
	log := watchBus(t, s.nats)
	nc, err := nats.Connect(s.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &tmapi.Client{NC: nc}
	ctx := testenv.Context(t, 60*time.Second)
	port := testenv.FreePort(t, "udp")
	callee := runSIPp(t, "uas_reinvite", "uas_reinvite.xml", "-p", strconv.Itoa(port), "-m", "1")
	time.Sleep(300 * time.Millisecond)
	const answer = "v=0\r\no=- 3 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n"

	r, err := c.UAC(ctx, &tmapi.UAC{Method: "INVITE", RequestURI: fmt.Sprintf("sip:b@127.0.0.1:%d", port), ACK: tmapi.ACKByApp}, nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("INVITE: %+v %v", r, err)
	}
	for i, step := range []struct {
		method string
		cseq   uint32
	}{{"ACK", 1}, {"INVITE", 2}, {"ACK", 2}, {"BYE", 3}} {
		req := &tmapi.UAC{Method: step.method, DialogID: r.DialogID}
		switch step.method {
		case "ACK":
			req.Body, req.ContentType = answer, "application/sdp"
		case "INVITE":
			req.ACK = tmapi.ACKByApp
		}
		got, err := c.UAC(ctx, req, nil)
		if err != nil || got.Status != 200 {
			t.Fatalf("step %d %s: %+v %v", i, step.method, got, err)
		}
		sent := log.waitSIP(5*time.Second, fmt.Sprintf("%s with CSeq %d", step.method, step.cseq), func(s *events.SIP, m *sipmsg.Msg) bool {
			cs, _ := m.CSeq()
			return m.Request && m.Str(m.Method) == step.method && m.CallID() == r.CallID && cs.Seq == step.cseq
		})
		if step.method == "ACK" && sent.Str(sent.Body) != answer {
			t.Errorf("ACK %d carries %q, want the application's answer", step.cseq, sent.Str(sent.Body))
		}
	}
	callee.wait(t, 20*time.Second)
}
