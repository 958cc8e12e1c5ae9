package app

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

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
type ptxCache struct {
	mu      sync.Mutex
	m       map[string]*cached
	dialogs map[string]dialogEntry // call key -> answered call
	now     func() time.Time
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

func newPTxCache(now func() time.Time) *ptxCache {
	return &ptxCache{m: make(map[string]*cached), dialogs: make(map[string]dialogEntry), now: now}
}

func (c *ptxCache) get(key string) *cached {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	if e == nil {
		return nil
	}
	if c.now().After(e.expires) {
		delete(c.m, key)
		return nil
	}
	return e
}

func (c *ptxCache) put(key string, e *cached, life time.Duration) {
	e.expires = c.now().Add(life)
	c.mu.Lock()
	c.m[key] = e
	c.mu.Unlock()
}

func (c *ptxCache) drop(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

func (c *ptxCache) dialog(callKey string) *dialog {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.dialogs[callKey]
	if !ok {
		return nil
	}
	if c.now().After(e.expires) {
		delete(c.dialogs, callKey)
		return nil
	}
	return e.d
}

// putDialog remembers the first answered dialog of a call.
func (c *ptxCache) putDialog(d *dialog, life time.Duration) {
	c.mu.Lock()
	if _, ok := c.dialogs[d.CallKey]; !ok {
		c.dialogs[d.CallKey] = dialogEntry{d: d, expires: c.now().Add(life)}
	}
	c.mu.Unlock()
}

func (c *ptxCache) dropDialog(callKey string) {
	c.mu.Lock()
	delete(c.dialogs, callKey)
	c.mu.Unlock()
}

// sweep removes what expired and returns how many entries went.
func (c *ptxCache) sweep() int {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, e := range c.m {
		if now.After(e.expires) && !e.dirty {
			delete(c.m, k)
			n++
		}
	}
	for k, e := range c.dialogs {
		if now.After(e.expires) {
			delete(c.dialogs, k)
			n++
		}
	}
	return n
}

// forget drops the entries of the calls drop selects.
func (c *ptxCache) forget(drop func(callKey string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if ck, _, _ := strings.Cut(k, "|"); drop(ck) {
			delete(c.m, k)
		}
	}
	for k := range c.dialogs {
		if drop(k) {
			delete(c.dialogs, k)
		}
	}
}

func (c *ptxCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m) + len(c.dialogs)
}

type keyedCached struct {
	key string
	c   *cached
}

// snapshot lists the transactions held (not the dialogs: their records
// are written when they are created).
func (c *ptxCache) snapshot() []keyedCached {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]keyedCached, 0, len(c.m))
	for k, e := range c.m {
		out = append(out, keyedCached{k, e})
	}
	return out
}
