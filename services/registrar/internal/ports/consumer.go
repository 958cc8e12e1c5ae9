package ports

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
)

// Durable is the registrar's durable consumer name, shared by every
// replica.
const Durable = "registrar"

// Filters are the subjects the registrar consumes.
var Filters = []string{"sip.in.req.REGISTER.>"}

// Consume subscribes h to REGISTER events: ordered per Call-ID within a
// process (a UA's refreshes share their Call-ID, and digest nonce-counts
// must grow in arrival order), starting with new events when the consumer
// is created (a REGISTER older than the consumer has long timed out).
// Backoff spreads redeliveries over about 20 seconds, within the UA's
// Timer F, for an edge that is briefly unreachable.
func Consume(ctx context.Context, js jetstream.JetStream, h *Register, workers int, log *slog.Logger) (*bus.Subscription, error) {
	return bus.Subscribe(ctx, js, Durable, bus.TypedFunc[events.RequestReceived](h.Handle), bus.SubscribeOptions{
		Filters: Filters, Concurrency: workers, Ordered: true, DeliverNew: true,
		AckWait: 10 * time.Second, Timeout: 5 * time.Second, MaxDeliver: 6,
		Backoff: []time.Duration{100 * time.Millisecond, time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second},
		Logger:  log,
	})
}
