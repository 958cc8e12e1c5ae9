package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
)

// RunBatch runs the store.BatchStore and store.IndexStore suite against
// the engine made by newStore (see [NewStore]).
func RunBatch(t *testing.T, newStore NewStore) {
	t.Helper()
	runCases(t, newStore, []storeCase{
		{"AllKinds", testApplyAllKinds},
		{"OrderWithinBatch", testApplyOrder},
		{"Conflicts", testApplyConflicts},
		{"InvalidOpsPerOp", testApplyInvalid},
		{"TTL", testApplyTTL},
		{"PutRecord", testApplyPut},
		{"Empty", testApplyEmpty},
		{"ManyCalls", testApplyMany},
		{"BinaryAndOddKeys", testApplyBinary},
		{"NoAliasing", testApplyNoAliasing},
		{"CanceledContext", testApplyCanceled},
		{"IndexOrderAndMaxScore", testIndexRange},
		{"IndexMissingIsEmpty", testIndexMissing},
		{"IndexOddMembers", testIndexOdd},
		{"IndexesAreIsolated", testIndexIsolation},
		{"IndexInvalidArguments", testIndexInvalid},
		{"IndexCanceledContext", testIndexCanceled},
	})
}

// Op constructors, for readable tables.

func opSave(callKey, key, value string, version int64, ttl time.Duration) store.Op {
	return store.Op{Kind: store.OpSaveRecord, CallKey: callKey, Key: key, Value: []byte(value), Version: version, TTL: ttl}
}

func opDelete(callKey, key string) store.Op {
	return store.Op{Kind: store.OpDeleteRecord, CallKey: callKey, Key: key}
}

func opSet(index, member string, score int64) store.Op {
	return store.Op{Kind: store.OpIndexSet, Index: index, Member: member, Score: score}
}

func opRemove(index, member string) store.Op {
	return store.Op{Kind: store.OpIndexRemove, Index: index, Member: member}
}

// apply runs Apply, fails on a whole-batch error and checks there is one
// result per op.
func apply(t *testing.T, s store.BatchStore, ops ...store.Op) []store.OpResult {
	t.Helper()
	res, err := s.Apply(ctx(t), ops)
	if err != nil {
		t.Fatalf("Apply(%d ops): %v", len(ops), err)
	}
	if len(res) != len(ops) {
		t.Fatalf("Apply(%d ops) returned %d results", len(ops), len(res))
	}
	return res
}

// wantResults compares results with want, ignoring errors (which must be
// nil).
func wantResults(t *testing.T, got, want []store.OpResult) {
	t.Helper()
	for i := range want {
		if got[i].Err != nil || got[i].OK != want[i].OK || got[i].Version != want[i].Version {
			t.Errorf("op %d: result %+v, want %+v", i, got[i], want[i])
		}
	}
}

func indexRange(t *testing.T, s store.IndexStore, index string, maxScore int64) []store.IndexEntry {
	t.Helper()
	es, err := s.IndexRange(ctx(t), index, maxScore)
	if err != nil {
		t.Fatalf("IndexRange(%q, %d): %v", index, maxScore, err)
	}
	return es
}

func wantIndex(t *testing.T, s store.IndexStore, index string, maxScore int64, want []store.IndexEntry) {
	t.Helper()
	got := indexRange(t, s, index, maxScore)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("IndexRange(%q, %d) =\n %s\nwant\n %s", index, maxScore, entries(got), entries(want))
	}
}

// entries formats index entries with their members quoted.
func entries(es []store.IndexEntry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%q:%d ", e.Member, e.Score)
	}
	return b.String()
}

func testApplyAllKinds(t *testing.T, s store.Store, _ func(time.Duration)) {
	const ck, idx = "3fc0ffee30", "tm.deadlines.3f"
	save(t, s, ck, "old", "o1", 0, long)
	apply(t, s, opSet(idx, "gone", 1))
	res := apply(t, s,
		opSave(ck, "a", "a1", 0, long),
		opSave(ck, "b", "b1", 0, long),
		opSave(ck, "old", "o2", 1, long),
		opDelete(ck, "never"),
		opSet(idx, ck+"|a", 2000),
		opSet(idx, ck+"|b", 1000),
		opRemove(idx, "gone"),
		opRemove(idx, "never-set"),
	)
	wantResults(t, res, []store.OpResult{
		{Version: 1, OK: true}, {Version: 1, OK: true}, {Version: 2, OK: true},
		{OK: true}, {OK: true}, {OK: true}, {OK: true}, {OK: true},
	})
	for _, r := range []struct {
		key, value string
		version    int64
	}{{"a", "a1", 1}, {"b", "b1", 1}, {"old", "o2", 2}} {
		if got := load(t, s, ck, r.key); string(got.Value) != r.value || got.Version != r.version {
			t.Errorf("record %s = %q v%d, want %q v%d", r.key, got.Value, got.Version, r.value, r.version)
		}
	}
	wantIndex(t, s, idx, math.MaxInt64, []store.IndexEntry{{Member: ck + "|b", Score: 1000}, {Member: ck + "|a", Score: 2000}})
	res = apply(t, s, opDelete(ck, "a"), opRemove(idx, ck+"|a"))
	wantResults(t, res, []store.OpResult{{OK: true}, {OK: true}})
	wantNoRecord(t, s, ck, "a")
	load(t, s, ck, "b")
	wantIndex(t, s, idx, math.MaxInt64, []store.IndexEntry{{Member: ck + "|b", Score: 1000}})
}

// testApplyOrder: ops on one record or member run in the batch's order.
func testApplyOrder(t *testing.T, s store.Store, _ func(time.Duration)) {
	const ck, idx = "c0ffee31", "order"
	res := apply(t, s,
		opSave(ck, "k", "v1", 0, long),
		opSave(ck, "k", "v2", 1, long),
		opDelete(ck, "k"),
		opSave(ck, "k", "again", 0, long),
		opSave(ck, "gone", "x", 0, long),
		opDelete(ck, "gone"),
		opSet(idx, "m", 10),
		opSet(idx, "m", 5), // moves it
		opSet(idx, "n", 7),
		opRemove(idx, "n"),
		opSet(idx, "n", 8),
	)
	wantResults(t, res, []store.OpResult{
		{Version: 1, OK: true}, {Version: 2, OK: true}, {OK: true}, {Version: 1, OK: true},
		{Version: 1, OK: true}, {OK: true},
		{OK: true}, {OK: true}, {OK: true}, {OK: true}, {OK: true},
	})
	if r := load(t, s, ck, "k"); string(r.Value) != "again" || r.Version != 1 {
		t.Errorf("k = %q v%d, want again v1", r.Value, r.Version)
	}
	wantNoRecord(t, s, ck, "gone")
	wantIndex(t, s, idx, math.MaxInt64, []store.IndexEntry{{Member: "m", Score: 5}, {Member: "n", Score: 8}})
}

// testApplyConflicts: a conflicting save reports the current version and
// changes nothing, its TTL included; the other ops apply.
func testApplyConflicts(t *testing.T, s store.Store, _ func(time.Duration)) {
	const ck = "c0ffee32"
	save(t, s, ck, "k", "v1", 0, long)
	save(t, s, ck, "k", "v2", 1, long)
	res := apply(t, s,
		opSave(ck, "k", "create", 0, short),
		opSave(ck, "k", "stale", 1, short),
		opSave(ck, "k", "future", 5, short),
		opSave(ck, "absent", "x", 3, long),
		opSave(ck, "other", "o1", 0, long),
		opSave(ck, "k", "v3", 2, long),
		opSave(ck, "k", "stale again", 2, long),
	)
	wantResults(t, res, []store.OpResult{
		{Version: 2}, {Version: 2}, {Version: 2}, {Version: 0},
		{Version: 1, OK: true}, {Version: 3, OK: true}, {Version: 3},
	})
	if r := load(t, s, ck, "k"); string(r.Value) != "v3" || r.Version != 3 {
		t.Errorf("k = %q v%d, want v3 v3", r.Value, r.Version)
	}
	wantNoRecord(t, s, ck, "absent")
}

// testApplyInvalid: an op with a bad argument gets ErrInvalid and is not
// applied; the other ops of the batch are.
func testApplyInvalid(t *testing.T, s store.Store, _ func(time.Duration)) {
	const ck, idx = "c0ffee33", "inv"
	cases := []struct {
		name string
		op   store.Op
	}{
		{"kind 0", store.Op{CallKey: ck, Key: "k0"}},
		{"unknown kind", store.Op{Kind: 99, CallKey: ck, Key: "k0"}},
		{"save empty callkey", opSave("", "k0", "x", 0, long)},
		{"save brace callkey", opSave("a{b", "k0", "x", 0, long)},
		{"save closing brace callkey", opSave("a}b", "k0", "x", 0, long)},
		{"save empty key", opSave(ck, "", "x", 0, long)},
		{"save ttl 0", opSave(ck, "k0", "x", 0, 0)},
		{"save ttl negative", opSave(ck, "k0", "x", 0, -time.Second)},
		{"save version negative", opSave(ck, "k0", "x", -1, long)},
		{"delete empty callkey", opDelete("", "k")},
		{"delete brace callkey", opDelete("{c}", "k")},
		{"delete empty key", opDelete(ck, "")},
		{"set empty index", opSet("", "m0", 1)},
		{"set brace index", opSet("tm.{3f}", "m0", 1)},
		{"set empty member", opSet(idx, "", 1)},
		{"set score above 2^53", opSet(idx, "m0", store.MaxIndexScore+1)},
		{"set score below -2^53", opSet(idx, "m0", -store.MaxIndexScore-1)},
		{"remove empty index", opRemove("", "m")},
		{"remove brace index", opRemove("a}", "m")},
		{"remove empty member", opRemove(idx, "")},
	}
	// A valid op between every two invalid ones.
	var ops []store.Op
	for i, tc := range cases {
		ops = append(ops, tc.op, opSave(ck, fmt.Sprintf("ok-%d", i), "v", 0, long))
	}
	ops = append(ops, opSet(idx, "m", store.MaxIndexScore), opSet(idx, "n", -store.MaxIndexScore), opDelete(ck, "k"), opRemove(idx, "x"))
	res := apply(t, s, ops...)
	for i, tc := range cases {
		if r := res[2*i]; !errors.Is(r.Err, store.ErrInvalid) || r.OK {
			t.Errorf("%s: result %+v, want ErrInvalid", tc.name, r)
		}
		if r := res[2*i+1]; r.Err != nil || !r.OK || r.Version != 1 {
			t.Errorf("valid op after %s: result %+v, want applied", tc.name, r)
		}
		load(t, s, ck, fmt.Sprintf("ok-%d", i))
	}
	for i, r := range res[2*len(cases):] {
		if r.Err != nil || !r.OK {
			t.Errorf("trailing valid op %d: %+v", i, r)
		}
	}
	wantNoRecord(t, s, ck, "k0")
	wantIndex(t, s, idx, math.MaxInt64, []store.IndexEntry{{Member: "n", Score: -store.MaxIndexScore}, {Member: "m", Score: store.MaxIndexScore}})

	// Only invalid ops: no error for the batch, ErrInvalid for each.
	res, err := s.Apply(ctx(t), []store.Op{cases[0].op, cases[2].op})
	if err != nil || len(res) != 2 || !errors.Is(res[0].Err, store.ErrInvalid) || !errors.Is(res[1].Err, store.ErrInvalid) {
		t.Errorf("Apply(only invalid ops) = %+v, %v; want ErrInvalid per op and no batch error", res, err)
	}
}

// testApplyTTL: OpSaveRecord sets the TTL as SaveRecord does.
func testApplyTTL(t *testing.T, s store.Store, advance func(time.Duration)) {
	const ck = "c0ffee34"
	apply(t, s, opSave(ck, "a", "a1", 0, short), opSave(ck, "b", "b1", 0, long), opSave(ck, "c", "c1", 0, short))
	// A save replaces the remaining life: b shortens, c lengthens; a
	// conflicting save changes nothing, its ttl included.
	res := apply(t, s, opSave(ck, "b", "b2", 1, short), opSave(ck, "c", "c2", 1, long), opSave(ck, "a", "a?", 7, long))
	wantResults(t, res, []store.OpResult{{Version: 2, OK: true}, {Version: 2, OK: true}, {Version: 1}})
	advance(short / 4)
	load(t, s, ck, "a")
	load(t, s, ck, "b")
	advance(2 * short)
	wantNoRecord(t, s, ck, "a")
	wantNoRecord(t, s, ck, "b")
	if r := load(t, s, ck, "c"); string(r.Value) != "c2" || r.Version != 2 {
		t.Errorf("c = %q v%d, want c2 v2", r.Value, r.Version)
	}
	// An expired record is absent: version 0 creates it anew.
	res = apply(t, s, opSave(ck, "a", "a-new", 0, long), opSave(ck, "b", "b?", 2, long))
	wantResults(t, res, []store.OpResult{{Version: 1, OK: true}, {Version: 0}})
}

// testApplyPut: OpPutRecord writes whatever the version (new or existing,
// version 1 after), sets the TTL, and a save can compare-and-set on it.
func testApplyPut(t *testing.T, s store.Store, advance func(time.Duration)) {
	const ck = "c0ffee3a"
	put := func(key, value string, ttl time.Duration) store.Op {
		return store.Op{Kind: store.OpPutRecord, CallKey: ck, Key: key, Value: []byte(value), TTL: ttl}
	}
	save(t, s, ck, "old", "o1", 0, long)
	save(t, s, ck, "old", "o2", 1, long)
	res := apply(t, s, put("new", "n1", short), put("old", "o3", long))
	for i, r := range res {
		if r.Err != nil || !r.OK {
			t.Errorf("put %d: %+v, want OK", i, r)
		}
	}
	if r := load(t, s, ck, "old"); string(r.Value) != "o3" || r.Version != 1 {
		t.Errorf("old = %q v%d, want o3 v1", r.Value, r.Version)
	}
	if r := load(t, s, ck, "new"); string(r.Value) != "n1" || r.Version != 1 {
		t.Errorf("new = %q v%d, want n1 v1", r.Value, r.Version)
	}
	wantResults(t, apply(t, s, opSave(ck, "old", "o4", 1, long)), []store.OpResult{{Version: 2, OK: true}})
	advance(2 * short)
	wantNoRecord(t, s, ck, "new")
	if res := apply(t, s, put("", "x", long), put("k", "x", 0)); !errors.Is(res[0].Err, store.ErrInvalid) || !errors.Is(res[1].Err, store.ErrInvalid) {
		t.Errorf("put with no key / no ttl: %+v, want ErrInvalid each", res)
	}
}

func testApplyEmpty(t *testing.T, s store.Store, _ func(time.Duration)) {
	for _, ops := range [][]store.Op{nil, {}} {
		if res, err := s.Apply(ctx(t), ops); err != nil || len(res) != 0 {
			t.Errorf("Apply(%#v) = %+v, %v; want no results, no error", ops, res, err)
		}
	}
}

// testApplyMany: one batch over many calls (many Redis Cluster slots) and
// indexes.
func testApplyMany(t *testing.T, s store.Store, _ func(time.Duration)) {
	const n = 300
	var ops []store.Op
	want := map[string][]store.IndexEntry{} // partition index -> entries
	for i := range n {
		ck := fmt.Sprintf("%016x", uint64(i+1)*0x9e3779b97f4a7c15)
		idx := "tm.deadlines." + ck[:2]
		ops = append(ops, opSave(ck, "ptx|z9hG4bK-1", fmt.Sprint(i), 0, long), opSet(idx, ck+"|ptx", int64(i)))
		want[idx] = append(want[idx], store.IndexEntry{Member: ck + "|ptx", Score: int64(i)})
	}
	res := apply(t, s, ops...)
	for i, r := range res {
		if r.Err != nil || !r.OK {
			t.Fatalf("op %d (%s): %+v", i, ops[i].Kind, r)
		}
	}
	for i := 0; i < len(ops); i += 2 {
		if r := load(t, s, ops[i].CallKey, ops[i].Key); string(r.Value) != fmt.Sprint(i/2) {
			t.Errorf("record of call %s = %q, want %d", ops[i].CallKey, r.Value, i/2)
		}
	}
	for idx, es := range want {
		wantIndex(t, s, idx, math.MaxInt64, es)
	}
}

func testApplyBinary(t *testing.T, s store.Store, _ func(time.Duration)) {
	raw := allBytes()
	callKeys := []string{"c0ffee35", "call.key*with>odd chars:and|bars"}
	var ops []store.Op
	for _, ck := range callKeys {
		for _, k := range oddIDs {
			ops = append(ops, opSave(ck, k, string(raw), 0, long))
		}
	}
	for _, r := range apply(t, s, ops...) {
		if r.Err != nil || !r.OK {
			t.Fatalf("save: %+v", r)
		}
	}
	var dels []store.Op
	for _, ck := range callKeys {
		for _, k := range oddIDs {
			if r := load(t, s, ck, k); !bytes.Equal(r.Value, raw) || r.Version != 1 {
				t.Errorf("%q/%q round trip: v%d\n got %x\nwant %x", ck, k, r.Version, r.Value, raw)
			}
			dels = append(dels, opDelete(ck, k))
		}
	}
	apply(t, s, dels...)
	for _, ck := range callKeys {
		for _, k := range oddIDs {
			wantNoRecord(t, s, ck, k)
		}
	}
}

func testApplyNoAliasing(t *testing.T, s store.Store, _ func(time.Duration)) {
	op := opSave("c0ffee36", "k", "branches", 0, long)
	apply(t, s, op)
	op.Value[0] = 'X'
	r := load(t, s, "c0ffee36", "k")
	r.Value[1] = 'X'
	if r := load(t, s, "c0ffee36", "k"); string(r.Value) != "branches" {
		t.Errorf("stored value changed through the caller's slices: %q", r.Value)
	}
}

// testApplyCanceled: a canceled context fails the whole batch; every
// valid op's result carries the error, and nothing is applied.
func testApplyCanceled(t *testing.T, s store.Store, _ func(time.Duration)) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	ops := []store.Op{opSave("c", "k", "v", 0, long), opSave("", "k", "v", 0, long), opSet("idx", "m", 1), opDelete("c", "k")}
	res, err := s.Apply(c, ops)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a canceled context: err = %v, want context.Canceled", err)
	}
	if len(res) != len(ops) {
		t.Fatalf("Apply with a canceled context: %d results for %d ops", len(res), len(ops))
	}
	for i, r := range res {
		want := context.Canceled
		if i == 1 {
			want = store.ErrInvalid
		}
		if !errors.Is(r.Err, want) || r.OK {
			t.Errorf("op %d: result %+v, want %v", i, r, want)
		}
	}
	wantNoRecord(t, s, "c", "k")
	wantIndex(t, s, "idx", math.MaxInt64, nil)
}

func testIndexRange(t *testing.T, s store.Store, _ func(time.Duration)) {
	const idx = "tm.deadlines.3f"
	all := []store.IndexEntry{
		{Member: "min", Score: -store.MaxIndexScore},
		{Member: "neg", Score: -5},
		{Member: "zero", Score: 0},
		{Member: "a", Score: 1735787045000},
		{Member: "b", Score: 1735787045000}, // equal scores: by member bytes
		{Member: "b\x00", Score: 1735787045000},
		{Member: "c", Score: 1735787045001},
		{Member: "max", Score: store.MaxIndexScore},
	}
	var ops []store.Op
	for _, i := range []int{6, 3, 0, 7, 5, 1, 4, 2} { // any order
		ops = append(ops, opSet(idx, all[i].Member, all[i].Score))
	}
	apply(t, s, ops...)
	cases := []struct {
		name     string
		maxScore int64
		want     []store.IndexEntry
	}{
		{"all", math.MaxInt64, all},
		{"up to the max score", store.MaxIndexScore, all},
		{"below the max", store.MaxIndexScore - 1, all[:7]},
		{"inclusive", 1735787045000, all[:6]},
		{"one below", 1735787044999, all[:3]},
		{"zero", 0, all[:3]},
		{"negative", -1, all[:2]},
		{"the min score", -store.MaxIndexScore, all[:1]},
		{"below every score", -store.MaxIndexScore - 1, nil},
		{"MinInt64", math.MinInt64, nil},
	}
	for _, tc := range cases {
		wantIndex(t, s, idx, tc.maxScore, tc.want)
	}
}

func testIndexMissing(t *testing.T, s store.Store, _ func(time.Duration)) {
	wantIndex(t, s, "never-written", math.MaxInt64, nil)
	// Removing the last member leaves an empty index, not an error.
	apply(t, s, opSet("one", "m", 1))
	apply(t, s, opRemove("one", "m"), opRemove("never-written", "m"))
	wantIndex(t, s, "one", math.MaxInt64, nil)
}

func testIndexOdd(t *testing.T, s store.Store, _ func(time.Duration)) {
	indexes := []string{"tm.deadlines.3f", "with space:and|bars*", "ünïcödé", "nul\x00byte\xff"}
	for _, idx := range indexes {
		var ops []store.Op
		var want []store.IndexEntry
		for i, m := range oddIDs {
			ops = append(ops, opSet(idx, m, int64(i)))
			want = append(want, store.IndexEntry{Member: m, Score: int64(i)})
		}
		apply(t, s, ops...)
		wantIndex(t, s, idx, math.MaxInt64, want)
		var rm []store.Op
		for _, m := range oddIDs {
			rm = append(rm, opRemove(idx, m))
		}
		apply(t, s, rm...)
		wantIndex(t, s, idx, math.MaxInt64, nil)
	}
}

func testIndexIsolation(t *testing.T, s store.Store, _ func(time.Duration)) {
	apply(t, s, opSet("tm.deadlines.00", "same", 1), opSet("tm.deadlines.01", "same", 2), opSet("tm.deadlines.0", "other", 3))
	save(t, s, "tm.deadlines.00", "same", "record", 0, long) // a record with the same names
	apply(t, s, opRemove("tm.deadlines.01", "same"))
	wantIndex(t, s, "tm.deadlines.00", math.MaxInt64, []store.IndexEntry{{Member: "same", Score: 1}})
	wantIndex(t, s, "tm.deadlines.01", math.MaxInt64, nil)
	wantIndex(t, s, "tm.deadlines.0", math.MaxInt64, []store.IndexEntry{{Member: "other", Score: 3}})
	load(t, s, "tm.deadlines.00", "same")
}

func testIndexInvalid(t *testing.T, s store.Store, _ func(time.Duration)) {
	for _, idx := range []string{"", "a{b", "a}b", "{tm}"} {
		if es, err := s.IndexRange(ctx(t), idx, math.MaxInt64); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("IndexRange(%q) = %v, %v; want ErrInvalid", idx, es, err)
		}
	}
}

func testIndexCanceled(t *testing.T, s store.Store, _ func(time.Duration)) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.IndexRange(c, "idx", math.MaxInt64); !errors.Is(err, context.Canceled) {
		t.Errorf("IndexRange with a canceled context: err = %v, want context.Canceled", err)
	}
}
