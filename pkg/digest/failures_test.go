package digest_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// failureEngine makes a FailureCounter for one test and a function that
// makes d pass for it (a fake clock for memory, a sleep for Redis).
type failureEngine struct {
	name string
	new  func(t *testing.T) (digest.FailureCounter, func(time.Duration))
}

// failureEngines returns the memory engine and the Redis engine on a real
// redis-server (one server for all subtests; a fresh prefix per subtest).
func failureEngines(t *testing.T) []failureEngine {
	url := testenv.RedisURL(t)
	var n atomic.Int64
	return []failureEngine{
		{"memory", func(t *testing.T) (digest.FailureCounter, func(time.Duration)) {
			clk := newClock()
			return digest.NewMemoryFailures(clk.Now), clk.Advance
		}},
		{"redis", func(t *testing.T) (digest.FailureCounter, func(time.Duration)) {
			return digest.NewRedisFailures(redisClient(t, url), fmt.Sprintf("f%d", n.Add(1))), time.Sleep
		}},
	}
}

var (
	srcA = netip.MustParseAddr("192.0.2.1")
	srcB = netip.MustParseAddr("192.0.2.2")
)

// TestFailureCounter is the conformance suite of both FailureCounter
// engines.
func TestFailureCounter(t *testing.T) {
	for _, e := range failureEngines(t) {
		t.Run(e.name, func(t *testing.T) {
			t.Run("UserThenSource", func(t *testing.T) {
				c, _ := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				l := digest.Limits{Window: time.Minute, PerUser: 3, PerSource: 5, Block: time.Minute}
				steps := []struct {
					user  string
					src   netip.Addr
					scope digest.Scope
					start bool
					n     int
				}{
					{"alice", srcA, digest.NotBlocked, false, 0},
					{"alice", srcA, digest.NotBlocked, false, 0},
					{"alice", srcA, digest.UserBlocked, true, 3},  // the third failure blocks alice from A
					{"alice", srcA, digest.UserBlocked, false, 4}, // still blocked, no news
					{"alice", srcB, digest.NotBlocked, false, 0},  // another source counts apart
					{"bob", srcA, digest.SourceBlocked, true, 5},  // the fifth from A blocks A
					{"bob", srcA, digest.SourceBlocked, false, 6},
				}
				for i, s := range steps {
					b, err := c.Fail(ctx, s.user, s.src, l)
					if err != nil || b.Scope != s.scope || b.Started != s.start || b.Failures != s.n {
						t.Fatalf("step %d: Fail(%s, %s) = %+v, %v; want scope %v started %t failures %d", i, s.user, s.src, b, err, s.scope, s.start, s.n)
					}
				}
				for _, q := range []struct {
					user  string
					src   netip.Addr
					scope digest.Scope
				}{
					{"alice", srcA, digest.SourceBlocked}, {"carol", srcA, digest.SourceBlocked},
					{"alice", srcB, digest.NotBlocked}, {"carol", srcB, digest.NotBlocked},
				} {
					if b, err := c.Blocked(ctx, q.user, q.src, l); err != nil || b.Scope != q.scope || b.Started {
						t.Errorf("Blocked(%s, %s) = %+v, %v; want %v", q.user, q.src, b, err, q.scope)
					}
				}
				// Without the per-source limit, only alice is blocked from A.
				lu := l
				lu.PerSource = 0
				if b, _ := c.Blocked(ctx, "alice", srcA, lu); b.Scope != digest.UserBlocked || b.Failures != 4 {
					t.Errorf("Blocked(alice, A) per user only = %+v, want user, 4 failures", b)
				}
				if b, _ := c.Blocked(ctx, "bob", srcA, lu); b.Scope != digest.NotBlocked {
					t.Errorf("Blocked(bob, A) per user only = %+v, want none (2 failures)", b)
				}
			})
			t.Run("Window", func(t *testing.T) {
				c, advance := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				l := digest.Limits{Window: 300 * time.Millisecond, PerUser: 3, Block: time.Minute}
				for range 2 {
					mustFail(t, c, ctx, "alice", srcA, l, digest.NotBlocked)
				}
				advance(500 * time.Millisecond) // the window ends: counting starts over
				for range 2 {
					mustFail(t, c, ctx, "alice", srcA, l, digest.NotBlocked)
				}
				mustFail(t, c, ctx, "alice", srcA, l, digest.UserBlocked)
			})
			t.Run("BlockEnds", func(t *testing.T) {
				c, advance := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				l := digest.Limits{Window: time.Minute, PerUser: 2, PerSource: 0, Block: 400 * time.Millisecond}
				mustFail(t, c, ctx, "alice", srcA, l, digest.NotBlocked)
				mustFail(t, c, ctx, "alice", srcA, l, digest.UserBlocked)
				mustFail(t, c, ctx, "alice", srcA, l, digest.UserBlocked) // counted, block not extended
				if b, err := c.Blocked(ctx, "alice", srcA, l); b.Scope != digest.UserBlocked || err != nil {
					t.Fatalf("Blocked during the block = %+v, %v", b, err)
				}
				advance(600 * time.Millisecond)
				if b, err := c.Blocked(ctx, "alice", srcA, l); b.Scope != digest.NotBlocked || err != nil {
					t.Fatalf("Blocked after the block = %+v, %v; want none", b, err)
				}
				mustFail(t, c, ctx, "alice", srcA, l, digest.NotBlocked) // a fresh count
			})
			t.Run("SourceKeys", func(t *testing.T) {
				c, _ := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				l := digest.Limits{Window: time.Minute, PerSource: 2, Block: time.Minute}
				mustFail(t, c, ctx, "u1", netip.MustParseAddr("2001:db8:1:2::1"), l, digest.NotBlocked)
				// Another address of the same /64 is the same source.
				mustFail(t, c, ctx, "u2", netip.MustParseAddr("2001:db8:1:2:aaaa::9"), l, digest.SourceBlocked)
				if b, _ := c.Blocked(ctx, "u3", netip.MustParseAddr("2001:db8:1:3::1"), l); b.Scope != digest.NotBlocked {
					t.Errorf("another /64 is blocked: %+v", b)
				}
				// An IPv4-mapped IPv6 address is its IPv4 address.
				mustFail(t, c, ctx, "u1", netip.MustParseAddr("::ffff:198.51.100.7"), l, digest.NotBlocked)
				mustFail(t, c, ctx, "u1", netip.MustParseAddr("198.51.100.7"), l, digest.SourceBlocked)
			})
			t.Run("Concurrent", func(t *testing.T) {
				c, _ := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				l := digest.Limits{Window: time.Minute, PerUser: 8, Block: time.Minute}
				var started atomic.Int64
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() {
						b, err := c.Fail(ctx, "alice", srcA, l)
						if err != nil {
							t.Error(err)
						}
						if b.Started {
							started.Add(1)
						}
					})
				}
				wg.Wait()
				if started.Load() != 1 {
					t.Fatalf("%d of 16 concurrent failures started the block, want exactly 1", started.Load())
				}
				if b, _ := c.Blocked(ctx, "alice", srcA, l); b.Failures != 16 {
					t.Errorf("Blocked after 16 failures = %+v, want 16 failures", b)
				}
			})
			t.Run("Off", func(t *testing.T) {
				c, _ := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				for range 3 {
					mustFail(t, c, ctx, "alice", srcA, digest.Limits{}, digest.NotBlocked)
				}
				if b, err := c.Blocked(ctx, "alice", srcA, digest.Limits{}); b.Scope != digest.NotBlocked || err != nil {
					t.Errorf("Blocked without limits = %+v, %v", b, err)
				}
			})
			t.Run("Invalid", func(t *testing.T) {
				c, _ := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				ok := digest.Limits{Window: time.Minute, PerUser: 1, Block: time.Minute}
				for _, tc := range []struct {
					name string
					src  netip.Addr
					l    digest.Limits
				}{
					{"no source", netip.Addr{}, ok},
					{"negative limit", srcA, digest.Limits{Window: time.Minute, PerUser: -1, Block: time.Minute}},
					{"no window", srcA, digest.Limits{PerUser: 1, Block: time.Minute}},
					{"no block", srcA, digest.Limits{Window: time.Minute, PerSource: 1}},
				} {
					if _, err := c.Fail(ctx, "u", tc.src, tc.l); !errors.Is(err, digest.ErrInvalid) {
						t.Errorf("%s: Fail = %v, want ErrInvalid", tc.name, err)
					}
					if _, err := c.Blocked(ctx, "u", tc.src, tc.l); !errors.Is(err, digest.ErrInvalid) {
						t.Errorf("%s: Blocked = %v, want ErrInvalid", tc.name, err)
					}
				}
			})
			t.Run("CanceledContext", func(t *testing.T) {
				c, _ := e.new(t)
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				l := digest.Limits{Window: time.Minute, PerUser: 1, Block: time.Minute}
				if _, err := c.Fail(ctx, "u", srcA, l); !errors.Is(err, context.Canceled) || errors.Is(err, digest.ErrUnavailable) {
					t.Errorf("Fail with a canceled context = %v, want context.Canceled, not ErrUnavailable", err)
				}
			})
		})
	}
}

func mustFail(t *testing.T, c digest.FailureCounter, ctx context.Context, user string, src netip.Addr, l digest.Limits, want digest.Scope) {
	t.Helper()
	b, err := c.Fail(ctx, user, src, l)
	if err != nil || b.Scope != want {
		t.Fatalf("Fail(%s, %s) = %+v, %v; want %v", user, src, b, err, want)
	}
}

// TestRedisFailuresLayout pins the key names and checks the TTLs: the
// window while counting, the block once a limit is reached.
func TestRedisFailuresLayout(t *testing.T) {
	raw := redisClient(t, testenv.RedisURL(t))
	ctx := testenv.Context(t, 10*time.Second)
	c := digest.NewRedisFailures(raw, "lay")
	l := digest.Limits{Window: time.Minute, PerUser: 2, PerSource: 10, Block: time.Hour}
	if _, err := c.Fail(ctx, "alice@example.com", netip.MustParseAddr("2001:db8::7"), l); err != nil {
		t.Fatal(err)
	}
	const userKey, srcKey = "lay:authfail:{2001:db8::/64}:u:alice@example.com", "lay:authfail:{2001:db8::/64}"
	keys, err := raw.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !(keys[0] == userKey && keys[1] == srcKey || keys[1] == userKey && keys[0] == srcKey) {
		t.Fatalf("keys = %q, want %s and %s", keys, userKey, srcKey)
	}
	for _, k := range keys {
		if ttl, _ := raw.PTTL(ctx, k).Result(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("PTTL %s = %v, want (0, 1m] (the window)", k, ttl)
		}
	}
	if b, err := c.Fail(ctx, "alice@example.com", netip.MustParseAddr("2001:db8::8"), l); err != nil || b.Scope != digest.UserBlocked || !b.Started {
		t.Fatalf("second failure = %+v, %v; want a user block started", b, err)
	}
	if ttl, _ := raw.PTTL(ctx, userKey).Result(); ttl <= time.Minute || ttl > time.Hour {
		t.Errorf("PTTL of a blocked count = %v, want (1m, 1h] (the block)", ttl)
	}
	if v, _ := raw.Get(ctx, srcKey).Result(); v != "2" {
		t.Errorf("source count = %q, want 2", v)
	}
	if _, err := digest.NewRedisFailures(raw, "a{b}").Fail(ctx, "u", srcA, l); !errors.Is(err, digest.ErrInvalid) {
		t.Errorf("prefix with braces: %v, want ErrInvalid", err)
	}
}

// TestFailuresUnavailable: a counter whose Redis is gone says
// ErrUnavailable.
func TestFailuresUnavailable(t *testing.T) {
	c := digest.NewRedisFailures(deadRedis(t), "")
	l := digest.Limits{Window: time.Minute, PerUser: 1, Block: time.Minute}
	ctx := testenv.Context(t, 5*time.Second)
	if _, err := c.Fail(ctx, "u", srcA, l); !errors.Is(err, digest.ErrUnavailable) {
		t.Errorf("Fail = %v, want ErrUnavailable", err)
	}
	if _, err := c.Blocked(ctx, "u", srcA, l); !errors.Is(err, digest.ErrUnavailable) {
		t.Errorf("Blocked = %v, want ErrUnavailable", err)
	}
}

func TestSourceKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
	} {
		if got := digest.SourceKey(netip.MustParseAddr(tc.in)); got != tc.want {
			t.Errorf("SourceKey(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := digest.SourceKey(netip.Addr{}); got != "" {
		t.Errorf("SourceKey(invalid) = %q, want empty", got)
	}
}
