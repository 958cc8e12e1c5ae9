package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/services/web/internal/ports"
)

// The in-process history feed (Deps.Local, sipbus up).
//
// A web page of its own (sipbus web and its replicas) fills the histories
// from two durable consumers. In sipbus up the call events reach the page
// in the process that publishes them (bus.Local), and the stream is read
// only to catch up. Why: a consumer that follows the stream's tail makes
// the NATS server keep every file block it read from in memory for ten
// seconds after the last read (its block cache), and in sipbus up that
// memory is the process's Go heap: at 2,000 calls/s about 200 MB more
// live heap, five times that in heap growth under GOGC=400, and the page
// faults of touching it; the two consumers cost `sipbus up` 15 % of its
// CPU per call (bench/RESULTS.md round 16).
//
// What the durable consumers promised still holds: every call.ended and
// call.missed event reaches the histories, at least once (a history
// skips a call it holds). The feed stores a mark, the ce-time up to which
// every event is recorded (at most once a second); at start it reads the
// stream from the mark less catchUpMargin (the whole stream when there is
// no mark) with ordered consumers, after subscribing, so an event is
// either delivered in-process or read. An event whose history write fails
// (Redis away for longer than one write's timeout) opens a gap: the mark
// stays before it, and a catch-up from the gap runs, with backoff, until
// one succeeds with no new failure behind it.
const (
	catchUpMargin = 10 * time.Second // the mark lags the events by up to markEvery plus a linger
	markEvery     = time.Second
	recordTimeout = 5 * time.Second
	feedWorkers   = 8           // history writes in flight (they share pipelines: package groupcommit)
	failSettle    = time.Second // a catch-up starts this long after the last failed write
)

// feed is the in-process history feed.
type feed struct {
	s      *Service
	h      bus.Handler // the history handler, traced (web.history)
	core   bus.Core
	stream string
	log    *slog.Logger

	subs    []bus.Sub
	work    chan *nats.Msg // to the workers
	workers sync.WaitGroup
	cancel  context.CancelFunc
	done    chan struct{} // closed when catchUpLoop returns
	kick    chan struct{}

	mu       sync.Mutex
	newest   time.Time // newest event recorded
	marked   time.Time // when the mark was last stored
	gap      time.Time // catch up from here (zero: nothing to catch up)
	all      bool      // catch up from the stream's start (no mark yet)
	failures uint64    // failed history writes so far
	failedAt time.Time // the last one
}

func (s *Service) startFeed(ctx context.Context) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &feed{s: s, h: obs.TraceEvents(s.d.Tracer, "web.history")(s.srv.HistoryHandler), core: s.d.Local, stream: bus.DefaultStream, log: s.log, cancel: cancel,
		work: make(chan *nats.Msg, 256), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	mark, ok, err := s.srv.History.Marked(ctx)
	if err != nil {
		cancel()
		return err
	}
	for range feedWorkers {
		f.workers.Go(func() {
			for m := range f.work {
				f.onMsg(ctx, m)
			}
		})
	}
	for _, subj := range []string{ports.SubjectCallEnded, ports.SubjectCallMiss} {
		sub, err := f.core.Subscribe(subj, func(m *nats.Msg) { f.work <- m })
		if err != nil {
			for _, sub := range f.subs {
				_ = sub.Unsubscribe()
			}
			close(f.work)
			f.workers.Wait()
			cancel()
			return fmt.Errorf("web: subscribe %s: %w", subj, err)
		}
		f.subs = append(f.subs, sub)
	}
	if ok {
		f.gap = mark.Add(-catchUpMargin)
	} else {
		f.all = true
	}
	f.kick <- struct{}{}
	go f.catchUpLoop(ctx)
	s.mu.Lock()
	s.feed = f
	s.mu.Unlock()
	return nil
}

// onMsg records one event delivered in-process.
func (f *feed) onMsg(ctx context.Context, m *nats.Msg) {
	ev, err := bus.Decode(m)
	if err != nil {
		f.log.Debug("web: undecodable call event", "subject", m.Subject, "err", err)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, recordTimeout)
	err = f.h(rctx, ev)
	cancel()
	switch {
	case err == nil:
		f.recorded(ctx, ev.Time)
	case bus.IsPermanent(err):
		f.log.Debug("web: call event not recorded", "id", ev.ID, "err", err)
	default:
		f.failed(ev, err)
	}
}

// recorded notes an event recorded and stores the mark when a second
// has passed and nothing needs catching up.
func (f *feed) recorded(ctx context.Context, t time.Time) {
	f.mu.Lock()
	if t.After(f.newest) {
		f.newest = t
	}
	now := time.Now()
	due := f.gap.IsZero() && !f.all && now.Sub(f.marked) >= markEvery && !f.newest.IsZero()
	mark := f.newest
	if due {
		f.marked = now
	}
	f.mu.Unlock()
	if due {
		mctx, cancel := context.WithTimeout(ctx, recordTimeout)
		defer cancel()
		if err := f.s.srv.History.Mark(mctx, mark); err != nil {
			f.log.Warn("web: history mark not stored", "err", err)
		}
	}
}

// failed opens (or widens) the gap a catch-up will fill.
func (f *feed) failed(ev *bus.Event, err error) {
	f.mu.Lock()
	f.failures++
	f.failedAt = time.Now()
	first := f.gap.IsZero() && !f.all
	if first || ev.Time.Before(f.gap) {
		f.gap = ev.Time.Add(-catchUpMargin)
	}
	f.mu.Unlock()
	if first {
		f.log.Warn("web: history write failed; catching up from the stream once it works", "id", ev.ID, "err", err)
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// catchUpLoop runs a catch-up whenever there is a gap, retrying with
// backoff until one succeeds with no write failure behind it.
func (f *feed) catchUpLoop(ctx context.Context) {
	defer close(f.done)
	backoff := time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		}
		for {
			f.mu.Lock()
			from, all, failures, wait := f.gap, f.all, f.failures, time.Until(f.failedAt.Add(failSettle))
			f.mu.Unlock()
			if from.IsZero() && !all {
				break
			}
			if wait > 0 { // the failed event may still linger on its way to the stream
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			n, err := f.catchUp(ctx, from, all)
			if err == nil {
				f.mu.Lock()
				caught := f.failures == failures
				if caught {
					f.gap, f.all, f.marked = time.Time{}, false, time.Now()
				}
				mark := f.newest
				f.mu.Unlock()
				f.log.Info("web: history caught up from the stream", "from", from, "events", n)
				if caught && !mark.IsZero() {
					if err := f.s.srv.History.Mark(ctx, mark); err != nil {
						f.log.Warn("web: history mark not stored", "err", err)
					}
				}
				backoff = time.Second
				continue
			}
			if ctx.Err() != nil {
				return
			}
			f.log.Warn("web: history catch-up failed, retrying", "in", backoff, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

// catchUp records the call events of the stream from from (all: from its
// start) up to its last message when it starts; it returns how many it
// read. One ordered consumer per filter (see Start on why not one of two).
func (f *feed) catchUp(ctx context.Context, from time.Time, all bool) (int, error) {
	n := 0
	st, err := f.s.d.JS.Stream(ctx, f.stream)
	if err != nil {
		return n, fmt.Errorf("web: catch-up: stream %s: %w", f.stream, err)
	}
	last := st.CachedInfo().State.LastSeq
	for _, filter := range []string{ports.SubjectCallEnded, ports.SubjectCallMiss} {
		cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy}
		if !all {
			cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
		}
		c, err := f.s.d.JS.OrderedConsumer(ctx, f.stream, cfg)
		if err != nil {
			return n, fmt.Errorf("web: catch-up consumer on %s: %w", filter, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return n, fmt.Errorf("web: catch-up consumer on %s: %w", filter, err)
		}
		for pending, seq := info.NumPending, uint64(0); pending > 0 && seq < last; {
			batch, err := c.Fetch(256, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				return n, fmt.Errorf("web: catch-up of %s: %w", filter, err)
			}
			got := 0
			for msg := range batch.Messages() {
				got++
				n++
				if md, err := msg.Metadata(); err == nil {
					pending, seq = md.NumPending, md.Sequence.Stream
				}
				if err := f.record(ctx, msg); err != nil {
					return n, err
				}
			}
			if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
				return n, fmt.Errorf("web: catch-up of %s: %w", filter, err)
			}
			if got == 0 {
				return n, fmt.Errorf("web: catch-up of %s: no message within 5s, %d pending", filter, pending)
			}
		}
	}
	return n, nil
}

// record writes one event read by a catch-up; a permanent error (not a
// call event) skips it.
func (f *feed) record(ctx context.Context, msg jetstream.Msg) error {
	ev, err := bus.Decode(&nats.Msg{Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data()})
	if err != nil {
		f.log.Debug("web: undecodable call event in the stream", "subject", msg.Subject(), "err", err)
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	if err := f.h(rctx, ev); err != nil && !bus.IsPermanent(err) {
		return err
	}
	f.mu.Lock()
	if ev.Time.After(f.newest) {
		f.newest = ev.Time
	}
	f.mu.Unlock()
	return nil
}

// stop ends the subscriptions (what they hold is still recorded) and the
// catch-up, and stores the mark when nothing needs catching up.
func (f *feed) stop(ctx context.Context) error {
	for _, sub := range f.subs {
		_ = sub.Drain()
	}
	for _, sub := range f.subs {
		for sub.IsValid() {
			if ctx.Err() != nil {
				f.cancel() // a subscription may still hand the workers a message: leave them
				return ctx.Err()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	close(f.work)
	f.workers.Wait()
	f.cancel()
	select {
	case <-f.done:
	case <-ctx.Done():
	}
	f.mu.Lock()
	due, mark := f.gap.IsZero() && !f.all && !f.newest.IsZero(), f.newest
	f.mu.Unlock()
	if due {
		return f.s.srv.History.Mark(ctx, mark)
	}
	return nil
}
