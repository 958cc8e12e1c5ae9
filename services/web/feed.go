package web

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/services/web/internal/adapters"
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
// live heap, five times that in heap growth under the GOGC=400 of then, and the page
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
	feedWorkers   = adapters.RecordWriters // history writes in flight (they share lingering pipelines: adapters.Redis.Record)
	failSettle    = time.Second            // a catch-up starts this long after the last failed write
)

// feed is the in-process history feed.
type feed struct {
	s   *Service
	h   bus.Handler // the history handler, traced (web.history)
	log *slog.Logger

	subs    []bus.Sub
	work    chan *nats.Msg // to the workers
	workers sync.WaitGroup
	cancel  context.CancelFunc
	done    chan struct{} // closed when catchUpLoop returns
	kick    chan struct{}

	mu       sync.Mutex
	newest   time.Time // newest event recorded
	marked   time.Time // when the mark was last stored
	behind   bool      // a catch-up is due, from from
	from     time.Time // zero: the stream's start
	failures uint64    // failed history writes so far
	failedAt time.Time // the last one
}

func (s *Service) startFeed(ctx context.Context) error {
	mark, ok, err := s.srv.History.Marked(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &feed{s: s, h: obs.TraceEvents(s.d.Tracer, "web.history")(s.srv.HistoryHandler),
		log: s.log, cancel: cancel, work: make(chan *nats.Msg, 256), done: make(chan struct{}), kick: make(chan struct{}, 1),
		behind: true}
	if ok {
		f.from = mark.Add(-catchUpMargin)
	}
	for range feedWorkers {
		f.workers.Go(func() {
			for m := range f.work {
				if ev, err := f.record(ctx, m); err != nil {
					f.failed(ev, err)
				} else {
					f.storeMark(ctx, false)
				}
			}
		})
	}
	for _, subj := range []string{ports.SubjectCallEnded, ports.SubjectCallMiss} {
		sub, err := s.d.Local.Subscribe(subj, func(m *nats.Msg) { f.work <- m })
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
	f.kick <- struct{}{}
	go f.catchUpLoop(ctx)
	s.mu.Lock()
	s.feed = f
	s.mu.Unlock()
	return nil
}

// record writes one call event, delivered in-process or read by a
// catch-up, and notes its time. An undecodable event, or one the handler
// refuses for good, is skipped (nil); the error returned is one a retry
// may cure, with the event.
func (f *feed) record(ctx context.Context, m *nats.Msg) (*bus.Event, error) {
	ev, err := bus.Decode(m)
	if err != nil {
		f.log.Debug("web: undecodable call event", "subject", m.Subject, "err", err)
		return nil, nil
	}
	rctx, cancel := context.WithTimeout(ctx, recordTimeout)
	err = f.h(rctx, ev)
	cancel()
	switch {
	case err == nil:
		f.mu.Lock()
		if ev.Time.After(f.newest) {
			f.newest = ev.Time
		}
		f.mu.Unlock()
	case bus.IsPermanent(err):
		f.log.Debug("web: call event not recorded", "id", ev.ID, "err", err)
	default:
		return ev, err
	}
	return nil, nil
}

// storeMark stores the newest event's time as the mark when nothing needs
// catching up and a second has passed since the last (now: whatever the
// time since).
func (f *feed) storeMark(ctx context.Context, now bool) error {
	f.mu.Lock()
	due := !f.behind && !f.newest.IsZero() && (now || time.Since(f.marked) >= markEvery)
	mark := f.newest
	if due {
		f.marked = time.Now()
	}
	f.mu.Unlock()
	if !due {
		return nil
	}
	mctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	err := f.s.srv.History.Mark(mctx, mark)
	if err != nil {
		f.log.Warn("web: history mark not stored", "err", err)
	}
	return err
}

// failed opens (or widens) the gap a catch-up will fill.
func (f *feed) failed(ev *bus.Event, err error) {
	from := ev.Time.Add(-catchUpMargin)
	f.mu.Lock()
	f.failures++
	f.failedAt = time.Now()
	first := !f.behind
	if first || (!f.from.IsZero() && from.Before(f.from)) {
		f.from = from
	}
	f.behind = true
	f.mu.Unlock()
	if first {
		f.log.Warn("web: history write failed; catching up from the stream once it works", "id", ev.ID, "err", err)
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// catchUpLoop runs a catch-up whenever one is due, retrying with backoff
// until one succeeds with no write failure behind it.
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
			behind, from, failures, wait := f.behind, f.from, f.failures, time.Until(f.failedAt.Add(failSettle))
			f.mu.Unlock()
			if !behind {
				break
			}
			if wait > 0 { // the failed event may still linger on its way to the stream
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			n, err := f.catchUp(ctx, from)
			if err == nil {
				f.mu.Lock()
				f.behind = f.failures != failures
				f.mu.Unlock()
				f.log.Info("web: history caught up from the stream", "from", from, "events", n)
				_ = f.storeMark(ctx, true)
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

// catchUp records the call events the stream holds from from on (zero:
// from its start); it returns how many it read. One read per filter (see
// Start on why not one of two).
func (f *feed) catchUp(ctx context.Context, from time.Time) (int, error) {
	n := 0
	for _, filter := range []string{ports.SubjectCallEnded, ports.SubjectCallMiss} {
		k, err := bus.Read(ctx, f.s.d.JS, bus.DefaultStream, filter, from, func(m *nats.Msg) error {
			_, err := f.record(ctx, m)
			return err
		})
		n += k
		if err != nil {
			return n, fmt.Errorf("web: catch-up of %s: %w", filter, err)
		}
	}
	return n, nil
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
	return f.storeMark(ctx, true)
}
