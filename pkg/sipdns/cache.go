package sipdns

import (
	"net/netip"
	"sync"
	"time"
)

// answer is the usable content of one answer: the records of the type
// asked, at the end of any CNAME chain.
type answer struct {
	addrs  []netip.Addr
	srvs   []srv
	naptrs []naptr
}

// entry is a cached answer or failure.
type entry struct {
	ans     answer
	err     error
	expires time.Time
}

// cache holds answers by "TYPE|name" until they expire, at most size of
// them: a full cache drops its expired entries, then arbitrary ones.
type cache struct {
	mu   sync.RWMutex
	size int
	m    map[string]entry
}

func newCache(size int) *cache { return &cache{size: size, m: make(map[string]entry)} }

func (c *cache) get(key string, now time.Time) (entry, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return entry{}, false
	}
	return e, true
}

// put caches e until expires; one that expires by now (a TTL of 0) is
// not kept.
func (c *cache) put(key string, e entry, expires, now time.Time) {
	if !expires.After(now) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e.expires = expires
	if _, ok := c.m[key]; !ok && len(c.m) >= c.size {
		c.evict(now)
	}
	c.m[key] = e
}

// evict makes room: expired entries go, then arbitrary ones (a tenth).
func (c *cache) evict(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.expires) {
			delete(c.m, k)
		}
	}
	drop := max(c.size/10, 1)
	for k := range c.m {
		if len(c.m) < c.size || drop == 0 {
			return
		}
		delete(c.m, k)
		drop--
	}
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
