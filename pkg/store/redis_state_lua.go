package store

import "github.com/redis/go-redis/v9"

// The Lua scripts of the timer and record stores. Each touches keys of one
// hash tag only (a timer shard's ZSET and HASH, or one record), so each is
// atomic and runs on Redis Cluster.
//
// A timer's HASH value is
//
//	<due ms>|<claims>|<token>|<payload>
//
// due and claims are decimal, the token is empty until the first claim and
// never holds '|', and the payload is the rest of the value, any bytes. The
// header is matched by timerHeader.

// timerHeader matches a timer value's header; the position capture is where
// the payload starts.
const timerHeader = `'^(%-?%d+)|(%d+)|([^|]*)|()'`

// armScript: KEYS = tmr ZSET, tmrd HASH; ARGV = id, due ms, payload.
// Creates or replaces the timer, unclaimed.
var armScript = redis.NewScript(`
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|0||' .. ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
`)

// cancelScript: KEYS = tmr ZSET, tmrd HASH; ARGV = id.
// Returns 1 when the timer existed, 0 otherwise.
var cancelScript = redis.NewScript(`
local n = redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return n
`)

// claimScript: KEYS = tmr ZSET, tmrd HASH; ARGV = now ms, max, lease
// deadline ms, token base.
// Leases up to max timers with score <= now: score = deadline, claims + 1,
// token = base.i. Returns id, due, claims, token, payload for each, flat.
// An id without a value (cannot happen through the engine) is dropped.
var claimScript = redis.NewScript(`
local z, h = KEYS[1], KEYS[2]
local ids = redis.call('ZRANGEBYSCORE', z, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i, id in ipairs(ids) do
  local v = redis.call('HGET', h, id)
  if not v then
    redis.call('ZREM', z, id)
  else
    local due, claims, _, pos = string.match(v, ` + timerHeader + `)
    if not due then
      return redis.error_reply('sipbus: malformed timer value in ' .. h)
    end
    claims = string.format('%d', tonumber(claims) + 1)
    local tok = ARGV[4] .. '.' .. i
    local payload = string.sub(v, pos)
    redis.call('HSET', h, id, due .. '|' .. claims .. '|' .. tok .. '|' .. payload)
    redis.call('ZADD', z, ARGV[3], id)
    out[#out + 1] = id
    out[#out + 1] = due
    out[#out + 1] = claims
    out[#out + 1] = tok
    out[#out + 1] = payload
  end
end
return out
`)

// doneScript: KEYS = tmr ZSET, tmrd HASH; ARGV = id, token (non-empty).
// Removes the timer when its current claim has token: 1, else 0.
var doneScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then
  return 0
end
local _, _, tok = string.match(v, ` + timerHeader + `)
if tok ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`)

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
