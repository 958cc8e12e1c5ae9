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

	"github.com/sipbus/sipbus/pkg/groupcommit"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/web/internal/app"
)

// Errors.
var (
	ErrNotFound = errors.New("web: phonebook entry not found")
	ErrFull     = errors.New("web: phonebook is full")
)

// NewID is a phonebook entry id: 16 random base32 characters.
func NewID() string { return strings.ToLower(rand.Text()[:16]) }

// SubscriberKeys names the Redis hash of a subscriber, which the history
// script checks (*subscriber.Redis).
type SubscriberKeys interface {
	Key(aor string) (string, error)
}

// Directory tells whether an AOR is a subscriber, for the memory engine's
// history (subscriber.Directory).
type Directory interface {
	Get(ctx context.Context, aor string) (subscriber.Subscriber, error)
}

var (
	_ SubscriberKeys = (*subscriber.Redis)(nil)
	_ Directory      = (subscriber.Directory)(nil)
)

// Redis is the Redis engine.
type Redis struct {
	c       redis.UniversalClient
	prefix  string
	subs    SubscriberKeys
	records groupcommit.Group[*recordCall] // Record's group commit
}

// A Record waits up to RecordLinger for others to share its pipeline, up
// to RecordBatch Records a pipeline (see Record). A writer keeps more than
// RecordBatch Records in flight (RecordWriters), or lingering caps its rate.
const (
	RecordLinger  = 50 * time.Millisecond
	RecordBatch   = 64
	RecordWriters = 2 * RecordBatch
)

// NewRedis keeps the state on c under prefix ("" for none); histories are
// kept for the subscribers whose hashes subs names (the directory on the
// same server).
func NewRedis(c redis.UniversalClient, prefix string, subs SubscriberKeys) *Redis {
	r := &Redis{c: c, prefix: prefix, subs: subs}
	r.records.Run = r.runRecords
	r.records.Max, r.records.Linger = RecordBatch, RecordLinger
	r.records.Skip = func(c *recordCall) bool { return c.ctx.Err() != nil } // gave up while waiting: not sent
	return r
}

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

// recordScript: KEYS[1] the history, KEYS[2] the subscriber's hash
// (subscriber.Redis.Key), KEYS[3] the history's ids; ARGV = line id, json,
// max, ttl ms. Returns -1 when KEYS[2] does not exist (not a subscriber:
// nothing is written, so no key is created), 0 when the call is there
// already, else 1.
//
// The ids are a sorted set beside the list (member the line id, score
// its place in the order of arrival), trimmed with it, so telling a
// redelivered call costs one ZSCORE however long the history is (up to
// history_len 10,000), where reading the list back cost O(length) per
// line: 170 µs of Redis time a call with a full history of 100. A
// history kept before the ids were (no sorted set, a list) is indexed
// once, from the ids of its lines.
var recordScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local max = tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[3]) == 0 then
  for i, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
    local ok, c = pcall(cjson.decode, v)
    if ok and type(c) == 'table' and type(c.id) == 'string' then
      redis.call('ZADD', KEYS[3], 'NX', -i, c.id)
    end
  end
end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
local top = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
local seq = 1
if top[2] then seq = tonumber(top[2]) + 1 end
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(max + 1))
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('LTRIM', KEYS[1], 0, max - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 1
`)

// Record implements ports.Histories in one round trip whatever the number
// of lines: one pipeline of one script per line, each checking that the
// subscriber's hash exists before it pushes. Not one script over every
// line: a caller's and a callee's keys lie in different Redis Cluster
// slots, while one line's history and subscriber keys share the AOR's
// hash tag, so each script is a legal Cluster command and go-redis sends
// the pipeline to the nodes in parallel. Records of concurrent handlers
// share the pipeline (group commit, package groupcommit): a pipeline
// waits up to RecordLinger for RecordBatch Records, so at 300 calls/s the
// histories cost one round trip every 50 ms instead of one a call (a
// call's line shows on the page that much later; nobody waits on it
// sooner), and a consumer catching up on a backlog writes RecordBatch
// calls per round trip.
// When the server has lost the script (a restart, SCRIPT FLUSH), the lines
// refused with NOSCRIPT go again with EVAL in a second round trip.
func (r *Redis) Record(ctx context.Context, lines []app.Line, max int, ttl time.Duration) (int, error) {
	ws := make([]historyWrite, 0, len(lines))
	for _, l := range lines {
		aor, err := historyAOR(l.UserURI)
		if err != nil {
			continue
		}
		sub, err := r.subs.Key(aor)
		if err != nil {
			continue // a prefix with '{' or '}': subscriber.Redis.Get skipped the line the same way
		}
		b, _ := json.Marshal(l.Call)
		ws = append(ws, historyWrite{aor: aor, keys: []string{r.key("calls", aor), sub, r.key("callids", aor)},
			args: []any{l.Call.ID, b, max, ttl.Milliseconds()}})
	}
	if len(ws) == 0 {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	rc := &recordCall{ctx: ctx, ws: ws, done: make(chan struct{})}
	if err := r.records.Submit(rc); err != nil {
		return 0, err
	}
	select {
	case <-rc.done:
		return rc.added, rc.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Mark stores t as the time up to which every call event is recorded
// (ports.Histories). One key, no TTL.
func (r *Redis) Mark(ctx context.Context, t time.Time) error {
	return r.c.Set(ctx, r.markKey(), t.UTC().Format(time.RFC3339Nano), 0).Err()
}

// Marked is the time Mark stored; false when none was.
func (r *Redis) Marked(ctx context.Context) (time.Time, bool, error) {
	v, err := r.c.Get(ctx, r.markKey()).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("web: history mark: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("web: history mark %q: %w", v, err)
	}
	return t, true, nil
}

func (r *Redis) markKey() string {
	if r.prefix != "" {
		return r.prefix + ":web:history:mark"
	}
	return "web:history:mark"
}

// recordCall is one Record's share of a pipeline.
type recordCall struct {
	ctx   context.Context
	ws    []historyWrite
	added int
	err   error
	done  chan struct{}
}

// runRecords writes the lines of a batch of Records in one pipeline (and
// those refused with NOSCRIPT in a second, with EVAL), and answers each.
func (r *Redis) runRecords(batch []*recordCall) {
	ctx, cancel := groupcommit.Context(batch, func(c *recordCall) context.Context { return c.ctx })
	defer cancel()
	var ws []historyWrite
	var owner []*recordCall
	for _, c := range batch {
		for _, w := range c.ws {
			ws, owner = append(ws, w), append(owner, c)
		}
	}
	lost, lostOwner := r.runRecord(ctx, ws, owner, true)
	if len(lost) > 0 {
		r.runRecord(ctx, lost, lostOwner, false)
	}
	for _, c := range batch {
		close(c.done)
	}
}

// historyWrite is one line's recordScript call.
type historyWrite struct {
	aor  string
	keys []string
	args []any
}

// runRecord sends ws in one pipeline, with EVALSHA (sha) or EVAL, and
// counts each write's outcome to its owner (owner[i] wrote ws[i]); it
// returns the writes refused with NOSCRIPT, and their owners.
func (r *Redis) runRecord(ctx context.Context, ws []historyWrite, owner []*recordCall, sha bool) (lost []historyWrite, lostOwner []*recordCall) {
	p := r.c.Pipeline()
	cmds := make([]*redis.Cmd, len(ws))
	for i, w := range ws {
		if sha {
			cmds[i] = recordScript.EvalSha(ctx, p, w.keys, w.args...)
		} else {
			cmds[i] = recordScript.Eval(ctx, p, w.keys, w.args...)
		}
	}
	_, _ = p.Exec(ctx) // each command carries its own error
	for i, c := range cmds {
		n, cerr := c.Int()
		o := owner[i]
		switch {
		case sha && redis.HasErrorPrefix(cerr, "NOSCRIPT"):
			lost, lostOwner = append(lost, ws[i]), append(lostOwner, o)
		case cerr != nil:
			if o.err == nil {
				o.err = fmt.Errorf("web: history of %s: %w", ws[i].aor, cerr)
			}
		case n == 1:
			o.added++
		}
	}
	return lost, lostOwner
}

// historyAOR is the AOR whose history a line goes to: the AOR of its URI
// (location.ParseAOR drops the display name, port and parameters) in the
// directory's canonical spelling, which is the one a session holds and the
// page reads, and the hash tag of the subscriber's key.
func historyAOR(uri string) (string, error) {
	aor, err := location.ParseAOR(uri)
	if err != nil {
		return "", err
	}
	return subscriber.CanonicalAOR(aor)
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
	dir   Directory
	mu    sync.Mutex
	pb    map[string]map[string]app.Entry
	calls map[string][]app.Call
	mark  time.Time
}

// NewMemory returns an empty Memory that keeps histories for the
// subscribers of dir.
func NewMemory(dir Directory) *Memory {
	return &Memory{dir: dir, pb: map[string]map[string]app.Entry{}, calls: map[string][]app.Call{}}
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

// Mark is Redis.Mark, in memory.
func (m *Memory) Mark(_ context.Context, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mark = t
	return nil
}

// Marked is Redis.Marked.
func (m *Memory) Marked(context.Context) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mark, !m.mark.IsZero(), nil
}

// Record implements ports.Histories: it asks the directory line by line
// (the memory engine keeps no TTL).
func (m *Memory) Record(ctx context.Context, lines []app.Line, max int, _ time.Duration) (int, error) {
	added := 0
	for _, l := range lines {
		aor, err := historyAOR(l.UserURI)
		if err != nil {
			continue
		}
		if _, err := m.dir.Get(ctx, aor); err != nil {
			if errors.Is(err, subscriber.ErrNotFound) || errors.Is(err, subscriber.ErrInvalid) {
				continue
			}
			return added, fmt.Errorf("web: history of %s: %w", aor, err)
		}
		if m.push(aor, l.Call, max) {
			added++
		}
	}
	return added, nil
}

// push adds c to aor's history unless a call with its ID is there; it
// reports whether it added.
func (m *Memory) push(aor string, c app.Call, max int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.calls[aor] {
		if o.ID == c.ID {
			return false
		}
	}
	l := append([]app.Call{c}, m.calls[aor]...)
	if len(l) > max {
		l = l[:max]
	}
	m.calls[aor] = l
	return true
}

// Calls is Redis.Calls.
func (m *Memory) Calls(_ context.Context, aor string) ([]app.Call, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]app.Call(nil), m.calls[aor]...), nil
}
