package bus_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	cejs "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/sipbus/sipbus/pkg/bus"
)

const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// TestInteropBusToSDK: an event published by bus.Publisher is received by
// cloudevents sdk-go through its NATS JetStream protocol binding, with every
// attribute, extension and the data intact.
func TestInteropBusToSDK(t *testing.T) {
	e := newEnv(t)
	subject := bus.SubjectRequestIn("INVITE", "00112233aabbccdd")
	ev := sampleEvent("interop-1", 5)
	ev.DataSchema = (&sample{}).CESchema()
	ev.TraceParent = tp
	p := bus.NewPublisher(e.js, "sipbus/edge/e1", bus.PublisherOptions{})
	if err := p.Publish(ctx(t), subject, ev); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}

	consumer, err := cejs.NewConsumerFromConn(e.nc, bus.DefaultStream, subject, nil, []nats.SubOpt{nats.DeliverAll()})
	if err != nil {
		t.Fatalf("sdk consumer: %v", err)
	}
	client, err := cloudevents.NewClient(consumer)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan event.Event, 1)
	rctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	go func() {
		_ = client.StartReceiver(rctx, func(e event.Event) { got <- e })
	}()
	var ce event.Event
	select {
	case ce = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("sdk-go received nothing")
	}
	if err := ce.Validate(); err != nil {
		t.Errorf("sdk-go says the event is invalid: %v", err)
	}
	checks := []struct{ name, got, want string }{
		{"specversion", ce.SpecVersion(), "1.0"},
		{"id", ce.ID(), ev.ID},
		{"source", ce.Source(), "sipbus/edge/e1"},
		{"type", ce.Type(), ev.Type},
		{"subject", ce.Subject(), ev.Subject},
		{"dataschema", ce.DataSchema(), ev.DataSchema},
		{"datacontenttype", ce.DataContentType(), "application/json"},
		{"callkey", str(ce.Extensions()["callkey"]), ev.CallKey},
		{"traceparent", str(ce.Extensions()["traceparent"]), tp},
		{"data", string(ce.Data()), string(ev.Data)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !ce.Time().Equal(ev.Time) {
		t.Errorf("time %v, want %v", ce.Time(), ev.Time)
	}
	var data sample
	if err := ce.DataAs(&data); err != nil || data.N != 5 {
		t.Errorf("DataAs: %v %+v", err, data)
	}
	if n := len(ce.Extensions()); n != 2 {
		t.Errorf("extensions %v, want only callkey and traceparent", ce.Extensions())
	}
}

// TestInteropBusToSDKBinding reads a bus-encoded message with sdk-go's
// binding.ToEvent over the NATS JetStream message adapter (no server).
func TestInteropBusToSDKBinding(t *testing.T) {
	ev := sampleEvent("interop-2", 6)
	ev.Source = "sipbus/tm/1"
	ce, err := binding.ToEvent(context.Background(), cejs.NewMessage(bus.Encode("tx.created.ck", ev)))
	if err != nil {
		t.Fatalf("binding.ToEvent: %v", err)
	}
	if ce.ID() != ev.ID || ce.Source() != ev.Source || ce.Type() != ev.Type || !ce.Time().Equal(ev.Time) ||
		str(ce.Extensions()["callkey"]) != ev.CallKey || string(ce.Data()) != string(ev.Data) {
		t.Errorf("sdk-go read %s", ce)
	}
}

// TestInteropSDKToBus: an event sent by sdk-go's NATS JetStream sender (binary
// mode) is delivered to bus.Subscribe and decoded with everything intact.
func TestInteropSDKToBus(t *testing.T) {
	e := newEnv(t)
	subject := bus.SubjectResponseIn(200, "00112233aabbccdd")
	sender, err := cejs.NewSenderFromConn(e.nc, bus.DefaultStream, subject, nil)
	if err != nil {
		t.Fatalf("sdk sender: %v", err)
	}
	client, err := cloudevents.NewClient(sender)
	if err != nil {
		t.Fatal(err)
	}
	ce := cloudevents.NewEvent()
	ce.SetID("sdk-1")
	ce.SetSource("sipbus/other-language/1")
	ce.SetType("sipbus.test.sample.v1")
	ce.SetSubject("a84b4c76e66710@pc33.atlanta.com")
	ce.SetTime(time.Date(2026, 11, 25, 9, 30, 0, 987654321, time.UTC))
	ce.SetDataSchema("https://sipbus.dev/schemas/sipbus.test.sample.v1.json")
	ce.SetExtension("callkey", "00112233aabbccdd")
	ce.SetExtension("traceparent", tp)
	if err := ce.SetData(cloudevents.ApplicationJSON, sample{N: 9, Text: "from sdk"}); err != nil {
		t.Fatal(err)
	}
	if res := client.Send(binding.WithForceBinary(ctx(t)), ce); cloudevents.IsUndelivered(res) {
		t.Fatalf("sdk send: %v", res)
	}

	got := make(chan *bus.Event, 1)
	subscribe(t, e, "interop", func(_ context.Context, ev *bus.Event) error { got <- ev; return nil },
		bus.SubscribeOptions{Filters: []string{"sip.*.in.res.>"}})
	var ev *bus.Event
	select {
	case ev = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("bus received nothing")
	}
	want := bus.Event{
		ID: "sdk-1", Source: "sipbus/other-language/1", Type: "sipbus.test.sample.v1",
		Subject: "a84b4c76e66710@pc33.atlanta.com", DataSchema: "https://sipbus.dev/schemas/sipbus.test.sample.v1.json",
		CallKey: "00112233aabbccdd", TraceParent: tp, NATSSubject: subject, Delivery: 1,
	}
	if !equalEvent(*ev, want) {
		t.Errorf("decoded\n %+v\nwant\n %+v", *ev, want)
	}
	if !ev.Time.Equal(ce.Time()) {
		t.Errorf("time %v, want %v", ev.Time, ce.Time())
	}
	var data sample
	if err := json.Unmarshal(ev.Data, &data); err != nil || data != (sample{N: 9, Text: "from sdk"}) {
		t.Errorf("data %s: %v", ev.Data, err)
	}
}

func equalEvent(a, b bus.Event) bool {
	return a.ID == b.ID && a.Source == b.Source && a.Type == b.Type && a.Subject == b.Subject &&
		a.DataSchema == b.DataSchema && a.CallKey == b.CallKey && a.TraceParent == b.TraceParent &&
		a.NATSSubject == b.NATSSubject && a.Delivery == b.Delivery
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
