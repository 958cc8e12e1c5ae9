package store

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// MemoryOptions configures the in-memory engine.
type MemoryOptions struct {
	// Now is the clock; default time.Now. Tests inject a fake clock.
	Now func() time.Time
	// JanitorInterval is how often expired records and once markers are
	// removed in the background (reads check expiry themselves);
	// default 1s, < 0 disables the janitor.
	JanitorInterval time.Duration
}

const memoryShards = 32

// Memory is the in-memory engine: one process only (`sipbus up`, unit tests).
// It is safe for concurrent use; records and once markers are sharded by
// key; indexes and membership groups have one lock each.
type Memory struct {
	now     func() time.Time
	seed    maphash.Seed
	shards  [memoryShards]memShard
	indexes memIndexes
	groups  memGroups

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closed    chan struct{}
}

type memShard struct {
	mu   sync.Mutex
	rec  map[memKey]*memRecord // records (RecordStore)
	once map[string]time.Time  // once markers: key -> expiry (OnceStore)
}

type memKey struct{ callKey, key string }

var _ Store = (*Memory)(nil)

// NewMemory returns the in-memory engine: one process only (`sipbus up`, unit
// tests). Expiry is checked on every read and a janitor goroutine removes
// expired records and once markers in the background; Close stops it. Byte
// slices (record values) are copied in and out, so callers never alias the
// stored ones.
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
		sh.rec = make(map[memKey]*memRecord)
		sh.once = make(map[string]time.Time)
	}
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

// Ping implements Store: it fails only after Close.
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

// size returns the number of records and once markers held, expired ones
// not yet removed included.
func (s *Memory) size() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.rec) + len(sh.once)
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

// sweep removes expired records and once markers, one shard lock at a
// time.
func (s *Memory) sweep() {
	now := s.now()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
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
