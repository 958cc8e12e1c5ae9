package store

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

// mapErr turns a go-redis error into the package's errors (see the package
// doc): redis.Nil is ErrNotFound; transport
// failures, deadlines and transient server replies wrap ErrUnavailable; a
// context canceled by the caller and other server replies are wrapped as
// they are. ctx is the operation's context.
func mapErr(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w: redis did not answer in time: %w", op, ErrUnavailable, err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s: %w: redis did not answer in time: %w (%w)", op, ErrUnavailable, ctx.Err(), err)
	case isTimeout(err) && deadlinePassed(ctx):
		// The connection's deadline is the context's: the read timed out
		// at the deadline, before the context's own timer marked it done.
		return fmt.Errorf("%s: %w: redis did not answer in time: %w (%w)", op, ErrUnavailable, context.DeadlineExceeded, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: store: %w", op, err)
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%s: store: %w (%w)", op, ctx.Err(), err)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := strings.TrimPrefix(rerr.Error(), "ERR ")
		for _, p := range unavailablePrefixes {
			if strings.HasPrefix(rerr.Error(), p) || strings.HasPrefix(msg, p) {
				return fmt.Errorf("%s: %w: redis: %w", op, ErrUnavailable, err)
			}
		}
		return fmt.Errorf("%s: store: redis: %w", op, err)
	}
	// Not a server reply: the client could not get an answer (dial refused,
	// connection reset, i/o timeout, pool timeout, client closed, ...).
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
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
