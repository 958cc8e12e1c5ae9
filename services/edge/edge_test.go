package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
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
	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/edge"
)

// stack is one edge on real NATS JetStream and a real store, with every
// event it emits collected, schema-validated and decoded by the CloudEvents
// SDK as it arrives.
type stack struct {
	t    *testing.T
	edge *edge.Edge
	nc   *nats.Conn
	js   jetstream.JetStream
	st   store.TxStore

	mu     sync.Mutex
	events []*bus.Event
}

type stackOptions struct {
	storeURL string // "" = memory
	store    store.TxStore
	cfg      edge.Config
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ns := testenv.NATS(t)
	nc, js := testenv.Connect(t, ns.ClientURL())
	ctx := testenv.Context(t, 60*time.Second)
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{Memory: true}); err != nil {
		t.Fatalf("stream: %v", err)
	}
	st := o.store
	if st == nil {
		u := o.storeURL
		if u == "" {
			u = "memory://"
		}
		var err error
		if st, err = store.Open(ctx, u); err != nil {
			t.Fatalf("store %s: %v", u, err)
		}
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg := o.cfg
	if cfg.ID == "" {
		cfg.ID = "e1"
	}
	if cfg.UDP == "" {
		cfg.UDP, cfg.TCP = "127.0.0.1:0", "127.0.0.1:0"
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := edge.New(cfg, edge.Deps{NC: nc, JS: js, Store: st, Log: log})
	if err != nil {
		t.Fatalf("edge: %v", err)
	}
	s := &stack{t: t, edge: e, nc: nc, js: js, st: st}
	s.collect(ctx)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	// The send endpoint is registered once Run has started.
	testenv.Eventually(t, 5*time.Second, func() bool {
		_, err := nc.Request(edgeapi.EdgeStatsSubject(cfg.ID), nil, 200*time.Millisecond)
		return err == nil
	}, "edge %s stats endpoint did not come up", cfg.ID)
	return s
}

// collect reads every event of the stream with an ordered consumer.
func (s *stack) collect(ctx context.Context) {
	cons, err := s.js.OrderedConsumer(ctx, bus.DefaultStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		s.t.Fatalf("consumer: %v", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		nm := &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
		ev, err := bus.Decode(nm)
		if err != nil {
			s.t.Errorf("event on %s does not decode: %v", m.Subject(), err)
			return
		}
		if err := events.Validate(ev); err != nil {
			s.t.Errorf("event %s on %s does not validate against its schema: %v\n%s", ev.Type, m.Subject(), err, ev.Data)
		}
		ce, err := binding.ToEvent(context.Background(), natsjs.NewMessage(nm))
		switch {
		case err != nil:
			s.t.Errorf("CloudEvents SDK cannot decode event on %s: %v", m.Subject(), err)
		case ce.ID() != ev.ID || ce.Type() != ev.Type || ce.Source() != ev.Source || !bytes.Equal(ce.Data(), ev.Data):
			s.t.Errorf("CloudEvents SDK reads %s/%s/%s, sipbus wrote %s/%s/%s", ce.ID(), ce.Type(), ce.Source(), ev.ID, ev.Type, ev.Source)
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
func (s *stack) ofType(typ string) []*bus.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*bus.Event
	for _, ev := range s.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func (s *stack) waitType(typ string, n int) []*bus.Event {
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

func TestRetransmittedOPTIONSPublishedOnce(t *testing.T) {
	s := newStack(t, stackOptions{})
	u := newUAC(t, s)
	msg := request("OPTIONS", "z9hG4bK-opt-1", "opt-1@test", u.port())
	u.send(msg)
	s.waitType(events.TypeRequestReceived, 1)
	u.send(msg)
	s.waitType(events.TypeTxAbsorbed, 1)
	s.settle()
	if got := s.ofType(events.TypeRequestReceived); len(got) != 1 {
		t.Fatalf("request events = %d, want exactly 1", len(got))
	}
	if got := s.ofType(events.TypeTxCreated); len(got) != 1 {
		t.Fatalf("tx.created events = %d, want 1", len(got))
	}
	var rr events.RequestReceived
	ev := s.ofType(events.TypeRequestReceived)[0]
	if err := json.Unmarshal(ev.Data, &rr); err != nil {
		t.Fatal(err)
	}
	if rr.Method != "OPTIONS" || rr.CallID != "opt-1@test" || rr.Network.Transport != "udp" || string(rr.Raw) != msg {
		t.Fatalf("request event data = %+v", rr)
	}
	if want := bus.SubjectRequestIn("OPTIONS", sipmsg.CallKey("opt-1@test")); ev.NATSSubject != want {
		t.Fatalf("subject %s, want %s", ev.NATSSubject, want)
	}
	if ev.CallKey != sipmsg.CallKey("opt-1@test") || ev.Subject != "opt-1@test" {
		t.Fatalf("callkey %q subject %q", ev.CallKey, ev.Subject)
	}
	// The index travels with the event: the receiver rebuilds the message without parsing.
	m, err := rr.Msg()
	if err != nil || m.CallID() != "opt-1@test" {
		t.Fatalf("rebuilt message: %v, call-id %q", err, m.CallID())
	}
	c := s.edge.Counters()
	if c.Received != 2 || c.Absorbed != 1 {
		t.Fatalf("counters %+v: want received 2, absorbed 1", c)
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
	rej := s.waitType(events.TypeMessageRejected, 1)
	var mr events.MessageRejected
	if err := json.Unmarshal(rej[0].Data, &mr); err != nil {
		t.Fatal(err)
	}
	if mr.Status != 400 || mr.Header != "Call-ID" {
		t.Fatalf("rejected event %+v", mr)
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
	s.waitType(events.TypeTxAbsorbed, 1)
	s.settle()
	if n := len(s.ofType(events.TypeRequestReceived)); n != 1 {
		t.Fatalf("%d request events, want 1", n)
	}
}

// TestAnswerThroughSendEndpoint is the SEAS loop: a service reads the
// request event and answers through the edge's send command; the UAC's
// retransmission is then answered by the edge, with no new event.
func TestAnswerThroughSendEndpoint(t *testing.T) {
	for _, engine := range []string{"memory", "redis"} {
		t.Run(engine, func(t *testing.T) {
			o := stackOptions{}
			if engine == "redis" {
				o.storeURL = testenv.RedisURL(t)
			}
			s := newStack(t, o)
			u := newUAC(t, s)
			msg := request("OPTIONS", "z9hG4bK-send-1", "send-1@test", u.port())
			u.send(msg)
			ev := s.waitType(events.TypeRequestReceived, 1)[0]
			var rr events.RequestReceived
			if err := json.Unmarshal(ev.Data, &rr); err != nil {
				t.Fatal(err)
			}
			req, err := rr.Msg()
			if err != nil {
				t.Fatal(err)
			}
			resp := sipmsg.Reply(req, 200, "OK", sipmsg.ReplyOptions{ToTag: sipmsg.NewTag(), Headers: []string{"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS"}})
			cl := edgeapi.Client{NC: s.nc}
			rep, err := cl.Send(testenv.Context(t, 5*time.Second), &edgeapi.SendRequest{
				Transport: rr.Network.Transport, Dest: rr.Network.Remote, Raw: resp,
				TxKey: rr.TxKey, CallKey: ev.CallKey, RequestedBy: "test",
			})
			if err != nil || rep.Status != 200 || rep.Reason != "OK" {
				t.Fatalf("send: %v %+v", err, rep)
			}
			if got := u.recv(3 * time.Second); got != string(resp) {
				t.Fatalf("UAC got %q, want the 200 sent", got)
			}
			u.send(msg)
			if got := u.recv(3 * time.Second); got != string(resp) {
				t.Fatalf("retransmission answered with %q, want the stored 200", got)
			}
			s.waitType(events.TypeTxAbsorbed, 1)
			s.waitType(events.TypeMessageSent, 1)
			s.settle()
			if n := len(s.ofType(events.TypeRequestReceived)); n != 1 {
				t.Fatalf("%d request events, want 1: the edge answered the retransmission itself", n)
			}
			var ab events.TxAbsorbed
			if err := json.Unmarshal(s.ofType(events.TypeTxAbsorbed)[0].Data, &ab); err != nil || ab.ResentStatus != 200 {
				t.Fatalf("absorbed event %+v (%v): want resent_status 200", ab, err)
			}
		})
	}
}

func TestSendEndpointErrorsNameTheField(t *testing.T) {
	s := newStack(t, stackOptions{})
	cases := []struct {
		body   string
		status int
		field  string
	}{
		{`{`, 400, "JSON"},
		{`{"transport":"sctp","dest":"127.0.0.1:5060","raw_b64":"eA=="}`, 400, "transport"},
		{`{"transport":"udp","dest":"127.0.0.1:5060","raw_b64":""}`, 400, "raw_b64"},
		{`{"transport":"udp","dest":"127.0.0.1:5060","raw_b64":"bm90IFNJUA=="}`, 400, "raw_b64"},
		{`{"transport":"udp","dest":"nowhere","raw_b64":"` + b64(request("OPTIONS", "z9hG4bK-x", "x@y", 1)) + `"}`, 400, "dest"},
	}
	for _, c := range cases {
		m, err := s.nc.Request(edgeapi.SendSubject, []byte(c.body), 2*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		var rep edgeapi.SendReply
		if err := json.Unmarshal(m.Data, &rep); err != nil {
			t.Fatalf("%s: reply %q: %v", c.body, m.Data, err)
		}
		if rep.Status != c.status || !strings.Contains(rep.Reason, c.field) {
			t.Errorf("%s: got %d %q, want %d naming %s", c.body, rep.Status, rep.Reason, c.status, c.field)
		}
		if m.Header.Get("Nats-Service-Error-Code") != fmt.Sprint(c.status) {
			t.Errorf("%s: micro error header %q", c.body, m.Header.Get("Nats-Service-Error-Code"))
		}
	}
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
	// Two keep-alive CRLFs, then the message split in two writes.
	if _, err := c.Write([]byte("\r\n\r\n" + msg[:40])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := c.Write([]byte(msg[40:])); err != nil {
		t.Fatal(err)
	}
	ev := s.waitType(events.TypeRequestReceived, 1)[0]
	var rr events.RequestReceived
	if err := json.Unmarshal(ev.Data, &rr); err != nil {
		t.Fatal(err)
	}
	if rr.Network.Transport != "tcp" || !strings.HasPrefix(rr.Network.Flow, "e1~") {
		t.Fatalf("network %+v: want tcp with a flow of edge e1", rr.Network)
	}
	req, _ := rr.Msg()
	resp := sipmsg.Reply(req, 200, "OK", sipmsg.ReplyOptions{ToTag: "t1"})
	cl := edgeapi.Client{NC: s.nc}
	if _, err := cl.Send(testenv.Context(t, 5*time.Second), &edgeapi.SendRequest{
		Transport: "tcp", Flow: rr.Network.Flow, Raw: resp, TxKey: rr.TxKey, CallKey: ev.CallKey, RequestedBy: "test",
	}); err != nil {
		t.Fatalf("send on flow: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got := make([]byte, len(resp))
	if _, err := io.ReadFull(bufio.NewReader(c), got); err != nil || !bytes.Equal(got, resp) {
		t.Fatalf("read %q (%v), want the 200", got, err)
	}
}

// TestStoreDownAnswers503 points the edge at a Redis that is not there: a
// new request gets 503 with Retry-After at once instead of hanging.
func TestStoreDownAnswers503(t *testing.T) {
	port := testenv.FreePort(t, "tcp")
	ctx := testenv.Context(t, 10*time.Second)
	if _, err := store.Open(ctx, fmt.Sprintf("redis://127.0.0.1:%d/0", port)); err == nil {
		t.Fatalf("store.Open succeeded against a port with no Redis")
	}
	// Open refuses a Redis it cannot reach; an engine whose Redis goes away
	// later is what the edge meets in production.
	st := store.NewRedis(redis.NewClient(&redis.Options{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), DialTimeout: 100 * time.Millisecond, MaxRetries: -1, ContextTimeoutEnabled: true,
	}), store.RedisOptions{CloseClient: true})
	s := newStack(t, stackOptions{store: st, cfg: edge.Config{StoreTimeout: 200 * time.Millisecond}})
	u := newUAC(t, s)
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

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

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

// TestSendFlowGone: a send for a TCP flow whose edge is gone falls back to
// any edge, which connects to the peer anew (RFC 3261 §18.2.2); without a
// dest it is a 404 naming the flow.
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
	cl := edgeapi.Client{NC: s.nc}
	rep, err := cl.Send(testenv.Context(t, 5*time.Second), &edgeapi.SendRequest{
		Transport: "tcp", Flow: "gone-edge~42", Dest: ln.Addr().String(), Raw: msg, RequestedBy: "test",
	})
	if err != nil || rep.Status != 200 || !strings.HasPrefix(rep.Flow, "e1~") {
		t.Fatalf("send: %v %+v; want 200 on a new flow of e1", err, rep)
	}
	select {
	case g := <-got:
		if g != string(msg) {
			t.Fatalf("peer got %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("peer got nothing")
	}
	_, err = cl.Send(testenv.Context(t, 5*time.Second), &edgeapi.SendRequest{Transport: "tcp", Flow: "e1~999", Raw: msg})
	var ee *edgeapi.Error
	if !errors.As(err, &ee) || ee.Status != 404 || !strings.Contains(ee.Reason, "flow") {
		t.Fatalf("send on a closed flow without dest: %v; want 404 naming the flow", err)
	}
}
