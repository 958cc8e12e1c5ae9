package app

import (
	"sync"
	"time"
)

// recordCache remembers the proxy transaction records this replica wrote
// last, so the next input of the same transaction (the 180 after the
// INVITE, the 200 after the 180) skips reading the record back: one store
// round trip fewer per input. Compare-and-set keeps it honest: a record
// that another replica changed since fails the write with the cached
// version, and update reads it from the store and tries again. Entries live
// for maxAge (well inside every record's TTL, so a cached version always
// names the record still stored); past max entries, arbitrary ones go.
type recordCache struct {
	mu     sync.Mutex
	m      map[string]cachedRecord
	max    int
	maxAge time.Duration
	now    func() time.Time
}

type cachedRecord struct {
	version int64
	value   []byte
	at      time.Time
}

func newRecordCache(max int, maxAge time.Duration, now func() time.Time) *recordCache {
	return &recordCache{m: make(map[string]cachedRecord), max: max, maxAge: maxAge, now: now}
}

// get returns the cached record of key, if it is fresh.
func (c *recordCache) get(key string) (cachedRecord, bool) {
	if c == nil {
		return cachedRecord{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[key]
	if ok && c.now().Sub(r.at) > c.maxAge {
		delete(c.m, key)
		return cachedRecord{}, false
	}
	return r, ok
}

// put remembers value as version of key; value must not change afterwards.
func (c *recordCache) put(key string, version int64, value []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		n := c.max / 8
		for k := range c.m { // map order is random: evict an arbitrary eighth
			delete(c.m, k)
			if n--; n <= 0 {
				break
			}
		}
	}
	c.m[key] = cachedRecord{version: version, value: value, at: c.now()}
}

func (c *recordCache) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

func (c *recordCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
