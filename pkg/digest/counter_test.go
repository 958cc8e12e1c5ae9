package digest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// counterEngine makes a NonceCounter for one test and a function that makes
// d pass for it (a fake clock for memory, a sleep for Redis).
type counterEngine struct {
	name string
	new  func(t *testing.T) (digest.NonceCounter, func(time.Duration))
}

// counterEngines returns the memory engine and the Redis engine on a real
// redis-server (one server for all tests; a fresh prefix per test).
func counterEngines(t *testing.T) []counterEngine {
	url := testenv.RedisURL(t)
	var n atomic.Int64
	return []counterEngine{
		{"memory", func(t *testing.T) (digest.NonceCounter, func(time.Duration)) {
			clk := newClock()
			return digest.NewMemoryCounter(clk.Now), clk.Advance
		}},
		{"redis", func(t *testing.T) (digest.NonceCounter, func(time.Duration)) {
			c := redisClient(t, url)
			return digest.NewRedisCounter(c, fmt.Sprintf("t%d", n.Add(1))), time.Sleep
		}},
	}
}

func redisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	o.ContextTimeoutEnabled = true
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestNonceCounter is the conformance suite of both NonceCounter engines.
func TestNonceCounter(t *testing.T) {
	for _, e := range counterEngines(t) {
		t.Run(e.name, func(t *testing.T) {
			t.Run("Sequence", func(t *testing.T) {
				c, _ := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				steps := []struct {
					nonce string
					nc    uint32
					want  bool
				}{
					{"n1", 1, true}, {"n1", 1, false}, {"n1", 2, true}, {"n1", 5, true},
					{"n1", 3, false}, {"n1", 5, false}, {"n2", 1, true}, {"n1", 6, true},
					{"n3", 0, true}, {"n3", 0, false}, {"n4", 0xffffffff, true}, {"n4", 0xffffffff, false},
				}
				for i, s := range steps {
					got, err := c.Advance(ctx, s.nonce, s.nc, time.Minute)
					if err != nil || got != s.want {
						t.Fatalf("step %d: Advance(%s, %d) = %t, %v; want %t", i, s.nonce, s.nc, got, err, s.want)
					}
				}
			})
			t.Run("Expiry", func(t *testing.T) {
				c, advance := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				const ttl = 200 * time.Millisecond
				if ok, err := c.Advance(ctx, "n", 7, ttl); !ok || err != nil {
					t.Fatalf("first Advance = %t, %v", ok, err)
				}
				if ok, err := c.Advance(ctx, "n", 7, ttl); ok || err != nil {
					t.Fatalf("repeat Advance = %t, %v; want false", ok, err)
				}
				advance(ttl + 100*time.Millisecond)
				if ok, err := c.Advance(ctx, "n", 7, ttl); !ok || err != nil {
					t.Fatalf("Advance after ttl = %t, %v; want true (forgotten)", ok, err)
				}
			})
			t.Run("Concurrent", func(t *testing.T) {
				c, _ := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				var wins atomic.Int64
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() {
						ok, err := c.Advance(ctx, "race", 1, time.Minute)
						if err != nil {
							t.Error(err)
						}
						if ok {
							wins.Add(1)
						}
					})
				}
				wg.Wait()
				if wins.Load() != 1 {
					t.Fatalf("%d of 16 concurrent Advance(nc=1) won, want exactly 1", wins.Load())
				}
			})
			t.Run("Invalid", func(t *testing.T) {
				c, _ := e.new(t)
				ctx := testenv.Context(t, 10*time.Second)
				for _, tc := range []struct {
					nonce string
					ttl   time.Duration
				}{{"", time.Minute}, {"n", 0}, {"n", -time.Second}} {
					if _, err := c.Advance(ctx, tc.nonce, 1, tc.ttl); !errors.Is(err, digest.ErrInvalid) {
						t.Errorf("Advance(%q, ttl %v) = %v, want ErrInvalid", tc.nonce, tc.ttl, err)
					}
				}
			})
			t.Run("CanceledContext", func(t *testing.T) {
				c, _ := e.new(t)
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				if _, err := c.Advance(ctx, "n", 1, time.Minute); !errors.Is(err, context.Canceled) || errors.Is(err, digest.ErrUnavailable) {
					t.Fatalf("Advance with a canceled context = %v, want context.Canceled, not ErrUnavailable", err)
				}
			})
		})
	}
}

// TestReplay: through Verify, for both engines: a repeated or lower nc is
// Replay, a higher one OK, and a forged request does not burn counts.
func TestReplay(t *testing.T) {
	for _, e := range counterEngines(t) {
		t.Run(e.name, func(t *testing.T) {
			counter, _ := e.new(t)
			a, _ := newAuth(t, func(o *digest.Options) { o.Counter = counter })
			ctx := testenv.Context(t, 10*time.Second)
			ch := challenge(t, a, digest.SHA256)
			c := newClient(testUser, testPass)
			verify := func(v string, ha1 string) digest.Result {
				t.Helper()
				res, err := a.Verify(ctx, testMethod, testURI, parse(t, v), ha1)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return res
			}
			first := c.authorize(ch, testMethod, testURI) // nc=1
			if got := verify(first, ha1SHA256); got != digest.OK {
				t.Fatalf("nc=1: %v, want ok", got)
			}
			if got := verify(first, ha1SHA256); got != digest.Replay {
				t.Fatalf("nc=1 replayed: %v, want replay", got)
			}
			// A forged request with nc=ffffffff (wrong password) is a
			// mismatch and must not advance the counter.
			forger := newClient(testUser, "guess")
			forger.nc[ch.Nonce] = 0xfffffffe
			if got := verify(forger.authorize(ch, testMethod, testURI), ha1SHA256); got != digest.Mismatch {
				t.Fatalf("forged nc=ffffffff: %v, want mismatch", got)
			}
			second := c.authorize(ch, testMethod, testURI) // nc=2
			c.nc[ch.Nonce] = 4
			fifth := c.authorize(ch, testMethod, testURI) // nc=5
			if got := verify(fifth, ha1SHA256); got != digest.OK {
				t.Fatalf("nc=5: %v, want ok", got)
			}
			if got := verify(second, ha1SHA256); got != digest.Replay {
				t.Fatalf("nc=2 after nc=5: %v, want replay", got)
			}
			if got := verify(c.authorize(ch, testMethod, testURI), ha1SHA256); got != digest.OK {
				t.Fatalf("nc=6: %v, want ok", got)
			}
			// Without qop there is no nc: the same answer is accepted again
			// until the nonce goes stale (documented risk).
			legacy := newClient(testUser, testPass)
			legacy.noQOP = true
			md5ch := challenge(t, a, digest.MD5)
			old := legacy.authorize(md5ch, testMethod, testURI)
			for i := range 2 {
				if got := verify(old, ha1MD5); got != digest.OK {
					t.Fatalf("RFC 2069 answer #%d: %v, want ok", i+1, got)
				}
			}
		})
	}
}

// TestCounterUnavailable: a counter whose Redis is gone makes Verify fail
// closed with ErrUnavailable.
func TestCounterUnavailable(t *testing.T) {
	a, _ := newAuth(t, func(o *digest.Options) { o.Counter = digest.NewRedisCounter(deadRedis(t), "") })
	cr := parse(t, newClient(testUser, testPass).authorize(challenge(t, a, digest.SHA256), testMethod, testURI))
	res, err := a.Verify(testenv.Context(t, 5*time.Second), testMethod, testURI, cr, ha1SHA256)
	if !errors.Is(err, digest.ErrUnavailable) || res != digest.Replay {
		t.Fatalf("Verify = %v, %v; want replay, ErrUnavailable", res, err)
	}
}

// deadRedis is a client of a loopback port nothing listens on.
func deadRedis(t *testing.T) *redis.Client {
	t.Helper()
	port := testenv.FreePort(t, "tcp")
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestRedisCounterLayout pins the key name and checks the TTL.
func TestRedisCounterLayout(t *testing.T) {
	url := testenv.RedisURL(t)
	raw := redisClient(t, url)
	ctx := testenv.Context(t, 10*time.Second)
	c := digest.NewRedisCounter(raw, "lay")
	if ok, err := c.Advance(ctx, "abc-_9", 42, time.Minute); !ok || err != nil {
		t.Fatalf("Advance = %t, %v", ok, err)
	}
	keys, err := raw.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	const want = "lay:nc:{abc-_9}"
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("keys = %q, want [%s]", keys, want)
	}
	if v, _ := raw.Get(ctx, want).Result(); v != "42" {
		t.Errorf("value = %q, want 42", v)
	}
	if ttl, _ := raw.PTTL(ctx, want).Result(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL = %v, want (0, 1m]", ttl)
	}
	// Default prefix; braces rejected.
	if ok, err := digest.NewRedisCounter(raw, "").Advance(ctx, "n", 1, time.Minute); !ok || err != nil {
		t.Fatalf("default prefix: %t, %v", ok, err)
	}
	if n, _ := raw.Exists(ctx, "sipbus:nc:{n}").Result(); n != 1 {
		t.Errorf("default prefix key sipbus:nc:{n} missing")
	}
	if _, err := digest.NewRedisCounter(raw, "a{b}").Advance(ctx, "n", 1, time.Minute); !errors.Is(err, digest.ErrInvalid) {
		t.Errorf("prefix with braces: %v, want ErrInvalid", err)
	}
	if _, err := c.Advance(ctx, "{n}", 1, time.Minute); !errors.Is(err, digest.ErrInvalid) {
		t.Errorf("nonce with braces: %v, want ErrInvalid", err)
	}
}

// TestVerifyCounterTTL: the nc record outlives the nonce's freshness.
func TestVerifyCounterTTL(t *testing.T) {
	rec := &recordingCounter{}
	a, clk := newAuth(t, func(o *digest.Options) { o.Counter = rec })
	ch := challenge(t, a, digest.SHA256)
	clk.Advance(time.Minute)
	cr := parse(t, newClient(testUser, testPass).authorize(ch, testMethod, testURI))
	if res, err := a.Verify(context.Background(), testMethod, testURI, cr, ha1SHA256); res != digest.OK || err != nil {
		t.Fatalf("Verify = %v, %v", res, err)
	}
	// Issued a minute ago: fresh for 4 more minutes, plus the skew.
	if want := digest.DefaultNonceTTL - time.Minute + digest.ClockSkew; rec.ttl != want || rec.nc != 1 || rec.nonce != ch.Nonce {
		t.Fatalf("Advance(%q, %d, %v), want (%q, 1, %v)", rec.nonce, rec.nc, rec.ttl, ch.Nonce, want)
	}
}

type recordingCounter struct {
	nonce string
	nc    uint32
	ttl   time.Duration
}

func (r *recordingCounter) Advance(_ context.Context, nonce string, nc uint32, ttl time.Duration) (bool, error) {
	r.nonce, r.nc, r.ttl = nonce, nc, ttl
	return true, nil
}
