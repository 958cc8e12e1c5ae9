package bus_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sipbus/sipbus/pkg/bus"
)

func TestEncodeDecode(t *testing.T) {
	full := sampleEvent("ev-1", 1)
	full.Source = "sipbus/edge/e1"
	full.DataSchema = "https://sipbus.dev/schemas/sipbus.test.sample.v1.json"
	full.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	minimal := &bus.Event{ID: "ev-2", Source: "s", Type: "t"}
	for _, tc := range []struct {
		name string
		ev   *bus.Event
	}{{"full", full}, {"minimal", minimal}} {
		t.Run(tc.name, func(t *testing.T) {
			m := bus.Encode("sip.in.req.INVITE.00112233aabbccdd", tc.ev)
			if got := m.Header.Get(nats.MsgIdHdr); got != tc.ev.ID {
				t.Errorf("Nats-Msg-Id = %q, want %q", got, tc.ev.ID)
			}
			got, err := bus.Decode(m)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := *tc.ev
			want.NATSSubject = m.Subject
			if !got.Time.Equal(want.Time) {
				t.Errorf("time %v, want %v", got.Time, want.Time)
			}
			got.Time, want.Time = time.Time{}, time.Time{}
			if len(want.Data) == 0 {
				want.Data = nil
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", *got, want)
			}
		})
	}
	if ct := bus.Encode("x", full).Header.Get("content-type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
	if tm := bus.Encode("x", full).Header.Get("ce-time"); tm != "2026-11-25T09:00:00.123456789Z" {
		t.Errorf("ce-time %q", tm)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := func() nats.Header {
		return nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"s"}, "ce-type": {"t"}}
	}
	with := func(k, v string) nats.Header {
		h := good()
		if v == "" {
			delete(h, k)
		} else {
			h[k] = []string{v}
		}
		return h
	}
	tests := []struct {
		name string
		h    nats.Header
		ok   bool
	}{
		{"valid", good(), true},
		{"no headers", nil, false},
		{"no specversion", with("ce-specversion", ""), false},
		{"specversion 0.3", with("ce-specversion", "0.3"), false},
		{"no id", with("ce-id", ""), false},
		{"no source", with("ce-source", ""), false},
		{"no type", with("ce-type", ""), false},
		{"bad time", with("ce-time", "yesterday"), false},
		{"time without nanos", with("ce-time", "2026-11-25T09:00:00Z"), true},
		{"text content", with("content-type", "text/plain"), false},
		{"json with charset", with("content-type", "application/json; charset=utf-8"), true},
		{"cloudevents+json", with("content-type", "application/cloudevents+json"), true},
		{"canonical-case headers", nats.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"s"}, "Ce-Type": {"t"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bus.Decode(&nats.Msg{Subject: "x", Header: tc.h, Data: []byte(`{}`)})
			if tc.ok && err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !tc.ok && !errors.Is(err, bus.ErrBadEvent) {
				t.Fatalf("Decode error %v, want ErrBadEvent", err)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("boom")
	p := bus.Permanent(base)
	if !bus.IsPermanent(p) || !errors.Is(p, base) {
		t.Errorf("Permanent(%v) = %v: IsPermanent %v, Is base %v", base, p, bus.IsPermanent(p), errors.Is(p, base))
	}
	if bus.IsPermanent(base) || bus.Permanent(nil) != nil {
		t.Error("plain error is permanent, or Permanent(nil) != nil")
	}
	if wrapped := errors.Join(errors.New("ctx"), p); !bus.IsPermanent(wrapped) {
		t.Error("wrapped permanent error not recognised")
	}
}

func BenchmarkEncodeDecode(b *testing.B) {
	ev := sampleEvent("bench", 1)
	ev.Source = "sipbus/edge/e1"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bus.Decode(bus.Encode("sip.in.req.INVITE.00112233aabbccdd", ev)); err != nil {
			b.Fatal(err)
		}
	}
}
