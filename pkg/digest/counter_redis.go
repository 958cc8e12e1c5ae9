package digest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/internal/rediserr"
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

// mapErr maps a go-redis error as store and location do (rediserr):
// transport failures, deadlines and transient server replies wrap
// ErrUnavailable; a context canceled by the caller and other server
// replies (bugs) are wrapped as they are.
func mapErr(ctx context.Context, op string, err error) error {
	return redisErrors.Map(ctx, "digest: "+op, err)
}

var redisErrors = rediserr.Errors{Pkg: "digest", Unavailable: ErrUnavailable}
