package bus_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

// recorder is a handler that records deliveries and answers from a script.
type recorder struct {
	mu     sync.Mutex
	seen   []*bus.Event
	answer func(ev *bus.Event) error
}

func (r *recorder) handle(_ context.Context, ev *bus.Event) error {
	r.mu.Lock()
	r.seen = append(r.seen, ev)
	r.mu.Unlock()
	if r.answer == nil {
		return nil
	}
	return r.answer(ev)
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.seen) }

func (r *recorder) deliveries() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var d []int
	for _, ev := range r.seen {
		d = append(d, ev.Delivery)
	}
	return d
}

func publish(t *testing.T, e *env, subject string, evs ...*bus.Event) {
	t.Helper()
	p := bus.NewPublisher(e.js, "sipbus/test/pub", bus.PublisherOptions{})
	for _, ev := range evs {
		if err := p.PublishSync(ctx(t), subject, ev); err != nil {
			t.Fatal(err)
		}
	}
}

func subscribe(t *testing.T, e *env, name string, h bus.Handler, opt bus.SubscribeOptions) *bus.Subscription {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	if opt.Filters == nil {
		opt.Filters = []string{"sip.in.>"}
	}
	s, err := bus.Subscribe(ctx(t), e.js, name, h, opt)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

func consumerInfo(t *testing.T, e *env, name string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := e.js.Consumer(ctx(t), bus.DefaultStream, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// settled reports that the consumer has nothing pending or unacknowledged.
func settled(t *testing.T, e *env, name string) bool {
	info := consumerInfo(t, e, name)
	return info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0
}

func TestSubscribeAck(t *testing.T) {
	e := newEnv(t)
	publish(t, e, "sip.in.req.INVITE.ck", sampleEvent("a1", 1), sampleEvent("a2", 2))
	publish(t, e, "tx.created.ck", sampleEvent("other", 3)) // outside the filter
	var r recorder
	s := subscribe(t, e, "acker", r.handle, bus.SubscribeOptions{})
	testenv.Eventually(t, 5*time.Second, func() bool { return s.Stats().Acked == 2 }, "acked: %+v", s.Stats())
	testenv.Eventually(t, 5*time.Second, func() bool { return settled(t, e, "acker") }, "consumer not settled")
	ids := map[string]bool{}
	for _, ev := range r.seen { // handlers run concurrently: any order
		ids[ev.ID] = true
		if ev.Delivery != 1 || ev.NATSSubject != "sip.in.req.INVITE.ck" || ev.Source != "sipbus/test/pub" {
			t.Errorf("event %+v", ev)
		}
	}
	if r.count() != 2 || !ids["a1"] || !ids["a2"] {
		t.Errorf("seen %d events: %v", r.count(), ids)
	}
	info := consumerInfo(t, e, "acker")
	if info.Config.MaxAckPending != 16 || info.Config.MaxDeliver != 10 || info.Config.AckPolicy != jetstream.AckExplicitPolicy ||
		len(info.Config.BackOff) != 4 || info.Config.BackOff[0] != 30*time.Second+100*time.Millisecond {
		t.Errorf("consumer config %+v", info.Config)
	}
}

func TestSubscribeNakRedelivers(t *testing.T) {
	e := newEnv(t)
	var r recorder
	r.answer = func(ev *bus.Event) error {
		if ev.Delivery == 1 {
			return errors.New("transient")
		}
		return nil
	}
	s := subscribe(t, e, "retrier", r.handle, bus.SubscribeOptions{Backoff: []time.Duration{50 * time.Millisecond}})
	start := time.Now()
	publish(t, e, "sip.in.req.BYE.ck", sampleEvent("n1", 1))
	testenv.Eventually(t, 5*time.Second, func() bool { return s.Stats().Acked == 1 }, "not acked: %+v", s.Stats())
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("redelivered after %v, before the 50ms backoff", d)
	}
	if got := fmt.Sprint(r.deliveries()); got != "[1 2]" {
		t.Errorf("deliveries %s, want [1 2]", got)
	}
	if st := s.Stats(); st.Naked != 1 || st.DeadLettered != 0 {
		t.Errorf("stats %+v", st)
	}
}

// deadLetter waits for the dead letter of consumer on subject and returns it.
func deadLetter(t *testing.T, e *env, consumer, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	var m *jetstream.RawStreamMsg
	testenv.Eventually(t, 5*time.Second, func() bool {
		m = lastMsg(t, e, bus.SubjectDead(consumer, subject))
		return m != nil
	}, "no dead letter on %s", bus.SubjectDead(consumer, subject))
	return m
}

func TestSubscribeDeadLetter(t *testing.T) {
	tests := []struct {
		name       string
		answer     func(ev *bus.Event) error
		maxDeliver int
		calls      int
		reason     string
	}{
		{"permanent", func(*bus.Event) error { return bus.Permanent(errors.New("no such user")) }, 10, 1, "permanent: no such user"},
		{"max deliver", func(*bus.Event) error { return errors.New("still down") }, 3, 3, "delivered 3 times, last error: still down"},
		{"panic", func(*bus.Event) error { panic("nil map") }, 10, 1, "handler panic: nil map"},
		{"typed decode", nil, 10, 0, "decode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			name := strings.ReplaceAll(tc.name, " ", "-")
			var r recorder
			r.answer = tc.answer
			h := r.handle
			if tc.answer == nil { // data that does not decode into the typed handler's type
				h = bus.TypedFunc(func(ctx context.Context, ev *bus.Event, _ *struct {
					N string `json:"n"`
				}) error {
					return r.handle(ctx, ev)
				})
			}
			s := subscribe(t, e, name, h, bus.SubscribeOptions{MaxDeliver: tc.maxDeliver, Backoff: []time.Duration{10 * time.Millisecond}})
			subject := "sip.in.req.INVITE.ck"
			publish(t, e, subject, sampleEvent("d1", 1))
			m := deadLetter(t, e, name, subject)
			if got := m.Header.Get(bus.HeaderDeadConsumer); got != name {
				t.Errorf("dead consumer %q", got)
			}
			if got := m.Header.Get(bus.HeaderDeadReason); !strings.Contains(got, tc.reason) {
				t.Errorf("dead reason %q, want it to contain %q", got, tc.reason)
			}
			if m.Header.Get("ce-id") != "d1" || m.Header.Get("ce-type") != "sipbus.test.sample.v1" || string(m.Data) != `{"n":1,"text":"x"}` {
				t.Errorf("dead letter lost the event: %v %s", m.Header, m.Data)
			}
			testenv.Eventually(t, 5*time.Second, func() bool {
				info := consumerInfo(t, e, name)
				return info.NumAckPending == 0 && info.NumPending == 0
			}, "consumer still holds the message")
			if info := consumerInfo(t, e, name); info.Delivered.Consumer != uint64(tc.calls) && tc.calls > 0 {
				t.Errorf("delivered %d times, want %d", info.Delivered.Consumer, tc.calls)
			}
			testenv.Eventually(t, 5*time.Second, func() bool { return s.Stats().DeadLettered == 1 },
				"stats %+v: want one dead letter", s.Stats())
			if r.count() != tc.calls {
				t.Errorf("handler ran %d times (want %d), stats %+v", r.count(), tc.calls, s.Stats())
			}
		})
	}
}

func TestSubscribeNotACloudEvent(t *testing.T) {
	e := newEnv(t)
	var r recorder
	s := subscribe(t, e, "strict", r.handle, bus.SubscribeOptions{})
	if _, err := e.js.Publish(ctx(t), "sip.in.req.INVITE.raw", []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	m := deadLetter(t, e, "strict", "sip.in.req.INVITE.raw")
	if !strings.Contains(m.Header.Get(bus.HeaderDeadReason), "not a valid CloudEvent") || string(m.Data) != "not an event" {
		t.Errorf("dead letter %v %q", m.Header, m.Data)
	}
	// The dead letter is published before the counter moves: wait for it.
	testenv.Eventually(t, 5*time.Second, func() bool { return s.Stats().DeadLettered == 1 },
		"stats %+v: want one dead letter", s.Stats())
	if r.count() != 0 {
		t.Errorf("handler ran %d times for a message that is not an event", r.count())
	}
}

func TestSubscribeBoundedConcurrency(t *testing.T) {
	e := newEnv(t)
	const n, limit = 30, 3
	var running, peak, done atomic.Int32
	h := func(ctx context.Context, ev *bus.Event) error {
		cur := running.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(15 * time.Millisecond)
		running.Add(-1)
		done.Add(1)
		return nil
	}
	evs := make([]*bus.Event, n)
	for i := range evs {
		evs[i] = sampleEvent(fmt.Sprintf("c%d", i), i)
	}
	publish(t, e, "sip.in.req.OPTIONS.ck", evs...)
	subscribe(t, e, "bounded", h, bus.SubscribeOptions{Concurrency: limit})
	testenv.Eventually(t, 10*time.Second, func() bool { return done.Load() == n }, "handled %d of %d", done.Load(), n)
	if p := peak.Load(); p > limit || p < 2 {
		t.Errorf("peak concurrency %d, want 2..%d", p, limit)
	}
}

func TestSubscribeTimeout(t *testing.T) {
	e := newEnv(t)
	var deadlines atomic.Int32
	h := func(ctx context.Context, ev *bus.Event) error {
		<-ctx.Done()
		deadlines.Add(1)
		return bus.Permanent(ctx.Err())
	}
	s := subscribe(t, e, "slow", h, bus.SubscribeOptions{Timeout: 50 * time.Millisecond})
	publish(t, e, "sip.in.req.INVITE.ck", sampleEvent("t1", 1))
	testenv.Eventually(t, 5*time.Second, func() bool { return s.Stats().DeadLettered == 1 }, "stats %+v", s.Stats())
	if m := deadLetter(t, e, "slow", "sip.in.req.INVITE.ck"); !strings.Contains(m.Header.Get(bus.HeaderDeadReason), "deadline exceeded") {
		t.Errorf("reason %q", m.Header.Get(bus.HeaderDeadReason))
	}
}

func TestSubscribeMiddlewareAndTrace(t *testing.T) {
	e := newEnv(t)
	var c bus.Counters
	var order []string
	var mu sync.Mutex
	tag := func(s string) bus.Middleware {
		return func(next bus.Handler) bus.Handler {
			return func(ctx context.Context, ev *bus.Event) error {
				mu.Lock()
				order = append(order, s)
				mu.Unlock()
				return next(ctx, ev)
			}
		}
	}
	var gotTP atomic.Value
	h := func(ctx context.Context, ev *bus.Event) error {
		if ev.ID == "good" {
			gotTP.Store(bus.TraceParent(ctx))
		}
		if ev.ID == "bad" {
			return errors.New("transient")
		}
		return nil
	}
	subscribe(t, e, "mw", h, bus.SubscribeOptions{
		Middleware: []bus.Middleware{tag("outer"), bus.Metrics(&c), tag("inner")},
		MaxDeliver: 1,
	})
	ev := sampleEvent("good", 1)
	ev.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	publish(t, e, "sip.in.req.INVITE.ck", ev)
	testenv.Eventually(t, 5*time.Second, func() bool { return c.Handled.Load() == 1 }, "metrics %v", c.Handled.Load())
	publish(t, e, "sip.in.req.INVITE.ck", sampleEvent("bad", 2))
	testenv.Eventually(t, 5*time.Second, func() bool { return c.Failed.Load() == 1 }, "failed %v", c.Failed.Load())
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order[:2], ",") != "outer,inner" {
		t.Errorf("middleware order %v", order)
	}
	if gotTP.Load() != ev.TraceParent {
		t.Error("traceparent not in handler context")
	}
}

func TestSubscribeStopDrains(t *testing.T) {
	e := newEnv(t)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var finished atomic.Bool
	h := func(ctx context.Context, ev *bus.Event) error {
		once.Do(func() { close(started) })
		<-release
		finished.Store(true)
		return nil
	}
	s, err := bus.Subscribe(ctx(t), e.js, "drainer", h, bus.SubscribeOptions{Filters: []string{"sip.>"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, e, "sip.in.req.INVITE.ck", sampleEvent("s1", 1))
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(ctx(t)) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v while a handler was running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !finished.Load() || s.Stats().Acked != 1 {
		t.Errorf("in-flight handler not finished and acked: %+v", s.Stats())
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return settled(t, e, "drainer") }, "message not acked after Stop")
}

func TestSubscribeStopDeadline(t *testing.T) {
	e := newEnv(t)
	started := make(chan struct{})
	var once sync.Once
	h := func(ctx context.Context, ev *bus.Event) error {
		once.Do(func() { close(started) })
		<-ctx.Done() // ends when Stop gives up
		return ctx.Err()
	}
	s, err := bus.Subscribe(ctx(t), e.js, "stuck", h, bus.SubscribeOptions{Filters: []string{"sip.>"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, e, "sip.in.req.INVITE.ck", sampleEvent("s1", 1))
	<-started
	short, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	if err := s.Stop(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop past its deadline: %v", err)
	}
}

func TestSubscribeOptionErrors(t *testing.T) {
	e := newEnv(t)
	h := func(context.Context, *bus.Event) error { return nil }
	for _, name := range []string{"", "a.b", "a b", "a*", "ü"} {
		if _, err := bus.Subscribe(ctx(t), e.js, name, h, bus.SubscribeOptions{Filters: []string{"sip.>"}, Logger: quiet}); !errors.Is(err, bus.ErrBadName) {
			t.Errorf("name %q: %v, want ErrBadName", name, err)
		}
	}
	if _, err := bus.Subscribe(ctx(t), e.js, "nofilter", h, bus.SubscribeOptions{}); err == nil {
		t.Error("Subscribe without filters succeeded")
	}
}

type typedSample struct {
	N int `json:"n"`
}

func (*typedSample) CEType() string   { return "sipbus.test.sample.v1" }
func (*typedSample) CESchema() string { return "" }

type otherTyped struct{}

func (*otherTyped) CEType() string   { return "sipbus.test.other.v1" }
func (*otherTyped) CESchema() string { return "" }

func TestTypedFunc(t *testing.T) {
	var got int
	h := bus.TypedFunc(func(_ context.Context, _ *bus.Event, d *typedSample) error { got = d.N; return nil })
	if err := h(context.Background(), sampleEvent("x", 42)); err != nil || got != 42 {
		t.Errorf("typed handler: err %v, got %d", err, got)
	}
	bad := sampleEvent("y", 1)
	bad.Data = []byte(`{"n":"text"}`)
	if err := h(context.Background(), bad); !bus.IsPermanent(err) {
		t.Errorf("undecodable data: %v, want permanent", err)
	}
	o := bus.TypedFunc(func(context.Context, *bus.Event, *otherTyped) error { return nil })
	if err := o(context.Background(), sampleEvent("z", 1)); !bus.IsPermanent(err) {
		t.Errorf("wrong type: %v, want permanent", err)
	}
}

// TestSubscribeOrdered: with Ordered, the events of one call key are handled
// one at a time in stream order, while different call keys run in parallel.
func TestSubscribeOrdered(t *testing.T) {
	e := newEnv(t)
	const calls, per = 8, 25
	for i := range per {
		for c := range calls {
			publish(t, e, fmt.Sprintf("sip.in.req.INVITE.ck%d", c), sampleEvent(fmt.Sprintf("c%d-%d", c, i), i))
		}
	}
	var (
		mu      sync.Mutex
		next    = map[string]int{}
		running = map[string]int{}
		bad     []string
	)
	h := func(_ context.Context, ev *bus.Event) error {
		key := ev.NATSSubject[strings.LastIndexByte(ev.NATSSubject, '.')+1:]
		mu.Lock()
		running[key]++
		if running[key] > 1 {
			bad = append(bad, "two handlers at once for "+key)
		}
		want := fmt.Sprintf("%s-%d", strings.TrimPrefix(key, "ck"), next[key])
		if ev.ID != "c"+want {
			bad = append(bad, fmt.Sprintf("%s: got %s, want c%s", key, ev.ID, want))
		}
		next[key]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		running[key]--
		mu.Unlock()
		return nil
	}
	s := subscribe(t, e, "ordered", h, bus.SubscribeOptions{Ordered: true, Concurrency: 4})
	testenv.Eventually(t, 10*time.Second, func() bool { return s.Stats().Acked == calls*per }, "acked: %+v", s.Stats())
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("order violations: %v", bad[:min(5, len(bad))])
	}
}

// TestSubscribeLostPullRequest drops one pull request between the client
// and the server (a proxy that reads the client's protocol): the server
// then holds no request while the client believes one waits. The
// subscription must ask again within seconds (missed heartbeats), not
// after nats.go's default 30 s, and count it.
func TestSubscribeLostPullRequest(t *testing.T) {
	e := newEnv(t)
	var drop atomic.Bool
	var dropped atomic.Int32
	addr := pullDropper(t, strings.TrimPrefix(e.url, "nats://"), func(subject string) bool {
		if strings.HasPrefix(subject, "$JS.API.CONSUMER.MSG.NEXT.") && drop.CompareAndSwap(true, false) {
			dropped.Add(1)
			return true
		}
		return false
	})
	_, js := testenv.Connect(t, "nats://"+addr)
	var r recorder
	r.answer = func(*bus.Event) error {
		drop.Store(true) // the request that follows this delivery is lost
		return nil
	}
	s, err := bus.Subscribe(ctx(t), js, "lost-pull", r.handle, bus.SubscribeOptions{Filters: []string{"sip.in.>"}, Concurrency: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })

	publish(t, e, "sip.in.req.INVITE.ck", sampleEvent("first", 1))
	testenv.Eventually(t, 5*time.Second, func() bool { return r.count() == 1 }, "first event not handled")
	testenv.Eventually(t, 5*time.Second, func() bool { return dropped.Load() == 1 }, "no pull request dropped after the first delivery")
	start := time.Now()
	publish(t, e, "sip.in.req.INVITE.ck", sampleEvent("second", 2))
	testenv.Eventually(t, 4*bus.PullHeartbeat+2*time.Second, func() bool { return r.count() == 2 },
		"second event not handled within %v of a lost pull request (stats %+v)", 4*bus.PullHeartbeat+2*time.Second, s.Stats())
	if s.Stats().Repulls == 0 {
		t.Errorf("stats %+v: the lost request was not counted", s.Stats())
	}
	t.Logf("second event handled %v after its publish", time.Since(start).Round(time.Millisecond))
}

// pullDropper is a TCP proxy to a NATS server that forwards the client's
// protocol line by line and drops the publishes drop selects.
func pullDropper(t *testing.T, server string, drop func(subject string) bool) string {
	t.Helper()
	return testenv.TCPServer(t, func(c net.Conn) {
		s, err := net.Dial("tcp", server)
		if err != nil {
			_ = c.Close()
			return
		}
		defer s.Close() // once the client side ends (the test's cleanup closes it)
		go func() { _, _ = io.Copy(c, s) }()
		forwardClient(c, s, drop)
	})
}

// forwardClient copies the client's protocol to the server: a PUB or HPUB
// line with its payload, or any other line as it is.
func forwardClient(c, s net.Conn, drop func(subject string) bool) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		f := strings.Fields(string(line))
		if len(f) >= 3 && (f[0] == "PUB" || f[0] == "HPUB") {
			size, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return
			}
			payload := make([]byte, size+2) // and its CRLF
			if _, err := io.ReadFull(r, payload); err != nil {
				return
			}
			if drop(f[1]) {
				continue
			}
			line = append(line, payload...)
		}
		if _, err := s.Write(line); err != nil {
			return
		}
	}
}
