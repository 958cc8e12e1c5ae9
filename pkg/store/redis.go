package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of RedisOptions.
const (
	DefaultPrefix    = "sipbus"
	DefaultOpTimeout = time.Second
)

// RedisOptions configures the Redis engine.
type RedisOptions struct {
	// Prefix starts every key; default "sipbus". It must not contain '{' or
	// '}' (every key carries its own hash tag).
	Prefix string
	// OpTimeout bounds each operation (one round trip; all those of one
	// Claim together); default 1s, < 0 means only the caller's context
	// bounds it. Past it the operation fails with ErrUnavailable. The client
	// must honour context deadlines (go-redis ContextTimeoutEnabled, which
	// Open sets) or have read/write timeouts no longer than this.
	OpTimeout time.Duration
	// CloseClient makes Close close the client too; Open sets it. Otherwise
	// the client belongs to the caller.
	CloseClient bool
}

// Redis is the Redis engine: single node, Sentinel or Cluster alike. It is
// safe for concurrent use.
type Redis struct {
	c         redis.UniversalClient
	prefix    string
	opTimeout time.Duration
	owned     bool
	badPrefix error
	// timer shard keys, built once: tmrZ[i] is the ZSET, tmrH[i] the HASH.
	tmrZ, tmrH [timerShards]string
}

var _ Store = (*Redis)(nil)

// NewRedis returns the Redis engine on c: single node, Sentinel or Cluster
// alike. See the package doc for the key layout, TTL rules and error mapping.
// An invalid Prefix makes every operation fail with ErrInvalid.
func NewRedis(c redis.UniversalClient, opt RedisOptions) *Redis {
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix
	}
	if opt.OpTimeout == 0 {
		opt.OpTimeout = DefaultOpTimeout
	}
	s := &Redis{c: c, prefix: opt.Prefix, opTimeout: opt.OpTimeout, owned: opt.CloseClient}
	if strings.ContainsAny(opt.Prefix, "{}") {
		s.badPrefix = fmt.Errorf("%w: redis key prefix %q contains '{' or '}'", ErrInvalid, opt.Prefix)
	}
	for i := range timerShards {
		s.tmrZ[i], s.tmrH[i] = timerShardKeys(s.prefix, i)
	}
	return s
}

// Client returns the go-redis client the engine runs on and its key
// prefix, so the other state of a process (location service, subscriber
// directory) shares one connection pool with it.
func (s *Redis) Client() (redis.UniversalClient, string) { return s.c, s.prefix }

// TxKey returns the Redis key of a transaction: <prefix>:tx:{<callkey>}:<key>.
func TxKey(prefix, callKey, key string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + ":tx:{" + callKey + "}:" + key
}

func (s *Redis) key(callKey, key string) string { return TxKey(s.prefix, callKey, key) }

// opCtx applies the per-operation deadline.
func (s *Redis) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.opTimeout > 0 {
		return context.WithTimeout(ctx, s.opTimeout)
	}
	return ctx, func() {}
}

// CreateOrGet implements TxStore.
func (s *Redis) CreateOrGet(ctx context.Context, tx *Tx, ttl time.Duration) (*Tx, bool, error) {
	if err := validCreate(tx, ttl); err != nil {
		return nil, false, err
	}
	if s.badPrefix != nil {
		return nil, false, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	now := msTime(time.Now())
	res, err := createOrGetScript.Run(ctx, s.c, []string{s.key(tx.CallKey, tx.Key)},
		ttlMillis(ttl), tx.Kind, tx.Method, tx.State, tx.Edge, tx.Source,
		tx.LastStatus, tx.LastResponse, tx.LastDest, now.UnixMilli()).Slice()
	if err != nil {
		return nil, false, mapErr(ctx, "create transaction "+tx.Key, err)
	}
	if len(res) == 1 {
		cur := cloneTx(tx)
		cur.Retransmits = 0
		cur.Created, cur.Updated = now, now
		return cur, true, nil
	}
	if len(res) != 2 {
		return nil, false, fmt.Errorf("create transaction %s: store: unexpected script reply %v", tx.Key, res)
	}
	vals, _ := res[1].([]any)
	cur, err := decodeTx(tx.CallKey, tx.Key, vals)
	if err != nil {
		return nil, false, fmt.Errorf("create transaction %s: %w", tx.Key, err)
	}
	return cur, false, nil
}

// Get implements TxStore.
func (s *Redis) Get(ctx context.Context, callKey, key string) (*Tx, error) {
	if err := validKeys(callKey, key); err != nil {
		return nil, err
	}
	if s.badPrefix != nil {
		return nil, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	vals, err := s.c.HMGet(ctx, s.key(callKey, key), txFields...).Result()
	if err != nil {
		return nil, mapErr(ctx, "get transaction "+key, err)
	}
	tx, err := decodeTx(callKey, key, vals)
	if err != nil {
		return nil, fmt.Errorf("get transaction %s: %w", key, err)
	}
	return tx, nil
}

// SetResponse implements TxStore.
func (s *Redis) SetResponse(ctx context.Context, callKey, key string, r Response, ttl time.Duration) (bool, error) {
	if err := validResponse(callKey, key, r); err != nil {
		return false, err
	}
	if s.badPrefix != nil {
		return false, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	n, err := setResponseScript.Run(ctx, s.c, []string{s.key(callKey, key)},
		r.Status, r.Raw, r.Dest, r.State, ttlMillis(ttl), time.Now().UnixMilli()).Int()
	if err != nil {
		return false, mapErr(ctx, "set response on transaction "+key, err)
	}
	return n == 1, nil
}

// UpdateState implements TxStore.
func (s *Redis) UpdateState(ctx context.Context, callKey, key string, from []string, to string, ttl time.Duration) (bool, error) {
	if err := validKeys(callKey, key); err != nil {
		return false, err
	}
	if s.badPrefix != nil {
		return false, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	args := make([]any, 0, 3+len(from))
	args = append(args, to, ttlMillis(ttl), time.Now().UnixMilli())
	for _, f := range from {
		args = append(args, f)
	}
	n, err := updateStateScript.Run(ctx, s.c, []string{s.key(callKey, key)}, args...).Int()
	if err != nil {
		return false, mapErr(ctx, "update state of transaction "+key, err)
	}
	return n == 1, nil
}

// Expire implements TxStore.
func (s *Redis) Expire(ctx context.Context, callKey, key string, ttl time.Duration) error {
	if err := validExpire(callKey, key, ttl); err != nil {
		return err
	}
	if s.badPrefix != nil {
		return s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	k := s.key(callKey, key)
	if ttl == 0 {
		if err := s.c.Del(ctx, k).Err(); err != nil {
			return mapErr(ctx, "delete transaction "+key, err)
		}
		return nil
	}
	ok, err := s.c.PExpire(ctx, k, ttl).Result()
	if err != nil {
		return mapErr(ctx, "expire transaction "+key, err)
	}
	if !ok {
		return fmt.Errorf("expire transaction %s: %w", key, ErrNotFound)
	}
	return nil
}

// Ping implements TxStore.
func (s *Redis) Ping(ctx context.Context) error {
	if s.badPrefix != nil {
		return s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := s.c.Ping(ctx).Err(); err != nil {
		return mapErr(ctx, "ping redis", err)
	}
	return nil
}

// Close closes the client when the store owns it (RedisOptions.CloseClient).
func (s *Redis) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.c.Close(); err != nil && err != redis.ErrClosed {
		return fmt.Errorf("store: close redis client: %w", err)
	}
	return nil
}

// ttlMillis converts a TTL to PEXPIRE milliseconds, rounding a positive
// sub-millisecond TTL up so it never becomes "keep" or "delete".
func ttlMillis(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	ms := ttl.Milliseconds()
	if ms == 0 {
		ms = 1
	}
	return ms
}

// decodeTx builds a Tx from HMGET values in txFields order. A hash without
// its creation time does not exist: ErrNotFound.
func decodeTx(callKey, key string, vals []any) (*Tx, error) {
	if len(vals) != len(txFields) {
		return nil, fmt.Errorf("store: redis returned %d fields, want %d", len(vals), len(txFields))
	}
	str := func(i int) string {
		v, _ := vals[i].(string)
		return v
	}
	if vals[9] == nil {
		return nil, ErrNotFound
	}
	num := func(i int) (int64, error) {
		if vals[i] == nil || str(i) == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(str(i), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("store: field %s of %s: %w", txFields[i], key, err)
		}
		return n, nil
	}
	var nums [4]int64 // lst, rtx, ct, ut
	for j, i := range []int{5, 8, 9, 10} {
		n, err := num(i)
		if err != nil {
			return nil, err
		}
		nums[j] = n
	}
	tx := &Tx{
		CallKey:     callKey,
		Key:         key,
		Kind:        str(0),
		Method:      str(1),
		State:       str(2),
		Edge:        str(3),
		Source:      str(4),
		LastStatus:  int(nums[0]),
		LastDest:    str(7),
		Retransmits: int(nums[1]),
		Created:     time.UnixMilli(nums[2]),
		Updated:     time.UnixMilli(nums[3]),
	}
	if lr := str(6); lr != "" {
		tx.LastResponse = []byte(lr)
	}
	return tx, nil
}
