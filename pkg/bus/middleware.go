package bus

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Handler handles one event. nil = ack; an error = nak with backoff (redelivered);
// Permanent(err) = term + dead letter.
type Handler func(ctx context.Context, ev *Event) error

// Middleware wraps a Handler (recover, timeout, metrics, ...).
type Middleware func(Handler) Handler

// Chain applies mw to h, outermost first.
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// Recover turns a handler panic into a permanent error (the event is dead
// lettered, not redelivered into the same panic) and logs the stack.
func Recover(log *slog.Logger) Middleware {
	if log == nil {
		log = slog.Default()
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, ev *Event) (err error) {
			defer func() {
				if r := recover(); r != nil {
					log.Error("bus: handler panic", "id", ev.ID, "type", ev.Type,
						"subject", ev.NATSSubject, "panic", r, "stack", string(debug.Stack()))
					err = Permanent(fmt.Errorf("bus: handler panic: %v", r))
				}
			}()
			return next(ctx, ev)
		}
	}
}

// Timeout gives each call of the handler a deadline of d (no-op for d <= 0).
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		if d <= 0 {
			return next
		}
		return func(ctx context.Context, ev *Event) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, ev)
		}
	}
}

// Counters count handler outcomes; read them with Load. Safe for concurrent use.
type Counters struct {
	Handled   atomic.Uint64 // returned nil
	Failed    atomic.Uint64 // returned a transient error
	Permanent atomic.Uint64 // returned a permanent error
	Nanos     atomic.Uint64 // total time spent in the handler
}

// Metrics counts outcomes and handler time into c.
func Metrics(c *Counters) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, ev *Event) error {
			start := time.Now()
			err := next(ctx, ev)
			c.Nanos.Add(uint64(time.Since(start)))
			switch {
			case err == nil:
				c.Handled.Add(1)
			case IsPermanent(err):
				c.Permanent.Add(1)
			default:
				c.Failed.Add(1)
			}
			return err
		}
	}
}
