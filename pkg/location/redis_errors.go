package location

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/internal/rediserr"
)

var redisErrors = rediserr.Errors{Pkg: "location", NotFound: ErrNotFound, Unavailable: ErrUnavailable}

// mapErr turns a go-redis error into the package's errors: the scripts'
// out-of-order and too-many replies are ErrOutOfOrder and ErrTooMany; the
// rest as rediserr maps them (transport failures, deadlines and transient
// server replies wrap ErrUnavailable; a context canceled by the caller and
// other server replies, bugs such as WRONGTYPE, are wrapped as they are).
// ctx is the operation's context.
func mapErr(ctx context.Context, op string, err error) error {
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		if i := strings.Index(msg, outOfOrderReply); i >= 0 {
			return fmt.Errorf("%s: %w: %s", op, ErrOutOfOrder, strings.TrimSpace(msg[i+len(outOfOrderReply):]))
		}
		if i := strings.Index(msg, tooManyReply); i >= 0 {
			return fmt.Errorf("%s: %w: %s", op, ErrTooMany, strings.TrimSpace(msg[i+len(tooManyReply):]))
		}
	}
	return redisErrors.Map(ctx, op, err)
}
