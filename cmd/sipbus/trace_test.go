package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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
	x := startTracedEdge(t, ctx)
	sip, log := x.sip, slog.New(slog.DiscardHandler)
	uasPort, uacPort := testenv.FreePort(t, "udp"), testenv.FreePort(t, "udp")
	tcfg := tm.DefaultConfig()
	tcfg.ID, tcfg.Advertise, tcfg.Domains = "tm-trace", sip, []string{"localhost"}
	tcfg.Static = map[string][]string{"uas@localhost": {fmt.Sprintf("sip:uas@127.0.0.1:%d", uasPort)}}
	if err := tcfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tmr, err := tm.New(tcfg, tm.Deps{NC: x.nc, JS: x.js, Store: store.NewMemory(store.MemoryOptions{}), Log: log, Tracer: x.tracer("tm")})
	if err != nil {
		t.Fatal(err)
	}
	if err := tmr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer tmr.Shutdown(context.Background())

	uas := runSIPp(t, "uas", "uas.xml", "-p", strconv.Itoa(uasPort))
	runSIPp(t, "uac", "uac.xml", sip, "-p", strconv.Itoa(uacPort), "-s", "uas", "-key", "domain", "localhost",
		"-m", "1", "-cid_str", "trace-%u-%p@[local_ip]").wait(t, 30*time.Second)
	uas.stopClean(t)

	var spans []sdktrace.ReadOnlySpan
	testenv.Eventually(t, 10*time.Second, func() bool {
		spans = chain(x.rec.Ended(), "INVITE", "tm.decide", "sip.send")
		return spans != nil
	}, "no edge -> tm -> edge trace for the INVITE; spans: %v", spanNames(x.rec.Ended()))
	recv, decide, send := spans[0], spans[1], spans[2]

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
	x := startTracedEdge(t, ctx)
	sip, uacPort := x.sip, testenv.FreePort(t, "udp")
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
	reg, err := registrar.New(rcfg, registrar.Deps{NC: x.nc, JS: x.js, State: state, Log: slog.New(slog.DiscardHandler), Tracer: x.tracer("registrar")})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer reg.Shutdown(context.Background())

	runSIPp(t, "register", "register_one.xml", sip, "-p", strconv.Itoa(uacPort), "-key", "domain", "localhost",
		"-key", "user", "alice", "-key", "contact", "127.0.0.1:5999", "-m", "1").wait(t, 30*time.Second)

	var spans []sdktrace.ReadOnlySpan
	testenv.Eventually(t, 10*time.Second, func() bool {
		spans = chain(x.rec.Ended(), "REGISTER", "registrar.register", "sip.send")
		return spans != nil
	}, "no edge -> registrar -> edge trace for the REGISTER; spans: %v", spanNames(x.rec.Ended()))
	handle, send := spans[1], spans[2]
	if got, want := attr(send, "sip.dest"), fmt.Sprintf("udp:127.0.0.1:%d", uacPort); got != want {
		t.Errorf("the REGISTER's reply (sip.send) went to %q, want the registering phone %s", got, want)
	}
	// The reg.contact event in the log carries the registrar span's traceparent.
	cons, err := x.js.OrderedConsumer(ctx, bus.DefaultStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"reg.>"}})
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

// tracedEdge is a real NATS server with the event stream and an edge on a
// free UDP port, running until the test ends; its spans, and those of
// every tracer() a test gives the services it adds, go to rec.
type tracedEdge struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	rec *tracetest.SpanRecorder
	tp  *sdktrace.TracerProvider
	sip string
}

func startTracedEdge(t *testing.T, ctx context.Context) *tracedEdge {
	t.Helper()
	srv := testenv.NATS(t)
	x := &tracedEdge{rec: tracetest.NewSpanRecorder(), sip: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))}
	x.nc, x.js = testenv.Connect(t, srv.ClientURL())
	if _, err := bus.EnsureStream(ctx, x.js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	x.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(x.rec))
	t.Cleanup(func() { _ = x.tp.Shutdown(context.Background()) })
	e, err := edge.New(edge.Config{ID: "edge-trace", UDP: x.sip, TCP: "-"}, edge.Deps{NC: x.nc, JS: x.js, Log: slog.New(slog.DiscardHandler), Tracer: x.tracer("edge")})
	if err != nil {
		t.Fatal(err)
	}
	ectx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(ectx) }()
	t.Cleanup(func() { stop(); <-done })
	return x
}

func (x *tracedEdge) tracer(service string) *obs.Tracer { return obs.NewTracer(x.tp, service) }

// chain returns the edge's sip.receive of a request with method and then
// one span of each of names, each the child of the one before; nil while
// a link is missing.
func chain(spans []sdktrace.ReadOnlySpan, method string, names ...string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == "sip.receive" && attr(s, "sip.method") == method {
			out = []sdktrace.ReadOnlySpan{s}
		}
	}
	for _, name := range names {
		if len(out) == 0 {
			return nil
		}
		parent := out[len(out)-1].SpanContext().SpanID()
		var next sdktrace.ReadOnlySpan
		for _, s := range spans {
			if s.Name() == name && s.Parent().SpanID() == parent {
				next = s
			}
		}
		if next == nil {
			return nil
		}
		out = append(out, next)
	}
	return out
}
