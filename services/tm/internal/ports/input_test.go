package ports

import (
	"fmt"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// OnCall (what an application's command runs under) excludes the call's
// messages: a message of the call that arrives meanwhile is handled only
// once fn returned, as the engine's lock-free transactions need.
func TestOnCallExcludesTheCallsMessages(t *testing.T) {
	srv := testenv.NATS(t)
	nc, _ := testenv.Connect(t, srv.ClientURL())
	in, sent := newTestInput(t, nc)
	ctx := testenv.Context(t, 10*time.Second)
	callID := "oncall-1@test"
	ck := sipmsg.CallKey(callID)
	if err := in.Acquire(ctx, bus.Partition(ck), nil); err != nil {
		t.Fatal(err)
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	raw := "INVITE sip:nobody@localhost SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5998;branch=z9hG4bK-oncall\r\n" +
		"From: <sip:caller@localhost>;tag=c\r\nTo: <sip:nobody@localhost>\r\n" +
		"Call-ID: " + callID + "\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	ev := &events.SIP{Type: events.TypeRequestReceived, ID: "oncall-ev", Source: "sipbus/edge/e1",
		Time: time.Now(), CallKey: ck, Raw: []byte(raw),
		Transport: "udp", Local: "127.0.0.1:5070", Remote: "127.0.0.1:5998", Edge: "e1"}
	in.OnCall(ck, func() {
		if err := nc.PublishMsg(ev.Encode(bus.SubjectRequestIn("INVITE", ck))); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // time enough for the subscription to take the message
		if n := in.Stats.Messages.Load(); n != 0 {
			t.Errorf("%d messages handled while OnCall held the call's partition, want 0", n)
		}
	})
	testenv.Eventually(t, 5*time.Second, func() bool { return in.Stats.Messages.Load() == 1 }, "the INVITE handled after OnCall returned")
	testenv.Eventually(t, 5*time.Second, func() bool { return len(sent.take()) > 0 }, "an answer to the INVITE")
}

// TestBehindFollowsThePartitionsQueue: Behind holds a retransmission due
// at t while an input waits on the call's partition, or the latest one
// handled waited long upstream, and that one was received before t; it
// lets it go once that input's edge had published everything it received
// before t (its low watermark), and when nothing waits and the latest
// waited briefly (TestBehind). Real NATS: the inputs
// arrive on the partition's subscription as the edges publish them,
// handling them sets the marks, and one published while the partition's
// lock is held (as a timer holds it when it fires) waits for it.
func TestBehindFollowsThePartitionsQueue(t *testing.T) {
	nc, in, _ := newOwningInput(t)
	publish := func(callID string, age time.Duration) *events.SIP {
		t.Helper()
		ev := received(events.TypeRequestReceived, "OPTIONS", callID, callID+"-"+age.String(), age)
		if err := nc.PublishMsg(ev.Encode(bus.SubjectRequestIn("OPTIONS", ev.CallKey))); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	handled := func(n uint64) {
		t.Helper()
		testenv.Eventually(t, 5*time.Second, func() bool { return in.Stats.Messages.Load() == n }, "inputs handled: %d of %d", in.Stats.Messages.Load(), n)
	}
	late := publish("late@test", 2*time.Second) // waited 2 s in the queue
	handled(1)
	ck := late.CallKey
	if d := in.Behind(ck, late.Time.Add(time.Millisecond)); d < lookMin {
		t.Errorf("Behind after an input that waited 2s upstream, nothing waiting here: %v, want a wait", d)
	}
	p := partitionOf(ck)
	in.OnCall(ck, func() {
		next := publish("late@test", time.Second)
		testenv.Eventually(t, 5*time.Second, func() bool { return in.parts[p].entered.Load() == 1 }, "the second input does not wait for the partition")
		if d := in.Behind(ck, next.Time); d < lookMin || d > lookMax {
			t.Errorf("Behind while an input waits, due after the latest handled was received: %v, want %v..%v", d, lookMin, lookMax)
		}
		if d := in.Behind(ck, late.Time); d != 0 {
			t.Errorf("Behind, due when the latest input handled was received: %v, want 0", d)
		}
	})
	handled(2)
	if d := in.Behind(ck, time.Now()); d < lookMin {
		t.Errorf("Behind once the partition handled what waited, the latest waited 1s: %v, want a wait", d)
	}
	// An input taken up at once by its edge while another of the edge's
	// workers still held a datagram received 300ms earlier: its
	// watermark, not its own receive time, is the mark.
	ev := received(events.TypeRequestReceived, "OPTIONS", "late@test", "late@test-backlog", 0)
	ev.Backlog = 300 * time.Millisecond
	if err := nc.PublishMsg(ev.Encode(bus.SubjectRequestIn("OPTIONS", ev.CallKey))); err != nil {
		t.Fatal(err)
	}
	handled(3)
	if d := in.Behind(ck, ev.Time); d < lookMin {
		t.Errorf("Behind, due at an input's receive time whose edge still held older datagrams: %v, want a wait", d)
	}
	if d := in.Behind(ck, ev.Low()); d != 0 {
		t.Errorf("Behind, due at that input's watermark: %v, want 0", d)
	}
	// Nothing more comes for this partition, but an input of another
	// partition shows that the edge has published everything it received
	// before the due time: nothing of this partition waits at the edge.
	other := "other-0@test"
	for i := 1; partitionOf(sipmsg.CallKey(other)) == partitionOf(ck); i++ {
		other = fmt.Sprintf("other-%d@test", i)
	}
	due := time.Now()
	publish(other, 0)
	handled(4)
	if d := in.Behind(ck, due); d != 0 {
		t.Errorf("Behind, the edge past the due time on another partition, nothing waiting on this one: %v, want 0", d)
	}
}

// behind, case by case (unix ms): the latest input handled on the
// partition carried the low watermark part.low and was handled at
// part.at, queued inputs wait on the partition, each edge's freshest
// watermark and latest input are edges; a retransmission due at t asks
// at now.
func TestBehind(t *testing.T) {
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	mark := func(low, at int64) queueMark { return queueMark{ms(low), ms(at)} }
	for _, c := range []struct {
		name     string
		part     queueMark
		due, now int64
		queued   int
		edges    []queueMark
		want     time.Duration
	}{
		{"nothing handled, nothing waits", mark(0, 0), 1000, 1000, 0, nil, 0},
		{"nothing handled, an input waits", mark(0, 0), 1000, 1000, 1, nil, lookMin},
		{"queue 240ms behind the due time", mark(260, 500), 500, 510, 3, nil, 230 * time.Millisecond},
		{"queue 200ms behind", mark(300, 500), 500, 510, 3, nil, 190 * time.Millisecond},
		{"caught up: the partition's watermark at the due time", mark(500, 900), 500, 910, 3, nil, 0},
		{"caught up: the watermark after it", mark(600, 900), 500, 910, 3, nil, 0},
		{"nearly caught up: looks again in lookMin", mark(495, 500), 500, 502, 1, nil, lookMin},
		{"far behind: looks again in lookMax", mark(100, 2000), 2000, 2001, 9, nil, lookMax},
		{"nothing waits here, the edge 200ms behind", mark(300, 500), 500, 510, 0, []queueMark{mark(300, 500)}, 190 * time.Millisecond},
		{"nothing waits here, the edge without a backlog", mark(490, 500), 500, 505, 0, []queueMark{mark(490, 500)}, 0},
		{"nothing waits, the edge quiet for longer than its backlog", mark(100, 200), 500, 510, 0, []queueMark{mark(100, 200)}, 0},
		{"nothing waits, another partition's input shows the edge past the due time", mark(100, 200), 500, 910, 0, []queueMark{mark(600, 900)}, 0},
		// The broken call of round 31: the partition had seen nothing for
		// 468ms, the edge's queues still held its 200.
		{"the partition quiet, the edge 660ms behind", mark(1000, 1292), 1759, 1760, 0, []queueMark{mark(1097, 1746)}, lookMax},
		{"one edge caught up, another behind", mark(100, 200), 500, 510, 0, []queueMark{mark(600, 505), mark(420, 505)}, 75 * time.Millisecond},
	} {
		if got := behind(c.part, ms(c.due), ms(c.now), c.queued, c.edges); got != c.want {
			t.Errorf("%s: behind = %v, want %v", c.name, got, c.want)
		}
	}
}
