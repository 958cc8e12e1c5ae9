package bus

// This file is the agreed public surface of package bus. Bodies marked "stub"
// are replaced by the implementation; signatures do not change without
// updating every caller.

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SpecVersion is the CloudEvents version of every event.
const SpecVersion = "1.0"

// DefaultStream is the JetStream stream every sipbus event lands in.
const DefaultStream = "SIPBUS"

// StreamSubjects are the subjects the stream captures (commands are not events
// and live under "sipbus.>", outside the stream).
var StreamSubjects = []string{"sip.>", "tx.>", "call.>", "reg.>", "ctd.>", "notify.>", "dead.>"}

// Event is one CloudEvent as sipbus carries it: binary content mode, the
// attributes in ce-* NATS headers and Data (JSON) as the message payload.
type Event struct {
	ID          string    // unique, stable across redelivery and re-publish; also Nats-Msg-Id
	Source      string    // sipbus/<service>/<instance>
	Type        string    // sipbus.<area>.<name>.v1
	Subject     string    // CloudEvent subject: Call-ID or AOR
	Time        time.Time // when it happened
	DataSchema  string    // URI of the JSON Schema (schemas/)
	CallKey     string    // extension "callkey"
	TraceParent string    // extension "traceparent" (W3C), optional
	Data        json.RawMessage

	// Set on received events only.
	NATSSubject string
	Delivery    int // JetStream delivery count (1 = first)
}

// Typed is implemented by every event data type in package events.
type Typed interface {
	CEType() string   // CloudEvent type constant
	CESchema() string // dataschema URI
}

// Encode renders ev as a NATS message on subject (binary content mode).
func Encode(subject string, ev *Event) *nats.Msg { panic("stub") }

// Decode reads a binary-mode CloudEvent from a NATS message, checking the
// required attributes (specversion 1.0, id, source, type).
func Decode(m *nats.Msg) (*Event, error) { panic("stub") }

// StreamConfig configures the event stream.
type StreamConfig struct {
	Name            string        // default DefaultStream
	MaxAge          time.Duration // retention window; default 24h
	MaxBytes        int64         // size cap; default 1 GiB; oldest events go first
	Replicas        int           // default 1
	Memory          bool          // memory storage instead of file
	DuplicateWindow time.Duration // Nats-Msg-Id dedupe window; default 2m
}

// EnsureStream creates the stream or updates it to cfg.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	panic("stub")
}

// PublisherOptions tune a Publisher.
type PublisherOptions struct {
	// MaxPending bounds unacknowledged async publishes; Publish blocks
	// (back-pressure) while it is reached. Default 4096.
	MaxPending int
}

// Publisher publishes events to JetStream asynchronously.
type Publisher struct{}

// NewPublisher returns a publisher whose events carry source.
func NewPublisher(js jetstream.JetStream, source string, opt PublisherOptions) *Publisher {
	panic("stub")
}

// Publish sends ev on subject without waiting for the stream's ack; it blocks
// while MaxPending acks are outstanding, until ctx ends. Missing ID, Time,
// Source are filled in. A failed ack is counted and logged, not returned.
func (p *Publisher) Publish(ctx context.Context, subject string, ev *Event) error { panic("stub") }

// PublishSync sends ev and waits for the stream's ack.
func (p *Publisher) PublishSync(ctx context.Context, subject string, ev *Event) error { panic("stub") }

// PublishData marshals data into an event of data's type and schema and
// publishes it asynchronously. id "" gets a fresh id.
func (p *Publisher) PublishData(ctx context.Context, subject, id, ceSubject, callKey string, data Typed) error {
	panic("stub")
}

// Flush waits until every pending publish is acknowledged or ctx ends.
func (p *Publisher) Flush(ctx context.Context) error { panic("stub") }

// PublisherStats counts publishes.
type PublisherStats struct{ Published, Acked, Failed uint64 }

func (p *Publisher) Stats() PublisherStats { panic("stub") }

// Permanent marks err as permanent: the event is terminated and copied to the
// dead-letter subject instead of being redelivered.
func Permanent(err error) error { panic("stub") }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool { panic("stub") }

// Handler handles one event. nil = ack; an error = nak with backoff (redelivered);
// Permanent(err) = term + dead letter.
type Handler func(ctx context.Context, ev *Event) error

// Middleware wraps a Handler (recover, timeout, metrics, ...).
type Middleware func(Handler) Handler

// SubscribeOptions tune a subscription.
type SubscribeOptions struct {
	Stream      string          // default DefaultStream
	Filters     []string        // subject filters; required
	Concurrency int             // handlers running at once (= MaxAckPending); default 16
	AckWait     time.Duration   // default 30s
	MaxDeliver  int             // deliveries before dead-lettering; default 10
	Backoff     []time.Duration // nak delays by delivery; default 100ms, 1s, 5s, 15s
	DeliverNew  bool            // start at new events instead of all retained ones
	Middleware  []Middleware    // outermost first; Recover is always applied
	Timeout     time.Duration   // per-handler deadline; default AckWait/2
}

// Subscription is a running durable consumer.
type Subscription struct{}

// Stop stops fetching, lets in-flight handlers finish (until ctx ends) and returns.
func (s *Subscription) Stop(ctx context.Context) error { panic("stub") }

// Subscribe runs h for every event matching opt.Filters on a durable consumer
// named name (the handler's stable name: [A-Za-z0-9_-]+).
func Subscribe(ctx context.Context, js jetstream.JetStream, name string, h Handler, opt SubscribeOptions) (*Subscription, error) {
	panic("stub")
}

// TypedHandler handles an event whose data decodes into T.
type TypedHandler[T any] func(ctx context.Context, ev *Event, data *T) error

// Typed adapts a TypedHandler: data that does not decode is a permanent error.
func TypedFunc[T any](h TypedHandler[T]) Handler { panic("stub") }

// ErrBadEvent is returned by Decode for a message that is not a valid CloudEvent.
var ErrBadEvent = errors.New("bus: not a valid CloudEvent")
