package store

import "github.com/redis/go-redis/v9"

// The Lua scripts of the Redis engine. Each touches exactly one key
// (KEYS[1], the transaction hash), so each is atomic and runs on Redis
// Cluster. A missing transaction is reported with an error reply starting
// with notFoundReply, which mapErr turns into ErrNotFound.
//
// Every script that writes also sets PEXPIRE in the same call: no key ever
// lives without a TTL.

const notFoundReply = "SIPBUS_NOTFOUND"

// txFields is the order in which the scripts and Get return the fields; see
// the package doc for their meaning.
var txFields = []string{"kind", "method", "state", "edge", "src", "lst", "lr", "ld", "rtx", "ct", "ut"}

// createOrGetScript: KEYS[1] = tx key; ARGV = ttl ms, kind, method, state,
// edge, src, lst, lr, ld, now ms.
// Returns {1} when it created the hash, or {0, <txFields values>} after
// counting a retransmission on the existing one.
var createOrGetScript = redis.NewScript(`
local k = KEYS[1]
if redis.call('EXISTS', k) == 1 then
  redis.call('HINCRBY', k, 'rtx', 1)
  if redis.call('PTTL', k) < 0 then
    redis.call('PEXPIRE', k, ARGV[1])
  end
  return {0, redis.call('HMGET', k, 'kind', 'method', 'state', 'edge', 'src', 'lst', 'lr', 'ld', 'rtx', 'ct', 'ut')}
end
redis.call('HSET', k,
  'kind', ARGV[2], 'method', ARGV[3], 'state', ARGV[4], 'edge', ARGV[5],
  'src', ARGV[6], 'lst', ARGV[7], 'lr', ARGV[8], 'ld', ARGV[9],
  'rtx', 0, 'ct', ARGV[10], 'ut', ARGV[10])
redis.call('PEXPIRE', k, ARGV[1])
return {1}
`)

// setResponseScript: KEYS[1] = tx key; ARGV = status, raw, dest, state
// ("" keeps it), ttl ms (<= 0 keeps the TTL), now ms.
// Returns 1 when stored, 0 when refused (a final is stored and status is
// provisional or a different final).
var setResponseScript = redis.NewScript(`
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then
  return redis.error_reply('` + notFoundReply + `')
end
local cur = tonumber(redis.call('HGET', k, 'lst') or '0') or 0
local st = tonumber(ARGV[1])
if cur >= 200 and st ~= cur then
  return 0
end
redis.call('HSET', k, 'lst', ARGV[1], 'lr', ARGV[2], 'ld', ARGV[3], 'ut', ARGV[6])
if ARGV[4] ~= '' then
  redis.call('HSET', k, 'state', ARGV[4])
end
if tonumber(ARGV[5]) > 0 then
  redis.call('PEXPIRE', k, ARGV[5])
end
return 1
`)

// updateStateScript: KEYS[1] = tx key; ARGV = to, ttl ms (<= 0 keeps the
// TTL), now ms, then the accepted current states (none = any).
// Returns 1 when set, 0 when the current state is not among them.
var updateStateScript = redis.NewScript(`
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then
  return redis.error_reply('` + notFoundReply + `')
end
if #ARGV > 3 then
  local cur = redis.call('HGET', k, 'state') or ''
  local ok = false
  for i = 4, #ARGV do
    if ARGV[i] == cur then
      ok = true
      break
    end
  end
  if not ok then
    return 0
  end
end
redis.call('HSET', k, 'state', ARGV[1], 'ut', ARGV[3])
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', k, ARGV[2])
end
return 1
`)
