package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// TimerKeys returns the Redis keys of the timer shard that holds id: the
// ZSET <prefix>:tmr:{t<shard>} and the HASH <prefix>:tmrd:{t<shard>}.
func TimerKeys(prefix, id string) (zset, hash string) {
	return timerShardKeys(prefix, timerShard(id))
}

func timerShardKeys(prefix string, shard int) (zset, hash string) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	tag := "{t" + strconv.Itoa(shard) + "}"
	return prefix + ":tmr:" + tag, prefix + ":tmrd:" + tag
}

// OnceKey returns the Redis key of an idempotency marker:
// <prefix>:once:{<fnv>}:<key>, where <fnv> is FNV-1a (32 bits) of key in
// 8 hex digits, so a key of any bytes has a well-formed hash tag.
func OnceKey(prefix, key string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	var tag [8]byte
	const hex = "0123456789abcdef"
	h := fnv32a(key)
	for i := 7; i >= 0; i-- {
		tag[i] = hex[h&0xf]
		h >>= 4
	}
	return prefix + ":once:{" + string(tag[:]) + "}:" + key
}

// RecordKey returns the Redis key of a record: <prefix>:rec:{<callkey>}:<key>.
func RecordKey(prefix, callKey, key string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + ":rec:{" + callKey + "}:" + key
}

// Arm implements TimerStore.
func (s *Redis) Arm(ctx context.Context, id string, due time.Time, payload []byte) error {
	if err := validTimerID(id); err != nil {
		return err
	}
	if s.badPrefix != nil {
		return s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	i := timerShard(id)
	err := armScript.Run(ctx, s.c, []string{s.tmrZ[i], s.tmrH[i]}, id, due.UnixMilli(), payload).Err()
	if err != nil {
		return mapErr(ctx, fmt.Sprintf("arm timer %q", id), err)
	}
	return nil
}

// Cancel implements TimerStore.
func (s *Redis) Cancel(ctx context.Context, id string) (bool, error) {
	if err := validTimerID(id); err != nil {
		return false, err
	}
	if s.badPrefix != nil {
		return false, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	i := timerShard(id)
	n, err := cancelScript.Run(ctx, s.c, []string{s.tmrZ[i], s.tmrH[i]}, id).Int()
	if err != nil {
		return false, mapErr(ctx, fmt.Sprintf("cancel timer %q", id), err)
	}
	return n == 1, nil
}

// ArmBatch implements TimerStore: one pipeline of the arm script.
func (s *Redis) ArmBatch(ctx context.Context, arms []TimerArm) error {
	ids := make([]string, len(arms))
	for i, a := range arms {
		ids[i] = a.ID
	}
	return s.timerBatch(ctx, "arm", armScript, ids, func(i int) []any {
		return []any{arms[i].ID, arms[i].Due.UnixMilli(), arms[i].Payload}
	})
}

// CancelBatch implements TimerStore: one pipeline of the cancel script.
func (s *Redis) CancelBatch(ctx context.Context, ids []string) error {
	return s.timerBatch(ctx, "cancel", cancelScript, ids, func(i int) []any { return []any{ids[i]} })
}

// timerBatch runs script once per timer id in one pipeline, on the id's
// shard keys with args(i); every id is checked before anything runs.
func (s *Redis) timerBatch(ctx context.Context, what string, script *redis.Script, ids []string, args func(i int) []any) error {
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		if err := validTimerID(id); err != nil {
			return err
		}
	}
	if s.badPrefix != nil {
		return s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	err := s.pipelineScript(ctx, script, len(ids), func(i int) ([]string, []any) {
		sh := timerShard(ids[i])
		return []string{s.tmrZ[sh], s.tmrH[sh]}, args(i)
	})
	if err != nil {
		return mapErr(ctx, fmt.Sprintf("%s %d timers", what, len(ids)), err)
	}
	return nil
}

// pipelineScript runs script n times in one pipeline, with the keys and
// arguments of call i. EVALSHA first; when the server does not know the
// script (a restart, SCRIPT FLUSH) the pipeline runs again with EVAL, which
// also loads it.
func (s *Redis) pipelineScript(ctx context.Context, script *redis.Script, n int, call func(i int) ([]string, []any)) error {
	run := func(sha bool) error {
		cmds, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := 0; i < n; i++ {
				keys, args := call(i)
				if sha {
					script.EvalSha(ctx, p, keys, args...)
				} else {
					script.Eval(ctx, p, keys, args...)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range cmds {
			if err := c.Err(); err != nil {
				return err
			}
		}
		return nil
	}
	err := run(true)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		err = run(false)
	}
	return err
}

// Claim implements TimerStore. One pipeline of ZCOUNT finds the shards
// with due timers (so an idle Claim is one round trip); then it runs one
// script per such shard, in a rotating order from a random shard, until max
// timers are claimed. The operation timeout bounds the whole call.
func (s *Redis) Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]Timer, error) {
	if err := validClaim(max, lease); err != nil {
		return nil, err
	}
	if s.badPrefix != nil {
		return nil, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	nowMs := now.UnixMilli()
	deadline := nowMs + ttlMillis(lease)
	var counts [timerShards]*redis.IntCmd
	pipe := s.c.Pipeline()
	nowArg := strconv.FormatInt(nowMs, 10)
	for i := range timerShards {
		counts[i] = pipe.ZCount(ctx, s.tmrZ[i], "-inf", nowArg)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, mapErr(ctx, "claim timers", err)
	}
	start := rand.IntN(timerShards)
	var out []Timer
	for j := 0; j < timerShards && len(out) < max; j++ {
		i := (start + j) % timerShards
		if counts[i].Val() == 0 {
			continue
		}
		base := strconv.FormatUint(rand.Uint64(), 36)
		res, err := claimScript.Run(ctx, s.c, []string{s.tmrZ[i], s.tmrH[i]},
			nowMs, max-len(out), deadline, base).Slice()
		if err != nil {
			return out, mapErr(ctx, "claim timers", err)
		}
		if out, err = appendClaimed(out, res); err != nil {
			return out, fmt.Errorf("claim timers: %w", err)
		}
	}
	return out, nil
}

// appendClaimed decodes claimScript's reply onto out.
func appendClaimed(out []Timer, res []any) ([]Timer, error) {
	if len(res)%5 != 0 {
		return out, fmt.Errorf("store: claim script returned %d values, want groups of 5", len(res))
	}
	for k := 0; k < len(res); k += 5 {
		id, _ := res[k].(string)
		due, err1 := strconv.ParseInt(asString(res[k+1]), 10, 64)
		claims, err2 := strconv.Atoi(asString(res[k+2]))
		if err1 != nil || err2 != nil {
			return out, fmt.Errorf("store: timer %q: malformed due %q or claims %q", id, res[k+1], res[k+2])
		}
		t := Timer{ID: id, Due: time.UnixMilli(due), Token: asString(res[k+3]), Claims: claims}
		if p := asString(res[k+4]); p != "" {
			t.Payload = []byte(p)
		}
		out = append(out, t)
	}
	return out, nil
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// Done implements TimerStore.
func (s *Redis) Done(ctx context.Context, id, token string) (bool, error) {
	if err := validDone(id, token); err != nil {
		return false, err
	}
	if s.badPrefix != nil {
		return false, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	i := timerShard(id)
	n, err := doneScript.Run(ctx, s.c, []string{s.tmrZ[i], s.tmrH[i]}, id, token).Int()
	if err != nil {
		return false, mapErr(ctx, fmt.Sprintf("done timer %q", id), err)
	}
	return n == 1, nil
}

// Once implements OnceStore with SET NX PX.
func (s *Redis) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := validOnce(key, ttl); err != nil {
		return false, err
	}
	if s.badPrefix != nil {
		return false, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	ok, err := s.c.SetNX(ctx, OnceKey(s.prefix, key), "1", time.Duration(ttlMillis(ttl))*time.Millisecond).Result()
	if err != nil {
		return false, mapErr(ctx, fmt.Sprintf("once %q", key), err)
	}
	return ok, nil
}

// LoadRecord implements RecordStore.
func (s *Redis) LoadRecord(ctx context.Context, callKey, key string) (Record, error) {
	if err := validRecordKeys(callKey, key); err != nil {
		return Record{}, err
	}
	if s.badPrefix != nil {
		return Record{}, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	vals, err := s.c.HMGet(ctx, RecordKey(s.prefix, callKey, key), "v", "d").Result()
	if err != nil {
		return Record{}, mapErr(ctx, "load record "+key, err)
	}
	if len(vals) != 2 || vals[0] == nil {
		return Record{}, fmt.Errorf("load record %s: %w", key, ErrNotFound)
	}
	v, err := strconv.ParseInt(asString(vals[0]), 10, 64)
	if err != nil {
		return Record{}, fmt.Errorf("load record %s: store: malformed version: %w", key, err)
	}
	r := Record{Version: v}
	if d := asString(vals[1]); d != "" {
		r.Value = []byte(d)
	}
	return r, nil
}

// SaveRecord implements RecordStore.
func (s *Redis) SaveRecord(ctx context.Context, callKey, key string, value []byte, version int64, ttl time.Duration) (int64, bool, error) {
	if err := validSave(callKey, key, version, ttl); err != nil {
		return 0, false, err
	}
	if s.badPrefix != nil {
		return 0, false, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := saveRecordScript.Run(ctx, s.c, []string{RecordKey(s.prefix, callKey, key)},
		version, value, ttlMillis(ttl)).Int64Slice()
	if err != nil {
		return 0, false, mapErr(ctx, "save record "+key, err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("save record %s: store: unexpected script reply %v", key, res)
	}
	return res[0], res[1] == 1, nil
}

// DeleteRecord implements RecordStore.
func (s *Redis) DeleteRecord(ctx context.Context, callKey, key string) error {
	if err := validRecordKeys(callKey, key); err != nil {
		return err
	}
	if s.badPrefix != nil {
		return s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := s.c.Del(ctx, RecordKey(s.prefix, callKey, key)).Err(); err != nil {
		return mapErr(ctx, "delete record "+key, err)
	}
	return nil
}
