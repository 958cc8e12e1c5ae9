package events_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

func BenchmarkNewSIPMessageMarshal(b *testing.B) {
	raw, err := os.ReadFile("testdata/invite.sip")
	if err != nil {
		b.Fatal(err)
	}
	m, err := sipmsg.Parse(raw, sipmsg.Datagram)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := events.NewSIPMessage(m, udp)
		if _, err := json.Marshal(&s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMsgRebuild(b *testing.B) {
	raw, _ := os.ReadFile("testdata/invite.sip")
	m, _ := sipmsg.Parse(raw, sipmsg.Datagram)
	s := events.NewSIPMessage(m, udp)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Msg(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	raw, _ := os.ReadFile("testdata/invite.sip")
	m, _ := sipmsg.Parse(raw, sipmsg.Datagram)
	data, _ := json.Marshal(events.NewSIPMessage(m, udp))
	ev := &bus.Event{ID: "1", Type: events.TypeRequestReceived, Data: data}
	b.ReportAllocs()
	for b.Loop() {
		if err := events.Validate(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRequestReceived is what every consumer of SIP events pays
// per event: bus.TypedFunc decoding the data of a request event.
func BenchmarkDecodeRequestReceived(b *testing.B) {
	raw, err := os.ReadFile("testdata/invite.sip")
	if err != nil {
		b.Fatal(err)
	}
	m, err := sipmsg.Parse(raw, sipmsg.Datagram)
	if err != nil {
		b.Fatal(err)
	}
	data, err := json.Marshal(&events.RequestReceived{SIPMessage: events.NewSIPMessage(m, udp)})
	if err != nil {
		b.Fatal(err)
	}
	ev := &bus.Event{ID: "x", Type: events.TypeRequestReceived, Data: data}
	h := bus.TypedFunc(func(_ context.Context, _ *bus.Event, d *events.RequestReceived) error {
		if len(d.Raw) != len(raw) {
			b.Fatalf("decoded %d raw bytes, want %d", len(d.Raw), len(raw))
		}
		return nil
	})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := h(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
}
