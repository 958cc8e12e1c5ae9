package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	natsjs "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/edge"
)

// stack is one edge on real NATS JetStream, with every event it emits
// collected, schema-validated and decoded by the CloudEvents SDK as it
// arrives, and a publisher for the messages a service asks the edges to
// send.
type stack struct {
	t    *testing.T
	edge *edge.Edge
	nc   *nats.Conn
	js   jetstream.JetStream
	send *edgeapi.Sender

	mu     sync.Mutex
	events []*events.SIP
	logs   *lockedBuffer // what the edge logged
}

type stackOptions struct {
	cfg edge.Config
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ns := testenv.NATS(t)
	nc, js := testenv.Connect(t, ns.ClientURL())
	ctx := testenv.Context(t, 60*time.Second)
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{Memory: true}); err != nil {
		t.Fatalf("stream: %v", err)
	}
	cfg := o.cfg
	if cfg.ID == "" {
		cfg.ID = "e1"
	}
	if cfg.Drain == 0 {
		cfg.Drain = 100 * time.Millisecond // stop at once: the drain has tests of its own
	}
	if cfg.UDP == "" {
		cfg.UDP, cfg.TCP = "127.0.0.1:0", "127.0.0.1:0"
	}
	logs := new(lockedBuffer)
	log := slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := edge.New(cfg, edge.Deps{NC: nc, JS: js, Log: log})
	if err != nil {
		t.Fatalf("edge: %v", err)
	}
	s := &stack{t: t, edge: e, nc: nc, js: js, logs: logs,
		send: edgeapi.NewSender(bus.NewPublisher(js, "sipbus/test/app", bus.PublisherOptions{}), "sipbus/test/app")}
	s.collect(ctx)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	// The stats endpoint (and the subscriptions before it) are up once Run has started.
	testenv.Eventually(t, 5*time.Second, func() bool {
		_, err := nc.Request(edgeapi.EdgeStatsSubject(cfg.ID), nil, 200*time.Millisecond)
		return err == nil
	}, "edge %s stats endpoint did not come up", cfg.ID)
	return s
}

// collect reads every SIP event of the stream with an ordered consumer.
func (s *stack) collect(ctx context.Context) {
	cons, err := s.js.OrderedConsumer(ctx, bus.DefaultStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"sip.>"}})
	if err != nil {
		s.t.Fatalf("consumer: %v", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		nm := &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
		ev, err := events.DecodeSIP(nm)
		if err != nil {
			if !strings.Contains(m.Subject(), ".out.") { // what a test published for the edge may be junk on purpose
				s.t.Errorf("event on %s does not decode: %v", m.Subject(), err)
			}
			return
		}
		if err := events.ValidateSIP(ev); err != nil {
			s.t.Errorf("event %s on %s does not validate against its schema: %v", ev.Type, m.Subject(), err)
		}
		ce, err := binding.ToEvent(context.Background(), natsjs.NewMessage(nm))
		switch {
		case err != nil:
			s.t.Errorf("CloudEvents SDK cannot decode event on %s: %v", m.Subject(), err)
		case ce.ID() != ev.ID || ce.Type() != ev.Type || ce.Source() != ev.Source || !bytes.Equal(ce.Data(), ev.Raw) ||
			ce.DataContentType() != events.ContentTypeSIP:
			s.t.Errorf("CloudEvents SDK reads %s/%s/%s/%s, sipbus wrote %s/%s/%s", ce.ID(), ce.Type(), ce.Source(), ce.DataContentType(), ev.ID, ev.Type, ev.Source)
		}
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
	})
	if err != nil {
		s.t.Fatalf("consume: %v", err)
	}
	s.t.Cleanup(cc.Stop)
}

// ofType returns the collected events of type typ.
func (s *stack) ofType(typ string) []*events.SIP {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*events.SIP
	for _, ev := range s.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func (s *stack) waitType(typ string, n int) []*events.SIP {
	s.t.Helper()
	testenv.Eventually(s.t, 5*time.Second, func() bool { return len(s.ofType(typ)) >= n },
		"want %d %s events", n, typ)
	return s.ofType(typ)
}

// settle waits until no new event arrived for a while, so a test can assert
// that something was NOT published.
func (s *stack) settle() {
	last := -1
	for i := 0; i < 100; i++ {
		s.mu.Lock()
		n := len(s.events)
		s.mu.Unlock()
		if n == last {
			return
		}
		last = n
		time.Sleep(150 * time.Millisecond)
	}
}

// answer plays a service: it asks the edges to send raw as the response to
// the request event ev (its server transaction, back where it came from),
// from edge (bus.AnyEdge: any).
func (s *stack) answer(ev *events.SIP, raw []byte, edgeID string) {
	s.t.Helper()
	req, err := sipmsg.Parse(ev.Raw, framing(ev.Transport))
	if err != nil {
		s.t.Fatal(err)
	}
	key, err := sipmsg.ServerTxKey(req)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.send.Send(testenv.Context(s.t, 5*time.Second), &edgeapi.Message{
		Raw: raw, Dest: edgeapi.ReplyDest(req, ev.Transport, ev.Remote, ev.Flow), Edge: edgeID, TxKey: key, CallKey: ev.CallKey,
	}); err != nil {
		s.t.Fatalf("send: %v", err)
	}
}

func framing(transport string) sipmsg.Framing { return sipmsg.FramingOf(transport) }

// uac is a UDP SIP peer on loopback.
type uac struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
}

func newUAC(t *testing.T, s *stack) *uac {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &uac{t: t, conn: c, to: net.UDPAddrFromAddrPort(s.edge.UDPAddr())}
}

func (u *uac) port() int { return u.conn.LocalAddr().(*net.UDPAddr).Port }

func (u *uac) send(msg string) {
	u.t.Helper()
	if _, err := u.conn.WriteToUDP([]byte(msg), u.to); err != nil {
		u.t.Fatal(err)
	}
}

// recv returns the next datagram, or "" after d.
func (u *uac) recv(d time.Duration) string {
	buf := make([]byte, 65536)
	_ = u.conn.SetReadDeadline(time.Now().Add(d))
	n, _, err := u.conn.ReadFromUDP(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func (u *uac) mustRecv(what string) *sipmsg.Msg {
	u.t.Helper()
	raw := u.recv(3 * time.Second)
	if raw == "" {
		u.t.Fatalf("no %s received", what)
	}
	m, err := sipmsg.Parse([]byte(raw), sipmsg.Datagram)
	if err != nil {
		u.t.Fatalf("%s does not parse: %v\n%s", what, err, raw)
	}
	return m
}

func request(method, branch, callID string, port int, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:bob@example.com SIP/2.0\r\n", method)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n", port, branch)
	b.WriteString("Max-Forwards: 70\r\n")
	b.WriteString("From: <sip:alice@example.com>;tag=a1\r\n")
	b.WriteString("To: <sip:bob@example.com>\r\n")
	if callID != "" {
		fmt.Fprintf(&b, "Call-ID: %s\r\n", callID)
	}
	fmt.Fprintf(&b, "CSeq: 1 %s\r\n", method)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

// A retransmission the edge has seen is absorbed: counted, not published;
// the first is published with what the edge knows of it.
func TestRetransmittedOPTIONSPublishedOnce(t *testing.T) {
	s := newStack(t, stackOptions{})
	u := newUAC(t, s)
	msg := request("OPTIONS", "z9hG4bK-opt-1", "opt-1@test", u.port())
	u.send(msg)
	s.waitType(events.TypeRequestReceived, 1)
	u.send(msg)
	testenv.Eventually(t, 3*time.Second, func() bool { return s.edge.Counters().Absorbed == 1 }, "retransmission not absorbed: %+v", s.edge.Counters())
	s.settle()
	reqs := s.ofType(events.TypeRequestReceived)
	if len(reqs) != 1 {
		t.Fatalf("request events = %d, want exactly 1", len(reqs))
	}
	ev := reqs[0]
	ck := sipmsg.CallKey("opt-1@test")
	if string(ev.Raw) != msg || ev.Transport != "udp" || ev.Edge != "e1" || ev.CallKey != ck || ev.Source != "sipbus/edge/e1" ||
		ev.Remote != fmt.Sprintf("127.0.0.1:%d", u.port()) || ev.Local != s.edge.UDPAddr().String() || ev.Time.IsZero() {
		t.Fatalf("request event = %+v", ev)
	}
	if want := bus.SubjectRequestIn("OPTIONS", ck); ev.NATSSubject != want {
		t.Fatalf("subject %s, want %s", ev.NATSSubject, want)
	}
	c := s.edge.Counters()
	if c.Received != 2 || c.Absorbed != 1 || c.Published != 1 || c.Transactions != 1 {
		t.Fatalf("counters %+v: want received 2, absorbed 1, published 1, 1 transaction", c)
	}
}

// A request left unanswered longer than republish is handed to the bus
// again when it is retransmitted: the replica that had it may be gone.
func TestUnansweredRetransmissionIsRepublished(t *testing.T) {
	s := newStack(t, stackOptions{cfg: edge.Config{Republish: 200 * time.Millisecond}})
	u := newUAC(t, s)
	msg := request("OPTIONS", "z9hG4bK-rep-1", "rep-1@test", u.port())
	u.send(msg)
	s.waitType(events.TypeRequestReceived, 1)
	u.send(msg) // at once: absorbed
	time.Sleep(300 * time.Millisecond)
	u.send(msg) // after republish: published again
	s.waitType(events.TypeRequestReceived, 2)
	if c := s.edge.Counters(); c.Absorbed != 1 || c.Republished != 1 {
		t.Fatalf("counters %+v: want 1 absorbed, 1 republished", c)
	}
}

func TestMissingCallIDGets400NamingCallID(t *testing.T) {
	s := newStack(t, stackOptions{})
	u := newUAC(t, s)
	u.send(request("OPTIONS", "z9hG4bK-nocid", "", u.port()))
	r := u.mustRecv("reply")
	if r.StatusCode != 400 || !strings.Contains(r.Str(r.Reason), "Call-ID") {
		t.Fatalf("got %d %q, want 400 naming Call-ID", r.StatusCode, r.Str(r.Reason))
	}
	to, err := r.To()
	if err != nil || to.Tag() == "" {
		t.Fatalf("stateless reply needs a to-tag: %v %+v", err, to)
	}
	v, err := r.TopVia()
	if err != nil || v.RPort != u.port() || v.Received != "127.0.0.1" {
		t.Fatalf("top Via of reply %+v (%v): want rport=%d and received=127.0.0.1 (RFC 3581)", v, err, u.port())
	}
	rej := s.waitType(events.TypeMessageRejected, 1)[0]
	if rej.Status != 400 || rej.Header != "Call-ID" || !strings.Contains(rej.Reason, "Call-ID") || !strings.HasPrefix(string(rej.Raw), "OPTIONS ") {
		t.Fatalf("rejected event %+v", rej)
	}
	s.settle()
	if n := len(s.ofType(events.TypeRequestReceived)); n != 0 {
		t.Fatalf("a rejected request was published %d times", n)
	}
	if c := s.edge.Counters(); c.Rejected != 1 {
		t.Fatalf("counters %+v: want rejected 1", c)
	}
}

func TestACKToStatelessReplyIsAbsorbed(t *testing.T) {
	s := newStack(t, stackOptions{})
	u := newUAC(t, s)
	// An INVITE with Proxy-Require of an unknown extension gets 420.
	inv := request("INVITE", "z9hG4bK-420", "sl-ack@test", u.port(), "Proxy-Require: x-nonsense", "Contact: <sip:alice@127.0.0.1>")
	u.send(inv)
	r := u.mustRecv("420")
	if r.StatusCode != 420 || !strings.Contains(r.Value(sipmsg.HUnsupported), "x-nonsense") {
		t.Fatalf("got %d, Unsupported %q; want 420 naming x-nonsense", r.StatusCode, r.Value(sipmsg.HUnsupported))
	}
	to, _ := r.To()
	ack := strings.Replace(request("ACK", "z9hG4bK-420", "sl-ack@test", u.port()),
		"To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag="+to.Tag(), 1)
	u.send(ack)
	testenv.Eventually(t, 3*time.Second, func() bool { return s.edge.Counters().Absorbed == 1 }, "ACK not absorbed: %+v", s.edge.Counters())
	s.settle()
	if n := len(s.ofType(events.TypeRequestReceived)); n != 0 {
		t.Fatalf("%d request events; the ACK to a stateless reply must not be published", n)
	}
}

func TestINVITEGets100TryingAndRetransmissionIsAnswered(t *testing.T) {
	s := newStack(t, stackOptions{})
	u := newUAC(t, s)
	inv := request("INVITE", "z9hG4bK-inv-1", "inv-1@test", u.port(), "Contact: <sip:alice@127.0.0.1>")
	u.send(inv)
	r := u.mustRecv("100 Trying")
	if r.StatusCode != 100 {
		t.Fatalf("got %d, want 100", r.StatusCode)
	}
	u.send(inv)
	r = u.mustRecv("100 Trying again")
	if r.StatusCode != 100 {
		t.Fatalf("retransmission answered %d, want the stored 100", r.StatusCode)
	}
	s.settle()
	if n := len(s.ofType(events.TypeRequestReceived)); n != 1 {
		t.Fatalf("%d request events, want 1", n)
	}
}

// TestAnswerThroughTheBus is the SEAS loop: a service reads the request
// event and publishes the answer for the edges (the edge it came in on,
// or any edge); the UAC's retransmission is then answered by the edge, with
// no new event. The answer is in the log as a message.sent event.
func TestAnswerThroughTheBus(t *testing.T) {
	for _, via := range []string{"e1", bus.AnyEdge} {
		t.Run(via, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			u := newUAC(t, s)
			msg := request("OPTIONS", "z9hG4bK-send-1", "send-1@test", u.port())
			u.send(msg)
			ev := s.waitType(events.TypeRequestReceived, 1)[0]
			req, err := sipmsg.Parse(ev.Raw, sipmsg.Datagram)
			if err != nil {
				t.Fatal(err)
			}
			resp := sipmsg.Reply(req, 200, "OK", sipmsg.ReplyOptions{ToTag: sipmsg.NewTag(), Headers: []string{"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS"}})
			s.answer(ev, resp, via)
			if got := u.recv(3 * time.Second); got != string(resp) {
				t.Fatalf("UAC got %q, want the 200 sent", got)
			}
			u.send(msg)
			if got := u.recv(3 * time.Second); got != string(resp) {
				t.Fatalf("retransmission answered with %q, want the stored 200", got)
			}
			sent := s.waitType(events.TypeMessageSent, 1)[0]
			if sent.Source != "sipbus/test/app" || !bytes.Equal(sent.Raw, resp) || !strings.HasSuffix(sent.NATSSubject, ".out."+via+".res.2xx") {
				t.Errorf("message.sent event %+v on %s", sent, sent.NATSSubject)
			}
			s.settle()
			if n := len(s.ofType(events.TypeRequestReceived)); n != 1 {
				t.Fatalf("%d request events, want 1: the edge answered the retransmission itself", n)
			}
			if c := s.edge.Counters(); c.Transmitted != 1 || c.Absorbed != 1 {
				t.Errorf("counters %+v: want 1 transmitted, 1 absorbed", c)
			}
		})
	}
}

// A message the edge cannot send is counted, never crashes it, and does
// not stop the next one.
func TestUndeliverableIsCounted(t *testing.T) {
	s := newStack(t, stackOptions{})
	ck := sipmsg.CallKey("x@y")
	for _, ev := range []*events.SIP{
		{Type: events.TypeMessageSent, ID: "1", Source: "sipbus/test/app", CallKey: ck, Raw: []byte("not SIP"), Dest: "udp:127.0.0.1:9"},
		{Type: events.TypeMessageSent, ID: "2", Source: "sipbus/test/app", CallKey: ck, Raw: []byte(request("OPTIONS", "z9hG4bK-x", "x@y", 1)), Dest: "tcp:/e1~999"},
	} {
		if err := s.nc.PublishMsg(ev.Encode(bus.SubjectRequestOut("e1", "OPTIONS", ck))); err != nil {
			t.Fatal(err)
		}
	}
	// Not even a SIP event: a JSON payload on a send subject.
	if err := s.nc.Publish(bus.SubjectRequestOut(bus.AnyEdge, "OPTIONS", ck), []byte(`{"raw_b64":"eA=="}`)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return s.edge.Counters().Undeliverable == 3 },
		"undeliverable not counted: %+v", s.edge.Counters())
	u := newUAC(t, s)
	u.send(request("OPTIONS", "z9hG4bK-after", "after@test", u.port()))
	s.waitType(events.TypeRequestReceived, 1)
}

func TestTCPRequestAnsweredOnItsFlow(t *testing.T) {
	s := newStack(t, stackOptions{})
	c, err := net.Dial("tcp", s.edge.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.TCPAddr).Port
	msg := strings.Replace(request("OPTIONS", "z9hG4bK-tcp-1", "tcp-1@test", port), "SIP/2.0/UDP", "SIP/2.0/TCP", 1)
	// A keep-alive ping (CRLF CRLF, RFC 5626 §4.4.1), then the message split
	// in two writes: the ping gets its pong (CRLF) before the answer.
	if _, err := c.Write([]byte("\r\n\r\n" + msg[:40])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := c.Write([]byte(msg[40:])); err != nil {
		t.Fatal(err)
	}
	ev := s.waitType(events.TypeRequestReceived, 1)[0]
	if ev.Transport != "tcp" || !strings.HasPrefix(ev.Flow, "e1~") {
		t.Fatalf("event %+v: want tcp with a flow of edge e1", ev)
	}
	req, _ := sipmsg.Parse(ev.Raw, sipmsg.Stream)
	resp := sipmsg.Reply(req, 200, "OK", sipmsg.ReplyOptions{ToTag: "t1"})
	s.answer(ev, resp, bus.AnyEdge) // a flow's message goes to its edge whatever is named
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got := make([]byte, 2+len(resp))
	if _, err := io.ReadFull(bufio.NewReader(c), got); err != nil || !bytes.Equal(got, append([]byte("\r\n"), resp...)) {
		t.Fatalf("read %q (%v), want the pong and the 200", got, err)
	}
	if k := s.edge.Counters().Keepalives; k != 1 {
		t.Errorf("keepalives %d, want 1", k)
	}
}

// TestBusDownAnswers503: with NATS gone, a new request gets 503 with
// Retry-After at once instead of being buffered for a tm that may never
// see it in time.
func TestBusDownAnswers503(t *testing.T) {
	s := newStack(t, stackOptions{})
	u := newUAC(t, s)
	s.nc.Close()
	start := time.Now()
	u.send(request("OPTIONS", "z9hG4bK-503", "503@test", u.port()))
	r := u.mustRecv("503")
	if r.StatusCode != 503 || r.Value(sipmsg.HRetryAfter) == "" {
		t.Fatalf("got %d Retry-After %q, want 503 with Retry-After", r.StatusCode, r.Value(sipmsg.HRetryAfter))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("503 took %v", d)
	}
	if c := s.edge.Counters(); c.Unavailable != 1 {
		t.Fatalf("counters %+v: want unavailable 1", c)
	}
}

// Overload: while a tm replica says it is overloaded, new dialogs get 503
// with Retry-After at the edge; a BYE (in a dialog), an ACK and responses
// still pass.
func TestShedNewDialogsWhileTMOverloaded(t *testing.T) {
	s := newStack(t, stackOptions{})
	u := newUAC(t, s)
	if err := bus.PublishBeat(s.nc, &bus.Beat{Service: "tm", ID: "tm-1", EveryMs: 5000, Overloaded: true}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Second, func() bool { return s.edge.Counters().Shed > 0 || shedOnce(t, u) }, "no 503 while tm is overloaded")
	bye := strings.Replace(request("BYE", "z9hG4bK-bye", "ov-1@test", u.port()), "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=b1", 1)
	u.send(bye)
	s.waitType(events.TypeRequestReceived, 1)
	u.send("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsb0.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>;tag=2\r\nCall-ID: ov-2@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
	s.waitType(events.TypeResponseReceived, 1)
	// Recovery: the replica says it is fine again, new dialogs pass.
	if err := bus.PublishBeat(s.nc, &bus.Beat{Service: "tm", ID: "tm-1", EveryMs: 5000}); err != nil {
		t.Fatal(err)
	}
	// (what is left of the refused share is gone 20 intervals after)
	testenv.Eventually(t, 5*time.Second, func() bool { return !s.edge.Shedding() }, "still shedding after the replica recovered")
	u.send(request("INVITE", "z9hG4bK-ov-3", "ov-3@test", u.port(), "Contact: <sip:alice@127.0.0.1>"))
	if r := u.mustRecv("100"); r.StatusCode != 100 {
		t.Fatalf("after recovery an INVITE got %d", r.StatusCode)
	}
}

// shedOnce sends a new INVITE and reports whether it got 503 with
// Retry-After.
func shedOnce(t *testing.T, u *uac) bool {
	u.send(request("INVITE", "z9hG4bK-ov-"+sipmsg.NewTag(), "ov-"+sipmsg.NewTag()+"@test", u.port(), "Contact: <sip:alice@127.0.0.1>"))
	raw := u.recv(time.Second)
	m, err := sipmsg.Parse([]byte(raw), sipmsg.Datagram)
	return err == nil && m.StatusCode == 503 && m.Value(sipmsg.HRetryAfter) != ""
}

// lockedBuffer collects log lines for a test to look at.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLog waits for a log line holding every one of parts.
func (s *stack) waitLog(parts ...string) {
	s.t.Helper()
	testenv.Eventually(s.t, 5*time.Second, func() bool {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return true
			}
		}
		return false
	}, "no log line with %q", parts)
}

// testWriter sends log lines to t.Log: shown only when a test fails or -v.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func TestUnparseableInputDroppedAndCounted(t *testing.T) {
	s := newStack(t, stackOptions{})
	u := newUAC(t, s)
	for _, junk := range []string{"\x00\x01\x02", "hello world\r\n\r\n", "SIP/2.0\r\n", "\r\n\r\n"} {
		u.send(junk)
	}
	testenv.Eventually(t, 3*time.Second, func() bool { return s.edge.Counters().Dropped >= 3 },
		"junk not counted as dropped: %+v", s.edge.Counters())
	if got := u.recv(300 * time.Millisecond); got != "" {
		t.Fatalf("junk was answered: %q", got)
	}
	s.settle()
	if len(s.events) != 0 {
		t.Fatalf("junk produced %d events", len(s.events))
	}
	// The edge still works afterwards.
	u.send(request("OPTIONS", "z9hG4bK-after-junk", "after-junk@test", u.port()))
	s.waitType(events.TypeRequestReceived, 1)
}

func TestTCPLimits(t *testing.T) {
	s := newStack(t, stackOptions{cfg: edge.Config{MaxMessage: 2048, TCPIdle: 300 * time.Millisecond}})
	closed := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err != nil
	}
	t.Run("oversized Content-Length closes the connection", func(t *testing.T) {
		c, err := net.Dial("tcp", s.edge.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		big := strings.Replace(request("OPTIONS", "z9hG4bK-big", "big@test", 1), "Content-Length: 0", "Content-Length: 100000", 1)
		_, _ = c.Write([]byte(big))
		if !closed(c) {
			t.Fatal("connection still open after a frame over max_message")
		}
	})
	t.Run("idle connection is closed", func(t *testing.T) {
		c, err := net.Dial("tcp", s.edge.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		if !closed(c) {
			t.Fatal("idle connection not closed")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("closed after %v, want about tcp_idle=300ms", d)
		}
	})
	if c := s.edge.Counters(); c.Dropped < 1 {
		t.Fatalf("oversized frame not counted: %+v", c)
	}
}

// TestSendFlowGone: a message for a TCP flow that is gone goes on a new
// connection to the peer address when the destination has one (RFC 3261
// §18.2.2); without an address it is undeliverable.
func TestSendFlowGone(t *testing.T) {
	s := newStack(t, stackOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 4096)
		n, _ := c.Read(b)
		got <- string(b[:n])
	}()
	msg := []byte(request("OPTIONS", "z9hG4bK-out-1", "out-1@test", 5060))
	ctx := testenv.Context(t, 5*time.Second)
	if err := s.send.Send(ctx, &edgeapi.Message{Raw: msg, Dest: "tcp:" + ln.Addr().String() + "/e1~42"}); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if g != string(msg) {
			t.Fatalf("peer got %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("peer got nothing; counters %+v", s.edge.Counters())
	}
	if err := s.send.Send(ctx, &edgeapi.Message{Raw: msg, Dest: "tcp:/e1~999"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return s.edge.Counters().Undeliverable == 1 },
		"a message for a gone flow without an address was not counted: %+v", s.edge.Counters())
}
