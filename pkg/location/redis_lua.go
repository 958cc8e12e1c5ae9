package location

import "github.com/redis/go-redis/v9"

// The Lua scripts of the Redis engine. applyScript, addScript, removeScript
// and expireAORScript touch one key, the AOR's hash (KEYS[1]); claimScript
// touches one shard of the expiry index. So each is atomic and each runs on
// Redis Cluster. Stored bindings are JSON (see record); the scripts decode
// them with cjson and read expires, callid, cseq, instance and regid.
//
// Failures the caller must see are error replies starting with
// outOfOrderReply or tooManyReply, which mapErr turns into ErrOutOfOrder and
// ErrTooMany.

const (
	outOfOrderReply = "LOCATION_OUTOFORDER"
	tooManyReply    = "LOCATION_TOOMANY"
)

// retimeLua sets the hash's TTL from the bindings left in `cur` (field ->
// {x = expires ms}) and computes `earliest` (-1: none expiring) and `count`:
// no TTL when a binding is permanent, else the latest expiry minus now plus
// the margin. An empty hash no longer exists (Redis deletes it with its last
// field).
const retimeLua = `
local earliest, maxx, perm, count = -1, 0, false, 0
for _, b in pairs(cur) do
  count = count + 1
  if b.x == 0 then
    perm = true
  else
    if earliest < 0 or b.x < earliest then earliest = b.x end
    if b.x > maxx then maxx = b.x end
  end
end
if count > 0 then
  if perm then
    redis.call('PERSIST', key)
  else
    redis.call('PEXPIRE', key, string.format('%d', maxx - now + margin))
  end
end
`

// applyScript: KEYS[1] = AOR hash. ARGV = now ms, Call-ID, CSeq, wildcard
// ('1'/'0'), max contacts (0: unlimited), TTL margin ms, then six per
// contact: field, instance, reg-id (0 unless RFC 5626), remove ('1'/'0'),
// expires ms (0: permanent), stored JSON.
//
// It follows applyEntries step by step (see there). Reply: {earliest
// expiry ms or -1, number of bindings n, n stored bindings, then kind,
// binding pairs for the changes}.
var applyScript = redis.NewScript(`
local key = KEYS[1]
local now = tonumber(ARGV[1])
local callid = ARGV[2]
local cseq = tonumber(ARGV[3])
local maxc = tonumber(ARGV[5])
local margin = tonumber(ARGV[6])
local cur, order, dels, sets, changes = {}, {}, {}, {}, {}
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  local v = cjson.decode(flat[i + 1])
  local x = tonumber(v.expires) or 0
  if x > 0 and x <= now then
    dels[#dels + 1] = flat[i]
    changes[#changes + 1] = 'expired'
    changes[#changes + 1] = flat[i + 1]
  else
    local inst = v.instance
    if type(inst) ~= 'string' then inst = '' end
    cur[flat[i]] = {raw = flat[i + 1], x = x, ci = v.callid, cs = tonumber(v.cseq) or 0,
      inst = inst, rid = tonumber(v.regid) or 0}
    order[#order + 1] = flat[i]
  end
end
local function stale(b)
  return b.ci == callid and b.cs >= cseq
end
local function drop(f)
  dels[#dels + 1] = f
  sets[f] = nil
  changes[#changes + 1] = 'removed'
  changes[#changes + 1] = cur[f].raw
  cur[f] = nil
end
if ARGV[4] == '1' then
  for _, f in ipairs(order) do
    if stale(cur[f]) then
      return redis.error_reply('` + outOfOrderReply + ` Contact: * with a CSeq not above the stored ' .. cur[f].cs)
    end
  end
  for _, f in ipairs(order) do drop(f) end
else
  local n = (#ARGV - 6) / 6
  local match = {}
  for i = 0, n - 1 do
    local a = 7 + i * 6
    local f, inst, rid = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
    local m = false
    if inst ~= '' and rid > 0 then
      for _, ef in ipairs(order) do
        local b = cur[ef]
        if b.inst == inst and b.rid == rid then
          m = ef
          break
        end
      end
    elseif cur[f] then
      m = f
    end
    if m and stale(cur[m]) then
      return redis.error_reply('` + outOfOrderReply + ` CSeq not above the stored ' .. cur[m].cs)
    end
    match[i] = m
  end
  local added = 0
  for i = 0, n - 1 do
    local a = 7 + i * 6
    local f, x, raw = ARGV[a], tonumber(ARGV[a + 4]), ARGV[a + 5]
    local m = match[i]
    if m and not cur[m] then m = false end
    if ARGV[a + 3] == '1' then
      if m then drop(m) end
    elseif m and m == f then
      cur[f] = {raw = raw, x = x}
      sets[f] = raw
      changes[#changes + 1] = 'refreshed'
      changes[#changes + 1] = raw
    else
      if m then drop(m) end
      if cur[f] then
        changes[#changes + 1] = 'removed'
        changes[#changes + 1] = cur[f].raw
      end
      cur[f] = {raw = raw, x = x}
      sets[f] = raw
      changes[#changes + 1] = 'added'
      changes[#changes + 1] = raw
      added = added + 1
    end
  end
  if maxc > 0 and added > 0 then
    local count = 0
    for _ in pairs(cur) do count = count + 1 end
    if count > maxc then
      return redis.error_reply('` + tooManyReply + ` ' .. count .. ' bindings, at most ' .. maxc)
    end
  end
end
for _, f in ipairs(dels) do redis.call('HDEL', key, f) end
for f, raw in pairs(sets) do redis.call('HSET', key, f, raw) end
` + retimeLua + `
local out = {earliest, count}
for _, b in pairs(cur) do out[#out + 1] = b.raw end
for _, c in ipairs(changes) do out[#out + 1] = c end
return out
`)

// addScript: KEYS[1] = AOR hash. ARGV = field, stored JSON, now ms (the
// binding's Updated), TTL margin ms. Stores the binding and resets the TTL.
// Reply: {earliest expiry ms or -1, number of bindings}.
var addScript = redis.NewScript(`
local key = KEYS[1]
local now = tonumber(ARGV[3])
local margin = tonumber(ARGV[4])
redis.call('HSET', key, ARGV[1], ARGV[2])
local cur = {}
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  local v = cjson.decode(flat[i + 1])
  cur[flat[i]] = {x = tonumber(v.expires) or 0}
end
` + retimeLua + `
return {earliest, count}
`)

// removeScript: KEYS[1] = AOR hash. ARGV[1] = canonical contact (empty for
// every binding). Deletes the fields that are the contact or start with it
// and a space (its RFC 5626 flows). Reply: {bindings left, removed stored
// bindings...}.
var removeScript = redis.NewScript(`
local key = KEYS[1]
local ck = ARGV[1]
local out = {0}
local left = 0
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  local f = flat[i]
  if ck == '' or f == ck or string.sub(f, 1, #ck + 1) == ck .. ' ' then
    redis.call('HDEL', key, f)
    out[#out + 1] = flat[i + 1]
  else
    left = left + 1
  end
end
out[1] = left
return out
`)

// expireAORScript: KEYS[1] = AOR hash. ARGV = now ms, budget. Deletes up
// to budget bindings whose expiry is not after now (budget 0: a read-only
// peek). Reply: {earliest expiry ms of the bindings left or -1, number of
// bindings left, deleted stored bindings...}. Because it runs atomically on
// the hash, each expired binding is deleted, and so returned, once.
var expireAORScript = redis.NewScript(`
local key = KEYS[1]
local now = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local out = {-1, 0}
local earliest, count, n = -1, 0, 0
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  local v = cjson.decode(flat[i + 1])
  local x = tonumber(v.expires) or 0
  if x > 0 and x <= now and n < budget then
    redis.call('HDEL', key, flat[i])
    n = n + 1
    out[#out + 1] = flat[i + 1]
  else
    count = count + 1
    if x > 0 and (earliest < 0 or x < earliest) then earliest = x end
  end
end
out[1] = earliest
out[2] = count
return out
`)

// claimScript: KEYS[1] = a shard of the expiry index. ARGV = now ms, lease
// end ms, max. Returns up to max {AOR, score} pairs due at now and moves
// them to the lease end, so concurrent callers do not process the same AOR
// (when a caller dies, its AORs come due again when the lease ends).
var claimScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], ARGV[2], due[i])
end
return due
`)
