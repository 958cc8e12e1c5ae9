package obs_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReadyzFollowsRedis: /readyz is 200 with NATS, the stream and Redis
// up, 503 naming redis while the real redis-server is stopped, 200 again
// when it is back; /metrics then holds the round trips measured.
func TestReadyzFollowsRedis(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	srv := testenv.NATS(t)
	nc, js := testenv.Connect(t, srv.ClientURL())
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	redis := testenv.StartRedis(t)
	st, err := store.Open(ctx, redis.URL+"?op_timeout=500ms")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	h, m := &obs.Health{}, obs.NewMetrics("test")
	h.Add("nats", obs.NATS(nc, m.NATSRTT))
	h.Add("stream", obs.Stream(js, bus.DefaultStream))
	h.Add("redis", obs.Redis(st.Ping, m.RedisRTT))
	hs, err := obs.Listen("127.0.0.1:0", h, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Shutdown(context.Background())

	ready := func() (bool, string) {
		code, body := get(t, hs.URL()+obs.ReadyzPath)
		return code == http.StatusOK, body
	}
	if ok, body := ready(); !ok {
		t.Fatalf("/readyz with everything up: %s", body)
	}
	redis.Stop()
	testenv.Eventually(t, 10*time.Second, func() bool { ok, _ := ready(); return !ok }, "/readyz stays 200 with Redis stopped")
	code, body := get(t, hs.URL()+obs.ReadyzPath)
	var ans struct {
		Error  string            `json:"error"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with Redis down: %d %q (%v)", code, body, err)
	}
	if ans.Checks["redis"] == "" || !strings.Contains(ans.Error, "redis") || len(ans.Checks) != 1 {
		t.Errorf("/readyz with Redis down names %v (%q), want only redis", ans.Checks, ans.Error)
	}
	redis.Start()
	testenv.Eventually(t, 10*time.Second, func() bool { ok, _ := ready(); return ok }, "/readyz not 200 after Redis returned")

	h.Drain()
	if ok, body := ready(); ok || !strings.Contains(body, "drain") {
		t.Errorf("/readyz after Drain: %s", body)
	}
	if code, _ := get(t, hs.URL()+obs.HealthzPath); code != http.StatusOK {
		t.Errorf("/healthz after Drain: %d, want 200 (alive while draining)", code)
	}
	_, metrics := get(t, hs.URL()+obs.MetricsPath)
	for _, want := range []string{"sipbus_redis_rtt_seconds_count", "sipbus_nats_rtt_seconds_count", `sipbus_build_info{service="test"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestReadyzConsumerLag: a consumer with more pending messages than
// allowed makes the process unready, and its lag is exported.
func TestReadyzConsumerLag(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	srv := testenv.NATS(t)
	nc, js := testenv.Connect(t, srv.ClientURL())
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	h, m := &obs.Health{}, obs.NewMetrics("test")
	h.Add("consumer", obs.Consumer(js, bus.DefaultStream, "lagging", 3, m.ConsumerLag))
	if fails := h.Ready(ctx); fails["consumer"] == nil {
		t.Fatal("a missing consumer is ready")
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, bus.DefaultStream, jsConsumer("lagging")); err != nil {
		t.Fatal(err)
	}
	if fails := h.Ready(ctx); len(fails) != 0 {
		t.Fatalf("an idle consumer is not ready: %v", fails)
	}
	for range 5 {
		if err := nc.Publish("sip.in.req.OPTIONS.abcd", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 5*time.Second, func() bool {
		f := h.Ready(ctx)["consumer"]
		return f != nil && strings.Contains(f.Error(), "5 messages pending")
	}, "5 pending messages over a limit of 3 stay ready")
}

func jsConsumer(name string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy}
}

// TestTracerOff: a nil Tracer (tracing off, the default) costs nothing.
func TestTracerOff(t *testing.T) {
	var tr *obs.Tracer
	ctx := context.Background()
	if a := testing.AllocsPerRun(100, func() {
		_, tp, end := tr.Start(ctx, "sip.receive", "", "sip.method", "INVITE")
		end()
		_ = tp
	}); a != 0 {
		t.Errorf("a span with tracing off allocates %v times", a)
	}
	if _, ok := os.LookupEnv("OTEL_EXPORTER_OTLP_ENDPOINT"); !ok {
		if tr, _, err := obs.TracingFromEnv(ctx, "test", "1"); tr != nil || err != nil {
			t.Errorf("TracingFromEnv without OTEL_EXPORTER_OTLP_ENDPOINT: %v, %v; want off", tr, err)
		}
	}
}

// TestTracerParent: a span started from a traceparent is its child.
func TestTracerParent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := obs.NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), "test")
	_, tp1, end1 := tr.Start(context.Background(), "a", "")
	end1()
	_, tp2, end2 := tr.Start(context.Background(), "b", tp1)
	end2()
	if len(tp1) != 55 || tp1[:3] != "00-" || tp2[3:35] != tp1[3:35] || tp2[36:52] == tp1[36:52] {
		t.Errorf("traceparents %q then %q: want one trace, two spans", tp1, tp2)
	}
	spans := rec.Ended()
	if len(spans) != 2 || spans[1].Parent().SpanID() != spans[0].SpanContext().SpanID() {
		t.Errorf("span b is not a child of a")
	}
	_, tp3, end3 := tr.Start(context.Background(), "c", "garbage")
	end3()
	if tp3 == "" || tp3[3:35] == tp1[3:35] {
		t.Errorf("an invalid parent did not start a new trace: %q", tp3)
	}
}

// TestTraceEvents: a handled event with a traceparent is a child span,
// and the handler's context carries that span's traceparent (for the
// events it publishes); one without starts no trace; a nil Tracer passes
// events through.
func TestTraceEvents(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := obs.NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), "test")
	_, parent, end := tr.Start(context.Background(), "edge", "")
	end()
	var got []string
	h := obs.TraceEvents(tr, "registrar.register")(func(ctx context.Context, ev *bus.Event) error {
		got = append(got, bus.TraceParent(ctx))
		return nil
	})
	_ = h(context.Background(), &bus.Event{ID: "1", Type: "sipbus.sip.in.v1", TraceParent: parent})
	_ = h(context.Background(), &bus.Event{ID: "2", Type: "sipbus.sip.in.v1"})
	spans := rec.Ended()
	if len(spans) != 2 || spans[1].Name() != "registrar.register" || spans[1].Parent().SpanID() != spans[0].SpanContext().SpanID() {
		t.Fatalf("spans %v: want the edge's and its child registrar.register", spans)
	}
	if len(got) != 2 || got[0][3:35] != parent[3:35] || got[0] == parent || got[1] != "" {
		t.Errorf("handler contexts carried %q (parent %q): want the child's traceparent, then none", got, parent)
	}
	var off *obs.Tracer
	called := false
	_ = obs.TraceEvents(off, "x")(func(ctx context.Context, ev *bus.Event) error { called = true; return nil })(context.Background(), &bus.Event{TraceParent: parent})
	if !called {
		t.Error("a nil Tracer did not pass the event through")
	}
}
