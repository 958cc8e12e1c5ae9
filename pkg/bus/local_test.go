package bus_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
)

// collector records what a handler got, safe for concurrent use.
type collector struct {
	mu   sync.Mutex
	msgs []*nats.Msg
}

func (c *collector) handle(m *nats.Msg) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *collector) data() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = string(m.Data)
	}
	return out
}

// otherProcess subscribes c to subject with a plain subscription on the
// env's own connection: another process, as the Local sees it.
func otherProcess(t *testing.T, e *env, subject string, c *collector) {
	t.Helper()
	sub, err := e.nc.Subscribe(subject, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newLocal(t *testing.T, e *env) *bus.Local {
	t.Helper()
	hot, err := nats.Connect(e.url, nats.NoEcho())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(hot.Close)
	l, err := bus.NewLocal(hot)
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	return l
}

func TestLocalNeedsNoEcho(t *testing.T) {
	e := newEnv(t)
	if _, err := bus.NewLocal(e.nc); !errors.Is(err, bus.ErrEcho) {
		t.Fatalf("NewLocal on a connection with echo: err %v, want ErrEcho", err)
	}
}

// A message published through a Local reaches the subscriptions in the
// process once (not again through NATS), in publish order, and is stored
// in the stream and delivered to subscribers on other connections.
func TestLocalDeliversOnceAndPublishes(t *testing.T) {
	e := newEnv(t)
	l := newLocal(t, e)
	pub := bus.NewPublisher(e.js, "test/local", bus.PublisherOptions{Local: l, AckEvery: bus.HotAckEvery})

	var part, edge, other collector
	for _, s := range []struct {
		subj string
		c    *collector
		opts []bus.SubOption
	}{
		{bus.PartitionInFilter("ab"), &part, nil},
		{bus.EdgeOutFilter("e1"), &edge, []bus.SubOption{bus.Inline()}},
	} {
		sub, err := l.Subscribe(s.subj, s.c.handle, s.opts...)
		if err != nil {
			t.Fatalf("subscribe %s: %v", s.subj, err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	otherProcess(t, e, "sip.ab.in.>", &other)

	const n = 200
	var want []string
	for i := range n {
		subj := bus.SubjectRequestIn("INVITE", "ab00000000000001")
		if i%2 == 1 {
			subj = bus.SubjectRequestOut("e1", "INVITE", "ab00000000000001")
		}
		// a fresh buffer each: a published message's data is the Local's
		buf := fmt.Appendf(nil, "m%03d", i)
		if err := pub.PublishMsg(ctx(t), &nats.Msg{Subject: subj, Data: buf}); err != nil {
			t.Fatalf("publish: %v", err)
		}
		if i%2 == 0 {
			want = append(want, string(buf))
		}
	}
	if err := pub.Flush(ctx(t)); err != nil {
		t.Fatalf("flush: %v", err)
	}
	waitFor(t, "local deliveries", func() bool { return len(part.data()) == n/2 && len(edge.data()) == n/2 })
	waitFor(t, "the other connection's deliveries", func() bool { return len(other.data()) == n/2 })
	if got := part.data(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("partition subscription got %v\nwant %v (each once, in order)", got, want)
	}
	if got := other.data(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("other connection got %v\nwant %v", got, want)
	}
	time.Sleep(50 * time.Millisecond) // a NATS echo would arrive by now
	if got := len(part.data()); got != n/2 {
		t.Fatalf("partition subscription got %d messages, want %d: an echo came back through NATS", got, n/2)
	}
	if got := l.Delivered.Load(); got != n {
		t.Fatalf("Delivered = %d, want %d", got, n)
	}
	if m := lastMsg(t, e, bus.SubjectRequestIn("INVITE", "ab00000000000001")); m == nil || string(m.Data) != want[len(want)-1] {
		t.Fatalf("stream's last message %v, want data %q", m, want[len(want)-1])
	}
}

// Messages published on other connections reach a Local subscription
// through NATS; a queue group's local member takes the process's own
// messages, and a member elsewhere drops them (HeaderTaken) instead of
// handling them a second time.
func TestLocalQueueGroupTakesItsOwn(t *testing.T) {
	e := newEnv(t)
	l := newLocal(t, e)
	pub := bus.NewPublisher(e.js, "test/local", bus.PublisherOptions{Local: l})

	var here, there collector
	sub, err := l.QueueSubscribe(bus.RequestInFilter("REGISTER"), "regs", here.handle, bus.Inline())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	remote, err := bus.NATS(e.nc).QueueSubscribe(bus.RequestInFilter("REGISTER"), "regs", there.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = remote.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	const n = 50
	for i := range n {
		m := &nats.Msg{Subject: bus.SubjectRequestIn("REGISTER", "cd00000000000002"), Data: fmt.Appendf(nil, "r%d", i)}
		if err := pub.PublishMsg(ctx(t), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the local member", func() bool { return len(here.data()) == n })
	time.Sleep(100 * time.Millisecond) // what NATS delivers elsewhere has arrived by now
	if got := there.data(); len(got) != 0 {
		t.Fatalf("the member elsewhere handled %d of the process's own messages: %v", len(got), got)
	}

	// published elsewhere: one member of the group gets it through NATS
	other := bus.NewPublisher(e.js, "test/other", bus.PublisherOptions{})
	for i := range n {
		m := &nats.Msg{Subject: bus.SubjectRequestIn("REGISTER", "cd00000000000002"), Data: fmt.Appendf(nil, "o%d", i)}
		if err := other.PublishMsg(ctx(t), m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the messages from elsewhere", func() bool { return len(here.data())+len(there.data()) == 2*n })
	time.Sleep(50 * time.Millisecond)
	if got := len(here.data()) + len(there.data()); got != 2*n {
		t.Fatalf("the group handled %d messages, want %d (each once)", got, 2*n)
	}
}

// Unsubscribe stops local deliveries; Drain lets the queued ones finish
// and then reports the subscription invalid.
func TestLocalUnsubscribeAndDrain(t *testing.T) {
	e := newEnv(t)
	l := newLocal(t, e)
	release := make(chan struct{})
	var got collector
	sub, err := l.Subscribe(bus.PartitionInFilter("01"), func(m *nats.Msg) {
		<-release
		got.handle(m)
	})
	if err != nil {
		t.Fatal(err)
	}
	subj := bus.SubjectRequestIn("BYE", "0100000000000003")
	for i := range 3 {
		l.Deliver(&nats.Msg{Subject: subj, Data: fmt.Appendf(nil, "%d", i)})
	}
	if err := sub.Drain(); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	l.Deliver(&nats.Msg{Subject: subj, Data: []byte("late")})
	if !sub.IsValid() {
		t.Fatal("IsValid false while messages are queued")
	}
	close(release)
	waitFor(t, "the drain", func() bool { return !sub.IsValid() })
	if d := got.data(); fmt.Sprint(d) != "[0 1 2]" {
		t.Fatalf("handled %v, want [0 1 2] (queued before the drain, nothing after)", d)
	}

	var after collector
	s2, err := l.Subscribe(bus.PartitionInFilter("02"), after.handle, bus.Inline())
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	l.Deliver(&nats.Msg{Subject: bus.SubjectRequestIn("BYE", "0200000000000004"), Data: []byte("x")})
	if d := after.data(); len(d) != 0 {
		t.Fatalf("an unsubscribed inline subscription got %v", d)
	}
}

// Subject matching follows NATS: * is one token, > the rest.
func TestLocalMatching(t *testing.T) {
	e := newEnv(t)
	l := newLocal(t, e)
	filters := []string{"sip.*.in.req.REGISTER.*", "sip.ab.in.>", "sip.*.out.e1.>", "call.*.*"}
	got := make([]collector, len(filters))
	for i, f := range filters {
		sub, err := l.Subscribe(f, got[i].handle, bus.Inline())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	for _, tc := range []struct {
		subject string
		want    []int // indexes of the filters it matches
	}{
		{"sip.ab.in.req.REGISTER.ab01", []int{0, 1}},
		{"sip.cd.in.req.REGISTER.cd01", []int{0}},
		{"sip.cd.in.req.REGISTER", nil},
		{"sip.ab.in", nil},
		{"sip.ab.in.res.2xx.ab01", []int{1}},
		{"sip.cd.out.e1.res.2xx.cd01", []int{2}},
		{"sip.cd.out.e2.res.2xx.cd01", nil},
		{"call.ended.ab01", []int{3}},
		{"call.ended", nil},
	} {
		before := make([]int, len(got))
		for i := range got {
			before[i] = len(got[i].data())
		}
		l.Deliver(&nats.Msg{Subject: tc.subject})
		var matched []int
		for i := range got {
			if len(got[i].data()) > before[i] {
				matched = append(matched, i)
			}
		}
		if fmt.Sprint(matched) != fmt.Sprint(tc.want) {
			t.Errorf("%s matched filters %v, want %v", tc.subject, matched, tc.want)
		}
	}
}

// TestLocalPublishesAfterIdle: the goroutine that publishes the lingering
// bursts ends after a second without one; a publish after that starts it
// again, and each burst reaches the other processes.
func TestLocalPublishesAfterIdle(t *testing.T) {
	e := newEnv(t)
	l := newLocal(t, e)
	pub := bus.NewPublisher(e.js, "test/local", bus.PublisherOptions{Local: l, AckEvery: bus.HotAckEvery})
	var other collector
	otherProcess(t, e, "sip.ab.in.>", &other)
	subj := bus.SubjectRequestIn("INVITE", "ab00000000000001")
	for i, gap := range []time.Duration{0, 100 * time.Millisecond, 1500 * time.Millisecond, 0} {
		time.Sleep(gap)
		if err := pub.PublishMsg(ctx(t), &nats.Msg{Subject: subj, Data: fmt.Appendf(nil, "m%d", i)}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("message %d after a gap of %v", i, gap), func() bool { return len(other.data()) == i+1 })
	}
	if got := other.data(); !slices.Equal(got, []string{"m0", "m1", "m2", "m3"}) {
		t.Errorf("other process got %q", got)
	}
}

// Pending counts what a queued subscription holds and has not handled
// yet, the message in its callback included: what tm reads to tell
// whether a response may still wait for a call's partition.
func TestLocalPending(t *testing.T) {
	e := newEnv(t)
	l := newLocal(t, e)
	pub := bus.NewPublisher(e.js, "test/local", bus.PublisherOptions{Local: l, AckEvery: bus.HotAckEvery})
	entered, release := make(chan struct{}, 8), make(chan struct{})
	sub, err := l.Subscribe(bus.PartitionInFilter("ab"), func(*nats.Msg) {
		entered <- struct{}{}
		<-release
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	pending := func() int {
		n, _, err := sub.Pending()
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		return n
	}
	if n := pending(); n != 0 {
		t.Fatalf("Pending before anything was published: %d", n)
	}
	for i := range 3 {
		if err := pub.PublishMsg(ctx(t), &nats.Msg{Subject: bus.SubjectRequestIn("INVITE", "ab00000000000001"), Data: fmt.Appendf(nil, "m%d", i)}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	<-entered // the first is in the callback, the two others queued
	if n := pending(); n != 3 {
		t.Errorf("Pending with one message in the callback and two queued: %d, want 3", n)
	}
	release <- struct{}{}
	<-entered
	waitFor(t, "the first handled", func() bool { return pending() == 2 })
	close(release)
	waitFor(t, "every message handled", func() bool { return pending() == 0 })
}
