package obs

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracer traces SIP messages through sipbus with OpenTelemetry. The W3C
// traceparent travels in the CloudEvents distributed-tracing extension
// (ce-traceparent) of every event, so a request the edge received, tm's
// decision about it and the messages the edge sent for that decision are
// one trace. A nil *Tracer is off: Start returns at once, allocating
// nothing (tracing is off by default).
//
// SIP itself carries no trace context: each request or response an edge
// receives starts a trace; what it causes (tm's decision, the messages
// sent, the events emitted) joins it.
type Tracer struct {
	t trace.Tracer
}

// NewTracer traces with tp (an SDK provider with an exporter, or an
// in-process recorder in tests). service names the instrumentation scope.
func NewTracer(tp trace.TracerProvider, service string) *Tracer {
	return &Tracer{t: tp.Tracer("github.com/sipbus/sipbus/" + service)}
}

// TracingFromEnv returns a Tracer exporting by OTLP over HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set
// (the exporter reads the other standard OTEL_EXPORTER_OTLP_* variables:
// headers, TLS, timeout), and nil (off) otherwise. shutdown flushes and
// stops the exporter.
func TracingFromEnv(ctx context.Context, service, instance string) (t *Tracer, shutdown func(context.Context) error, err error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("otlp: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("sipbus-"+service), semconv.ServiceInstanceID(instance))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return NewTracer(tp, service), tp.Shutdown, nil
}

var noEnd = func() {}

// Start starts a span named name, a child of parent (a W3C traceparent;
// "" or an invalid one starts a new trace), with attributes given as
// key, value pairs. It returns ctx carrying the span, the span's own
// traceparent (to put in the events it causes) and the function that
// ends it. On a nil Tracer it returns ctx, "" and a no-op.
func (t *Tracer) Start(ctx context.Context, name, parent string, kv ...string) (context.Context, string, func()) {
	if t == nil {
		return ctx, "", noEnd
	}
	if parent != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": parent})
	}
	attrs := make([]attribute.KeyValue, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		attrs = append(attrs, attribute.String(kv[i], kv[i+1]))
	}
	ctx, span := t.t.Start(ctx, name, trace.WithAttributes(attrs...))
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return ctx, carrier["traceparent"], func() { span.End() }
}
