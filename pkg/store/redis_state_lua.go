package store

import "github.com/redis/go-redis/v9"

// The Lua script of the record store. It touches one record's key only, so
// it is atomic and runs on Redis Cluster, and it sets PEXPIRE whenever it
// writes: no record lives without a TTL.

// saveRecordScript: KEYS[1] = record HASH; ARGV = expected version (0 =
// absent), value, ttl ms.
// Returns {new version, 1} after writing v, d and PEXPIRE, or
// {current version, 0} on a conflict.
var saveRecordScript = redis.NewScript(`
local k = KEYS[1]
local cur = tonumber(redis.call('HGET', k, 'v') or '0') or 0
if cur ~= tonumber(ARGV[1]) then
  return {cur, 0}
end
local nv = cur + 1
redis.call('HSET', k, 'v', string.format('%d', nv), 'd', ARGV[2])
redis.call('PEXPIRE', k, ARGV[3])
return {nv, 1}
`)
