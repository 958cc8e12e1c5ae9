package websession

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keeps generations in Redis (see the package doc).
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

var _ Generations = (*Redis)(nil)

// NewRedis keeps generations on c under prefix ("" for none).
func NewRedis(c redis.UniversalClient, prefix string) *Redis { return &Redis{c: c, prefix: prefix} }

func (r *Redis) key(aor string) string {
	if r.prefix == "" {
		return "websess:{" + aor + "}"
	}
	return r.prefix + ":websess:{" + aor + "}"
}

// Generation implements Generations.
func (r *Redis) Generation(ctx context.Context, aor string, ttl time.Duration) (uint64, error) {
	n, err := r.c.GetEx(ctx, r.key(aor), ttl).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("websession: generation of %s: %w", aor, err)
	}
	return n, nil
}

// Bump implements Generations.
func (r *Redis) Bump(ctx context.Context, aor string, ttl time.Duration) (uint64, error) {
	var incr *redis.IntCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, r.key(aor))
		p.Expire(ctx, r.key(aor), ttl)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("websession: bump %s: %w", aor, err)
	}
	return uint64(incr.Val()), nil
}

// Memory keeps generations in this process (`sipbus up` without Redis).
type Memory struct {
	mu sync.Mutex
	m  map[string]uint64
}

var _ Generations = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{m: map[string]uint64{}} }

// Generation implements Generations.
func (g *Memory) Generation(_ context.Context, aor string, _ time.Duration) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.m[aor], nil
}

// Bump implements Generations.
func (g *Memory) Bump(_ context.Context, aor string, _ time.Duration) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m[aor]++
	return g.m[aor], nil
}
