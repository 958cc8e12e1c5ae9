package ports

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/tm/internal/app"
)

type statusRecorder struct {
	mu     sync.Mutex
	status []int
}

func (s *statusRecorder) Send(_ context.Context, m *edgeapi.Message) error {
	msg, err := sipmsg.Parse(m.Raw, sipmsg.Datagram)
	if err == nil && !msg.Request {
		s.mu.Lock()
		s.status = append(s.status, msg.StatusCode)
		s.mu.Unlock()
	}
	return nil
}

func (s *statusRecorder) take() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.status
	s.status = nil
	return out
}

type noEmit struct{}

func (noEmit) Emit(context.Context, app.Emission) error { return nil }

type nobody struct{}

func (nobody) Lookup(context.Context, string) ([]app.Target, bool, error) { return nil, false, nil }

// newTestInput builds an input on nc over an engine on the memory store
// (the route table's default: unknown users get 404), with a quick
// overload detector (1ms target and interval); sent records the status of
// every response the engine sends.
func newTestInput(t *testing.T, nc *nats.Conn) (*Input, *statusRecorder) {
	st := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(func() { _ = st.Close() })
	commit := store.NewCommitter(st, store.CommitterOptions{})
	t.Cleanup(commit.Close)
	sent := &statusRecorder{}
	var in *Input
	sch := NewScheduler(func(ck, id string) { in.Due(ck, id) }, nil)
	eng := app.NewEngine(app.Config{Advertise: "127.0.0.1:5070", Domains: []string{"localhost"}}, app.Deps{
		Records: st, Commit: commit, Sched: sch, Send: sent, Emit: noEmit{}, Locate: nobody{},
	})
	in = NewInput(nc, eng, sch, NewEdgeTable(nil), InputOptions{ID: "tm-x", QueueTarget: time.Millisecond, QueueInterval: time.Millisecond})
	t.Cleanup(in.Stop)
	return in, sent
}

// TestHandedOverMessagesAreNotShed: the messages a leaving replica held
// reach the new owner late by the hand-over's length. Marked with
// HandoverHeader, they are neither counted as queueing delay nor shed:
// each INVITE gets the answer routing gives it (404 here), not 503.
// Unmarked messages 200 ms late make the replica overloaded, and it still
// routes them (under T1); the same messages a second late (a queue past
// T1) are shed. Real NATS: the messages arrive on the
// partitions' subscriptions as the edges' do.
func TestHandedOverMessagesAreNotShed(t *testing.T) {
	nc, in, sent := newOwningInput(t)
	publish := func(n int, marked bool, age time.Duration) {
		for i := range n {
			callID := fmt.Sprintf("late-%v-%v-%d@test", marked, age, i)
			ev := received(events.TypeRequestReceived, "INVITE", callID, fmt.Sprintf("%v%v%d", marked, age, i), age)
			m := ev.Encode(bus.SubjectRequestIn("INVITE", ev.CallKey))
			if marked {
				m.Header.Set(HandoverHeader, "tm-old")
			}
			if err := nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Millisecond) // longer than QueueInterval
		}
	}
	count := func(status []int, code int) int {
		n := 0
		for _, s := range status {
			if s == code {
				n++
			}
		}
		return n
	}

	const n = 5
	publish(n, true, time.Second)
	var got []int
	testenv.Eventually(t, 5*time.Second, func() bool { got = append(got, sent.take()...); return len(got) >= n }, "%d answers (messages %d, bad %d, failed %d)", n, in.Stats.Messages.Load(), in.Stats.Bad.Load(), in.Stats.Failed.Load())
	if count(got, 404) != n || in.Stats.Shed.Load() != 0 || in.load.Overloaded() {
		t.Errorf("handed-over INVITEs answered %v (shed %d, overloaded %v), want %d × 404 and no shedding",
			got, in.Stats.Shed.Load(), in.load.Overloaded(), n)
	}
	if h := in.Stats.HandedOver.Load(); h != n {
		t.Errorf("HandedOver = %d, want %d", h, n)
	}

	// Late, not handed over, but under T1: the detector holds, and the
	// replica still routes them (shedding is the edges' job until a
	// request waited T1: bus.Overload.Backstop).
	publish(n, false, 200*time.Millisecond)
	got = nil
	testenv.Eventually(t, 5*time.Second, func() bool { got = append(got, sent.take()...); return len(got) >= n }, "%d answers", n)
	if count(got, 404) != n || in.Stats.Shed.Load() != 0 || !in.load.Overloaded() {
		t.Errorf("INVITEs that waited 200ms answered %v (shed %d, overloaded %v), want %d × 404 from an overloaded replica",
			got, in.Stats.Shed.Load(), in.load.Overloaded(), n)
	}

	publish(n, false, time.Second)
	got = nil
	testenv.Eventually(t, 5*time.Second, func() bool { got = append(got, sent.take()...); return len(got) >= n }, "%d answers (messages %d, bad %d, failed %d)", n, in.Stats.Messages.Load(), in.Stats.Bad.Load(), in.Stats.Failed.Load())
	if count(got, 503) == 0 || in.Stats.Shed.Load() == 0 {
		t.Errorf("late INVITEs not handed over answered %v (shed %d), want some 503: the detector works", got, in.Stats.Shed.Load())
	}
}

// TestHandoverWaitsForTook: a leaving replica passes its held messages on
// only once each replica gaining its partitions said it subscribed
// (TookSubject), even when that replica joined after the leaving one's
// last heartbeat (its member list does not have it: Handover reads the
// live members from the store). A word that still lists the leaving
// replica does not count; without the word, Handover gives up after its
// wait. Real NATS, real Redis.
func TestHandoverWaitsForTook(t *testing.T) {
	srv := testenv.NATS(t)
	nc, _ := testenv.Connect(t, srv.ClientURL())
	ctx := testenv.Context(t, 30*time.Second)
	st, err := store.Open(ctx, testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	in, _ := newTestInput(t, nc)
	m := &Members{ID: "tm-a", Store: st, Input: in, Every: time.Hour, TTL: time.Minute, Log: slog.New(slog.DiscardHandler)}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	if ms, owned := m.View(); len(ms) != 1 || owned != 256 {
		t.Fatalf("tm-a alone: members %v, owns %d", ms, owned)
	}
	// tm-b joins; tm-a's next heartbeat is an hour away.
	if _, err := st.Heartbeat(ctx, Group, "tm-b", time.Minute); err != nil {
		t.Fatal(err)
	}
	b, _ := testenv.Connect(t, srv.ClientURL())
	var answer func(*nats.Msg)
	if _, err := b.Subscribe(ChangedSubject, func(msg *nats.Msg) { answer(msg) }); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}

	// tm-b answers with a view that still has tm-a, then says nothing:
	// Handover waits its whole wait and reports it.
	answer = func(*nats.Msg) {
		data, _ := json.Marshal(Took{ID: "tm-b", Members: []string{"tm-a", "tm-b"}})
		_ = b.Publish(TookSubject, data)
	}
	start := time.Now()
	ok, err := m.Handover(ctx, 300*time.Millisecond)
	if err != nil || ok || time.Since(start) < 300*time.Millisecond {
		t.Errorf("Handover without a valid word from tm-b: ok %v, err %v after %v; want false after the 300ms wait", ok, err, time.Since(start))
	}

	// tm-b says it took the partitions: Handover returns at once.
	if _, err := st.Heartbeat(ctx, Group, "tm-a", time.Minute); err != nil {
		t.Fatal(err)
	}
	answer = func(*nats.Msg) {
		data, _ := json.Marshal(Took{ID: "tm-b", Members: []string{"tm-b"}})
		_ = b.Publish(TookSubject, data)
	}
	start = time.Now()
	ok, err = m.Handover(ctx, 10*time.Second)
	if err != nil || !ok || time.Since(start) > 5*time.Second {
		t.Errorf("Handover with tm-b's word: ok %v, err %v after %v; want true at once", ok, err, time.Since(start))
	}
}

// TestRejectedRecordsAreNotQueueDelay: the records of requests the edge
// rejected itself (its 503s when it sheds) reach tm late under overload.
// They are handled (an INVITE's call.missed) but their wait is not
// queueing delay: counted, the edge's shedding kept tm "overloaded" and
// the edge shedding. An INVITE after them is routed (404), not shed.
func TestRejectedRecordsAreNotQueueDelay(t *testing.T) {
	nc, in, sent := newOwningInput(t)
	const n = 5
	for i := range n {
		ev := received(events.TypeMessageRejected, "REGISTER", fmt.Sprintf("shed-%d@test", i), fmt.Sprintf("shed-%d@test", i), time.Second)
		ev.ID, ev.Status, ev.Reason = fmt.Sprintf("r%d", i), 503, "Service Unavailable"
		if err := nc.PublishMsg(ev.Encode(bus.SubjectRejected(ev.CallKey))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond) // longer than QueueInterval
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return in.Stats.Messages.Load() == n }, "rejected records handled: %d of %d", in.Stats.Messages.Load(), n)
	if in.load.Overloaded() {
		t.Fatal("late rejected records made tm overloaded")
	}
	ev := received(events.TypeRequestReceived, "INVITE", "after@test", "after@test", 0)
	ev.ID = "after"
	if err := nc.PublishMsg(ev.Encode(bus.SubjectRequestIn("INVITE", ev.CallKey))); err != nil {
		t.Fatal(err)
	}
	var got []int
	testenv.Eventually(t, 5*time.Second, func() bool { got = append(got, sent.take()...); return len(got) >= 1 }, "no answer to the INVITE")
	if len(got) != 1 || got[0] != 404 || in.Stats.Shed.Load() != 0 {
		t.Errorf("INVITE after the rejected records answered %v (shed %d), want one 404", got, in.Stats.Shed.Load())
	}
}

// newOwningInput is a test Input on a real NATS server that owns every
// partition, and the connection to publish the edges' events on.
func newOwningInput(t *testing.T) (*nats.Conn, *Input, *statusRecorder) {
	t.Helper()
	srv := testenv.NATS(t)
	nc, _ := testenv.Connect(t, srv.ClientURL())
	in, sent := newTestInput(t, nc)
	ctx := testenv.Context(t, 10*time.Second)
	for i := range bus.Partitions {
		if err := in.Acquire(ctx, bus.PartitionToken(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return nc, in, sent
}

// received is the event of a request to nobody@localhost (method, Call-ID
// callID, Via branch z9hG4bK+branch) as an edge publishes it, received age
// ago.
func received(typ, method, callID, branch string, age time.Duration) *events.SIP {
	raw := method + " sip:nobody@localhost SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5998;branch=z9hG4bK" + branch + "\r\n" +
		"From: <sip:caller@localhost>;tag=c\r\nTo: <sip:nobody@localhost>\r\n" +
		"Call-ID: " + callID + "\r\nCSeq: 1 " + method + "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	return &events.SIP{Type: typ, ID: callID, Source: "sipbus/edge/e1", Time: time.Now().Add(-age), CallKey: sipmsg.CallKey(callID),
		Raw: []byte(raw), Transport: "udp", Local: "127.0.0.1:5070", Remote: "127.0.0.1:5998", Edge: "e1"}
}

// TestRegisterIsSkipped: where the route table sends every REGISTER to the
// registrar (the default table; `sipbus up`, where tm and the registrar
// share the process's partition subscriptions), tm drops a REGISTER by
// its subject before decoding it: counted as Skipped, not as a message,
// and not answered (the registrar answers it). An INVITE on the same
// partition is still routed (404).
func TestRegisterIsSkipped(t *testing.T) {
	nc, in, sent := newOwningInput(t)
	reg := received(events.TypeRequestReceived, "REGISTER", "reg@test", "reg1", 0)
	inv := received(events.TypeRequestReceived, "INVITE", "reg@test", "inv1", 0)
	inv.ID = "inv"
	for _, m := range []*nats.Msg{reg.Encode(bus.SubjectRequestIn("REGISTER", reg.CallKey)), inv.Encode(bus.SubjectRequestIn("INVITE", inv.CallKey))} {
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	var got []int
	testenv.Eventually(t, 5*time.Second, func() bool { got = append(got, sent.take()...); return len(got) >= 1 }, "no answer to the INVITE")
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a late answer to the REGISTER would show here
	got = append(got, sent.take()...)
	if len(got) != 1 || got[0] != 404 {
		t.Errorf("answers %v, want only the INVITE's 404", got)
	}
	if s, m := in.Stats.Skipped.Load(), in.Stats.Messages.Load(); s != 1 || m != 1 {
		t.Errorf("Skipped %d, Messages %d; want 1 and 1 (the REGISTER skipped, the INVITE handled)", s, m)
	}
}
