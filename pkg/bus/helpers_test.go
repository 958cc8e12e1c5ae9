package bus_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// env is one embedded NATS server with the sipbus stream.
type env struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	url string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := testenv.NATS(t)
	nc, js := testenv.Connect(t, s.ClientURL())
	if _, err := bus.EnsureStream(testenv.Context(t, 10*time.Second), js, bus.StreamConfig{}); err != nil {
		t.Fatalf("EnsureStream: %v", err)
	}
	return &env{nc: nc, js: js, url: s.ClientURL()}
}

func ctx(t *testing.T) context.Context { return testenv.Context(t, 30*time.Second) }

// sample is a Typed payload for tests.
type sample struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

func (*sample) CEType() string   { return "sipbus.test.sample.v1" }
func (*sample) CESchema() string { return "https://sipbus.dev/schemas/sipbus.test.sample.v1.json" }

func sampleEvent(id string, n int) *bus.Event {
	b, _ := json.Marshal(sample{N: n, Text: "x"})
	return &bus.Event{
		ID: id, Type: "sipbus.test.sample.v1", Subject: "call-" + id, CallKey: "00112233aabbccdd",
		Time: time.Date(2026, 11, 25, 9, 0, 0, 123456789, time.UTC), Data: b,
	}
}

// lastMsg returns the last message stored on subject, or nil.
func lastMsg(t *testing.T, e *env, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	s, err := e.js.Stream(ctx(t), bus.DefaultStream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	m, err := s.GetLastMsgForSubject(ctx(t), subject)
	if err != nil {
		return nil
	}
	return m
}

func streamInfo(t *testing.T, e *env) *jetstream.StreamInfo {
	t.Helper()
	s, err := e.js.Stream(ctx(t), bus.DefaultStream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := s.Info(ctx(t))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info
}
