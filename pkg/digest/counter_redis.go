package digest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix of NewRedisCounter when none is given.
const DefaultPrefix = "sipbus"

// advanceScript: KEYS[1] = the nonce's counter key; ARGV = nc, ttl ms.
// Stores nc with the ttl (SET PX: value and PEXPIRE in one write) and
// returns 1 when nc is greater than the stored one or none is stored;
// returns 0 and changes nothing (the TTL included) otherwise.
var advanceScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

type redisCounter struct {
	c         redis.UniversalClient
	prefix    string
	badPrefix error
}

var _ NonceCounter = (*redisCounter)(nil)

// NewRedisCounter returns a NonceCounter in Redis (single node, Sentinel
// or Cluster), shared by every replica. One STRING per nonce holds the
// highest nc (decimal), with a TTL:
//
//	<prefix>:nc:{<nonce>}
//
// The nonce is the hash tag; it must not contain '{' or '}' (minted nonces
// never do). prefix defaults to DefaultPrefix ("sipbus") and must not
// contain braces either, else every Advance fails with ErrInvalid. Each
// Advance is one Lua script (compare, then SET with PX). Only ctx bounds
// it: use a client with ContextTimeoutEnabled (store.Open's are) and give
// Verify a context with a deadline. Outages are ErrUnavailable.
func NewRedisCounter(c redis.UniversalClient, prefix string) NonceCounter {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	rc := &redisCounter{c: c, prefix: prefix}
	if strings.ContainsAny(prefix, "{}") {
		rc.badPrefix = fmt.Errorf("%w: redis key prefix %q contains '{' or '}'", ErrInvalid, prefix)
	}
	return rc
}

// Advance implements NonceCounter.
func (r *redisCounter) Advance(ctx context.Context, nonce string, nc uint32, ttl time.Duration) (bool, error) {
	if err := validAdvance(nonce, ttl); err != nil {
		return false, err
	}
	if strings.ContainsAny(nonce, "{}") {
		return false, fmt.Errorf("%w: nonce contains '{' or '}'", ErrInvalid)
	}
	if r.badPrefix != nil {
		return false, r.badPrefix
	}
	ms := ttl.Milliseconds()
	if ms == 0 {
		ms = 1
	}
	n, err := advanceScript.Run(ctx, r.c, []string{r.prefix + ":nc:{" + nonce + "}"}, nc, ms).Int()
	if err != nil {
		return false, mapErr(ctx, "advance nonce-count", err)
	}
	return n == 1, nil
}

// unavailablePrefixes are server replies that mean "cannot serve now".
var unavailablePrefixes = []string{
	"LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY",
	"NOREPLICAS", "BUSY", "OOM", "NOAUTH", "WRONGPASS", "MOVED", "ASK",
	"ERR max number of clients reached",
}

// mapErr maps a go-redis error as package store does: transport failures,
// deadlines and transient server replies wrap ErrUnavailable; a context
// canceled by the caller and other server replies (bugs) are wrapped as
// they are.
func mapErr(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("digest: %s: %w: redis did not answer in time: %w", op, ErrUnavailable, err)
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("digest: %s: %w (%w)", op, context.Canceled, err)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		for _, p := range unavailablePrefixes {
			if strings.HasPrefix(msg, p) || strings.HasPrefix(strings.TrimPrefix(msg, "ERR "), p) {
				return fmt.Errorf("digest: %s: %w: redis: %w", op, ErrUnavailable, err)
			}
		}
		return fmt.Errorf("digest: %s: redis: %w", op, err)
	}
	// Not a server reply: dial refused, connection reset, pool timeout,
	// client closed, ...
	return fmt.Errorf("digest: %s: %w: %w", op, ErrUnavailable, err)
}
