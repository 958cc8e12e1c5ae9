package events_test

import (
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
