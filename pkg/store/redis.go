package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of RedisOptions.
const (
	DefaultPrefix    = "sipbus"
	DefaultOpTimeout = time.Second
)

// RedisOptions configures the Redis engine.
type RedisOptions struct {
	// Prefix starts every key; default "sipbus". It must not contain '{' or
	// '}' (every key carries its own hash tag).
	Prefix string
	// OpTimeout bounds each operation (one round trip; both of an Apply
	// that runs again after NOSCRIPT together); default 1s, < 0 means only the caller's context
	// bounds it. Past it the operation fails with ErrUnavailable. The client
	// must honour context deadlines (go-redis ContextTimeoutEnabled, which
	// Open sets) or have read/write timeouts no longer than this.
	OpTimeout time.Duration
	// CloseClient makes Close close the client too; Open sets it. Otherwise
	// the client belongs to the caller.
	CloseClient bool
}

// Redis is the Redis engine: single node, Sentinel or Cluster alike. It is
// safe for concurrent use.
type Redis struct {
	c         redis.UniversalClient
	prefix    string
	opTimeout time.Duration
	owned     bool
	badPrefix error
}

var _ Store = (*Redis)(nil)

// NewRedis returns the Redis engine on c: single node, Sentinel or Cluster
// alike. See the package doc for the key layout, TTL rules and error mapping.
// An invalid Prefix makes every operation fail with ErrInvalid.
func NewRedis(c redis.UniversalClient, opt RedisOptions) *Redis {
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix
	}
	if opt.OpTimeout == 0 {
		opt.OpTimeout = DefaultOpTimeout
	}
	s := &Redis{c: c, prefix: opt.Prefix, opTimeout: opt.OpTimeout, owned: opt.CloseClient}
	if strings.ContainsAny(opt.Prefix, "{}") {
		s.badPrefix = fmt.Errorf("%w: redis key prefix %q contains '{' or '}'", ErrInvalid, opt.Prefix)
	}
	return s
}

// Client returns the go-redis client the engine runs on and its key
// prefix, so the other state of a process (location service, subscriber
// directory) shares one connection pool with it.
func (s *Redis) Client() (redis.UniversalClient, string) { return s.c, s.prefix }

// opCtx applies the per-operation deadline.
func (s *Redis) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.opTimeout > 0 {
		return context.WithTimeout(ctx, s.opTimeout)
	}
	return ctx, func() {}
}

// Ping implements Store.
func (s *Redis) Ping(ctx context.Context) error {
	if s.badPrefix != nil {
		return s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := s.c.Ping(ctx).Err(); err != nil {
		return mapErr(ctx, "ping redis", err)
	}
	return nil
}

// Close closes the client when the store owns it (RedisOptions.CloseClient).
func (s *Redis) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.c.Close(); err != nil && err != redis.ErrClosed {
		return fmt.Errorf("store: close redis client: %w", err)
	}
	return nil
}

// ttlMillis converts a TTL to PEXPIRE milliseconds, rounding a positive
// sub-millisecond TTL up so it never becomes "keep" or "delete".
func ttlMillis(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	ms := ttl.Milliseconds()
	if ms == 0 {
		ms = 1
	}
	return ms
}
