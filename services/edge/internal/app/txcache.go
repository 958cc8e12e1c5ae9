package app

import (
	"hash/maphash"
	"sync"
	"time"
)

// txCache is the edge's soft state of server transactions: for each request
// it forwarded, the last response it sent for it. It answers retransmissions
// that reach this edge (the common case: a UA retransmits to the address it
// sent to) without a round trip to Redis or tm, absorbs the ACK of a non-2xx
// final and stops Timer G. It is a cache, not the authority: the proxy
// transaction, with its final response, is tm's record in Redis, so a
// retransmission that reaches another edge, or this one after a restart,
// is forwarded to tm, which answers it.
//
// An INVITE entry with a non-2xx final lives as RFC 3261 §17.2 keeps the
// server transaction: 64*T1 (Timer H), T4 after the ACK (Timer I). An
// answered INVITE lives T4 (not RFC 6026's Timer L, 64*T1), and a
// non-INVITE entry T4 after its final, renewed by each retransmission it
// absorbs (Kamailio's wait timer for both, not Timer J's 64*T1): the UA's
// retransmissions come at most T2 (4 s) apart, so one that keeps losing
// the final keeps getting it here, and the rest of Timers J and L is kept
// by the record that answered (the registrar's recent replies, tm's record
// in Redis). Held 64*T1 here, the finals of 7,500 REGISTER/s were ~1 kB
// each for 37 s in `sipbus up`'s heap, whose garbage collector then ran
// for a second at a time and queued REGISTERs past the overload target;
// the answered INVITEs of 2,000 calls/s were 64,000 entries.
// While no final is known an entry lives at most maxPending. Expiry runs
// on a wheel of one-second buckets, so its cost follows what expires, not
// the table's size. The table is sharded to keep
// workers off each other's locks, and bounded: past Max entries a new
// transaction is not remembered (its retransmissions go to tm).
type txCache struct {
	shards [cacheShards]cacheShard
	seed   maphash.Seed
	max    int // per shard
	now    func() time.Time

	wmu   sync.Mutex
	wheel [wheelSlots][]wheelItem
	tick  int64 // unix second of the last expiry pass
}

const (
	cacheShards = 64
	wheelSlots  = 128 // seconds; longer lives are re-filed when their slot comes round
)

type cacheShard struct {
	mu sync.Mutex
	m  map[string]*txEntry
}

type wheelItem struct {
	key   string
	shard uint8
}

// txEntry is one server transaction as this edge knows it.
type txEntry struct {
	invite    bool
	gate      *gate     // the admission that let this new dialog in, until a service's first response for it counts as served there
	status    int       // status of last (0: none sent yet)
	last      []byte    // the last response sent upstream
	dest      Dest      // where it went
	published time.Time // when the request was last handed to the bus
	expires   time.Time
	acked     bool        // the ACK of a non-2xx final arrived
	timerG    *time.Timer // retransmits a non-2xx INVITE final over UDP
}

func newTxCache(max int, now func() time.Time) *txCache {
	c := &txCache{seed: maphash.MakeSeed(), max: max/cacheShards + 1, now: now}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*txEntry)
	}
	c.tick = now().Unix()
	return c
}

func (c *txCache) shard(key string) uint8 {
	return uint8(maphash.String(c.seed, key) % cacheShards)
}

// with runs fn on the entry of key under its shard's lock; e is nil when
// there is none. fn returns the entry to keep (nil deletes) and whether its
// expiry changed (it is then filed on the wheel).
func (c *txCache) with(key string, fn func(e *txEntry) (keep *txEntry, refile bool)) {
	i := c.shard(key)
	s := &c.shards[i]
	s.mu.Lock()
	e := s.m[key]
	keep, refile := fn(e)
	switch {
	case keep == nil && e != nil:
		delete(s.m, key)
	case keep != nil && e == nil:
		if len(s.m) >= c.max {
			keep, refile = nil, false // full: forget it, tm answers its retransmissions
		} else {
			s.m[key] = keep
		}
	case keep != nil && keep != e:
		s.m[key] = keep
	}
	var exp time.Time
	if keep != nil {
		exp = keep.expires
	}
	s.mu.Unlock()
	if refile && !exp.IsZero() {
		c.file(key, i, exp)
	}
}

func (c *txCache) file(key string, shard uint8, exp time.Time) {
	c.wmu.Lock()
	sec := exp.Unix()
	if sec <= c.tick {
		sec = c.tick + 1
	}
	slot := sec % wheelSlots
	c.wheel[slot] = append(c.wheel[slot], wheelItem{key: key, shard: shard})
	c.wmu.Unlock()
}

// expire removes the entries whose time has come, one wheel slot per
// elapsed second. It returns how many went.
func (c *txCache) expire() int {
	now := c.now()
	target := now.Unix()
	n := 0
	for {
		c.wmu.Lock()
		if c.tick >= target {
			c.wmu.Unlock()
			return n
		}
		c.tick++
		slot := c.tick % wheelSlots
		items := c.wheel[slot]
		c.wheel[slot] = nil
		c.wmu.Unlock()
		for _, it := range items {
			s := &c.shards[it.shard]
			s.mu.Lock()
			e := s.m[it.key]
			var later time.Time
			switch {
			case e == nil:
			case !e.expires.After(now):
				if e.timerG != nil {
					e.timerG.Stop()
				}
				delete(s.m, it.key)
				n++
			default:
				later = e.expires // lives longer than one turn of the wheel, or was extended
			}
			s.mu.Unlock()
			if !later.IsZero() {
				c.file(it.key, it.shard, later)
			}
		}
	}
}

// len counts the entries (tests, stats).
func (c *txCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.Lock()
		n += len(c.shards[i].m)
		c.shards[i].mu.Unlock()
	}
	return n
}
