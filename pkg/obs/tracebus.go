package obs

import (
	"context"

	"github.com/sipbus/sipbus/pkg/bus"
)

// TraceEvents is bus middleware for the services downstream of tm
// (registrar, notifier, ctd, web): each handled event that carries a
// traceparent becomes a span named name, its child, and the handler's
// context carries the span's traceparent, so the events it publishes with
// that context (reg.*, notify.*, ctd.*) join the call's trace. An event
// without one starts no trace (the edge decides what is traced). A nil
// Tracer adds nothing.
func TraceEvents(t *Tracer, name string) bus.Middleware {
	return func(next bus.Handler) bus.Handler {
		if t == nil {
			return next
		}
		return func(ctx context.Context, ev *bus.Event) error {
			if ev.TraceParent == "" {
				return next(ctx, ev)
			}
			ctx, tp, end := t.Start(ctx, name, ev.TraceParent, "cloudevents.event_type", ev.Type, "cloudevents.event_subject", ev.Subject)
			defer end()
			return next(bus.WithTraceParent(ctx, tp), ev)
		}
	}
}
