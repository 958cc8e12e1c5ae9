package app

import (
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

type floodRig struct {
	f      *Flood
	c      *Counters
	blocks []Block
}

func newFloodRig(opt FloodOptions) *floodRig {
	r := &floodRig{c: new(Counters)}
	r.f = NewFlood(opt, r.c, func(b Block) { r.blocks = append(r.blocks, b) })
	r.f.base = t0
	return r
}

// burst sends n requests from addr spread evenly over d starting at at, and
// returns how many were admitted.
func (r *floodRig) burst(addr string, n int, at time.Time, d time.Duration) int {
	a := netip.MustParseAddr(addr)
	ok := 0
	for i := range n {
		if r.f.Admit(UDP, a, at.Add(time.Duration(i)*d/time.Duration(n))) {
			ok++
		}
	}
	return ok
}

func TestFloodLimitsPerSource(t *testing.T) {
	type step struct {
		addr    string
		n       int
		at, dur time.Duration // since t0
		admit   int
	}
	cases := []struct {
		name   string
		opt    FloodOptions
		steps  []step
		blocks []string // sources of the blocks that started, in order
	}{
		{
			name:  "under the limit everything passes",
			opt:   FloodOptions{Limit: 100, Window: time.Second, Block: time.Minute},
			steps: []step{{"192.0.2.1", 100, 0, time.Second, 100}, {"192.0.2.1", 50, 2 * time.Second, time.Second, 50}},
		},
		{
			name:   "the request past the limit starts one block; the rest are dropped",
			opt:    FloodOptions{Limit: 100, Window: time.Second, Block: time.Minute},
			steps:  []step{{"192.0.2.1", 500, 0, 500 * time.Millisecond, 100}},
			blocks: []string{"192.0.2.1"},
		},
		{
			name: "other sources are not affected by a blocked one",
			opt:  FloodOptions{Limit: 100, Window: time.Second, Block: time.Minute},
			steps: []step{{"192.0.2.1", 500, 0, 500 * time.Millisecond, 100},
				{"192.0.2.2", 80, 0, 500 * time.Millisecond, 80}},
			blocks: []string{"192.0.2.1"},
		},
		{
			name: "a block ends after its cool-down when the flood stopped",
			opt:  FloodOptions{Limit: 100, Window: time.Second, Block: 10 * time.Second},
			steps: []step{{"192.0.2.1", 200, 0, 100 * time.Millisecond, 100},
				{"192.0.2.1", 10, 9 * time.Second, 100 * time.Millisecond, 0},
				{"192.0.2.1", 10, 11 * time.Second, 100 * time.Millisecond, 10}},
			blocks: []string{"192.0.2.1"},
		},
		{
			name: "a source still flooding when its cool-down ends is blocked again",
			opt:  FloodOptions{Limit: 100, Window: time.Second, Block: 5 * time.Second},
			steps: []step{{"192.0.2.1", 6000, 0, 6 * time.Second, 100},
				{"192.0.2.1", 1000, 6 * time.Second, time.Second, 0}},
			blocks: []string{"192.0.2.1", "192.0.2.1"},
		},
		{
			name: "sliding window: the previous window counts for what still overlaps",
			opt:  FloodOptions{Limit: 100, Window: time.Second, Block: time.Minute},
			// 90 in the first window (windows start at a source's first
			// request); half-way through the next they weigh 45, so 55
			// more pass and the 56th blocks.
			steps: []step{{"192.0.2.1", 90, 0, 10 * time.Millisecond, 90},
				{"192.0.2.1", 60, 1500 * time.Millisecond, time.Millisecond, 55}},
			blocks: []string{"192.0.2.1"},
		},
		{
			name:   "allowed prefixes are never limited",
			opt:    FloodOptions{Limit: 10, Window: time.Second, Block: time.Minute, Allow: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
			steps:  []step{{"198.51.100.7", 1000, 0, time.Second, 1000}, {"198.51.101.7", 20, 0, time.Second, 10}},
			blocks: []string{"198.51.101.7"},
		},
		{
			name: "IPv6 sources are counted per /64",
			opt:  FloodOptions{Limit: 100, Window: time.Second, Block: time.Minute},
			steps: []step{{"2001:db8:1:2::1", 60, 0, 100 * time.Millisecond, 60},
				{"2001:db8:1:2:ffff::9", 60, 100 * time.Millisecond, 100 * time.Millisecond, 40},
				{"2001:db8:1:3::1", 60, 200 * time.Millisecond, 100 * time.Millisecond, 60}},
			blocks: []string{"2001:db8:1:2::/64"},
		},
		{
			name:   "an IPv4-mapped IPv6 address is its IPv4 address",
			opt:    FloodOptions{Limit: 10, Window: time.Second, Block: time.Minute},
			steps:  []step{{"::ffff:192.0.2.1", 8, 0, 10 * time.Millisecond, 8}, {"192.0.2.1", 8, 100 * time.Millisecond, 10 * time.Millisecond, 2}},
			blocks: []string{"192.0.2.1"},
		},
		{
			name:  "limit 0: no flood control",
			opt:   FloodOptions{},
			steps: []step{{"192.0.2.1", 10000, 0, time.Second, 10000}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newFloodRig(tc.opt)
			for i, s := range tc.steps {
				if got := r.burst(s.addr, s.n, t0.Add(s.at), s.dur); got != s.admit {
					t.Errorf("step %d (%d from %s): %d admitted, want %d", i, s.n, s.addr, got, s.admit)
				}
			}
			var got []string
			for _, b := range r.blocks {
				got = append(got, b.Source)
			}
			if len(got) != len(tc.blocks) {
				t.Fatalf("blocks %v, want %v", got, tc.blocks)
			}
			for i := range got {
				if got[i] != tc.blocks[i] {
					t.Errorf("blocks %v, want %v", got, tc.blocks)
				}
			}
			if r.c.Blocks.Load() != uint64(len(tc.blocks)) {
				t.Errorf("blocks counter %d, want %d", r.c.Blocks.Load(), len(tc.blocks))
			}
		})
	}
}

func TestFloodBlockReport(t *testing.T) {
	r := newFloodRig(FloodOptions{Limit: 100, Window: 2 * time.Second, Block: time.Minute})
	r.burst("192.0.2.1", 300, t0, 300*time.Millisecond)
	if len(r.blocks) != 1 {
		t.Fatalf("%d blocks, want 1", len(r.blocks))
	}
	b := r.blocks[0]
	at := t0.Add(100 * time.Millisecond) // the 101st request
	if b.Transport != UDP || b.Count != 101 || b.Limit != 100 || b.Window != 2*time.Second ||
		!b.At.Equal(at) || !b.Until.Equal(at.Add(time.Minute)) {
		t.Errorf("block %+v", b)
	}
	if got := r.c.Flooded.Load(); got != 200 {
		t.Errorf("flooded %d, want 200 (every request from the 101st on)", got)
	}
	if !r.f.Blocked(netip.MustParseAddr("192.0.2.1"), at.Add(59*time.Second)) || r.f.Blocked(netip.MustParseAddr("192.0.2.1"), at.Add(61*time.Second)) {
		t.Error("Blocked does not follow the cool-down")
	}
}

// TestFloodMemoryBounded: a flood from spoofed addresses keeps the table at
// its cap, never evicts a blocked source, and a source flooding among them
// is still blocked.
func TestFloodMemoryBounded(t *testing.T) {
	const max = 640 // 10 per shard
	r := newFloodRig(FloodOptions{Limit: 50, Window: time.Second, Block: time.Minute, MaxSources: max})
	attacker := netip.MustParseAddr("203.0.113.9")
	now := t0
	if r.burst("203.0.113.9", 60, now, 10*time.Millisecond) != 50 {
		t.Fatal("the attacker was not blocked at the limit")
	}
	spoofed := netip.MustParseAddr("10.0.0.0")
	for i := range 200_000 {
		spoofed = spoofed.Next()
		now = t0.Add(time.Duration(i) * time.Microsecond)
		r.f.Admit(UDP, spoofed, now)
		if i%1000 == 0 && r.f.Admit(UDP, attacker, now) {
			t.Fatalf("the blocked attacker was admitted after %d spoofed sources", i)
		}
	}
	if n := r.f.Len(); n > max {
		t.Errorf("%d sources tracked, cap %d", n, max)
	}
	if !r.f.Blocked(attacker, now) {
		t.Error("the attacker's block was evicted by spoofed sources")
	}
	// A new flooding source among the spoofed ones is caught too.
	if got := r.burst("203.0.113.10", 100, now, 50*time.Millisecond); got != 50 {
		t.Errorf("a flood among spoofed sources: %d admitted, want 50", got)
	}
}

// TestFloodUntrackedWhenFullOfBlocks: when every entry of a shard is blocked,
// a new source passes untracked (and is counted) rather than unblocking one.
func TestFloodUntrackedWhenFullOfBlocks(t *testing.T) {
	r := newFloodRig(FloodOptions{Limit: 1, Window: time.Second, Block: time.Minute, MaxSources: floodShards})
	a := netip.MustParseAddr("10.0.0.0")
	for range 5000 { // one blocked source per shard, and more
		a = a.Next()
		r.f.Admit(UDP, a, t0)
		r.f.Admit(UDP, a, t0)
	}
	if r.f.Len() != floodShards {
		t.Fatalf("%d sources tracked, want %d (one per shard)", r.f.Len(), floodShards)
	}
	if r.c.FloodUntracked.Load() == 0 {
		t.Error("no request counted as untracked")
	}
}

func TestFloodExpire(t *testing.T) {
	r := newFloodRig(FloodOptions{Limit: 10, Window: time.Second, Block: 10 * time.Second})
	r.burst("192.0.2.1", 5, t0, 100*time.Millisecond)  // quiet
	r.burst("192.0.2.2", 20, t0, 100*time.Millisecond) // blocked until ~10s
	r.f.Expire(t0.Add(time.Second))
	if r.f.Len() != 2 {
		t.Fatalf("%d sources after 1s, want 2", r.f.Len())
	}
	r.f.Expire(t0.Add(3 * time.Second))
	if r.f.Len() != 1 || !r.f.Blocked(netip.MustParseAddr("192.0.2.2"), t0.Add(3*time.Second)) {
		t.Fatalf("after two idle windows: %d sources; want only the blocked one", r.f.Len())
	}
	r.f.Expire(t0.Add(11 * time.Second))
	if r.f.Len() != 0 {
		t.Fatalf("%d sources after the block ended, want 0", r.f.Len())
	}
}

func BenchmarkFloodAdmit(b *testing.B) {
	f := NewFlood(FloodOptions{Limit: 1 << 30, Window: time.Second, Block: time.Minute}, nil, nil)
	a := netip.MustParseAddr("192.0.2.1")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		f.Admit(UDP, a, now)
	}
}
