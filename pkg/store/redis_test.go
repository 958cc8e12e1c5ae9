package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/store/storetest"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// rawClient connects to url for inspecting what the engine wrote.
func rawClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	o.ContextTimeoutEnabled = true // RedisOptions.OpTimeout needs it
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisConformance(t *testing.T) {
	url := testenv.RedisURL(t)
	var n atomic.Int64
	storetest.RunAll(t, func(t *testing.T) (store.Store, func(time.Duration)) {
		// One server for the suite; a fresh prefix per test keeps them apart.
		s, err := store.Open(testenv.Context(t, 10*time.Second), fmt.Sprintf("%s?prefix=t%d", url, n.Add(1)))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s, time.Sleep
	})
}

func TestRedisKeyLayout(t *testing.T) {
	url := testenv.RedisURL(t)
	ctx := testenv.Context(t, 10*time.Second)
	raw := rawClient(t, url)
	s := store.NewRedis(raw, store.RedisOptions{Prefix: "lay"})
	if ok, err := s.Once(ctx, "term|c0ffee|ptx-1", time.Minute); err != nil || !ok {
		t.Fatalf("Once = %v, %v", ok, err)
	}
	if _, _, err := s.SaveRecord(ctx, "c0ffee", "ptx|1", []byte("branches"), 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	onceKey, recKey := store.OnceKey("lay", "term|c0ffee|ptx-1"), store.RecordKey("lay", "c0ffee", "ptx|1")
	if recKey != "lay:rec:{c0ffee}:ptx|1" {
		t.Errorf("RecordKey = %q", recKey)
	}
	if h := raw.HGetAll(ctx, recKey).Val(); len(h) != 2 || h["v"] != "1" || h["d"] != "branches" {
		t.Errorf("%s: hash %q, want v=1 d=branches", recKey, h)
	}

	keys, err := raw.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Errorf("keys = %q, want %q and %q", keys, onceKey, recKey)
	}
	for _, k := range keys {
		open := strings.IndexByte(k, '{')
		if open < 0 || !strings.Contains(k[open:], "}") {
			t.Errorf("%s: no hash tag", k)
		}
		if pttl := raw.PTTL(ctx, k).Val(); pttl <= 0 || pttl > time.Minute {
			t.Errorf("%s: PTTL %v, want (0, 1m]", k, pttl)
		}
		if k != onceKey && k != recKey {
			t.Errorf("unexpected key %q", k)
		}
	}
	if open, closing := strings.IndexByte(onceKey, '{'), strings.IndexByte(onceKey, '}'); !strings.HasPrefix(onceKey, "lay:once:{") ||
		closing-open != 9 || !strings.HasSuffix(onceKey, "}:term|c0ffee|ptx-1") {
		t.Errorf("OnceKey = %q, want lay:once:{<8 hex>}:<key>", onceKey)
	}
}

func TestRedisScriptCacheFlushed(t *testing.T) {
	url := testenv.RedisURL(t)
	ctx := testenv.Context(t, 10*time.Second)
	raw := rawClient(t, url)
	s := store.NewRedis(raw, store.RedisOptions{})
	if _, ok, err := s.SaveRecord(ctx, "c", "r0", nil, 0, time.Minute); err != nil || !ok {
		t.Fatalf("SaveRecord = %v, %v", ok, err)
	}
	if err := raw.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// EVALSHA fails with NOSCRIPT; the engine falls back to EVAL.
	if _, ok, err := s.SaveRecord(ctx, "c", "r0", nil, 1, time.Minute); err != nil || !ok {
		t.Fatalf("SaveRecord after SCRIPT FLUSH = %v, %v", ok, err)
	}
}

func TestRedisBadPrefix(t *testing.T) {
	raw := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer raw.Close()
	s := store.NewRedis(raw, store.RedisOptions{Prefix: "a{b}"})
	if err := s.Ping(context.Background()); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Ping with prefix a{b}: %v, want ErrInvalid", err)
	}
}

type opResult struct {
	err  error
	took time.Duration
}

// allOps runs every operation of s and returns each one's error and time.
func allOps(ctx context.Context, s store.Store) map[string]opResult {
	ops := map[string]func() error{
		"Ping":         func() error { return s.Ping(ctx) },
		"Once":         func() error { _, err := s.Once(ctx, "o", time.Minute); return err },
		"LoadRecord":   func() error { _, err := s.LoadRecord(ctx, "c", "r"); return err },
		"SaveRecord":   func() error { _, _, err := s.SaveRecord(ctx, "c", "r", nil, 0, time.Minute); return err },
		"DeleteRecord": func() error { return s.DeleteRecord(ctx, "c", "r") },
		"Apply": func() error {
			_, err := s.Apply(ctx, []store.Op{{Kind: store.OpIndexSet, Index: "i", Member: "m"}})
			return err
		},
		"IndexRange": func() error { _, err := s.IndexRange(ctx, "i", 0); return err },
		"Heartbeat":  func() error { _, err := s.Heartbeat(ctx, "g", "id", time.Minute); return err },
		"Leave":      func() error { return s.Leave(ctx, "g", "id") },
	}
	res := map[string]opResult{}
	for name, op := range ops {
		start := time.Now()
		err := op()
		res[name] = opResult{err, time.Since(start)}
	}
	return res
}

func TestRedisUnavailableClosedPort(t *testing.T) {
	c := redis.NewClient(&redis.Options{
		Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond,
		ContextTimeoutEnabled: true, MaxRetries: -1,
	})
	const opTimeout = 300 * time.Millisecond
	s := store.NewRedis(c, store.RedisOptions{OpTimeout: opTimeout, CloseClient: true})
	defer s.Close()
	for op, res := range allOps(context.Background(), s) {
		if !errors.Is(res.err, store.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", op, res.err)
		}
		if res.took > opTimeout+300*time.Millisecond {
			t.Errorf("%s: took %v, want at most about the %v op timeout", op, res.took, opTimeout)
		}
	}
	// With go-redis's default retries the deadline still holds.
	c2 := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	s2 := store.NewRedis(c2, store.RedisOptions{OpTimeout: 300 * time.Millisecond, CloseClient: true})
	defer s2.Close()
	start := time.Now()
	_, _, err := s2.SaveRecord(context.Background(), "c", "r", []byte("v"), 0, time.Minute)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("with retries: err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("with retries: took %v, want about the 300ms op timeout", d)
	}
}

// TestRedisUnavailableSilentServer points the engine at a server that
// accepts connections and never answers: the op timeout must end each call.
func TestRedisUnavailableSilentServer(t *testing.T) {
	addr := testenv.TCPServer(t, func(net.Conn) {}) // held open, never answered
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, Protocol: 2})
	const opTimeout = 200 * time.Millisecond
	s := store.NewRedis(c, store.RedisOptions{OpTimeout: opTimeout, CloseClient: true})
	defer s.Close()
	for _, op := range []struct {
		name string
		call func(context.Context) error
	}{
		{"Ping", func(ctx context.Context) error { return s.Ping(ctx) }},
		{"Once", func(ctx context.Context) error { _, err := s.Once(ctx, "o", time.Minute); return err }},
		{"LoadRecord", func(ctx context.Context) error { _, err := s.LoadRecord(ctx, "c", "r"); return err }},
		{"Apply", func(ctx context.Context) error {
			_, err := s.Apply(ctx, []store.Op{{Kind: store.OpIndexSet, Index: "i", Member: "m"}})
			return err
		}},
		{"SaveRecord", func(ctx context.Context) error {
			_, _, err := s.SaveRecord(ctx, "c", "r", []byte("v"), 0, time.Minute)
			return err
		}},
	} {
		start := time.Now()
		err := op.call(context.Background())
		d := time.Since(start)
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: err = %v, want ErrUnavailable and DeadlineExceeded", op.name, err)
		}
		if d > opTimeout+500*time.Millisecond {
			t.Errorf("%s: took %v, want about %v", op.name, d, opTimeout)
		}
	}
}

// TestRedisRecovers checks that the engine answers again once the server is
// back, without being rebuilt.
func TestRedisRecovers(t *testing.T) {
	url := testenv.RedisURL(t)
	ctx := testenv.Context(t, 20*time.Second)
	raw := rawClient(t, url)
	s := store.NewRedis(raw, store.RedisOptions{OpTimeout: 500 * time.Millisecond})
	if _, _, err := s.SaveRecord(ctx, "c", "r", []byte("v"), 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	// CLIENT PAUSE, sent on another connection, stands for a server that
	// stops answering for a while.
	if err := rawClient(t, url).Do(ctx, "CLIENT", "PAUSE", "1500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadRecord(ctx, "c", "r"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("LoadRecord while paused: %v, want ErrUnavailable", err)
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, err := s.LoadRecord(ctx, "c", "r")
		return err == nil
	}, "store did not recover after the pause")
}

func TestOpenRedis(t *testing.T) {
	url := testenv.RedisURL(t)
	ctx := testenv.Context(t, 10*time.Second)
	s, err := store.Open(ctx, url+"?prefix=open&op_timeout=2s")
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	if _, ok, err := s.SaveRecord(ctx, "c", "k", []byte("v"), 0, time.Minute); err != nil || !ok {
		t.Fatalf("SaveRecord = %v, %v", ok, err)
	}
	if n := rawClient(t, url).Exists(ctx, "open:rec:{c}:k").Val(); n != 1 {
		t.Errorf("key open:rec:{c}:k missing (prefix param ignored?)")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Open's store owns its client: after Close it is unavailable.
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping after Close: %v, want ErrUnavailable", err)
	}
}

func TestOpenMemory(t *testing.T) {
	for _, url := range []string{"", "memory://", "  memory://  "} {
		s, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("Open(%q).Ping: %v", url, err)
		}
		_ = s.Close()
	}
}

func TestOpenErrorsHidePassword(t *testing.T) {
	cases := []struct {
		name string
		url  string
		want error
	}{
		{"unreachable", "redis://user:s3cret@127.0.0.1:1/0?dial_timeout=100ms", store.ErrUnavailable},
		{"unreachable cluster", "redis://user:s3cret@127.0.0.1:1,127.0.0.1:2?dial_timeout=100ms", store.ErrUnavailable},
		{"bad port", "redis://user:s3cret@127.0.0.1:port/0", store.ErrInvalid},
		{"bad db", "redis://user:s3cret@127.0.0.1:6379/x", store.ErrInvalid},
		{"unknown param", "redis://user:s3cret@127.0.0.1:6379/0?bogus=1", store.ErrInvalid},
		{"bad scheme", "http://user:s3cret@127.0.0.1:6379/0", store.ErrInvalid},
		{"no scheme", "user:s3cret@127.0.0.1:6379", store.ErrInvalid},
		{"sentinel password param", "redis://127.0.0.1:1/0?master_name=m&password=s3cret&bogus=1", store.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, 10*time.Second)
			s, err := store.Open(ctx, tc.url)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%s) succeeded", store.RedactURL(tc.url))
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://user:pw@h:1/0", "redis://user:xxxxx@h:1/0"},
		{"redis://:pw@h:1", "redis://:xxxxx@h:1"},
		{"redis://user@h:1", "redis://user@h:1"},
		{"rediss://u:p%40ss@h1:1,h2:2/0?dial_timeout=1s", "rediss://u:xxxxx@h1:1,h2:2/0?dial_timeout=1s"},
		{"redis://s1:26379?master_name=m&password=pw&sentinel_password=pw2", "redis://s1:26379?master_name=m&password=xxxxx&sentinel_password=xxxxx"},
		{"unix://u:pw@/run/redis.sock?db=1", "unix://u:xxxxx@/run/redis.sock?db=1"},
		{"u:pw@h:1", "u:xxxxx@h:1"},
		{"memory://", "memory://"},
		{"", ""},
	}
	for _, tc := range cases {
		if got := store.RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func BenchmarkRedisState(b *testing.B) {
	url := testenv.RedisURL(b)
	s, err := store.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchState(b, s)
}
