package ports

import (
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
