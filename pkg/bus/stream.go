package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultStream is the JetStream stream every sipbus event lands in.
const DefaultStream = "SIPBUS"

// StreamSubjects are the subjects the stream captures (commands are not events
// and live under "sipbus.>", outside the stream).
var StreamSubjects = []string{"sip.>", "tx.>", "call.>", "reg.>", "ctd.>", "notify.>", "app.>", "dead.>",
	"edge.>", // edge.blocked.<edge id>: flood control (SubjectEdge)
}

// Stream defaults.
const (
	DefaultMaxAge   = 24 * time.Hour
	DefaultMaxBytes = 1 << 30
	// DefaultDuplicateWindow covers every re-handling SIP can cause: a
	// request retransmitted to another replica (or a takeover, a
	// redelivery) is handled again at most 64*T1 (32 s, Timer B/F) after
	// the first time, and the events it emits again carry the same ids.
	// Not NATS's 2 minutes: the window is held in the server's memory, an
	// entry (id and record) per event, and in `sipbus up` that memory is
	// the process's heap: at 9,000 REGISTER/s (27,000 events/s) 2 minutes
	// were 3.2 million entries, whose marking by the garbage collector
	// made the registrar shed. The bench's REGISTER sequence on `up`, in
	// alternating pairs: max 6,750 and 6,750 REGISTER/s at 2 minutes,
	// 9,500 and 11,500 at 30 s; 10,500 and 9,500 at 40 s (bench/RESULTS.md
	// round 17).
	DefaultDuplicateWindow = 40 * time.Second
)

// StreamConfig configures the event stream.
type StreamConfig struct {
	Name            string        // default DefaultStream
	MaxAge          time.Duration // retention window; default 24h
	MaxBytes        int64         // size cap; default 1 GiB; oldest events go first
	Replicas        int           // default 1
	Memory          bool          // memory storage instead of file
	DuplicateWindow time.Duration // Nats-Msg-Id dedupe window; default 40s (DefaultDuplicateWindow)
	// SyncWrites writes every event to the stream's file before the stream
	// acknowledges it. By default the stream writes in the background
	// (JetStream's async persist mode, a few milliseconds later, batched):
	// a write() per event was the largest cost of the log. What that risks
	// is the events of those milliseconds if the NATS server process dies
	// hard; events are not fsync'ed in either mode (JetStream syncs every
	// two minutes), so a machine crash risks more either way.
	SyncWrites bool
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Name == "" {
		c.Name = DefaultStream
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	return c
}

// Validate reports every invalid field of c (after defaults).
func (c StreamConfig) Validate() error {
	var errs []error
	if c.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("bus: stream MaxAge %v is negative", c.MaxAge))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("bus: stream MaxBytes %d is negative", c.MaxBytes))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("bus: stream Replicas %d not in 1..5", c.Replicas))
	}
	if c.DuplicateWindow < 0 || c.MaxAge > 0 && c.DuplicateWindow > c.MaxAge {
		errs = append(errs, fmt.Errorf("bus: stream DuplicateWindow %v must be within 0..MaxAge", c.DuplicateWindow))
	}
	if c.Name != "" && !validName(c.Name) {
		errs = append(errs, fmt.Errorf("bus: stream Name %q must match [A-Za-z0-9_-]+", c.Name))
	}
	return errors.Join(errs...)
}

// EnsureStream creates the stream or updates it to cfg (zero fields take the
// defaults). Storage type cannot change on an existing stream; the server's
// error is returned.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc := jetstream.StreamConfig{
		Name:        cfg.Name,
		Description: "sipbus events",
		Subjects:    StreamSubjects,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.DuplicateWindow,
	}
	if cfg.Memory {
		sc.Storage = jetstream.MemoryStorage
	} else if !cfg.SyncWrites {
		sc.PersistMode = jetstream.AsyncPersistMode
	}
	s, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("bus: ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// ErrReadStalled ends a Read whose fetch brought nothing while messages
// were still pending (removed under it by the stream's limits, or a server
// slower than the fetch's wait).
var ErrReadStalled = errors.New("bus: stream read stalled")

// Read hands fn, in stream order, the messages of stream on filter (one
// subject filter: see Subscribe on why not several) from since on (zero:
// from the stream's start) that the stream holds when Read begins, and
// returns how many it handed over. It reads with an ordered consumer
// (ephemeral, flow-controlled) in fetches of up to 512. An error from fn
// stops the read and is returned as is.
func Read(ctx context.Context, js jetstream.JetStream, stream, filter string, since time.Time, fn func(*nats.Msg) error) (int, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return 0, fmt.Errorf("bus: read %s: %w", filter, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: read %s: %w", filter, err)
	}
	got := 0
	for want := int(info.NumPending); got < want; {
		batch, err := cons.Fetch(min(want-got, 512), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return got, fmt.Errorf("bus: read %s: %w", filter, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if err := fn(&nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}); err != nil {
				return got + n, err
			}
		}
		got += n
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return got, fmt.Errorf("bus: read %s: %w", filter, err)
		}
		if n == 0 {
			return got, fmt.Errorf("%w: %s, %d of %d read", ErrReadStalled, filter, got, want)
		}
	}
	return got, nil
}
