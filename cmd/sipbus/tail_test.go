package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestTailCallID: `sipbus tail --call-id` prints every event of the call,
// SIP messages and call events, and nothing of another call in the same
// partition (subjects name the partition, not the call) or in another one.
func TestTailCallID(t *testing.T) {
	ns := testenv.NATS(t)
	_, js := testenv.Connect(t, ns.ClientURL())
	ctx := testenv.Context(t, time.Minute)
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	// Call-IDs whose keys share a partition, and one of another partition.
	callA := "tail-a@test"
	ckA := sipmsg.CallKey(callA)
	var callB, callC string
	for i := 0; callB == "" || callC == ""; i++ {
		id := fmt.Sprintf("tail-%d@test", i)
		switch ck := sipmsg.CallKey(id); {
		case ck == ckA:
		case bus.Partition(ck) == bus.Partition(ckA) && callB == "":
			callB = id
		case bus.Partition(ck) != bus.Partition(ckA) && callC == "":
			callC = id
		}
	}
	publishSIP := func(callID, method string) {
		raw := []byte(method + " sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK-" + method +
			"\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\nCall-ID: " + callID +
			"\r\nCSeq: 1 " + method + "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
		ck := sipmsg.CallKey(callID)
		ev := &events.SIP{Type: events.TypeRequestReceived, ID: bus.NewID(), Source: "sipbus/edge/t", Time: time.Now(),
			CallKey: ck, Raw: raw, Transport: "udp", Local: "192.0.2.1:5060", Remote: "192.0.2.7:5060", Edge: "t"}
		if _, err := js.PublishMsg(ctx, ev.Encode(bus.SubjectRequestIn(method, ck))); err != nil {
			t.Fatal(err)
		}
	}
	publishEnded := func(callID string) {
		ck := sipmsg.CallKey(callID)
		ev, err := bus.NewEvent(bus.NewID(), callID, ck, &events.CallEnded{CallID: callID, CallKey: ck, HangupBy: events.HangupCaller})
		if err != nil {
			t.Fatal(err)
		}
		ev.Source, ev.Time = "sipbus/tm/t", time.Now()
		if _, err := js.PublishMsg(ctx, bus.Encode(bus.SubjectCall(bus.CallEventEnded, ck), ev)); err != nil {
			t.Fatal(err)
		}
	}
	for _, call := range []string{callA, callB, callC} {
		publishSIP(call, "INVITE")
		publishSIP(call, "BYE")
		publishEnded(call)
	}

	tail := start(t, "tail", "--nats", ns.ClientURL(), "--json", "--since", "1m", "--call-id", callA)
	var got []string
	for len(got) < 3 {
		select {
		case line, ok := <-tail.lines:
			if !ok {
				t.Fatalf("tail ended after %v; stderr:\n%s", got, tail.stderrString())
			}
			var ce struct {
				Type    string `json:"type"`
				CallKey string `json:"callkey"`
			}
			if err := json.Unmarshal([]byte(line), &ce); err != nil {
				t.Fatalf("tail printed %q: %v", line, err)
			}
			if ce.CallKey != ckA {
				t.Fatalf("tail --call-id %s printed an event of call key %s (A %s, B %s, C %s): %s",
					callA, ce.CallKey, ckA, sipmsg.CallKey(callB), sipmsg.CallKey(callC), line)
			}
			got = append(got, ce.Type)
		case <-time.After(10 * time.Second):
			t.Fatalf("tail --call-id printed %v within 10 s, want 3 events; stderr:\n%s", got, tail.stderrString())
		}
	}
	want := events.TypeRequestReceived + "," + events.TypeRequestReceived + "," + events.TypeCallEnded
	if strings.Join(got, ",") != want {
		t.Errorf("tail --call-id printed %v, want %s", got, want)
	}
	select {
	case line := <-tail.lines:
		t.Errorf("tail --call-id printed a fourth line: %s", line)
	case <-time.After(time.Second):
	}
}
