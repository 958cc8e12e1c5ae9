package adapters

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// Redis keeps the notifier's state in Redis, shared by every replica:
//
//	<prefix>:notify:fence:{<h>}:<key>   STRING "<state> <detail>", PX: the
//	                                    fence of one notification; <h> is
//	                                    FNV-1a 32 of the key in hex (a key
//	                                    of any bytes has a good hash tag)
//	<prefix>:notify:rl:{<h>}:<w>        ZSET   the notification keys of a
//	                                    callee's window w, score = order
//	                                    of arrival; <h> of the callee
//	<prefix>:notify:rls:{<h>}:<w>       HASH   key -> the call as the
//	                                    digest shows it (JSON)
//	<prefix>:notify:digests             ZSET   "<w>|<callee>" -> due ms:
//	                                    the digests to send
//
// Every key has a TTL but the digests ZSET, a container bounded by the
// windows that still owe a digest (DigestDone removes them). Each fence
// operation and each Admit is one script on one key or one slot, so they
// hold on Redis Cluster.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis returns the state on c; prefix "" is "sipbus".
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = "sipbus"
	}
	return &Redis{c: c, prefix: prefix}
}

// ErrUnavailable wraps every Redis failure: the caller retries later.
var ErrUnavailable = errors.New("notifier: state unavailable")

func (r *Redis) fenceKey(key string) string {
	return r.prefix + ":notify:fence:{" + fnvHex(key) + "}:" + key
}

func (r *Redis) windowKeys(callee string, w int64) []string {
	tag := "{" + fnvHex(callee) + "}:" + strconv.FormatInt(w, 10)
	return []string{r.prefix + ":notify:rl:" + tag, r.prefix + ":notify:rls:" + tag}
}

func (r *Redis) digestsKey() string { return r.prefix + ":notify:digests" }

func fnvHex(s string) string { return fmt.Sprintf("%08x", bus.KeyHash(s)) }

// acquireScript: SET NX PX; when the key exists, its value and PTTL.
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, '', 0}
end
return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}
`)

// reopenScript: take the key when it is absent or failed.
var reopenScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if (not v) or string.sub(v, 1, 7) == 'failed ' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, v or '', 0}
end
return {0, v, redis.call('PTTL', KEYS[1])}
`)

// completeScript: replace the holder's value (ARGV[1]) by ARGV[2] with PX ARGV[3].
var completeScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// releaseScript: delete the key if the holder still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`)

// admitScript: KEYS = window zset, summaries hash; ARGV = key, summary,
// ttl ms. Returns the key's rank (arrival order) in the window.
var admitScript = redis.NewScript(`
local r = redis.call('ZRANK', KEYS[1], ARGV[1])
if r then return r end
local n = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], n, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return n
`)

func sending(owner string) string { return app.FenceSending + " " + owner }

func parseClaim(taken bool, v string, pttl int64) app.Claim {
	c := app.Claim{Taken: taken}
	if v != "" {
		c.State, c.Detail, _ = strings.Cut(v, " ")
	}
	if pttl > 0 {
		c.TTL = time.Duration(pttl) * time.Millisecond
	}
	return c
}

func claimOf(res any) (app.Claim, error) {
	a, ok := res.([]any)
	if !ok || len(a) != 3 {
		return app.Claim{}, fmt.Errorf("notifier: fence script returned %v", res)
	}
	taken, _ := a[0].(int64)
	v, _ := a[1].(string)
	pttl, _ := a[2].(int64)
	return parseClaim(taken == 1, v, pttl), nil
}

func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Acquire implements the fence: SET NX with the lease.
func (r *Redis) Acquire(ctx context.Context, key, owner string, lease time.Duration) (app.Claim, error) {
	res, err := acquireScript.Run(ctx, r.c, []string{r.fenceKey(key)}, sending(owner), ms(lease)).Result()
	if err != nil {
		return app.Claim{}, unavailable("acquire "+key, err)
	}
	return claimOf(res)
}

// Reopen takes the fence of a failed (or forgotten) notification.
func (r *Redis) Reopen(ctx context.Context, key, owner string, lease time.Duration) (app.Claim, error) {
	res, err := reopenScript.Run(ctx, r.c, []string{r.fenceKey(key)}, sending(owner), ms(lease)).Result()
	if err != nil {
		return app.Claim{}, unavailable("reopen "+key, err)
	}
	return claimOf(res)
}

// Complete records the outcome while owner holds the fence.
func (r *Redis) Complete(ctx context.Context, key, owner, state, detail string, ttl time.Duration) (bool, error) {
	n, err := completeScript.Run(ctx, r.c, []string{r.fenceKey(key)}, sending(owner), state+" "+detail, ms(ttl)).Int()
	if err != nil {
		return false, unavailable("complete "+key, err)
	}
	return n == 1, nil
}

// Release gives the fence up while owner holds it.
func (r *Redis) Release(ctx context.Context, key, owner string) (bool, error) {
	n, err := releaseScript.Run(ctx, r.c, []string{r.fenceKey(key)}, sending(owner)).Int()
	if err != nil {
		return false, unavailable("release "+key, err)
	}
	return n == 1, nil
}

// Peek reads the fence.
func (r *Redis) Peek(ctx context.Context, key string) (app.Claim, error) {
	k := r.fenceKey(key)
	var get *redis.StringCmd
	var pttl *redis.DurationCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		get, pttl = p.Get(ctx, k), p.PTTL(ctx, k)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return app.Claim{}, unavailable("peek "+key, err)
	}
	return parseClaim(false, get.Val(), pttl.Val().Milliseconds()), nil
}

// Admit places key in callee's window w (once: a second Admit of the same
// key returns the same rank) and returns its rank, 0 for the first.
func (r *Redis) Admit(ctx context.Context, callee string, w int64, key string, summary []byte, ttl time.Duration) (int, error) {
	n, err := admitScript.Run(ctx, r.c, r.windowKeys(callee, w), key, summary, ms(ttl)).Int()
	if err != nil {
		return 0, unavailable("admit "+callee, err)
	}
	return n, nil
}

// Folded returns the summaries of ranks from .. from+max-1 of callee's
// window w, in arrival order, and how many keys the window holds.
func (r *Redis) Folded(ctx context.Context, callee string, w int64, from, max int) ([][]byte, int, error) {
	keys := r.windowKeys(callee, w)
	members, err := r.c.ZRange(ctx, keys[0], int64(from), int64(from+max-1)).Result()
	if err != nil {
		return nil, 0, unavailable("folded "+callee, err)
	}
	total, err := r.c.ZCard(ctx, keys[0]).Result()
	if err != nil {
		return nil, 0, unavailable("folded "+callee, err)
	}
	if len(members) == 0 {
		return nil, int(total), nil
	}
	vals, err := r.c.HMGet(ctx, keys[1], members...).Result()
	if err != nil {
		return nil, 0, unavailable("folded "+callee, err)
	}
	out := make([][]byte, 0, len(vals))
	for _, v := range vals {
		if s, ok := v.(string); ok {
			out = append(out, []byte(s))
		}
	}
	return out, int(total), nil
}

func digestMember(callee string, w int64) string { return strconv.FormatInt(w, 10) + "|" + callee }

// ScheduleDigest records that callee's window w owes a digest at due
// (once: the first schedule stands).
func (r *Redis) ScheduleDigest(ctx context.Context, callee string, w int64, due time.Time) error {
	err := r.c.ZAddNX(ctx, r.digestsKey(), redis.Z{Score: float64(due.UnixMilli()), Member: digestMember(callee, w)}).Err()
	return unavailable("schedule digest "+callee, err)
}

// RescheduleDigest moves a scheduled digest to at (after a temporary
// failure).
func (r *Redis) RescheduleDigest(ctx context.Context, d app.Due, at time.Time) error {
	err := r.c.ZAddXX(ctx, r.digestsKey(), redis.Z{Score: float64(at.UnixMilli()), Member: digestMember(d.Callee, d.Window)}).Err()
	return unavailable("reschedule digest "+d.Callee, err)
}

// DueDigests returns up to max digests due by now, earliest first. Every
// replica may see the same ones: the fence decides who sends.
func (r *Redis) DueDigests(ctx context.Context, now time.Time, max int) ([]app.Due, error) {
	zs, err := r.c.ZRangeByScoreWithScores(ctx, r.digestsKey(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(max),
	}).Result()
	if err != nil {
		return nil, unavailable("due digests", err)
	}
	out := make([]app.Due, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		ws, callee, ok := strings.Cut(m, "|")
		w, err := strconv.ParseInt(ws, 10, 64)
		if !ok || err != nil {
			_ = r.c.ZRem(ctx, r.digestsKey(), m).Err() // not ours: never written by this code
			continue
		}
		out = append(out, app.Due{Callee: callee, Window: w, At: time.UnixMilli(int64(z.Score))})
	}
	return out, nil
}

// DigestDone removes a digest from the schedule.
func (r *Redis) DigestDone(ctx context.Context, d app.Due) error {
	return unavailable("digest done "+d.Callee, r.c.ZRem(ctx, r.digestsKey(), digestMember(d.Callee, d.Window)).Err())
}

func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("notifier: %s: %w", op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}
