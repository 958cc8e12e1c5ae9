package app

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Flood is the edge's flood control, the heir of Kamailio's pike: a per
// source rate limit in front of everything else the edge does (admission,
// parsing, the transaction cache), so that one source sending too much
// cannot take the edge's time from the others.
//
//   - A source is an IPv4 address, or the /64 prefix of an IPv6 address
//     (one subscriber's network: an attacker holds a /64 at least).
//   - Every datagram, TCP message and accepted connection from a source
//     counts, except SIP responses, which are never limited (they answer
//     what the platform sent). Keepalives and STUN count like requests.
//   - Rate: a sliding window, the current window's count plus the previous
//     one's weighted by how much of it still overlaps. Past Limit requests
//     per Window, the source is blocked for Block: its datagrams are dropped
//     unread, its TCP connections closed and new ones refused. Its traffic
//     is still counted while blocked, so a source that keeps flooding is
//     blocked again when the cool-down ends. Each block that starts is
//     reported once (onBlock: the sipbus.edge.blocked event).
//   - Allow lists prefixes that are never limited (trunks, a local SBC).
//   - Memory is bounded: at most MaxSources sources are tracked (about 100
//     bytes each), in shards with one lock each. Sources idle for two
//     windows and not blocked are forgotten (Expire, every second). When a
//     shard is full, a new source takes the place of the least active of a
//     few sampled ones that are not blocked (a flooding source is never the
//     least active, a blocked one is never evicted); when every sampled one
//     is blocked, the new source passes untracked and is counted
//     (flood_untracked): spoofing many addresses can neither exhaust the
//     edge's memory nor unblock a source that is blocked.
//
// The zero Limit (or a nil *Flood) admits everything.
type Flood struct {
	opt      FloodOptions
	c        *Counters
	onBlock  func(Block)
	base     time.Time // times are nanoseconds since base (monotonic)
	seed     maphash.Seed
	perShard int
	shards   [floodShards]floodShard
}

// FloodOptions configure flood control (see config.Config for defaults).
type FloodOptions struct {
	Limit      int           // requests per Window per source; <= 0: no flood control
	Window     time.Duration // the sliding window
	Block      time.Duration // how long a source stays blocked
	Allow      []netip.Prefix
	MaxSources int // sources tracked at most
}

// Block is a block that started: the data of a sipbus.edge.blocked event.
type Block struct {
	Source    string // "192.0.2.7", "2001:db8:1:2::/64"
	Transport string // of the request that crossed the limit
	Count     int    // requests in the window then
	Limit     int
	Window    time.Duration
	At, Until time.Time
}

const (
	floodShards = 64
	floodSample = 8 // entries looked at to find one to evict
)

type floodShard struct {
	mu sync.Mutex
	m  map[netip.Addr]floodEntry
}

// floodEntry is one source's count. Times are nanoseconds since Flood.base.
type floodEntry struct {
	start     int64 // start of the current window
	cur, prev uint32
	last      int64 // last request
	until     int64 // blocked until (0: never blocked)
}

// NewFlood returns flood control with opt; onBlock (may be nil) is called,
// outside any lock, once for each block that starts.
func NewFlood(opt FloodOptions, c *Counters, onBlock func(Block)) *Flood {
	if c == nil {
		c = new(Counters)
	}
	if opt.MaxSources <= 0 {
		opt.MaxSources = 100_000
	}
	if opt.Window <= 0 {
		opt.Window = 2 * time.Second
	}
	if opt.Block <= 0 {
		opt.Block = time.Minute
	}
	f := &Flood{opt: opt, c: c, onBlock: onBlock, base: time.Now(), seed: maphash.MakeSeed(),
		perShard: max(opt.MaxSources/floodShards, 1)}
	for i := range f.shards {
		f.shards[i].m = make(map[netip.Addr]floodEntry)
	}
	return f
}

// Admit counts one request (datagram, TCP message or connection) from
// addr at now and reports whether it may be handled: false while the
// source is blocked, and for the request that starts a block.
func (f *Flood) Admit(transport string, addr netip.Addr, now time.Time) bool {
	if f == nil || f.opt.Limit <= 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range f.opt.Allow {
		if p.Contains(addr) {
			return true
		}
	}
	key := sourceKey(addr)
	n := int64(now.Sub(f.base))
	w := int64(f.opt.Window)
	sh := &f.shards[maphash.Comparable(f.seed, key)%floodShards]
	sh.mu.Lock()
	e, ok := sh.m[key]
	if !ok {
		if len(sh.m) >= f.perShard && !sh.evict(n, w) {
			sh.mu.Unlock()
			f.c.FloodUntracked.Add(1)
			return true
		}
		e = floodEntry{start: n}
	}
	e.roll(n, w)
	if e.cur < ^uint32(0) {
		e.cur++
	}
	e.last = n
	if e.until > n {
		sh.m[key] = e
		sh.mu.Unlock()
		f.c.Flooded.Add(1)
		return false
	}
	count := e.estimate(n, w)
	if count <= f.opt.Limit {
		sh.m[key] = e
		sh.mu.Unlock()
		return true
	}
	e.until = n + int64(f.opt.Block)
	sh.m[key] = e
	sh.mu.Unlock()
	f.c.Flooded.Add(1)
	f.c.Blocks.Add(1)
	if f.onBlock != nil {
		f.onBlock(Block{Source: sourceName(key), Transport: transport, Count: count, Limit: f.opt.Limit,
			Window: f.opt.Window, At: now, Until: now.Add(f.opt.Block)})
	}
	return false
}

// Blocked reports whether addr is blocked at now, without counting.
func (f *Flood) Blocked(addr netip.Addr, now time.Time) bool {
	if f == nil || f.opt.Limit <= 0 {
		return false
	}
	key := sourceKey(addr.Unmap())
	sh := &f.shards[maphash.Comparable(f.seed, key)%floodShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.m[key]
	return ok && e.until > int64(now.Sub(f.base))
}

// Expire forgets the sources idle for two windows and not blocked; the
// edge's runner calls it every second.
func (f *Flood) Expire(now time.Time) {
	if f == nil || f.opt.Limit <= 0 {
		return
	}
	n := int64(now.Sub(f.base))
	idle := 2 * int64(f.opt.Window)
	for i := range f.shards {
		sh := &f.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.until <= n && n-e.last >= idle {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

// Len is the number of sources tracked now.
func (f *Flood) Len() int {
	if f == nil {
		return 0
	}
	n := 0
	for i := range f.shards {
		sh := &f.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// evict makes room in a full shard: of a few entries (Go's map iteration
// starts at a random place), the least active one that is not blocked goes.
// It reports false when all of those are blocked.
func (sh *floodShard) evict(n, w int64) bool {
	var victim netip.Addr
	least, seen := -1, 0
	for k, e := range sh.m {
		if seen++; seen > floodSample {
			break
		}
		if e.until > n {
			continue
		}
		e.roll(n, w)
		if c := e.estimate(n, w); least < 0 || c < least {
			victim, least = k, c
		}
	}
	if least < 0 {
		return false
	}
	delete(sh.m, victim)
	return true
}

// roll moves the window forward to the one holding n.
func (e *floodEntry) roll(n, w int64) {
	if n < e.start { // a clock without monotonic reading went back
		e.start, e.cur, e.prev = n, 0, 0
		return
	}
	k := (n - e.start) / w
	switch {
	case k == 0:
		return
	case k == 1:
		e.prev = e.cur
	default:
		e.prev = 0
	}
	e.cur = 0
	e.start += k * w
}

// estimate is the count over the sliding window ending at n: the current
// window's count plus the previous one's, weighted by the part of it the
// sliding window still covers.
func (e *floodEntry) estimate(n, w int64) int {
	overlap := float64(w-(n-e.start)) / float64(w)
	return int(float64(e.prev)*overlap+0.5) + int(e.cur)
}

// sourceKey is what a limit applies to: an IPv4 address, or the /64 of an
// IPv6 address.
func sourceKey(a netip.Addr) netip.Addr {
	if a.Is4() {
		return a
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return a
	}
	return p.Addr()
}

func sourceName(key netip.Addr) string {
	if key.Is4() {
		return key.String()
	}
	return netip.PrefixFrom(key, 64).String()
}
