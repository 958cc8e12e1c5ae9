package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	_ BatchStore = (*Redis)(nil)
	_ IndexStore = (*Redis)(nil)
	_ Membership = (*Redis)(nil)
)

// IndexKey returns the Redis key of an index: <prefix>:idx:{<index>}.
func IndexKey(prefix, index string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + ":idx:{" + index + "}"
}

// MembersKey returns the Redis key of a membership group:
// <prefix>:members:{<group>}.
func MembersKey(prefix, group string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + ":members:{" + group + "}"
}

// Apply implements BatchStore: every valid op in one pipeline (EVALSHA of
// the SaveRecord script, DEL, ZADD, ZREM). When the server has lost the
// script (a restart, SCRIPT FLUSH), the saves that failed with NOSCRIPT run
// again with EVAL in a second round trip, together with the later ops on
// the same records that wrote nothing or are idempotent, so the batch's
// order holds for each record.
func (s *Redis) Apply(ctx context.Context, ops []Op) ([]OpResult, error) {
	res, n := checkOps(ops)
	if n == 0 {
		return res, nil
	}
	if s.badPrefix != nil {
		return res, failBatch(res, s.badPrefix)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	sent := make([]int, 0, n)
	for i := range res {
		if res[i].Err == nil {
			sent = append(sent, i)
		}
	}
	noscript, failed, batchErr := s.runOps(ctx, ops, sent, res, true)
	if failed == len(sent) && batchErr != nil {
		// Nothing got an answer: the connection, not an op, failed.
		err := mapErr(ctx, fmt.Sprintf("apply %d ops", len(sent)), batchErr)
		for _, i := range sent {
			res[i] = OpResult{Err: err}
		}
		return res, err
	}
	if len(noscript) > 0 {
		s.runOps(ctx, ops, retryOps(ops, res, noscript), res, false)
	}
	return res, nil
}

// runOps sends ops[idx] in one pipeline, the saves with EVALSHA (sha) or
// EVAL, and stores each outcome in res. It returns the saves that failed
// with NOSCRIPT (their results are left unset), how many ops failed
// without a server reply, and the first such error.
func (s *Redis) runOps(ctx context.Context, ops []Op, idx []int, res []OpResult, sha bool) (noscript []int, failed int, batchErr error) {
	p := s.c.Pipeline()
	cmds := make([]redis.Cmder, len(idx))
	for j, i := range idx {
		cmds[j] = s.queueOp(ctx, p, &ops[i], sha)
	}
	_, _ = p.Exec(ctx) // each command carries its own error
	for j, i := range idx {
		op, cmd := &ops[i], cmds[j]
		err := cmd.Err()
		if err == nil && op.Kind == OpSaveRecord {
			res[i], err = saveResult(op, cmd.(*redis.Cmd))
		} else if err == nil {
			res[i] = OpResult{OK: true}
		}
		if err == nil {
			continue
		}
		var rerr redis.Error
		switch {
		case sha && op.Kind == OpSaveRecord && redis.HasErrorPrefix(err, "NOSCRIPT"):
			noscript = append(noscript, i)
			continue
		case !errors.As(err, &rerr):
			failed++
			if batchErr == nil {
				batchErr = err
			}
		}
		res[i] = OpResult{Err: mapErr(ctx, opName(op), err)}
	}
	return noscript, failed, batchErr
}

// queueOp adds op's command to p.
func (s *Redis) queueOp(ctx context.Context, p redis.Pipeliner, op *Op, sha bool) redis.Cmder {
	switch op.Kind {
	case OpSaveRecord:
		keys := []string{RecordKey(s.prefix, op.CallKey, op.Key)}
		if sha {
			return saveRecordScript.EvalSha(ctx, p, keys, op.Version, op.Value, ttlMillis(op.TTL))
		}
		return saveRecordScript.Eval(ctx, p, keys, op.Version, op.Value, ttlMillis(op.TTL))
	case OpDeleteRecord:
		return p.Del(ctx, RecordKey(s.prefix, op.CallKey, op.Key))
	case OpPutRecord:
		k := RecordKey(s.prefix, op.CallKey, op.Key)
		cmd := p.HSet(ctx, k, "v", "1", "d", op.Value)
		p.PExpire(ctx, k, op.TTL)
		return cmd
	case OpIndexSet:
		return p.ZAdd(ctx, IndexKey(s.prefix, op.Index), redis.Z{Score: float64(op.Score), Member: op.Member})
	default: // OpIndexRemove; validOp refused the rest
		return p.ZRem(ctx, IndexKey(s.prefix, op.Index), op.Member)
	}
}

// saveResult decodes the SaveRecord script's reply.
func saveResult(op *Op, cmd *redis.Cmd) (OpResult, error) {
	v, err := cmd.Int64Slice()
	if err != nil {
		return OpResult{}, err
	}
	if len(v) != 2 {
		return OpResult{Err: fmt.Errorf("save record %s: store: unexpected script reply %v", op.Key, v)}, nil
	}
	return OpResult{Version: v[0], OK: v[1] == 1}, nil
}

// retryOps returns, in order, the saves that failed with NOSCRIPT and
// every later op on the same records that may run again without changing
// its outcome: another NOSCRIPT save, a save that conflicted (it wrote
// nothing; the retried save may be what it expected) and a delete
// (idempotent, and it must follow the retried save).
func retryOps(ops []Op, res []OpResult, noscript []int) []int {
	first := make(map[memKey]int, len(noscript)) // record -> first NOSCRIPT op
	for _, i := range noscript {
		k := memKey{ops[i].CallKey, ops[i].Key}
		if _, ok := first[k]; !ok {
			first[k] = i
		}
	}
	retry := slices.Clone(noscript)
	again := make([]bool, len(ops))
	for _, i := range noscript {
		again[i] = true
	}
	for i := range ops {
		op, r := &ops[i], &res[i]
		if r.Err != nil || again[i] {
			continue
		}
		j, ok := first[memKey{op.CallKey, op.Key}]
		switch {
		case !ok || j > i || (op.Kind != OpSaveRecord && op.Kind != OpDeleteRecord):
		case op.Kind == OpDeleteRecord || !r.OK:
			retry = append(retry, i)
		}
	}
	slices.Sort(retry)
	return retry
}

// IndexRange implements IndexStore: ZRANGEBYSCORE -inf maxScore WITHSCORES.
func (s *Redis) IndexRange(ctx context.Context, index string, maxScore int64) ([]IndexEntry, error) {
	if err := validIndex(index); err != nil {
		return nil, err
	}
	if s.badPrefix != nil {
		return nil, s.badPrefix
	}
	if maxScore < -MaxIndexScore {
		return nil, nil // below every score an index may hold
	}
	hi := "+inf"
	if maxScore < MaxIndexScore {
		hi = strconv.FormatInt(maxScore, 10)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	zs, err := s.c.ZRangeByScoreWithScores(ctx, IndexKey(s.prefix, index), &redis.ZRangeBy{Min: "-inf", Max: hi}).Result()
	if err != nil {
		return nil, mapErr(ctx, "range index "+index, err)
	}
	if len(zs) == 0 {
		return nil, nil
	}
	out := make([]IndexEntry, len(zs))
	for i, z := range zs {
		m, _ := z.Member.(string)
		out[i] = IndexEntry{Member: m, Score: int64(z.Score)}
	}
	return out, nil
}

// Heartbeat implements Membership: one pipeline of ZADD id now+ttl,
// ZREMRANGEBYSCORE -inf now and ZRANGE 0 -1, now being the client's clock.
func (s *Redis) Heartbeat(ctx context.Context, group, id string, ttl time.Duration) ([]string, error) {
	if err := validHeartbeat(group, id, ttl); err != nil {
		return nil, err
	}
	if s.badPrefix != nil {
		return nil, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	k := MembersKey(s.prefix, group)
	now := time.Now().UnixMilli()
	p := s.c.Pipeline()
	p.ZAdd(ctx, k, redis.Z{Score: float64(now + ttlMillis(ttl)), Member: id})
	p.ZRemRangeByScore(ctx, k, "-inf", strconv.FormatInt(now, 10))
	live := p.ZRange(ctx, k, 0, -1)
	if _, err := p.Exec(ctx); err != nil {
		return nil, mapErr(ctx, fmt.Sprintf("heartbeat %q in group %s", id, group), err)
	}
	ids := live.Val()
	slices.Sort(ids)
	return ids, nil
}

// Leave implements Membership: ZREM.
func (s *Redis) Leave(ctx context.Context, group, id string) error {
	if err := validGroup(group, id); err != nil {
		return err
	}
	if s.badPrefix != nil {
		return s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := s.c.ZRem(ctx, MembersKey(s.prefix, group), id).Err(); err != nil {
		return mapErr(ctx, fmt.Sprintf("leave group %s as %q", group, id), err)
	}
	return nil
}
