package app

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/store"
)

// ptxCache holds the proxy transactions and dialogs of the calls this
// replica works on, decoded: with partition affinity every input of a call
// comes to the replica that owns the call's partition, so the owner works
// from memory and writes the store, without reading it (the design's "hot
// path"). Compare-and-set keeps it honest: a record another replica
// changed (a partition moved, an application's command served elsewhere)
// fails the write with the version held here, and update reads the store
// and tries again.
//
// A transaction stays while it is in progress (up to its record's TTL) and
// Linger after it finished; a dialog until its BYE (or dialogTTL).
//
// The cache is split into shards by call key, each with its own lock: the
// lanes of tm take it several times per input, and the sweep that forgets
// what expired holds one shard at a time. With one lock for all, a sweep
// over the tens of thousands of transactions an overload leaves (32 s of
// them) held every lane for up to 28 ms every 5 s.
type ptxCache struct {
	shards [cacheShards]cacheShard
	now    func() time.Time
}

const cacheShards = 64

type cacheShard struct {
	mu      sync.Mutex
	m       map[string]*cached
	dialogs map[string]dialogEntry // call key -> answered call
}

// cached is one proxy transaction in memory.
type cached struct {
	p         *ptx
	version   int64  // the record's version in the store (0: not written yet)
	sum       uint64 // hash of the record as last written, to skip writing what did not change
	recovered bool   // read from the store rather than created here (takeover)
	memOnly   bool   // never written (see persisted)
	expires   time.Time
	// idx is the deadline under which the transaction is filed in its
	// partition's deadline index: 0 not filed, -1 unknown (read from the
	// store).
	idx int64

	dirty   bool       // changed in memory since its last write
	flushAt time.Time  // when a dirty transaction is written at the latest
	emits   []Emission // call events waiting for that write
	ops     []store.Op // further writes going with it
}

type dialogEntry struct {
	d       *dialog
	expires time.Time
}

var sumSeed = maphash.MakeSeed()

func sum(b []byte) uint64 { return maphash.Bytes(sumSeed, b) }

func cacheKey(callKey, id string) string { return callKey + "|" + id }

// callKeyOf is the call key of a cache key.
func callKeyOf(key string) string {
	ck, _, _ := strings.Cut(key, "|")
	return ck
}

func newPTxCache(now func() time.Time) *ptxCache {
	c := &ptxCache{now: now}
	for i := range c.shards {
		c.shards[i] = cacheShard{m: make(map[string]*cached), dialogs: make(map[string]dialogEntry)}
	}
	return c
}

// shard is the shard of a call: a transaction and the dialog of one call
// share it.
func (c *ptxCache) shard(callKey string) *cacheShard {
	return &c.shards[bus.KeyHash(callKey)%cacheShards]
}

func (c *ptxCache) get(key string) *cached {
	s := c.shard(callKeyOf(key))
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e == nil {
		return nil
	}
	if c.now().After(e.expires) {
		delete(s.m, key)
		return nil
	}
	return e
}

func (c *ptxCache) put(key string, e *cached, life time.Duration) {
	e.expires = c.now().Add(life)
	s := c.shard(callKeyOf(key))
	s.mu.Lock()
	s.m[key] = e
	s.mu.Unlock()
}

func (c *ptxCache) drop(key string) {
	s := c.shard(callKeyOf(key))
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

func (c *ptxCache) dialog(callKey string) *dialog {
	s := c.shard(callKey)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.dialogs[callKey]
	if !ok {
		return nil
	}
	if c.now().After(e.expires) {
		delete(s.dialogs, callKey)
		return nil
	}
	return e.d
}

// putDialog remembers the first answered dialog of a call.
func (c *ptxCache) putDialog(d *dialog, life time.Duration) {
	s := c.shard(d.CallKey)
	s.mu.Lock()
	if _, ok := s.dialogs[d.CallKey]; !ok {
		s.dialogs[d.CallKey] = dialogEntry{d: d, expires: c.now().Add(life)}
	}
	s.mu.Unlock()
}

func (c *ptxCache) dropDialog(callKey string) {
	s := c.shard(callKey)
	s.mu.Lock()
	delete(s.dialogs, callKey)
	s.mu.Unlock()
}

// sweep removes what expired and returns how many entries went; it holds
// one shard's lock at a time.
func (c *ptxCache) sweep() int {
	n := 0
	for i := range c.shards {
		n += c.shards[i].sweep(c.now())
	}
	return n
}

func (s *cacheShard) sweep(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, e := range s.m {
		if now.After(e.expires) && !e.dirty {
			delete(s.m, k)
			n++
		}
	}
	for k, e := range s.dialogs {
		if now.After(e.expires) {
			delete(s.dialogs, k)
			n++
		}
	}
	return n
}

// forget drops the entries of the calls drop selects.
func (c *ptxCache) forget(drop func(callKey string) bool) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k := range s.m {
			if drop(callKeyOf(k)) {
				delete(s.m, k)
			}
		}
		for k := range s.dialogs {
			if drop(k) {
				delete(s.dialogs, k)
			}
		}
		s.mu.Unlock()
	}
}

func (c *ptxCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m) + len(s.dialogs)
		s.mu.Unlock()
	}
	return n
}

type keyedCached struct {
	key string
	c   *cached
}

// snapshot lists the transactions held (not the dialogs: their records
// are written when they are created).
func (c *ptxCache) snapshot() []keyedCached {
	var out []keyedCached
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			out = append(out, keyedCached{k, e})
		}
		s.mu.Unlock()
	}
	return out
}
