package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/testenv/redishook"
)

// callKey returns the 16-hex call key of call i, spread over partitions.
func callKey(i int) string { return fmt.Sprintf("%016x", uint64(i+1)*0x9e3779b97f4a7c15) }

// TestRedisApplyOneRoundTrip: a batch over 100 calls (100 hash slots) and
// their partitions' indexes is one pipeline, and so is a heartbeat.
// testenv has no Redis Cluster fixture, so this runs on one node.
func TestRedisApplyOneRoundTrip(t *testing.T) {
	url := testenv.RedisURL(t)
	ctx := testenv.Context(t, 10*time.Second)
	raw := rawClient(t, url)
	var rt redishook.Counter
	raw.AddHook(&rt)
	s := store.NewRedis(raw, store.RedisOptions{Prefix: "rt"})
	// Warm up: the server learns the script (EVALSHA of an unknown script
	// costs a second round trip, once) and go-redis opens a connection of
	// its pipeline pool (HELLO and CLIENT SETINFO go through the hooks).
	warm := []store.Op{{Kind: store.OpSaveRecord, CallKey: "warm", Key: "k", TTL: time.Minute}}
	if res, err := s.Apply(ctx, warm); err != nil || !res[0].OK {
		t.Fatal(res, err)
	}

	var ops []store.Op
	for i := range 100 {
		ck := callKey(i)
		ops = append(ops,
			store.Op{Kind: store.OpSaveRecord, CallKey: ck, Key: "ptx|z9hG4bK-1", Value: []byte("branches"), TTL: time.Minute},
			store.Op{Kind: store.OpIndexSet, Index: "tm.deadlines." + ck[:2], Member: ck + "|ptx|z9hG4bK-1", Score: 1735787045000 + int64(i)},
		)
	}
	ops = append(ops,
		store.Op{Kind: store.OpDeleteRecord, CallKey: callKey(0), Key: "absent"},
		store.Op{Kind: store.OpIndexRemove, Index: "tm.deadlines.00", Member: "absent"},
		store.Op{Kind: store.OpSaveRecord, CallKey: "", Key: "invalid, never sent", TTL: time.Minute},
	)
	rt.Reset()
	res, err := s.Apply(ctx, ops)
	if err != nil {
		t.Fatal(err)
	}
	if p, c, n := rt.Pipelines.Load(), rt.Commands.Load(), rt.Pipelined.Load(); p != 1 || c != 0 || n != int64(len(ops)-1) {
		t.Errorf("Apply of %d ops = %d pipelines of %d commands and %d single commands; want 1 pipeline of %d commands",
			len(ops), p, n, c, len(ops)-1)
	}
	for i, r := range res[:len(ops)-1] {
		if r.Err != nil || !r.OK {
			t.Errorf("op %d: %+v", i, r)
		}
	}
	if !errors.Is(res[len(ops)-1].Err, store.ErrInvalid) {
		t.Errorf("invalid op: %+v, want ErrInvalid", res[len(ops)-1])
	}

	rt.Reset()
	if _, err := s.Heartbeat(ctx, "tm", "tm-1", time.Second); err != nil {
		t.Fatal(err)
	}
	if p, c := rt.Pipelines.Load(), rt.Commands.Load(); p != 1 || c != 0 {
		t.Errorf("Heartbeat = %d pipelines and %d single commands; want 1 pipeline", p, c)
	}
}

func TestRedisBatchKeyLayout(t *testing.T) {
	url := testenv.RedisURL(t)
	ctx := testenv.Context(t, 10*time.Second)
	raw := rawClient(t, url)
	s := store.NewRedis(raw, store.RedisOptions{Prefix: "lay"})
	const idx = "tm.deadlines.3f"
	res, err := s.Apply(ctx, []store.Op{
		{Kind: store.OpSaveRecord, CallKey: "3fc0ffee00000001", Key: "ptx|1", Value: []byte("branches"), TTL: time.Minute},
		{Kind: store.OpIndexSet, Index: idx, Member: "3fc0ffee00000001|ptx|1", Score: 1735787045123},
		{Kind: store.OpIndexSet, Index: idx, Member: "3fc0ffee00000002|ptx|1", Score: store.MaxIndexScore},
	})
	if err != nil {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
	live, err := s.Heartbeat(ctx, "tm", "tm-1", time.Minute)
	if err != nil || !slices.Equal(live, []string{"tm-1"}) {
		t.Fatalf("Heartbeat = %q, %v", live, err)
	}
	idxKey, memKey, recKey := store.IndexKey("lay", idx), store.MembersKey("lay", "tm"), store.RecordKey("lay", "3fc0ffee00000001", "ptx|1")
	if idxKey != "lay:idx:{tm.deadlines.3f}" || memKey != "lay:members:{tm}" {
		t.Errorf("IndexKey = %q, MembersKey = %q", idxKey, memKey)
	}
	if got := store.IndexKey("", "x") + " " + store.MembersKey("", "g"); got != "sipbus:idx:{x} sipbus:members:{g}" {
		t.Errorf("default prefix: %q", got)
	}
	keys := raw.Keys(ctx, "*").Val()
	slices.Sort(keys)
	if want := []string{idxKey, memKey, recKey}; !slices.Equal(keys, want) {
		t.Fatalf("keys = %q, want %q", keys, want)
	}
	for _, k := range []string{idxKey, memKey} {
		if typ := raw.Type(ctx, k).Val(); typ != "zset" {
			t.Errorf("%s: type %s, want zset", k, typ)
		}
		if pttl := raw.PTTL(ctx, k).Val(); pttl != -1 {
			t.Errorf("%s: PTTL %v, want none (a container of live entries)", k, pttl)
		}
	}
	if pttl := raw.PTTL(ctx, recKey).Val(); pttl <= 0 || pttl > time.Minute {
		t.Errorf("%s: PTTL %v, want (0, 1m]", recKey, pttl)
	}
	zs := raw.ZRangeWithScores(ctx, idxKey, 0, -1).Val()
	if len(zs) != 2 || zs[0].Member != "3fc0ffee00000001|ptx|1" || zs[0].Score != 1735787045123 || zs[1].Score != float64(store.MaxIndexScore) {
		t.Errorf("%s = %v", idxKey, zs)
	}
	// A lease end is the client's unix ms + ttl.
	before := time.Now().UnixMilli()
	if _, err := s.Heartbeat(ctx, "tm", "tm-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixMilli()
	if end := int64(raw.ZScore(ctx, memKey, "tm-1").Val()); end < before+60000 || end > after+60000 {
		t.Errorf("lease end %d, want now+60000 in [%d, %d]", end, before+60000, after+60000)
	}
	// An emptied ZSET disappears.
	if _, err := s.Apply(ctx, []store.Op{
		{Kind: store.OpIndexRemove, Index: idx, Member: "3fc0ffee00000001|ptx|1"},
		{Kind: store.OpIndexRemove, Index: idx, Member: "3fc0ffee00000002|ptx|1"},
		{Kind: store.OpDeleteRecord, CallKey: "3fc0ffee00000001", Key: "ptx|1"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Leave(ctx, "tm", "tm-1"); err != nil {
		t.Fatal(err)
	}
	if left := raw.Keys(ctx, "*").Val(); len(left) != 0 {
		t.Errorf("keys left after removing every entry: %q", left)
	}
}

// TestRedisApplyScriptFlushed: after SCRIPT FLUSH the saves run again
// with EVAL, and the batch's order still holds for each record.
func TestRedisApplyScriptFlushed(t *testing.T) {
	url := testenv.RedisURL(t)
	ctx := testenv.Context(t, 10*time.Second)
	raw := rawClient(t, url)
	s := store.NewRedis(raw, store.RedisOptions{})
	if _, _, err := s.SaveRecord(ctx, "c", "conflict", []byte("v1"), 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := raw.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	ops := []store.Op{
		{Kind: store.OpSaveRecord, CallKey: "c", Key: "a", Value: []byte("a"), TTL: time.Minute},
		{Kind: store.OpSaveRecord, CallKey: "c", Key: "a", Value: []byte("a+"), Version: 1, TTL: time.Minute},
		{Kind: store.OpSaveRecord, CallKey: "c", Key: "gone", Value: []byte("x"), TTL: time.Minute},
		{Kind: store.OpDeleteRecord, CallKey: "c", Key: "gone"},
		{Kind: store.OpSaveRecord, CallKey: "c", Key: "conflict", Value: []byte("x"), Version: 7, TTL: time.Minute},
		{Kind: store.OpIndexSet, Index: "i", Member: "m", Score: 1},
	}
	res, err := s.Apply(ctx, ops)
	if err != nil {
		t.Fatalf("Apply after SCRIPT FLUSH: %v", err)
	}
	want := []store.OpResult{{Version: 1, OK: true}, {Version: 2, OK: true}, {Version: 1, OK: true}, {OK: true}, {Version: 1}, {OK: true}}
	if !slices.Equal(res, want) {
		t.Errorf("results %+v, want %+v", res, want)
	}
	if r, err := s.LoadRecord(ctx, "c", "a"); err != nil || string(r.Value) != "a+" || r.Version != 2 {
		t.Errorf("a = %+v, %v; want a+ v2", r, err)
	}
	if r, err := s.LoadRecord(ctx, "c", "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("gone = %+v, %v; want deleted after its save", r, err)
	}
}

// TestRedisApplyServerErrorPerOp: an op the server refuses (WRONGTYPE)
// fails alone; the batch goes on.
func TestRedisApplyServerErrorPerOp(t *testing.T) {
	url := testenv.RedisURL(t)
	ctx := testenv.Context(t, 10*time.Second)
	raw := rawClient(t, url)
	s := store.NewRedis(raw, store.RedisOptions{Prefix: "w"})
	raw.Set(ctx, store.IndexKey("w", "bad"), "not a zset", 0)
	raw.Set(ctx, store.RecordKey("w", "c", "bad"), "not a hash", 0)
	res, err := s.Apply(ctx, []store.Op{
		{Kind: store.OpIndexSet, Index: "bad", Member: "m", Score: 1},
		{Kind: store.OpSaveRecord, CallKey: "c", Key: "ok", TTL: time.Minute},
		{Kind: store.OpSaveRecord, CallKey: "c", Key: "bad", TTL: time.Minute},
		{Kind: store.OpIndexSet, Index: "good", Member: "m", Score: 1},
	})
	if err != nil {
		t.Fatalf("Apply: %v, want per-op errors only", err)
	}
	for _, i := range []int{0, 2} {
		if r := res[i]; r.Err == nil || r.OK || !strings.Contains(r.Err.Error(), "WRONGTYPE") ||
			errors.Is(r.Err, store.ErrUnavailable) || errors.Is(r.Err, store.ErrInvalid) {
			t.Errorf("op %d: %+v, want the WRONGTYPE reply", i, r)
		}
	}
	for _, i := range []int{1, 3} {
		if r := res[i]; r.Err != nil || !r.OK {
			t.Errorf("op %d: %+v, want applied", i, r)
		}
	}
	if es, err := s.IndexRange(ctx, "good", math.MaxInt64); err != nil || len(es) != 1 {
		t.Errorf("IndexRange(good) = %v, %v", es, err)
	}
}

// TestRedisApplyUnavailable: with no server the whole batch fails and
// every result but the invalid ones carries the error.
func TestRedisApplyUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nobody listens there now
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, ContextTimeoutEnabled: true, MaxRetries: -1})
	s := store.NewRedis(c, store.RedisOptions{OpTimeout: 500 * time.Millisecond, CloseClient: true})
	defer s.Close()
	ops := []store.Op{
		{Kind: store.OpSaveRecord, CallKey: "c", Key: "k", TTL: time.Minute},
		{Kind: store.OpIndexSet, Index: "i", Member: "m"},
		{Kind: store.OpDeleteRecord, CallKey: "c"}, // invalid: empty key
	}
	res, err := s.Apply(context.Background(), ops)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Apply: %v, want ErrUnavailable", err)
	}
	if len(res) != 3 || res[0].Err != err || res[1].Err != err || !errors.Is(res[2].Err, store.ErrInvalid) {
		t.Errorf("results %+v, want the batch error on the valid ops and ErrInvalid on the last", res)
	}
}

func BenchmarkRedisApply(b *testing.B) {
	url := testenv.RedisURL(b)
	s, err := store.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchApply(b, s)
}

func BenchmarkMemoryApply(b *testing.B) {
	s := store.NewMemory(store.MemoryOptions{})
	defer s.Close()
	benchApply(b, s)
}

// benchApply measures one Apply of 16 SaveRecords, on 16 calls, each the
// next version of its record (500-byte values), plus 16 index updates in
// "with-index".
func benchApply(b *testing.B, s store.BatchStore) {
	ctx := context.Background()
	value := make([]byte, 500)
	runs := 0
	for _, withIndex := range []bool{false, true} {
		name := "16-saves"
		if withIndex {
			name = "16-saves+16-index"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			runs++
			ops := make([]store.Op, 0, 32)
			for i := range 16 {
				ck := callKey(i) + "-" + strconv.Itoa(runs)
				ops = append(ops, store.Op{Kind: store.OpSaveRecord, CallKey: ck, Key: "ptx|z9hG4bK-1", Value: value, TTL: time.Minute})
			}
			if withIndex {
				for i := range 16 {
					ck := ops[i].CallKey
					ops = append(ops, store.Op{Kind: store.OpIndexSet, Index: "tm.deadlines." + ck[:2], Member: ck})
				}
			}
			n := int64(0)
			for b.Loop() {
				n++
				for i := range 16 {
					ops[i].Version = n - 1
				}
				for i := 16; i < len(ops); i++ {
					ops[i].Score = n
				}
				res, err := s.Apply(ctx, ops)
				if err != nil || !res[0].OK || !res[15].OK {
					b.Fatalf("Apply = %+v, %v", res[:1], err)
				}
			}
		})
	}
}
