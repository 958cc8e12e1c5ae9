// Package rediserr sorts the errors of go-redis for the packages that keep
// state in Redis (store, location, subscriber, digest), so that each says
// the same thing of the same failure: a missing key is the package's
// ErrNotFound; a deadline, a transport failure or a reply that means
// "cannot serve now" (LOADING, CLUSTERDOWN, READONLY, ...) wraps its
// ErrUnavailable, which callers answer with a retry or a 5xx; a context
// the caller canceled, and any other server reply (a bug: WRONGTYPE, a
// script error), is wrapped as it is.
package rediserr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// unavailablePrefixes are server replies that mean "cannot serve now, try
// again later" rather than "your request is wrong".
var unavailablePrefixes = []string{
	"LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY",
	"NOREPLICAS", "BUSY", "OOM", "NOAUTH", "WRONGPASS", "MOVED", "ASK",
	"ERR max number of clients reached",
}

// Errors names one package's errors.
type Errors struct {
	Pkg         string // in messages: "op: store: redis: ..."
	NotFound    error  // what redis.Nil becomes; nil: wrapped as it is
	Unavailable error
}

// Map turns err, from operation op under ctx, into e's errors.
func (e Errors) Map(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil) && e.NotFound != nil:
		return fmt.Errorf("%s: %w", op, e.NotFound)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w: redis did not answer in time: %w", op, e.Unavailable, err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s: %w: redis did not answer in time: %w (%w)", op, e.Unavailable, ctx.Err(), err)
	case isTimeout(err) && deadlinePassed(ctx):
		// The connection's deadline is the context's: the read timed out
		// at the deadline, before the context's own timer marked it done.
		return fmt.Errorf("%s: %w: redis did not answer in time: %w (%w)", op, e.Unavailable, context.DeadlineExceeded, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %s: %w", op, e.Pkg, err)
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%s: %s: %w (%w)", op, e.Pkg, ctx.Err(), err)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := strings.TrimPrefix(rerr.Error(), "ERR ")
		for _, p := range unavailablePrefixes {
			if strings.HasPrefix(rerr.Error(), p) || strings.HasPrefix(msg, p) {
				return fmt.Errorf("%s: %w: redis: %w", op, e.Unavailable, err)
			}
		}
		return fmt.Errorf("%s: %s: redis: %w", op, e.Pkg, err)
	}
	// Not a server reply: the client could not get an answer (dial refused,
	// connection reset, i/o timeout, pool timeout, client closed, ...).
	return fmt.Errorf("%s: %w: %w", op, e.Unavailable, err)
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// deadlinePassed reports whether ctx has a deadline that is now past.
func deadlinePassed(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
