package store

import (
	"context"

	"github.com/sipbus/sipbus/pkg/internal/rediserr"
)

// mapErr turns a go-redis error into the package's errors (see the package
// doc and rediserr): redis.Nil is ErrNotFound; transport failures,
// deadlines and transient server replies wrap ErrUnavailable; a context
// canceled by the caller and other server replies are wrapped as they are.
// ctx is the operation's context.
func mapErr(ctx context.Context, op string, err error) error { return redisErrors.Map(ctx, op, err) }

var redisErrors = rediserr.Errors{Pkg: "store", NotFound: ErrNotFound, Unavailable: ErrUnavailable}
