package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SubscribeOptions tune a subscription.
type SubscribeOptions struct {
	Stream      string          // default DefaultStream
	Filters     []string        // subject filters; required (one is cheapest: see Subscribe)
	Concurrency int             // handlers running at once (= MaxAckPending); default 16
	AckWait     time.Duration   // default 30s
	MaxDeliver  int             // deliveries before dead-lettering; default 10
	Backoff     []time.Duration // nak delays by delivery; default 100ms, 1s, 5s, 15s
	DeliverNew  bool            // start at new events instead of all retained ones
	Middleware  []Middleware    // outermost first; Recover is always applied
	Timeout     time.Duration   // per-handler deadline; default AckWait/2
	Logger      *slog.Logger    // default slog.Default()
	// Ordered handles the events of one call one at a time, in stream
	// order, within this process: events are spread over Concurrency
	// workers by their call key (CallKeyOf; the last token of the
	// subject for an event without one). Across processes sharing the durable consumer the
	// order is not guaranteed; handlers must stay correct without it.
	Ordered bool
}

// DefaultBackoff is the nak delay by delivery when SubscribeOptions.Backoff is empty.
var DefaultBackoff = []time.Duration{100 * time.Millisecond, time.Second, 5 * time.Second, 15 * time.Second}

func (o SubscribeOptions) withDefaults() SubscribeOptions {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = 10
	}
	if len(o.Backoff) == 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Timeout <= 0 {
		o.Timeout = o.AckWait / 2
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// consumerBackoff is the server-side redelivery schedule for a delivery that
// is never acked (the process died mid-handler): AckWait plus the nak delay
// of that delivery. The server wants fewer entries than MaxDeliver.
func (o SubscribeOptions) consumerBackoff() []time.Duration {
	n := min(len(o.Backoff), o.MaxDeliver-1)
	b := make([]time.Duration, n)
	for i := range b {
		b[i] = o.AckWait + o.Backoff[i]
	}
	return b
}

// SubscriptionStats counts what a subscription did with its deliveries.
type SubscriptionStats struct {
	Acked, Naked, DeadLettered, DeadLetterFailed, AckFailed uint64
	// Repulls counts pull requests asked again after missed heartbeats.
	Repulls uint64
}

// Subscription is a running durable consumer.
type Subscription struct {
	name string
	js   jetstream.JetStream
	opt  SubscribeOptions
	h    Handler
	log  *slog.Logger
	cc   jetstream.ConsumeContext

	base   context.Context // values of Subscribe's ctx, cancelled by a late Stop
	cancel context.CancelFunc
	slots  chan struct{}
	lanes  []chan jetstream.Msg // Ordered: one worker per lane
	work   chan jetstream.Msg   // not Ordered: idle workers wait here
	nwork  int                  // workers started (by dispatch only)
	wg     sync.WaitGroup

	acked, naked, dead, deadFailed, ackFailed, repulls atomic.Uint64
}

// Subscribe runs h for every event matching opt.Filters on a durable consumer
// named name (the handler's stable name: [A-Za-z0-9_-]+). ctx bounds setting
// the consumer up; the subscription runs until Stop, and handlers get a
// context carrying ctx's values, their deadline and the event's traceparent.
//
// One filter is cheapest: for a consumer of several, the NATS server
// (2.15) finds each next message with a walk per matching subject of the
// stream's block, and a call event has 256 subjects (one per partition);
// at 1,000 calls/s the web history's two filters took a tenth of `sipbus
// up`'s CPU. A busy consumer of two kinds of event is better two
// consumers.
func Subscribe(ctx context.Context, js jetstream.JetStream, name string, h Handler, opt SubscribeOptions) (*Subscription, error) {
	if !validName(name) {
		return nil, fmt.Errorf("%w %q: want [A-Za-z0-9_-]+", ErrBadName, name)
	}
	if len(opt.Filters) == 0 {
		return nil, fmt.Errorf("bus: subscribe %s: no subject filters", name)
	}
	opt = opt.withDefaults()
	cfg := jetstream.ConsumerConfig{
		Durable:        name,
		Description:    "sipbus handler " + name,
		FilterSubjects: opt.Filters,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        opt.AckWait,
		MaxDeliver:     opt.MaxDeliver,
		BackOff:        opt.consumerBackoff(),
		MaxAckPending:  opt.Concurrency,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if opt.DeliverNew {
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, opt.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe %s: %w", name, err)
	}
	s := &Subscription{
		name:  name,
		js:    js,
		opt:   opt,
		log:   opt.Logger.With("consumer", name),
		slots: make(chan struct{}, opt.Concurrency),
		work:  make(chan jetstream.Msg),
	}
	mw := append([]Middleware{Recover(s.log)}, opt.Middleware...)
	mw = append(mw, Timeout(opt.Timeout))
	s.h = Chain(h, mw...)
	s.base, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	dispatch := s.dispatch
	if opt.Ordered {
		s.startLanes()
		dispatch = s.dispatchOrdered
	}
	s.cc, err = cons.Consume(dispatch,
		jetstream.PullMaxMessages(opt.Concurrency),
		jetstream.PullExpiry(PullExpiry), jetstream.PullHeartbeat(PullHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				s.repulls.Add(1)
				s.log.Warn("bus: no heartbeat for the pending pull request: asking again", "err", err)
				return
			}
			s.log.Debug("bus: consume", "err", err)
		}))
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("bus: subscribe %s: consume: %w", name, err)
	}
	return s, nil
}

// A subscription pulls with requests that wait PullExpiry on the server,
// which sends a heartbeat every PullHeartbeat while one waits; the client
// asks again after two missed heartbeats. nats.go's defaults (30 s and
// 15 s) let a pull request the server no longer holds (seen under
// overload in `sipbus up`: the web history consumer sat for 30 s with
// thousands of events pending and no request waiting, then handled the
// backlog at once) stop a subscription for 30 s; with these it costs two
// seconds. The price is a heartbeat a second and a new request every
// five seconds per idle subscription.
const (
	PullExpiry    = 5 * time.Second
	PullHeartbeat = time.Second
)

// dispatch runs on the consume goroutine: it waits for a worker slot (so at
// most Concurrency handlers run) and hands the message to an idle worker,
// or starts one more (up to Concurrency). Workers stay until Stop: a
// goroutine per message grew its stack through the handler's calls for
// every message (4 % of `sipbus up`'s CPU at 300 calls/s went to copying
// stacks).
func (s *Subscription) dispatch(msg jetstream.Msg) {
	s.slots <- struct{}{}
	s.wg.Add(1)
	select {
	case s.work <- msg:
	default:
		if s.nwork < s.opt.Concurrency {
			s.nwork++
			go s.worker(msg)
			return
		}
		s.work <- msg // a slot is free: its worker is on its way back
	}
}

func (s *Subscription) worker(msg jetstream.Msg) {
	for ok := true; ok; msg, ok = <-s.work {
		s.handle(msg)
		<-s.slots
		s.wg.Done()
	}
}

// startLanes starts one worker per lane; each lane holds at most
// Concurrency messages, which is all the server lets us have.
func (s *Subscription) startLanes() {
	s.lanes = make([]chan jetstream.Msg, s.opt.Concurrency)
	for i := range s.lanes {
		ch := make(chan jetstream.Msg, s.opt.Concurrency)
		s.lanes[i] = ch
		go func() {
			for msg := range ch {
				s.handle(msg)
				<-s.slots
				s.wg.Done()
			}
		}()
	}
}

// dispatchOrdered sends a message to the lane of its call key (its
// callkey attribute; the subject's last token for a message without one).
func (s *Subscription) dispatchOrdered(msg jetstream.Msg) {
	key := CallKeyOf(msg.Headers())
	if key == "" {
		subj := msg.Subject()
		key = subj[strings.LastIndexByte(subj, '.')+1:]
	}
	s.slots <- struct{}{}
	s.wg.Add(1)
	s.lanes[KeyHash(key)%uint32(len(s.lanes))] <- msg
}

func (s *Subscription) handle(msg jetstream.Msg) {
	delivery := 1
	if md, err := msg.Metadata(); err == nil {
		delivery = int(md.NumDelivered)
	}
	ev, err := Decode(&nats.Msg{Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data()})
	if err != nil {
		s.deadLetter(msg, nil, err.Error())
		return
	}
	ev.Delivery = delivery

	stop := s.keepAlive(msg)
	ctx := WithTraceParent(s.base, ev.TraceParent)
	err = s.h(ctx, ev)
	stop()

	switch {
	case err == nil:
		if aerr := msg.Ack(); aerr != nil {
			s.ackFailed.Add(1)
			s.log.Warn("bus: ack", "id", ev.ID, "err", aerr)
			return
		}
		s.acked.Add(1)
	case IsPermanent(err):
		s.deadLetter(msg, ev, err.Error())
	case delivery >= s.opt.MaxDeliver:
		s.deadLetter(msg, ev, fmt.Sprintf("delivered %d times, last error: %v", delivery, err))
	default:
		if nerr := msg.NakWithDelay(s.backoff(delivery)); nerr != nil {
			s.ackFailed.Add(1)
			s.log.Warn("bus: nak", "id", ev.ID, "err", nerr)
			return
		}
		s.naked.Add(1)
	}
}

func (s *Subscription) backoff(delivery int) time.Duration {
	i := min(max(delivery-1, 0), len(s.opt.Backoff)-1)
	return s.opt.Backoff[i]
}

// keepAlive tells the server the message is in progress every AckWait/2 while
// a slow handler runs, so it is not redelivered under it.
func (s *Subscription) keepAlive(msg jetstream.Msg) (stop func()) {
	every := s.opt.AckWait / 2
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		_ = msg.InProgress()
		t.Reset(every)
	})
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		t.Stop()
	}
}

// deadLetter copies the message (headers and data as received, plus the
// reason and consumer name) to dead.<consumer>.<subject> and terminates it.
// When the copy cannot be stored the message is nak'ed instead, so it is not
// lost while deliveries remain.
func (s *Subscription) deadLetter(msg jetstream.Msg, ev *Event, reason string) {
	h := make(nats.Header, len(msg.Headers())+3)
	for k, v := range msg.Headers() {
		h[k] = append([]string(nil), v...)
	}
	h[HeaderDeadReason] = []string{HeaderValue(reason, 1024)}
	h[HeaderDeadConsumer] = []string{s.name}
	// The original Nats-Msg-Id is in the stream's dedupe window already.
	id := ""
	if ev != nil {
		id = ev.ID
	} else if md, err := msg.Metadata(); err == nil {
		id = fmt.Sprintf("seq%d", md.Sequence.Stream)
	}
	h[HeaderMsgID] = []string{"dead:" + s.name + ":" + id}
	dm := &nats.Msg{Subject: SubjectDead(s.name, msg.Subject()), Header: h, Data: msg.Data()}

	ctx, cancel := context.WithTimeout(s.base, 5*time.Second)
	defer cancel()
	if _, err := s.js.PublishMsg(ctx, dm); err != nil {
		s.deadFailed.Add(1)
		s.log.Error("bus: dead letter", "id", id, "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(s.opt.Backoff[len(s.opt.Backoff)-1])
		return
	}
	if err := msg.Term(); err != nil {
		s.ackFailed.Add(1)
		s.log.Warn("bus: term", "id", id, "err", err)
	}
	s.dead.Add(1)
}

// HeaderValue makes s fit for a NATS header value (and a log line): control
// characters become spaces and it is cut to max bytes. A clean value that
// fits is returned as it is, without a copy.
func HeaderValue(s string, max int) string {
	clean := len(s) <= max
	for i := 0; clean && i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
		}
	}
	if clean {
		return s
	}
	if len(s) > max {
		s = s[:max]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Stats returns the subscription's counters.
func (s *Subscription) Stats() SubscriptionStats {
	return SubscriptionStats{
		Acked: s.acked.Load(), Naked: s.naked.Load(), DeadLettered: s.dead.Load(),
		DeadLetterFailed: s.deadFailed.Load(), AckFailed: s.ackFailed.Load(), Repulls: s.repulls.Load(),
	}
}

// Name is the durable consumer name.
func (s *Subscription) Name() string { return s.name }

// Stop stops fetching, lets in-flight handlers finish (until ctx ends) and
// returns. Messages already buffered are handled first (drain). When ctx ends
// first, handler contexts are cancelled and ctx's error is returned;
// unfinished messages are redelivered after AckWait.
func (s *Subscription) Stop(ctx context.Context) error {
	s.cc.Drain()
	done := make(chan struct{})
	go func() {
		<-s.cc.Closed()
		s.wg.Wait()
		for _, ch := range s.lanes {
			close(ch) // the consumer is closed: nothing dispatches any more
		}
		close(s.work)
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		return fmt.Errorf("bus: stop %s: %w", s.name, ctx.Err())
	}
}

// TypedHandler handles an event whose data decodes into T.
type TypedHandler[T any] func(ctx context.Context, ev *Event, data *T) error

// TypedFunc adapts a TypedHandler: data that does not decode, or an event whose
// type is not T's (when *T implements Typed), is a permanent error.
func TypedFunc[T any](h TypedHandler[T]) Handler {
	return func(ctx context.Context, ev *Event) error {
		var data T
		if t, ok := any(&data).(Typed); ok && t.CEType() != ev.Type {
			return Permanent(fmt.Errorf("bus: event %s has type %q, handler wants %q", ev.ID, ev.Type, t.CEType()))
		}
		if err := decodeData(ev.Data, &data); err != nil {
			return Permanent(fmt.Errorf("bus: decode %s data of %s: %w", ev.Type, ev.ID, err))
		}
		return h(ctx, ev, &data)
	}
}
