package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/edge"
	"github.com/sipbus/sipbus/services/registrar"
	"github.com/sipbus/sipbus/services/tm"
)

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if a.Key == attribute.Key(key) {
			return a.Value.Emit()
		}
	}
	return ""
}

// TestTraceEdgeTMEdge wires an edge and tm in this process on a real NATS
// server with an in-process span recorder, sends one call with SIPp, and
// checks that the INVITE's trace runs edge (sip.receive) -> tm
// (tm.decide) -> edge (sip.send, the INVITE relayed to the callee), each
// span the parent of the next, the traceparent carried in the events.
func TestTraceEdgeTMEdge(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := testenv.NATS(t)
	nc, js := testenv.Connect(t, srv.ClientURL())
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	log := slog.New(slog.DiscardHandler)

	sipPort, uasPort, uacPort := testenv.FreePort(t, "udp"), testenv.FreePort(t, "udp"), testenv.FreePort(t, "udp")
	sip := fmt.Sprintf("127.0.0.1:%d", sipPort)
	e, err := edge.New(edge.Config{ID: "edge-trace", UDP: sip, TCP: "-"}, edge.Deps{NC: nc, JS: js, Log: log, Tracer: obs.NewTracer(tp, "edge")})
	if err != nil {
		t.Fatal(err)
	}
	tcfg := tm.DefaultConfig()
	tcfg.ID, tcfg.Advertise, tcfg.Domains = "tm-trace", sip, []string{"localhost"}
	tcfg.Static = map[string][]string{"uas@localhost": {fmt.Sprintf("sip:uas@127.0.0.1:%d", uasPort)}}
	if err := tcfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tmr, err := tm.New(tcfg, tm.Deps{NC: nc, JS: js, Store: store.NewMemory(store.MemoryOptions{}), Log: log, Tracer: obs.NewTracer(tp, "tm")})
	if err != nil {
		t.Fatal(err)
	}
	if err := tmr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer tmr.Shutdown(context.Background())
	edgeDone := make(chan error, 1)
	ectx, stopEdge := context.WithCancel(ctx)
	go func() { edgeDone <- e.Run(ectx) }()
	defer func() { stopEdge(); <-edgeDone }()

	uas := runSIPp(t, "uas", "uas.xml", "-p", strconv.Itoa(uasPort))
	runSIPp(t, "uac", "uac.xml", sip, "-p", strconv.Itoa(uacPort), "-s", "uas", "-key", "domain", "localhost",
		"-m", "1", "-cid_str", "trace-%u-%p@[local_ip]").wait(t, 30*time.Second)
	uas.stopClean(t)

	var recv, decide, send sdktrace.ReadOnlySpan
	testenv.Eventually(t, 10*time.Second, func() bool {
		recv, decide, send = nil, nil, nil
		spans := rec.Ended()
		for _, s := range spans {
			if s.Name() == "sip.receive" && attr(s, "sip.method") == "INVITE" {
				recv = s
			}
		}
		if recv == nil {
			return false
		}
		for _, s := range spans {
			if s.Name() == "tm.decide" && s.Parent().SpanID() == recv.SpanContext().SpanID() {
				decide = s
			}
		}
		if decide == nil {
			return false
		}
		for _, s := range spans {
			if s.Name() == "sip.send" && s.Parent().SpanID() == decide.SpanContext().SpanID() {
				send = s
			}
		}
		return send != nil
	}, "no edge -> tm -> edge trace for the INVITE; spans: %v", spanNames(rec.Ended()))

	trace := recv.SpanContext().TraceID()
	for _, s := range []sdktrace.ReadOnlySpan{decide, send} {
		if s.SpanContext().TraceID() != trace {
			t.Errorf("span %s is in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), trace)
		}
	}
	if recv.Parent().IsValid() {
		t.Errorf("sip.receive of the INVITE has a parent: a received SIP message starts its trace")
	}
	if got := attr(send, "sip.dest"); got != fmt.Sprintf("udp:127.0.0.1:%d", uasPort) {
		t.Errorf("the INVITE's sip.send went to %q, want the callee udp:127.0.0.1:%d", got, uasPort)
	}
	if got := attr(decide, "sipbus.tm"); got != "tm-trace" {
		t.Errorf("tm.decide sipbus.tm = %q", got)
	}
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name()+"("+attr(s, "sip.method")+attr(s, "sip.status_code")+")")
	}
	return out
}

// TestTraceRegistrar: a REGISTER's trace runs edge (sip.receive) ->
// registrar (registrar.register) -> edge (sip.send, the 200), and the
// reg.contact event the registrar stores carries the registrar span's
// traceparent: the services after tm join the trace the edge started.
func TestTraceRegistrar(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := testenv.NATS(t)
	nc, js := testenv.Connect(t, srv.ClientURL())
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	log := slog.New(slog.DiscardHandler)
	sipPort, uacPort := testenv.FreePort(t, "udp"), testenv.FreePort(t, "udp")
	sip := fmt.Sprintf("127.0.0.1:%d", sipPort)
	e, err := edge.New(edge.Config{ID: "edge-trace", UDP: sip, TCP: "-"}, edge.Deps{NC: nc, JS: js, Log: log, Tracer: obs.NewTracer(tp, "edge")})
	if err != nil {
		t.Fatal(err)
	}
	rcfg := registrar.DefaultConfig()
	rcfg.ID, rcfg.Domains, rcfg.Auth = "reg-trace", []string{"localhost"}, "off"
	if err := rcfg.Validate(); err != nil {
		t.Fatal(err)
	}
	state, closeState, err := registrar.OpenState(ctx, "memory://")
	if err != nil {
		t.Fatal(err)
	}
	defer closeState()
	reg, err := registrar.New(rcfg, registrar.Deps{NC: nc, JS: js, State: state, Log: log, Tracer: obs.NewTracer(tp, "registrar")})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer reg.Shutdown(context.Background())
	edgeDone := make(chan error, 1)
	ectx, stopEdge := context.WithCancel(ctx)
	go func() { edgeDone <- e.Run(ectx) }()
	defer func() { stopEdge(); <-edgeDone }()

	runSIPp(t, "register", "register_one.xml", sip, "-p", strconv.Itoa(uacPort), "-key", "domain", "localhost",
		"-key", "user", "alice", "-key", "contact", "127.0.0.1:5999", "-m", "1").wait(t, 30*time.Second)

	var recv, handle, send sdktrace.ReadOnlySpan
	testenv.Eventually(t, 10*time.Second, func() bool {
		recv, handle, send = nil, nil, nil
		spans := rec.Ended()
		for _, s := range spans {
			if s.Name() == "sip.receive" && attr(s, "sip.method") == "REGISTER" {
				recv = s
			}
		}
		for _, s := range spans {
			if recv != nil && s.Name() == "registrar.register" && s.Parent().SpanID() == recv.SpanContext().SpanID() {
				handle = s
			}
		}
		for _, s := range spans {
			if handle != nil && s.Name() == "sip.send" && s.Parent().SpanID() == handle.SpanContext().SpanID() {
				send = s
			}
		}
		return send != nil
	}, "no edge -> registrar -> edge trace for the REGISTER; spans: %v", spanNames(rec.Ended()))
	if got, want := attr(send, "sip.dest"), fmt.Sprintf("udp:127.0.0.1:%d", uacPort); got != want {
		t.Errorf("the REGISTER's reply (sip.send) went to %q, want the registering phone %s", got, want)
	}
	// The reg.contact event in the log carries the registrar span's traceparent.
	cons, err := js.OrderedConsumer(ctx, bus.DefaultStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"reg.>"}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("no reg.* event in the stream: %v", err)
	}
	want := handle.SpanContext()
	got := msg.Headers().Get(bus.HeaderTraceParent)
	if wantTP := "00-" + want.TraceID().String() + "-" + want.SpanID().String() + "-"; !strings.HasPrefix(got, wantTP) {
		t.Errorf("%s carries traceparent %q, want the registrar span's %s..", msg.Subject(), got, wantTP)
	}
}
