package digest

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// failScript counts one failure. KEYS[1] = the (source, user) count,
// KEYS[2] = the source count (one hash slot: the source is the hash tag);
// ARGV = window ms, block ms, per-user limit, per-source limit (0: that
// count is off and left alone). A count starts with a TTL of the window
// (INCR, then PEXPIRE on the first failure); the failure that reaches a
// limit sets its TTL to the block (PEXPIRE), and later ones only INCR, so
// a block lasts Block from its start. Returns {user count, source count,
// user started, source started}.
var failScript = redis.NewScript(`
local out = {0, 0, 0, 0}
for i = 1, 2 do
  local lim = tonumber(ARGV[2 + i])
  if lim > 0 then
    local n = redis.call('INCR', KEYS[i])
    if n == 1 then
      redis.call('PEXPIRE', KEYS[i], ARGV[1])
    end
    if n == lim then
      redis.call('PEXPIRE', KEYS[i], ARGV[2])
      out[2 + i] = 1
    end
    out[i] = n
  end
end
return out
`)

type redisFailures struct {
	c         redis.UniversalClient
	prefix    string
	badPrefix error
}

var _ FailureCounter = (*redisFailures)(nil)

// NewRedisFailures returns a FailureCounter in Redis (single node,
// Sentinel or Cluster), shared by every replica. Two STRING counts per
// source, each with a TTL (the window, then the block):
//
//	<prefix>:authfail:{<source>}            failures from the source
//	<prefix>:authfail:{<source>}:u:<user>   failures of user from it
//
// <source> is SourceKey (an IPv4 address, an IPv6 /64); it is the hash
// tag, so both keys live on one node. Fail is one Lua script (INCR and
// PEXPIRE of both counts, one round trip); Blocked is one MGET. Nothing
// else is written or read. prefix defaults to DefaultPrefix and must not
// contain braces, else every call fails with ErrInvalid. Outages are
// ErrUnavailable, as for NewRedisCounter.
func NewRedisFailures(c redis.UniversalClient, prefix string) FailureCounter {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	rf := &redisFailures{c: c, prefix: prefix}
	if strings.ContainsAny(prefix, "{}") {
		rf.badPrefix = fmt.Errorf("%w: redis key prefix %q contains '{' or '}'", ErrInvalid, prefix)
	}
	return rf
}

func (r *redisFailures) keys(src, user string) []string {
	base := r.prefix + ":authfail:{" + src + "}"
	return []string{base + ":u:" + user, base}
}

// Fail implements FailureCounter.
func (r *redisFailures) Fail(ctx context.Context, user string, source netip.Addr, l Limits) (Block, error) {
	src, err := checkFailArgs(source, l)
	if err != nil {
		return Block{}, err
	}
	if r.badPrefix != nil {
		return Block{}, r.badPrefix
	}
	res, err := failScript.Run(ctx, r.c, r.keys(src, user),
		l.Window.Milliseconds(), l.Block.Milliseconds(), l.PerUser, l.PerSource).Int64Slice()
	if err != nil {
		return Block{}, mapErr(ctx, "count failed authentication", err)
	}
	if len(res) != 4 {
		return Block{}, fmt.Errorf("digest: count failed authentication: script returned %d values, want 4", len(res))
	}
	return blockAfterFail([2]int{int(res[0]), int(res[1])}, [2]bool{res[2] == 1, res[3] == 1}, l), nil
}

// Blocked implements FailureCounter.
func (r *redisFailures) Blocked(ctx context.Context, user string, source netip.Addr, l Limits) (Block, error) {
	src, err := checkFailArgs(source, l)
	if err != nil {
		return Block{}, err
	}
	if r.badPrefix != nil {
		return Block{}, r.badPrefix
	}
	if !l.On() {
		return Block{}, nil
	}
	vals, err := r.c.MGet(ctx, r.keys(src, user)...).Result()
	if err != nil {
		return Block{}, mapErr(ctx, "read failed authentications", err)
	}
	var n [2]int
	for i, v := range vals {
		if s, ok := v.(string); ok {
			n[i], _ = strconv.Atoi(s)
		}
	}
	return scopeOf(n[0], n[1], l), nil
}
