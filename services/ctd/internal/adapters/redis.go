package adapters

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/services/ctd/internal/app"
	"github.com/sipbus/sipbus/services/ctd/internal/ports"
)

// Lifetimes of records.
const (
	LiveTTL = 24 * time.Hour
	DoneTTL = time.Hour
)

// Redis is the Store and Tokens on a Redis client.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

var (
	_ ports.Store  = (*Redis)(nil)
	_ ports.Tokens = (*Redis)(nil)
)

// NewRedis uses c with key prefix p ("" is "sipbus").
func NewRedis(c redis.UniversalClient, p string) *Redis {
	if p == "" {
		p = "sipbus"
	}
	return &Redis{c: c, prefix: p}
}

func (r *Redis) callKey(id string) string    { return r.prefix + ":ctd:call:{" + id + "}" }
func (r *Redis) deadlines() string           { return r.prefix + ":ctd:deadlines" }
func (r *Redis) dialogKey(d string) string   { return r.prefix + ":ctd:dialog:" + d }
func (r *Redis) watches() string             { return r.prefix + ":ctd:watches" }
func (r *Redis) tokenKey(hash string) string { return r.prefix + ":ctd:token:" + hash }
func ttl(s app.State) time.Duration {
	return map[bool]time.Duration{true: DoneTTL, false: LiveTTL}[s.Done]
}
func wrap(op string, err error) error { return fmt.Errorf("ctd: redis %s: %w", op, err) }
func hashToken(tok string) string     { h := sha256.Sum256([]byte(tok)); return hex.EncodeToString(h[:]) }
func ms(t time.Time) float64          { return float64(t.UnixMilli()) }

// casScript: KEYS[1] record; ARGV expected version ("0": must not exist),
// new version, state JSON, TTL ms. Returns 1, or 0 on a version mismatch.
var casScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '0' then
  if v then return 0 end
elseif v ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`)

func (r *Redis) write(ctx context.Context, s app.State, op string) (app.State, error) {
	old := s.Version
	s.Version++
	b, err := json.Marshal(s)
	if err != nil {
		return app.State{}, wrap(op, err)
	}
	// The indexes first (see the package doc).
	p := r.c.Pipeline()
	if !s.Deadline.IsZero() {
		p.ZAdd(ctx, r.deadlines(), redis.Z{Score: ms(s.Deadline), Member: s.ID})
	}
	for _, l := range s.Legs {
		if l.Dialog != "" {
			p.Set(ctx, r.dialogKey(l.Dialog), s.ID, LiveTTL)
		}
	}
	if s.Watch != "" && old == 0 {
		// The list of watches expires its members with the key (scores
		// are expiry times), trimmed here rather than by a timer.
		now := time.Now()
		p.Set(ctx, r.dialogKey(s.Watch), s.ID, LiveTTL)
		p.ZAdd(ctx, r.watches(), redis.Z{Score: ms(now.Add(LiveTTL)), Member: s.Watch})
		p.ZRemRangeByScore(ctx, r.watches(), "-inf", strconv.FormatInt(now.UnixMilli(), 10))
	}
	if p.Len() > 0 {
		if _, err := p.Exec(ctx); err != nil {
			return app.State{}, wrap(op, err)
		}
	}
	n, err := casScript.Run(ctx, r.c, []string{r.callKey(s.ID)},
		strconv.FormatInt(old, 10), strconv.FormatInt(s.Version, 10), b, ttl(s).Milliseconds()).Int()
	if err != nil {
		return app.State{}, wrap(op, err)
	}
	if n == 0 {
		if old == 0 {
			return app.State{}, fmt.Errorf("call %s: %w", s.ID, ports.ErrExists)
		}
		return app.State{}, fmt.Errorf("call %s version %d: %w", s.ID, old, ports.ErrConflict)
	}
	if s.Deadline.IsZero() {
		if err := r.c.ZRem(ctx, r.deadlines(), s.ID).Err(); err != nil {
			return app.State{}, wrap(op, err)
		}
	}
	return s, nil
}

// Create implements ports.Store.
func (r *Redis) Create(ctx context.Context, s app.State) (app.State, error) {
	s.Version = 0
	return r.write(ctx, s, "create")
}

// Save implements ports.Store.
func (r *Redis) Save(ctx context.Context, s app.State) (app.State, error) {
	if s.Version <= 0 {
		return app.State{}, fmt.Errorf("call %s: save without a version: %w", s.ID, ports.ErrConflict)
	}
	return r.write(ctx, s, "save")
}

// Load implements ports.Store.
func (r *Redis) Load(ctx context.Context, id string) (app.State, error) {
	b, err := r.c.HGet(ctx, r.callKey(id), "s").Bytes()
	if errors.Is(err, redis.Nil) {
		return app.State{}, fmt.Errorf("call %s: %w", id, ports.ErrNotFound)
	}
	if err != nil {
		return app.State{}, wrap("load", err)
	}
	var s app.State
	if err := json.Unmarshal(b, &s); err != nil {
		return app.State{}, wrap("load", err)
	}
	return s, nil
}

// Due implements ports.Store. An entry whose call is gone is removed.
func (r *Redis) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := r.c.ZRangeByScore(ctx, r.deadlines(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatFloat(ms(now), 'f', 0, 64), Count: int64(limit)}).Result()
	if err != nil {
		return nil, wrap("due", err)
	}
	return ids, nil
}

// Index implements ports.Store.
func (r *Redis) Index(ctx context.Context, id string, deadline time.Time) error {
	if deadline.IsZero() {
		return r.c.ZRem(ctx, r.deadlines(), id).Err()
	}
	return r.c.ZAdd(ctx, r.deadlines(), redis.Z{Score: ms(deadline), Member: id}).Err()
}

// ByDialog implements ports.Store.
func (r *Redis) ByDialog(ctx context.Context, dialog string) (string, error) {
	id, err := r.c.Get(ctx, r.dialogKey(dialog)).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("dialog %s: %w", dialog, ports.ErrNotFound)
	}
	if err != nil {
		return "", wrap("dialog", err)
	}
	return id, nil
}

// Watches implements ports.Store.
func (r *Redis) Watches(ctx context.Context, now time.Time, limit int) ([]ports.Watch, error) {
	zs, err := r.c.ZRevRangeByScoreWithScores(ctx, r.watches(), &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now.UnixMilli(), 10),
		Max: "+inf", Count: int64(limit)}).Result()
	if err != nil {
		return nil, wrap("watches", err)
	}
	ws := make([]ports.Watch, 0, len(zs))
	for _, z := range zs {
		key, _ := z.Member.(string)
		ws = append(ws, ports.Watch{Key: key, Expires: time.UnixMilli(int64(z.Score))})
	}
	return ws, nil
}

// NewToken is a fresh API token: 32 random bytes, URL-safe.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "ctd_" + hex.EncodeToString(b[:])
}

// CreateToken implements ports.Tokens.
func (r *Redis) CreateToken(ctx context.Context, aor string) (string, error) {
	tok := NewToken()
	if err := r.c.Set(ctx, r.tokenKey(hashToken(tok)), aor, 0).Err(); err != nil {
		return "", wrap("token", err)
	}
	return tok, nil
}

// LookupToken implements ports.Tokens.
func (r *Redis) LookupToken(ctx context.Context, tok string) (string, error) {
	aor, err := r.c.Get(ctx, r.tokenKey(hashToken(tok))).Result()
	if errors.Is(err, redis.Nil) {
		return "", ports.ErrNotFound
	}
	if err != nil {
		return "", wrap("token", err)
	}
	return aor, nil
}
