package bus_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/natsembed"
)

func ExampleSubjectRequestIn() {
	ck := "5a0c0ad9d6f8a1b4" // sipmsg.CallKey(Call-ID)
	fmt.Println(bus.SubjectRequestIn("INVITE", ck))
	fmt.Println(bus.SubjectResponseIn(486, ck))
	fmt.Println(bus.SubjectResponseOut("edge-1", 486, ck))
	fmt.Println(bus.PartitionInFilter(bus.Partition(ck)))
	fmt.Println(bus.SafeToken("!interesting-Method0123456789_*+`.%indeed'~"))
	fmt.Println(bus.CallFilter(ck))
	// Output:
	// sip.5a.in.req.INVITE
	// sip.5a.in.res.4xx
	// sip.5a.out.edge-1.res.4xx
	// sip.5a.in.>
	// _interesting-Method0123456789______indeed__-2fd4bf68
	// [sip.5a.> call.*.5a]
}

// callMissed is an event data type; real ones live in package events.
type callMissed struct {
	Callee string `json:"callee"`
}

func (*callMissed) CEType() string   { return "sipbus.call.missed.v1" }
func (*callMissed) CESchema() string { return "https://sipbus.dev/schemas/sipbus.call.missed.v1.json" }

// A feature is one typed handler under a stable name (its durable consumer).
func ExampleSubscribe() {
	dir, _ := os.MkdirTemp("", "bus-example")
	defer os.RemoveAll(dir)
	srv, err := natsembed.Start(natsembed.Config{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown()
	nc, _ := nats.Connect(srv.ClientURL())
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		fmt.Println(err)
		return
	}

	done := make(chan struct{})
	h := bus.TypedFunc(func(ctx context.Context, ev *bus.Event, d *callMissed) error {
		fmt.Printf("%s: missed call for %s (delivery %d)\n", ev.Type, d.Callee, ev.Delivery)
		close(done)
		return nil // ack; an error naks, bus.Permanent(err) dead-letters
	})
	sub, err := bus.Subscribe(ctx, js, "notifier-missed-call", h, bus.SubscribeOptions{Filters: []string{"call.missed.>"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Stop(ctx)

	pub := bus.NewPublisher(js, "sipbus/tm/1", bus.PublisherOptions{})
	ck := "5a0c0ad9d6f8a1b4"
	if err := pub.PublishData(ctx, bus.SubjectCall("missed", ck), "", "a84b4c76e66710@pc33", ck, &callMissed{Callee: "sip:bob@example.com"}); err != nil {
		fmt.Println(err)
		return
	}
	_ = pub.Flush(ctx)
	<-done
	// Output:
	// sipbus.call.missed.v1: missed call for sip:bob@example.com (delivery 1)
}
