package bus

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PublisherOptions tune a Publisher.
type PublisherOptions struct {
	// MaxPending bounds unacknowledged async publishes; Publish blocks
	// (back-pressure) while it is reached. Default 4096.
	MaxPending int
	// AckTimeout is how long an async publish waits for the stream's ack
	// before it is counted as failed. Default 30s.
	AckTimeout time.Duration
	// Logger receives failed acks. Default slog.Default().
	Logger *slog.Logger
	// AckEvery > 1 makes PublishMsg ask the stream to acknowledge only
	// every AckEvery-th message; the others are plain publishes to the
	// stream's subjects, which the stream stores all the same but does not
	// answer. For hot paths (every SIP message): a PubAck per message costs
	// as much as the message, and a stream that stops storing (disk full,
	// JetStream down) is still noticed within AckEvery messages: the
	// failed ack is counted and logged, and Healthy reports false until
	// an ack succeeds again. Default 1: every publish is acknowledged.
	AckEvery int
	// Local, when set, hands every message to the subscriptions of the
	// services in this process first (Local.Deliver), and publishes on
	// Local's connection instead of js's.
	Local *Local
}

// Publisher publishes events to JetStream asynchronously. It is safe for
// concurrent use. Acks are collected by one goroutine that runs only while
// publishes are pending, so a Publisher needs no Close; call Flush before
// shutting down to wait for outstanding acks.
type Publisher struct {
	js         jetstream.JetStream
	source     string
	ackTimeout time.Duration
	log        *slog.Logger

	slots   chan struct{}   // semaphore: one token per pending publish
	futures chan pendingAck // FIFO of pending publishes, cap MaxPending
	running atomic.Bool     // ack collector goroutine active

	mu       sync.Mutex
	inflight int
	idle     chan struct{} // closed while inflight == 0

	published, acked, failed atomic.Uint64

	ackEvery  int
	seq       atomic.Uint64
	unhealthy atomic.Bool
	local     *Local
}

type pendingAck struct {
	f jetstream.PubAckFuture
}

// NewPublisher returns a publisher whose events carry source.
func NewPublisher(js jetstream.JetStream, source string, opt PublisherOptions) *Publisher {
	if opt.MaxPending <= 0 {
		opt.MaxPending = 4096
	}
	if opt.AckTimeout <= 0 {
		opt.AckTimeout = 30 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Local != nil {
		if ljs, err := jetstream.New(opt.Local.Conn()); err == nil {
			js = ljs
		}
	}
	idle := make(chan struct{})
	close(idle)
	return &Publisher{
		local:      opt.Local,
		js:         js,
		source:     source,
		ackTimeout: opt.AckTimeout,
		log:        opt.Logger,
		slots:      make(chan struct{}, opt.MaxPending),
		futures:    make(chan pendingAck, opt.MaxPending),
		idle:       idle,
		ackEvery:   max(opt.AckEvery, 1),
	}
}

// NewID returns a fresh event id (26 characters of base32 randomness).
func NewID() string { return rand.Text() }

func msgID(m *nats.Msg) string {
	if m == nil || m.Header == nil {
		return ""
	}
	return get(m.Header, HeaderID)
}

// IDs makes event ids that are unique for one source without a random draw
// per event: a random prefix chosen once, then a counter ("<prefix>.<n>",
// n in hex). A hot path (the edge, tm) takes one per SIP message.
type IDs struct {
	prefix string
	n      atomic.Uint64
}

// NewIDs returns a generator with a fresh random prefix (13 characters of
// base32 randomness).
func NewIDs() *IDs { return &IDs{prefix: rand.Text()[:13] + "."} }

// Next returns the next id.
func (g *IDs) Next() string {
	var buf [32]byte
	b := append(buf[:0], g.prefix...)
	return string(strconv.AppendUint(b, g.n.Add(1), 16))
}

func (p *Publisher) fill(ctx context.Context, ev *Event) {
	if ev.ID == "" {
		ev.ID = NewID()
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.Source == "" {
		ev.Source = p.source
	}
	if ev.TraceParent == "" {
		ev.TraceParent = TraceParent(ctx)
	}
}

// Publish sends ev on subject without waiting for the stream's ack; it blocks
// while MaxPending acks are outstanding, until ctx ends. Missing ID, Time,
// Source (and TraceParent, from ctx) are filled in. A failed ack is counted
// and logged, not returned.
func (p *Publisher) Publish(ctx context.Context, subject string, ev *Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.fill(ctx, ev)
	return p.PublishMsg(ctx, Encode(subject, ev))
}

// PublishMsg is Publish for a message already encoded (events.SIP.Encode):
// asynchronous, acknowledged by the stream (every AckEvery-th message only,
// see PublisherOptions), bounded by MaxPending.
//
// With PublisherOptions.Local, the message reaches the subscriptions in
// this process at once and is published a moment later (Local's linger),
// in one burst with the other messages of that moment; its failure is
// counted and logged, not returned. msg is then the Local's: its header
// and data must not change after PublishMsg (Local.Deliver).
func (p *Publisher) PublishMsg(ctx context.Context, msg *nats.Msg) error {
	if p.local != nil {
		stampTime(msg)
		p.local.later(p, p.local.Deliver(msg))
		return nil
	}
	return p.publishNow(ctx, msg)
}

// stampTime gives a CloudEvent without ce-time the time it is published
// at: the stream stores it a linger later, and readers that order a
// call's events by time (replay) must see when it happened.
func stampTime(m *nats.Msg) {
	if m.Header == nil || len(m.Header[HeaderSpecVersion]) == 0 || len(m.Header[HeaderTime]) > 0 {
		return
	}
	m.Header[HeaderTime] = []string{time.Now().UTC().Format(time.RFC3339Nano)}
}

func (p *Publisher) publishNow(ctx context.Context, msg *nats.Msg) error {
	if p.ackEvery > 1 && p.seq.Add(1)%uint64(p.ackEvery) != 0 {
		if err := p.js.Conn().PublishMsg(msg); err != nil {
			p.failed.Add(1)
			return fmt.Errorf("bus: publish on %s: %w", msg.Subject, err)
		}
		p.published.Add(1)
		return nil
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("bus: publish on %s: %w", msg.Subject, ctx.Err())
	}
	p.begin()
	f, err := p.publishAsync(ctx, msg)
	if err != nil {
		p.end()
		<-p.slots
		p.failed.Add(1)
		return fmt.Errorf("bus: publish on %s: %w", msg.Subject, err)
	}
	p.published.Add(1)
	p.futures <- pendingAck{f: f} // never blocks: bounded by slots
	if p.running.CompareAndSwap(false, true) {
		go p.collect()
	}
	return nil
}

// Source is the CloudEvent source of this publisher's events.
func (p *Publisher) Source() string { return p.source }

// publishAsync retries while the client library's own async window is full.
func (p *Publisher) publishAsync(ctx context.Context, msg *nats.Msg) (jetstream.PubAckFuture, error) {
	for {
		f, err := p.js.PublishMsgAsync(msg)
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return f, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// collect waits for acks in publish order and frees their slots; it exits
// when nothing is pending (Publish starts it again).
func (p *Publisher) collect() {
	t := time.NewTimer(p.ackTimeout)
	defer t.Stop()
	for {
		select {
		case pa := <-p.futures:
			p.await(pa, t)
			<-p.slots
			p.end()
		default:
			p.running.Store(false)
			// A publish may have queued between the empty read and the
			// store; whoever wins the swap collects it.
			if len(p.futures) == 0 || !p.running.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

func (p *Publisher) await(pa pendingAck, t *time.Timer) {
	t.Reset(p.ackTimeout)
	select {
	case <-pa.f.Ok():
		p.acked.Add(1)
		p.unhealthy.Store(false)
	case err := <-pa.f.Err():
		p.failed.Add(1)
		p.unhealthy.Store(true)
		p.log.Warn("bus: publish not acknowledged", "id", msgID(pa.f.Msg()), "subject", pa.f.Msg().Subject, "err", err)
	case <-t.C:
		p.failed.Add(1)
		p.unhealthy.Store(true)
		p.log.Warn("bus: publish ack timed out", "id", msgID(pa.f.Msg()), "subject", pa.f.Msg().Subject, "timeout", p.ackTimeout)
	}
}

func (p *Publisher) begin() {
	p.mu.Lock()
	if p.inflight == 0 {
		p.idle = make(chan struct{})
	}
	p.inflight++
	p.mu.Unlock()
}

func (p *Publisher) end() {
	p.mu.Lock()
	p.inflight--
	if p.inflight == 0 {
		close(p.idle)
	}
	p.mu.Unlock()
}

// PublishSync sends ev and waits for the stream's ack.
func (p *Publisher) PublishSync(ctx context.Context, subject string, ev *Event) error {
	p.fill(ctx, ev)
	if _, err := p.js.PublishMsg(ctx, Encode(subject, ev)); err != nil {
		p.failed.Add(1)
		return fmt.Errorf("bus: publish %s on %s: %w", ev.ID, subject, err)
	}
	p.published.Add(1)
	p.acked.Add(1)
	return nil
}

// PublishData marshals data into an event of data's type and schema and
// publishes it asynchronously. id "" gets a fresh id.
func (p *Publisher) PublishData(ctx context.Context, subject, id, ceSubject, callKey string, data Typed) error {
	ev, err := NewEvent(id, ceSubject, callKey, data)
	if err != nil {
		return err
	}
	return p.Publish(ctx, subject, ev)
}

// NewEvent builds an event of data's type and schema with data marshalled as
// its JSON payload. Source and Time are left for the publisher to fill.
func NewEvent(id, ceSubject, callKey string, data Typed) (*Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("bus: marshal %s: %w", data.CEType(), err)
	}
	return &Event{
		ID:         id,
		Type:       data.CEType(),
		DataSchema: data.CESchema(),
		Subject:    ceSubject,
		CallKey:    callKey,
		Data:       b,
	}, nil
}

// Flush waits until every pending publish is acknowledged (or failed) or ctx ends.
func (p *Publisher) Flush(ctx context.Context) error {
	if p.local != nil {
		p.local.Flush()
	}
	p.mu.Lock()
	idle := p.idle
	p.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bus: flush: %w", ctx.Err())
	}
}

// Healthy reports whether the latest acknowledged publish was stored (true
// before the first).
func (p *Publisher) Healthy() bool { return !p.unhealthy.Load() }

// PublisherStats counts publishes.
type PublisherStats struct{ Published, Acked, Failed uint64 }

// Stats returns the counters: Published = sent to the server, Acked = stored
// by the stream, Failed = not sent, nacked or timed out.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{Published: p.published.Load(), Acked: p.acked.Load(), Failed: p.failed.Load()}
}

type traceKey struct{}

// WithTraceParent returns a context carrying a W3C traceparent; events
// published with it carry it (when they have none), and handlers receive the
// traceparent of their event this way.
func WithTraceParent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, tp)
}

// TraceParent returns the traceparent carried by ctx, or "".
func TraceParent(ctx context.Context) string {
	s, _ := ctx.Value(traceKey{}).(string)
	return s
}

// HotAckEvery is the AckEvery of the hot-path publishers (edge, tm,
// registrar): one acknowledged publish in 64.
const HotAckEvery = 64
