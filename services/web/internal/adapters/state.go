package adapters

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/services/web/internal/app"
)

// Errors.
var (
	ErrNotFound = errors.New("web: phonebook entry not found")
	ErrFull     = errors.New("web: phonebook is full")
)

// NewID is a phonebook entry id: 16 random base32 characters.
func NewID() string { return strings.ToLower(rand.Text()[:16]) }

// Redis is the Redis engine.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis keeps the state on c under prefix ("" for none).
func NewRedis(c redis.UniversalClient, prefix string) *Redis { return &Redis{c: c, prefix: prefix} }

func (r *Redis) key(kind, aor string) string {
	k := "web:" + kind + ":{" + aor + "}"
	if r.prefix != "" {
		k = r.prefix + ":" + k
	}
	return k
}

// Entries returns aor's phonebook, unsorted.
func (r *Redis) Entries(ctx context.Context, aor string) ([]app.Entry, error) {
	m, err := r.c.HGetAll(ctx, r.key("pb", aor)).Result()
	if err != nil {
		return nil, fmt.Errorf("web: phonebook of %s: %w", aor, err)
	}
	out := make([]app.Entry, 0, len(m))
	for id, v := range m {
		var e app.Entry
		if json.Unmarshal([]byte(v), &e) != nil {
			continue
		}
		e.ID = id
		out = append(out, e)
	}
	return out, nil
}

// putScript: KEYS[1] the phonebook; ARGV = id, json, max, mustExist ("1"
// edit, "0" add). Returns 1 stored, 0 missing (edit), -1 full (add).
var putScript = redis.NewScript(`
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1])
if ARGV[4] == '1' and exists == 0 then return 0 end
if exists == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// Put stores e: a new entry when e.ID is "" (ErrFull past max), else an
// edit (ErrNotFound when missing). It returns e with its ID.
func (r *Redis) Put(ctx context.Context, aor string, e app.Entry, max int) (app.Entry, error) {
	edit := "1"
	if e.ID == "" {
		e.ID, edit = NewID(), "0"
	}
	b, _ := json.Marshal(e)
	n, err := putScript.Run(ctx, r.c, []string{r.key("pb", aor)}, e.ID, b, max, edit).Int()
	if err != nil {
		return app.Entry{}, fmt.Errorf("web: phonebook of %s: %w", aor, err)
	}
	switch n {
	case 0:
		return app.Entry{}, ErrNotFound
	case -1:
		return app.Entry{}, fmt.Errorf("%w: %d entries", ErrFull, max)
	}
	return e, nil
}

// Delete removes entry id of aor's phonebook.
func (r *Redis) Delete(ctx context.Context, aor, id string) error {
	n, err := r.c.HDel(ctx, r.key("pb", aor), id).Result()
	if err != nil {
		return fmt.Errorf("web: phonebook of %s: %w", aor, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// pushScript: KEYS[1] the history; ARGV = id prefix of the JSON, json, max,
// ttl ms. Returns 0 when the call is there already, else 1.
var pushScript = redis.NewScript(`
local head = ARGV[1]
for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.sub(v, 1, #head) == head then return 0 end
end
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// Push adds c to aor's history unless a call with its ID is there; it
// reports whether it added.
func (r *Redis) Push(ctx context.Context, aor string, c app.Call, max int, ttl time.Duration) (bool, error) {
	b, _ := json.Marshal(c)
	head, _ := json.Marshal(c.ID)
	n, err := pushScript.Run(ctx, r.c, []string{r.key("calls", aor)}, `{"id":`+string(head)+`,`, b, max, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("web: history of %s: %w", aor, err)
	}
	return n == 1, nil
}

// Calls returns aor's history, newest first.
func (r *Redis) Calls(ctx context.Context, aor string) ([]app.Call, error) {
	vs, err := r.c.LRange(ctx, r.key("calls", aor), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("web: history of %s: %w", aor, err)
	}
	out := make([]app.Call, 0, len(vs))
	for _, v := range vs {
		var c app.Call
		if json.Unmarshal([]byte(v), &c) == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Memory is the in-process engine.
type Memory struct {
	mu    sync.Mutex
	pb    map[string]map[string]app.Entry
	calls map[string][]app.Call
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{pb: map[string]map[string]app.Entry{}, calls: map[string][]app.Call{}}
}

// Entries returns aor's phonebook, unsorted.
func (m *Memory) Entries(_ context.Context, aor string) ([]app.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]app.Entry, 0, len(m.pb[aor]))
	for _, e := range m.pb[aor] {
		out = append(out, e)
	}
	return out, nil
}

// Put is Redis.Put.
func (m *Memory) Put(_ context.Context, aor string, e app.Entry, max int) (app.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pb := m.pb[aor]
	if pb == nil {
		pb = map[string]app.Entry{}
		m.pb[aor] = pb
	}
	if e.ID != "" {
		if _, ok := pb[e.ID]; !ok {
			return app.Entry{}, ErrNotFound
		}
	} else {
		if len(pb) >= max {
			return app.Entry{}, fmt.Errorf("%w: %d entries", ErrFull, max)
		}
		e.ID = NewID()
	}
	pb[e.ID] = e
	return e, nil
}

// Delete is Redis.Delete.
func (m *Memory) Delete(_ context.Context, aor, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.pb[aor][id]; !ok {
		return ErrNotFound
	}
	delete(m.pb[aor], id)
	return nil
}

// Push is Redis.Push (the memory engine keeps no TTL).
func (m *Memory) Push(_ context.Context, aor string, c app.Call, max int, _ time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.calls[aor] {
		if o.ID == c.ID {
			return false, nil
		}
	}
	l := append([]app.Call{c}, m.calls[aor]...)
	if len(l) > max {
		l = l[:max]
	}
	m.calls[aor] = l
	return true, nil
}

// Calls is Redis.Calls.
func (m *Memory) Calls(_ context.Context, aor string) ([]app.Call, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]app.Call(nil), m.calls[aor]...), nil
}
