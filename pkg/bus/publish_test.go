package bus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/testenv"
)

func TestPublishAsyncAndFlush(t *testing.T) {
	e := newEnv(t)
	p := bus.NewPublisher(e.js, "sipbus/test/1", bus.PublisherOptions{MaxPending: 8})
	const n = 200
	for i := range n {
		ev := sampleEvent(fmt.Sprintf("async-%d", i), i)
		if err := p.Publish(ctx(t), bus.SubjectRequestIn("INVITE", ev.CallKey), ev); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	if err := p.Flush(ctx(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if st := p.Stats(); st != (bus.PublisherStats{Published: n, Acked: n}) {
		t.Errorf("stats %+v", st)
	}
	if got := streamInfo(t, e).State.Msgs; got != n {
		t.Errorf("stream holds %d messages, want %d", got, n)
	}
	m := lastMsg(t, e, bus.SubjectRequestIn("INVITE", "00112233aabbccdd"))
	if m == nil || m.Header.Get("ce-source") != "sipbus/test/1" || m.Header.Get("ce-id") != fmt.Sprintf("async-%d", n-1) {
		t.Errorf("last message %+v", m)
	}
}

// With AckEvery, one publish in AckEvery is acknowledged by the stream and
// the others are plain publishes it stores all the same: every message is
// in the stream, and the acknowledged ones are counted.
func TestPublishAckEvery(t *testing.T) {
	e := newEnv(t)
	p := bus.NewPublisher(e.js, "sipbus/test/1", bus.PublisherOptions{AckEvery: 64})
	const n = 130
	for i := range n {
		if err := p.Publish(ctx(t), bus.SubjectRequestIn("INVITE", "00112233aabbccdd"), sampleEvent(fmt.Sprintf("sampled-%d", i), i)); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	if err := p.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return streamInfo(t, e).State.Msgs == n }, "the stream did not store all %d messages", n)
	if st := p.Stats(); st.Published != n || st.Acked != n/64 || st.Failed != 0 {
		t.Errorf("stats %+v, want %d published, %d acknowledged", st, n, n/64)
	}
	if !p.Healthy() {
		t.Error("Healthy() = false after acknowledged publishes")
	}
}

func TestPublishDedupe(t *testing.T) {
	e := newEnv(t)
	p := bus.NewPublisher(e.js, "sipbus/test/1", bus.PublisherOptions{})
	for range 2 {
		if err := p.PublishSync(ctx(t), "tx.created.x", sampleEvent("same-id", 1)); err != nil {
			t.Fatal(err)
		}
		if err := p.Publish(ctx(t), "tx.created.x", sampleEvent("same-async-id", 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := streamInfo(t, e).State.Msgs; got != 2 {
		t.Errorf("stream holds %d messages after publishing 2 ids twice, want 2", got)
	}
}

func TestPublishFillsAttributes(t *testing.T) {
	e := newEnv(t)
	p := bus.NewPublisher(e.js, "sipbus/test/fill", bus.PublisherOptions{})
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	c := bus.WithTraceParent(ctx(t), tp)
	before := time.Now()
	if err := p.PublishData(c, "call.x.1", "", "call-1@h", "ck1", &sample{N: 7}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	m := lastMsg(t, e, "call.x.1")
	if m == nil {
		t.Fatal("no message")
	}
	ev, err := bus.Decode(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID == "" || ev.Source != "sipbus/test/fill" || ev.Type != "sipbus.test.sample.v1" ||
		ev.DataSchema != (&sample{}).CESchema() || ev.Subject != "call-1@h" || ev.CallKey != "ck1" ||
		ev.TraceParent != tp || ev.Time.Before(before.Add(-time.Second)) || string(ev.Data) != `{"n":7,"text":""}` {
		t.Errorf("event %+v", ev)
	}
	if m.Header.Get(nats.MsgIdHdr) != ev.ID {
		t.Errorf("Nats-Msg-Id %q != id %q", m.Header.Get(nats.MsgIdHdr), ev.ID)
	}
}

// TestPublishBackPressure stalls acks with a core subscriber that never
// answers on a subject outside any stream: with MaxPending 1 the second
// Publish blocks until its context ends; the stalled ack times out, is
// counted failed, and frees the slot.
func TestPublishBackPressure(t *testing.T) {
	e := newEnv(t)
	sub, err := e.nc.SubscribeSync("stall.>")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	p := bus.NewPublisher(e.js, "sipbus/test/bp", bus.PublisherOptions{MaxPending: 1, AckTimeout: 500 * time.Millisecond, Logger: quiet})
	if err := p.Publish(ctx(t), "stall.a", sampleEvent("bp-1", 1)); err != nil {
		t.Fatalf("first publish: %v", err)
	}
	short, cancel := context.WithTimeout(ctx(t), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = p.Publish(short, "stall.a", sampleEvent("bp-2", 2))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked publish returned %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("publish returned after %v without blocking", d)
	}
	if err := p.Flush(ctx(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if st := p.Stats(); st.Published != 1 || st.Failed != 1 || st.Acked != 0 {
		t.Errorf("stats %+v, want 1 published, 1 failed", st)
	}
	// The slot is free again: a publish to the stream goes through.
	if err := p.Publish(ctx(t), "sip.in.bad.x", sampleEvent("bp-3", 3)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return p.Stats().Acked == 1 }, "ack after stall: %+v", p.Stats())
}

func TestPublishCancelledContext(t *testing.T) {
	e := newEnv(t)
	p := bus.NewPublisher(e.js, "s", bus.PublisherOptions{})
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Publish(c, "sip.in.bad.x", sampleEvent("c", 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with cancelled ctx: %v", err)
	}
}

func TestFlushContext(t *testing.T) {
	e := newEnv(t)
	sub, _ := e.nc.SubscribeSync("stall.>")
	defer sub.Unsubscribe()
	p := bus.NewPublisher(e.js, "s", bus.PublisherOptions{AckTimeout: 10 * time.Second})
	if err := p.Publish(ctx(t), "stall.b", sampleEvent("f", 1)); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	if err := p.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with a stalled ack: %v, want DeadlineExceeded", err)
	}
}

func BenchmarkPublish(b *testing.B) {
	s := testenv.NATS(b)
	_, js := testenv.Connect(b, s.ClientURL())
	c := context.Background()
	if _, err := bus.EnsureStream(c, js, bus.StreamConfig{Memory: true}); err != nil {
		b.Fatal(err)
	}
	p := bus.NewPublisher(js, "sipbus/bench/1", bus.PublisherOptions{})
	ev := sampleEvent("", 1)
	b.ReportAllocs()
	for b.Loop() {
		ev.ID = ""
		if err := p.Publish(c, "sip.in.req.INVITE.00112233aabbccdd", ev); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Flush(c); err != nil {
		b.Fatal(err)
	}
}
