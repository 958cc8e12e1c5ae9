package subscriber

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/internal/rediserr"
)

// The scripts of the Redis engine. KEYS[1] is the subscriber's hash;
// KEYS[2], the index, is given only on a single node (see the package doc),
// where the script updates both atomically. Subscribers have no TTL.

// addScript: ARGV = aor, ha1_md5, ha1_sha256, name, email, enabled,
// created ms, updated ms, missed_call ("1" on, "0" off), tz, admin ("1"/"0"). Returns 1 when it created the hash, 0 when it
// exists (the index is still written: it repairs a missing entry).
var addScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  if KEYS[2] then redis.call('ZADD', KEYS[2], 0, ARGV[1]) end
  return 0
end
redis.call('HSET', KEYS[1], 'aor', ARGV[1], 'ha1_md5', ARGV[2], 'ha1_sha256', ARGV[3],
  'name', ARGV[4], 'email', ARGV[5], 'enabled', ARGV[6], 'created', ARGV[7], 'updated', ARGV[8],
  'missed_call', ARGV[9], 'tz', ARGV[10], 'admin', ARGV[11])
if KEYS[2] then redis.call('ZADD', KEYS[2], 0, ARGV[1]) end
return 1
`)

// updateScript: ARGV = aor, ha1_md5, ha1_sha256, name, email, enabled,
// updated ms, missed_call, tz, admin. Returns 0 when the hash does not exist, else 1.
var updateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'ha1_md5', ARGV[2], 'ha1_sha256', ARGV[3],
  'name', ARGV[4], 'email', ARGV[5], 'enabled', ARGV[6], 'updated', ARGV[7],
  'missed_call', ARGV[8], 'tz', ARGV[9], 'admin', ARGV[10])
if KEYS[2] then redis.call('ZADD', KEYS[2], 0, ARGV[1]) end
return 1
`)

// removeScript: ARGV = aor. Returns the number of hashes deleted (0 or 1);
// the index entry is removed either way.
var removeScript = redis.NewScript(`
local n = redis.call('DEL', KEYS[1])
if KEYS[2] then redis.call('ZREM', KEYS[2], ARGV[1]) end
return n
`)

// mapErr maps a go-redis error as store and location do (rediserr):
// transport failures, deadlines and transient server replies wrap
// ErrUnavailable; a context canceled by the caller and other server
// replies (bugs such as WRONGTYPE) are wrapped as they are.
func mapErr(ctx context.Context, op string, err error) error { return redisErrors.Map(ctx, op, err) }

var redisErrors = rediserr.Errors{Pkg: "subscriber", Unavailable: ErrUnavailable}
