package location

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// unavailablePrefixes are server replies that mean "cannot serve now, try
// again later" rather than "your request is wrong" (as in package store).
var unavailablePrefixes = []string{
	"LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY",
	"NOREPLICAS", "BUSY", "OOM", "NOAUTH", "WRONGPASS", "MOVED", "ASK",
	"ERR max number of clients reached",
}

// mapErr turns a go-redis error into the package's errors: the scripts'
// out-of-order and too-many replies are ErrOutOfOrder and ErrTooMany;
// transport failures, deadlines and transient server replies wrap
// ErrUnavailable; a context canceled by the caller and other server replies
// (a bug: WRONGTYPE, a script error) are wrapped as they are. ctx is the
// operation's context.
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
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: location: %w", op, err)
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%s: location: %w (%w)", op, ctx.Err(), err)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := strings.TrimPrefix(rerr.Error(), "ERR ")
		switch {
		case strings.Contains(msg, outOfOrderReply):
			return fmt.Errorf("%s: %w: %s", op, ErrOutOfOrder, strings.TrimSpace(msg[strings.Index(msg, outOfOrderReply)+len(outOfOrderReply):]))
		case strings.Contains(msg, tooManyReply):
			return fmt.Errorf("%s: %w: %s", op, ErrTooMany, strings.TrimSpace(msg[strings.Index(msg, tooManyReply)+len(tooManyReply):]))
		}
		for _, p := range unavailablePrefixes {
			if strings.HasPrefix(rerr.Error(), p) || strings.HasPrefix(msg, p) {
				return fmt.Errorf("%s: %w: redis: %w", op, ErrUnavailable, err)
			}
		}
		return fmt.Errorf("%s: location: redis: %w", op, err)
	}
	// Not a server reply: the client could not get an answer (dial refused,
	// connection reset, i/o timeout, pool timeout, client closed, ...).
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}
