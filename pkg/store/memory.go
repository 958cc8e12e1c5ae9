package store

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// MemoryOptions configures the in-memory engine.
type MemoryOptions struct {
	// Now is the clock; default time.Now. Tests inject a fake clock.
	Now func() time.Time
	// JanitorInterval is how often expired transactions, records and once
	// markers are removed in the background (reads check expiry themselves);
	// default 1s, < 0 disables the janitor. Timers never expire.
	JanitorInterval time.Duration
}

const memoryShards = 32

// Memory is the in-memory engine: one process only (`sipbus up`, unit tests).
// It is safe for concurrent use; transactions, records and once markers are
// sharded by key; timers, indexes and membership groups have one lock each.
type Memory struct {
	now     func() time.Time
	seed    maphash.Seed
	shards  [memoryShards]memShard
	timers  memTimers
	indexes memIndexes
	groups  memGroups

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closed    chan struct{}
}

type memShard struct {
	mu   sync.Mutex
	m    map[memKey]*memEntry  // transactions
	rec  map[memKey]*memRecord // records (RecordStore)
	once map[string]time.Time  // once markers: key -> expiry (OnceStore)
}

type memKey struct{ callKey, key string }

type memEntry struct {
	tx  Tx // owned by the store: LastResponse is never shared with callers
	exp time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns the in-memory engine: one process only (`sipbus up`, unit
// tests). Expiry is checked on every read and a janitor goroutine removes
// expired transactions, records and once markers in the background; Close
// stops it. Byte slices (LastResponse, timer payloads, record values) are
// copied in and out, so callers never alias the stored ones.
func NewMemory(opt MemoryOptions) *Memory {
	return newMemory(opt)
}

func newMemory(opt MemoryOptions) *Memory {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.JanitorInterval == 0 {
		opt.JanitorInterval = time.Second
	}
	s := &Memory{
		now:    opt.Now,
		seed:   maphash.MakeSeed(),
		closed: make(chan struct{}),
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.m = make(map[memKey]*memEntry)
		sh.rec = make(map[memKey]*memRecord)
		sh.once = make(map[string]time.Time)
	}
	s.timers.m = make(map[string]*memTimer)
	s.indexes.m = make(map[string]map[string]int64)
	s.groups.m = make(map[string]map[string]int64)
	if opt.JanitorInterval > 0 {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.janitor(opt.JanitorInterval)
	}
	return s
}

func (s *Memory) shard(callKey string) *memShard {
	return &s.shards[maphash.String(s.seed, callKey)%memoryShards]
}

// lookup returns the live entry for k, removing it when expired. The shard
// lock must be held.
func (sh *memShard) lookup(k memKey, now time.Time) *memEntry {
	e := sh.m[k]
	if e == nil {
		return nil
	}
	if !now.Before(e.exp) {
		delete(sh.m, k)
		return nil
	}
	return e
}

func (s *Memory) check(ctx context.Context) error {
	select {
	case <-s.closed:
		return fmt.Errorf("%w: memory store closed", ErrUnavailable)
	default:
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// CreateOrGet implements TxStore.
func (s *Memory) CreateOrGet(ctx context.Context, tx *Tx, ttl time.Duration) (*Tx, bool, error) {
	if err := validCreate(tx, ttl); err != nil {
		return nil, false, err
	}
	if err := s.check(ctx); err != nil {
		return nil, false, err
	}
	now := msTime(s.now())
	k := memKey{tx.CallKey, tx.Key}
	sh := s.shard(tx.CallKey)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.lookup(k, now); e != nil {
		e.tx.Retransmits++
		return cloneTx(&e.tx), false, nil
	}
	e := &memEntry{tx: *cloneTx(tx), exp: now.Add(ttl)}
	e.tx.Retransmits = 0
	e.tx.Created, e.tx.Updated = now, now
	sh.m[k] = e
	return cloneTx(&e.tx), true, nil
}

// Get implements TxStore.
func (s *Memory) Get(ctx context.Context, callKey, key string) (*Tx, error) {
	if err := validKeys(callKey, key); err != nil {
		return nil, err
	}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(callKey)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(memKey{callKey, key}, s.now())
	if e == nil {
		return nil, fmt.Errorf("get transaction %s: %w", key, ErrNotFound)
	}
	return cloneTx(&e.tx), nil
}

// SetResponse implements TxStore.
func (s *Memory) SetResponse(ctx context.Context, callKey, key string, r Response, ttl time.Duration) (bool, error) {
	if err := validResponse(callKey, key, r); err != nil {
		return false, err
	}
	if err := s.check(ctx); err != nil {
		return false, err
	}
	now := msTime(s.now())
	sh := s.shard(callKey)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(memKey{callKey, key}, now)
	if e == nil {
		return false, fmt.Errorf("set response on transaction %s: %w", key, ErrNotFound)
	}
	if !responseAllowed(e.tx.LastStatus, r.Status) {
		return false, nil
	}
	e.tx.LastStatus = r.Status
	e.tx.LastResponse = cloneBytes(r.Raw)
	e.tx.LastDest = r.Dest
	if r.State != "" {
		e.tx.State = r.State
	}
	e.tx.Updated = now
	if ttl > 0 {
		e.exp = now.Add(ttl)
	}
	return true, nil
}

// UpdateState implements TxStore.
func (s *Memory) UpdateState(ctx context.Context, callKey, key string, from []string, to string, ttl time.Duration) (bool, error) {
	if err := validKeys(callKey, key); err != nil {
		return false, err
	}
	if err := s.check(ctx); err != nil {
		return false, err
	}
	now := msTime(s.now())
	sh := s.shard(callKey)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(memKey{callKey, key}, now)
	if e == nil {
		return false, fmt.Errorf("update state of transaction %s: %w", key, ErrNotFound)
	}
	if len(from) > 0 && !slices.Contains(from, e.tx.State) {
		return false, nil
	}
	e.tx.State = to
	e.tx.Updated = now
	if ttl > 0 {
		e.exp = now.Add(ttl)
	}
	return true, nil
}

// Expire implements TxStore.
func (s *Memory) Expire(ctx context.Context, callKey, key string, ttl time.Duration) error {
	if err := validExpire(callKey, key, ttl); err != nil {
		return err
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	now := s.now()
	k := memKey{callKey, key}
	sh := s.shard(callKey)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if ttl == 0 {
		delete(sh.m, k)
		return nil
	}
	e := sh.lookup(k, now)
	if e == nil {
		return fmt.Errorf("expire transaction %s: %w", key, ErrNotFound)
	}
	e.exp = now.Add(ttl)
	return nil
}

// Ping implements TxStore: it fails only after Close.
func (s *Memory) Ping(ctx context.Context) error { return s.check(ctx) }

// Close stops the janitor and makes every later operation fail with
// ErrUnavailable. It is safe to call more than once.
func (s *Memory) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.stop != nil {
			close(s.stop)
			<-s.done
		}
	})
	return nil
}

// size returns the number of transactions held, expired ones not yet removed
// included.
func (s *Memory) size() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

func (s *Memory) janitor(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep removes expired transactions, records and once markers, one shard
// lock at a time. Timers do not expire.
func (s *Memory) sweep() {
	now := s.now()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if !now.Before(e.exp) {
				delete(sh.m, k)
			}
		}
		for k, r := range sh.rec {
			if !now.Before(r.exp) {
				delete(sh.rec, k)
			}
		}
		for k, exp := range sh.once {
			if !now.Before(exp) {
				delete(sh.once, k)
			}
		}
		sh.mu.Unlock()
	}
}
