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
// at t while the call's partition last handled an input received before t
// that waited behindMin or more, and lets it go once an input received at
// or after t has been handled, on a partition that handled nothing, and
// once the partition has been quiet for longer than its latest input
// waited. Real NATS: the inputs arrive on the partition's subscription as
// the edges publish them, and handling them sets the marks.
func TestBehindFollowsThePartitionsQueue(t *testing.T) {
	nc, in, _ := newOwningInput(t)
	publish := func(callID string, age time.Duration) *events.SIP {
		t.Helper()
		ev := received(events.TypeRequestReceived, "OPTIONS", callID, callID+"-"+age.String(), age)
		n := in.Stats.Messages.Load()
		if err := nc.PublishMsg(ev.Encode(bus.SubjectRequestIn("OPTIONS", ev.CallKey))); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 5*time.Second, func() bool { return in.Stats.Messages.Load() > n }, "input %s not handled", callID)
		return ev
	}
	late := publish("late@test", 2*time.Second) // waited 2 s in the queue
	ck := late.CallKey
	if d := in.Behind(ck, late.Time.Add(time.Millisecond)); d <= 0 {
		t.Errorf("Behind after an input that waited 2s, due after it was received: %v, want a wait", d)
	}
	if d := in.Behind(ck, late.Time); d != 0 {
		t.Errorf("Behind, due when the latest input handled was received: %v, want 0", d)
	}
	other := "other@test"
	for i := 0; bus.Partition(sipmsg.CallKey(other)) == bus.Partition(ck); i++ {
		other = fmt.Sprintf("other-%d@test", i)
	}
	if d := in.Behind(sipmsg.CallKey(other), time.Now()); d != 0 {
		t.Errorf("Behind on a partition that handled nothing: %v, want 0", d)
	}
	late = publish("late@test", 100*time.Millisecond)
	if d := in.Behind(ck, time.Now()); d <= 0 {
		t.Fatalf("Behind after an input that waited 100ms: %v, want a wait", d)
	}
	time.Sleep(150 * time.Millisecond)
	if d := in.Behind(ck, time.Now()); d != 0 {
		t.Errorf("Behind on a partition quiet for longer than its latest input waited: %v, want 0", d)
	}
}

// behind, case by case (unix ms): the latest input handled on the
// partition was received at rcvd and handled at at; a retransmission due
// at t asks at now.
func TestBehind(t *testing.T) {
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	for _, c := range []struct {
		name               string
		rcvd, at, due, now int64
		want               time.Duration
	}{
		{"nothing handled", 0, 0, 1000, 1000, 0},
		{"queue 400ms behind the due time", 100, 500, 500, 510, 390 * time.Millisecond},
		{"caught up: received at the due time", 500, 900, 500, 910, 0},
		{"caught up: received after it", 600, 900, 500, 910, 0},
		{"short queue (under behindMin)", 480, 499, 500, 505, 0},
		{"quiet for longer than the wait", 100, 200, 500, 301, 0},
		{"nearly caught up: looks again in 5ms", 475, 500, 500, 522, 5 * time.Millisecond},
	} {
		if got := behind(ms(c.rcvd), ms(c.at), ms(c.due), ms(c.now)); got != c.want {
			t.Errorf("%s: behind = %v, want %v", c.name, got, c.want)
		}
	}
}
