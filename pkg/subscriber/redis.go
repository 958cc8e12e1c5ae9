package subscriber

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix of NewRedis when none is given.
const DefaultPrefix = "sipbus"

// Redis is the Redis engine; see the package doc for the key layout and
// the Cluster trade-off.
type Redis struct {
	c         redis.UniversalClient
	prefix    string
	oneScript bool // hash and index in one script (single node)
	badPrefix error
}

var _ Directory = (*Redis)(nil)

// NewRedis returns the Redis engine on c. prefix defaults to DefaultPrefix
// ("sipbus"); one with '{' or '}' makes every operation fail with
// ErrInvalid. On a *redis.Client (single node or Sentinel) writes are one
// script over hash and index; on any other client (Cluster) two commands.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	_, single := c.(*redis.Client)
	return newRedis(c, prefix, single)
}

func newRedis(c redis.UniversalClient, prefix string, oneScript bool) *Redis {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	r := &Redis{c: c, prefix: prefix, oneScript: oneScript}
	if strings.ContainsAny(prefix, "{}") {
		r.badPrefix = fmt.Errorf("%w: redis key prefix %q contains '{' or '}'", ErrInvalid, prefix)
	}
	return r
}

func (r *Redis) hashKey(aor string) string { return r.prefix + ":sub:{" + aor + "}" }
func (r *Redis) indexKey() string          { return r.prefix + ":subs" }

// Key returns the key of the hash of aor's subscriber (any spelling
// ParseAOR accepts), for another package's script that must check, in the
// round trip of its own write, that aor is a subscriber: the hash exists
// exactly while the subscriber does (EXISTS). Its hash tag is the
// canonical AOR (CanonicalAOR), so on Redis Cluster it shares a slot with
// any key tagged "{<canonical AOR>}". Errors wrap ErrInvalid: a bad AOR,
// or a prefix with '{' or '}'.
func (r *Redis) Key(aor string) (string, error) {
	key, err := CanonicalAOR(aor)
	if err != nil {
		return "", err
	}
	if r.badPrefix != nil {
		return "", r.badPrefix
	}
	return r.hashKey(key), nil
}

// keys returns the script keys: the hash, and the index in one-script mode.
func (r *Redis) keys(aor string) []string {
	if r.oneScript {
		return []string{r.hashKey(aor), r.indexKey()}
	}
	return []string{r.hashKey(aor)}
}

// Add implements Directory.
func (r *Redis) Add(ctx context.Context, s Subscriber) error {
	s, err := normalize(s)
	if err != nil {
		return err
	}
	if r.badPrefix != nil {
		return r.badPrefix
	}
	now := time.Now().UnixMilli()
	created := createdTime(s.Created, time.UnixMilli(now)).UnixMilli()
	n, err := addScript.Run(ctx, r.c, r.keys(s.AOR),
		s.AOR, s.HA1MD5, s.HA1SHA256, s.Name, s.Email, boolField(s.Enabled), created, now,
		boolField(!s.MissedCallOptOut), s.TZ, boolField(s.Admin)).Int()
	if err != nil {
		return mapErr(ctx, "add subscriber "+s.AOR, err)
	}
	if !r.oneScript {
		// Index after the hash; also repairs an Add interrupted here.
		if err := r.c.ZAdd(ctx, r.indexKey(), redis.Z{Member: s.AOR}).Err(); err != nil {
			return mapErr(ctx, "index subscriber "+s.AOR, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("add subscriber %s: %w", s.AOR, ErrExists)
	}
	return nil
}

// Get implements Directory.
func (r *Redis) Get(ctx context.Context, aor string) (Subscriber, error) {
	key, err := CanonicalAOR(aor)
	if err != nil {
		return Subscriber{}, err
	}
	if r.badPrefix != nil {
		return Subscriber{}, r.badPrefix
	}
	vals, err := r.c.HMGet(ctx, r.hashKey(key), fields...).Result()
	if err != nil {
		return Subscriber{}, mapErr(ctx, "get subscriber "+key, err)
	}
	s, ok, err := decode(vals)
	if err != nil {
		return Subscriber{}, fmt.Errorf("get subscriber %s: %w", key, err)
	}
	if !ok {
		return Subscriber{}, fmt.Errorf("get subscriber %s: %w", key, ErrNotFound)
	}
	return s, nil
}

// Update implements Directory.
func (r *Redis) Update(ctx context.Context, s Subscriber) error {
	s, err := normalize(s)
	if err != nil {
		return err
	}
	if r.badPrefix != nil {
		return r.badPrefix
	}
	n, err := updateScript.Run(ctx, r.c, r.keys(s.AOR),
		s.AOR, s.HA1MD5, s.HA1SHA256, s.Name, s.Email, boolField(s.Enabled), time.Now().UnixMilli(),
		boolField(!s.MissedCallOptOut), s.TZ, boolField(s.Admin)).Int()
	if err != nil {
		return mapErr(ctx, "update subscriber "+s.AOR, err)
	}
	if n == 0 {
		return fmt.Errorf("update subscriber %s: %w", s.AOR, ErrNotFound)
	}
	if !r.oneScript {
		if err := r.c.ZAdd(ctx, r.indexKey(), redis.Z{Member: s.AOR}).Err(); err != nil {
			return mapErr(ctx, "index subscriber "+s.AOR, err)
		}
	}
	return nil
}

// Remove implements Directory.
func (r *Redis) Remove(ctx context.Context, aor string) error {
	key, err := CanonicalAOR(aor)
	if err != nil {
		return err
	}
	if r.badPrefix != nil {
		return r.badPrefix
	}
	n, err := removeScript.Run(ctx, r.c, r.keys(key), key).Int()
	if err != nil {
		return mapErr(ctx, "remove subscriber "+key, err)
	}
	if !r.oneScript {
		// Always, so that repeating an interrupted Remove cleans the index.
		if err := r.c.ZRem(ctx, r.indexKey(), key).Err(); err != nil {
			return mapErr(ctx, "unindex subscriber "+key, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("remove subscriber %s: %w", key, ErrNotFound)
	}
	return nil
}

// List implements Directory. Index entries without a hash (an interrupted
// Cluster Remove) are skipped and the page is filled from further entries.
func (r *Redis) List(ctx context.Context, cursor string, limit int) ([]Subscriber, string, error) {
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, "", err
	}
	if r.badPrefix != nil {
		return nil, "", r.badPrefix
	}
	lo := "-"
	if cursor != "" {
		lo = "(" + cursor
	}
	var out []Subscriber
	for {
		need := limit - len(out)
		aors, err := r.c.ZRangeByLex(ctx, r.indexKey(), &redis.ZRangeBy{Min: lo, Max: "+", Count: int64(need + 1)}).Result()
		if err != nil {
			return nil, "", mapErr(ctx, "list subscribers", err)
		}
		page := aors[:min(len(aors), need)]
		subs, err := r.getMany(ctx, page)
		if err != nil {
			return nil, "", err
		}
		out = append(out, subs...)
		if len(aors) <= need {
			return out, "", nil
		}
		last := page[len(page)-1]
		if len(out) == limit {
			return out, last, nil
		}
		lo = "(" + last
	}
}

// getMany reads the hashes of aors in one pipeline, skipping absent ones.
func (r *Redis) getMany(ctx context.Context, aors []string) ([]Subscriber, error) {
	if len(aors) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.SliceCmd, len(aors))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, aor := range aors {
			cmds[i] = p.HMGet(ctx, r.hashKey(aor), fields...)
		}
		return nil
	})
	if err != nil {
		return nil, mapErr(ctx, "list subscribers", err)
	}
	out := make([]Subscriber, 0, len(aors))
	for i, c := range cmds {
		s, ok, err := decode(c.Val())
		if err != nil {
			return nil, fmt.Errorf("list subscribers: %s: %w", aors[i], err)
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// fields is the order of HMGET and decode.
var fields = []string{"aor", "ha1_md5", "ha1_sha256", "name", "email", "enabled", "created", "updated", "missed_call", "tz", "admin"}

// decode builds a Subscriber from HMGET values in fields order; false when
// the hash does not exist.
func decode(vals []any) (Subscriber, bool, error) {
	if len(vals) != len(fields) {
		return Subscriber{}, false, fmt.Errorf("subscriber: redis returned %d fields, want %d", len(vals), len(fields))
	}
	if vals[0] == nil {
		return Subscriber{}, false, nil
	}
	str := func(i int) string {
		v, _ := vals[i].(string)
		return v
	}
	ms := func(i int) (time.Time, error) {
		n, err := strconv.ParseInt(str(i), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("subscriber: field %s: %w", fields[i], err)
		}
		return time.UnixMilli(n), nil
	}
	created, err := ms(6)
	if err != nil {
		return Subscriber{}, false, err
	}
	updated, err := ms(7)
	if err != nil {
		return Subscriber{}, false, err
	}
	return Subscriber{
		AOR: str(0), HA1MD5: str(1), HA1SHA256: str(2), Name: str(3), Email: str(4),
		Enabled: str(5) == "1", Created: created, Updated: updated,
		MissedCallOptOut: str(8) == "0", TZ: str(9), // absent (before issue 14): on, UTC
		Admin: str(10) == "1", // absent (before issue 16): not an admin
	}, true, nil
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
