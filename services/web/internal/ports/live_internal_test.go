package ports

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// The hub holds its subscriptions only while a stream is open, and a
// stream sees the events published once it is open.
func TestHubSubscribesWhileStreamsAreOpen(t *testing.T) {
	s := testenv.NATS(t)
	nc, _ := testenv.Connect(t, s.ClientURL())
	h := &Hub{}
	if err := h.Start(nc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Stop)
	if h.Subscribed() {
		t.Fatal("subscribed with no stream open")
	}
	ch1, stop1, err := h.listen("alice@example.com")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	_, stop2, err := h.listen("bob@example.com")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if !h.Subscribed() {
		t.Fatal("not subscribed with two streams open")
	}
	data, _ := json.Marshal(events.RegContact{AOR: "sip:alice@example.com"})
	ev := &bus.Event{ID: "e1", Source: "test", Type: events.TypeRegContactAdded, Time: time.Now(), Data: data}
	if err := nc.PublishMsg(bus.Encode(bus.SubjectReg(bus.RegEventAdded, "k1"), ev)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch1:
	case <-time.After(5 * time.Second):
		t.Fatal("the open stream got no note for its user's binding")
	}
	stop2()
	if !h.Subscribed() {
		t.Fatal("unsubscribed while a stream is still open")
	}
	stop1()
	if h.Subscribed() {
		t.Fatal("still subscribed after the last stream closed")
	}
}
