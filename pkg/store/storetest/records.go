package storetest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
)

// RunOnce runs the store.OnceStore suite against the engine made by
// newStore (see [NewStore]).
func RunOnce(t *testing.T, newStore NewStore) {
	t.Helper()
	runCases(t, newStore, []storeCase{
		{"FirstSecondAfterTTL", testOnce},
		{"OddKeys", testOnceOddKeys},
		{"ConcurrentOneWinner", testOnceConcurrent},
		{"InvalidArguments", testOnceInvalid},
		{"CanceledContext", testOnceCanceled},
	})
}

// RunRecords runs the store.RecordStore suite against the engine made by
// newStore (see [NewStore]).
func RunRecords(t *testing.T, newStore NewStore) {
	t.Helper()
	runCases(t, newStore, []storeCase{
		{"CreateConflictUpdate", testRecordCAS},
		{"TTLExpiry", testRecordTTL},
		{"Delete", testRecordDelete},
		{"ConcurrentIncrements", testRecordConcurrent},
		{"BinaryAndOddKeys", testRecordBinary},
		{"NoAliasing", testRecordNoAliasing},
		{"KeysAreIsolated", testRecordIsolation},
		{"InvalidArguments", testRecordInvalid},
		{"CanceledContext", testRecordCanceled},
	})
}

func once(t *testing.T, s store.OnceStore, key string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.Once(ctx(t), key, ttl)
	if err != nil {
		t.Fatalf("Once(%q): %v", key, err)
	}
	return ok
}

func testOnce(t *testing.T, s store.Store, advance func(time.Duration)) {
	steps := []struct {
		name    string
		key     string
		advance time.Duration // before the call
		want    bool
	}{
		{"first", "term|c0ffee|ptx-1", 0, true},
		{"second", "term|c0ffee|ptx-1", 0, false},
		{"other key", "term|c0ffee|ptx-2", 0, true},
		{"within ttl", "term|c0ffee|ptx-1", short / 4, false},
		{"after ttl", "term|c0ffee|ptx-1", 2 * short, true},
		{"after ttl again", "term|c0ffee|ptx-1", 0, false},
	}
	for _, st := range steps {
		advance(st.advance)
		if got := once(t, s, st.key, short); got != st.want {
			t.Errorf("%s: Once(%q) = %v, want %v", st.name, st.key, got, st.want)
		}
	}
}

func testOnceOddKeys(t *testing.T, s store.Store, _ func(time.Duration)) {
	for _, k := range oddIDs {
		if !once(t, s, k, long) {
			t.Errorf("Once(%q) first = false", k)
		}
	}
	for _, k := range oddIDs {
		if once(t, s, k, long) {
			t.Errorf("Once(%q) second = true", k)
		}
	}
}

func testOnceConcurrent(t *testing.T, s store.Store, _ func(time.Duration)) {
	const n = 50
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		errs  []error
		start = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := s.Once(context.Background(), "race", long)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				wins++
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d calls failed, first: %v", len(errs), n, errs[0])
	}
	if wins != 1 {
		t.Errorf("%d of %d callers got true, want exactly 1", wins, n)
	}
}

func testOnceInvalid(t *testing.T, s store.Store, _ func(time.Duration)) {
	cases := []struct {
		name string
		key  string
		ttl  time.Duration
	}{
		{"empty key", "", long},
		{"ttl 0", "k", 0},
		{"ttl negative", "k", -time.Second},
	}
	for _, tc := range cases {
		if _, err := s.Once(ctx(t), tc.key, tc.ttl); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	if !once(t, s, "k", long) {
		t.Errorf("Once(k) after invalid calls = false: an invalid call set the marker")
	}
}

func testOnceCanceled(t *testing.T, s store.Store, _ func(time.Duration)) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Once(c, "k", long); !errors.Is(err, context.Canceled) {
		t.Errorf("Once with a canceled context: err = %v, want context.Canceled", err)
	}
}

func load(t *testing.T, s store.RecordStore, callKey, key string) store.Record {
	t.Helper()
	r, err := s.LoadRecord(ctx(t), callKey, key)
	if err != nil {
		t.Fatalf("LoadRecord(%s, %q): %v", callKey, key, err)
	}
	return r
}

func wantNoRecord(t *testing.T, s store.RecordStore, callKey, key string) {
	t.Helper()
	r, err := s.LoadRecord(ctx(t), callKey, key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadRecord(%s, %q) = %+v, %v; want ErrNotFound", callKey, key, r, err)
	}
}

func save(t *testing.T, s store.RecordStore, callKey, key, value string, version int64, ttl time.Duration) (int64, bool) {
	t.Helper()
	v, ok, err := s.SaveRecord(ctx(t), callKey, key, []byte(value), version, ttl)
	if err != nil {
		t.Fatalf("SaveRecord(%s, %q, version %d): %v", callKey, key, version, err)
	}
	return v, ok
}

func testRecordCAS(t *testing.T, s store.Store, _ func(time.Duration)) {
	const ck, k = "c0ffee20", "ptx|z9hG4bK-1"
	wantNoRecord(t, s, ck, k)
	steps := []struct {
		name        string
		value       string
		version     int64
		wantVersion int64
		wantOK      bool
		stored      string // value stored afterwards
	}{
		{"update absent", "x", 1, 0, false, ""},
		{"create", "v1", 0, 1, true, "v1"},
		{"create again conflicts", "other", 0, 1, false, "v1"},
		{"update", "v2", 1, 2, true, "v2"},
		{"stale version conflicts", "stale", 1, 2, false, "v2"},
		{"future version conflicts", "future", 5, 2, false, "v2"},
		{"update again", "v3", 2, 3, true, "v3"},
		{"update to empty", "", 3, 4, true, ""},
	}
	for _, st := range steps {
		v, ok := save(t, s, ck, k, st.value, st.version, long)
		if v != st.wantVersion || ok != st.wantOK {
			t.Errorf("%s: SaveRecord(version %d) = %d, %v; want %d, %v", st.name, st.version, v, ok, st.wantVersion, st.wantOK)
		}
		if st.stored == "" && st.wantVersion == 0 {
			wantNoRecord(t, s, ck, k)
			continue
		}
		r := load(t, s, ck, k)
		if string(r.Value) != st.stored || r.Version != st.wantVersion {
			t.Errorf("%s: LoadRecord = %q v%d, want %q v%d", st.name, r.Value, r.Version, st.stored, st.wantVersion)
		}
	}
	if r := load(t, s, ck, k); r.Value != nil {
		t.Errorf("empty value reads back as %#v, want nil", r.Value)
	}
}

func testRecordTTL(t *testing.T, s store.Store, advance func(time.Duration)) {
	const ck = "c0ffee21"
	save(t, s, ck, "a", "a1", 0, short)
	save(t, s, ck, "b", "b1", 0, long)
	save(t, s, ck, "c", "c1", 0, short)
	// A save replaces the remaining life: b shortens, c lengthens.
	if _, ok := save(t, s, ck, "b", "b2", 1, short); !ok {
		t.Fatalf("SaveRecord(b, v1) conflicted")
	}
	if _, ok := save(t, s, ck, "c", "c2", 1, long); !ok {
		t.Fatalf("SaveRecord(c, v1) conflicted")
	}
	// A conflicting save changes nothing, its ttl included.
	if _, ok := save(t, s, ck, "a", "a?", 7, long); ok {
		t.Fatalf("SaveRecord(a, v7) succeeded on v1")
	}
	advance(short / 4)
	load(t, s, ck, "a")
	advance(2 * short)
	wantNoRecord(t, s, ck, "a")
	wantNoRecord(t, s, ck, "b")
	if r := load(t, s, ck, "c"); string(r.Value) != "c2" || r.Version != 2 {
		t.Errorf("c = %q v%d, want c2 v2", r.Value, r.Version)
	}
	// An expired record is absent: version 0 creates it anew.
	if v, ok := save(t, s, ck, "a", "a-new", 0, long); v != 1 || !ok {
		t.Errorf("SaveRecord(a, 0) after expiry = %d, %v; want 1, true", v, ok)
	}
	if v, ok := save(t, s, ck, "b", "b?", 2, long); v != 0 || ok {
		t.Errorf("SaveRecord(b, v2) after expiry = %d, %v; want 0, false", v, ok)
	}
}

func testRecordDelete(t *testing.T, s store.Store, _ func(time.Duration)) {
	const ck = "c0ffee22"
	save(t, s, ck, "a", "a1", 0, long)
	save(t, s, ck, "b", "b1", 0, long)
	for i := range 2 { // absent the second time
		if err := s.DeleteRecord(ctx(t), ck, "a"); err != nil {
			t.Fatalf("DeleteRecord(a) #%d: %v", i+1, err)
		}
		wantNoRecord(t, s, ck, "a")
	}
	load(t, s, ck, "b")
	if v, ok := save(t, s, ck, "a", "a-new", 0, long); v != 1 || !ok {
		t.Errorf("SaveRecord(a, 0) after delete = %d, %v; want 1, true", v, ok)
	}
}

func testRecordConcurrent(t *testing.T, s store.Store, _ func(time.Duration)) {
	const (
		ck, k = "c0ffee23", "counter"
		n     = 20
	)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		start = make(chan struct{})
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := context.Background()
			for {
				cur, ver := 0, int64(0)
				r, err := s.LoadRecord(c, ck, k)
				switch {
				case errors.Is(err, store.ErrNotFound):
				case err != nil:
					fail(err)
					return
				default:
					if cur, err = strconv.Atoi(string(r.Value)); err != nil {
						fail(err)
						return
					}
					ver = r.Version
				}
				_, ok, err := s.SaveRecord(c, ck, k, []byte(strconv.Itoa(cur+1)), ver, long)
				if err != nil {
					fail(err)
					return
				}
				if ok {
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d workers failed, first: %v", len(errs), errs[0])
	}
	r := load(t, s, ck, k)
	if string(r.Value) != strconv.Itoa(n) || r.Version != n {
		t.Errorf("after %d increments: value %q version %d; want %d and %d (lost updates)", n, r.Value, r.Version, n, n)
	}
}

func testRecordBinary(t *testing.T, s store.Store, _ func(time.Duration)) {
	raw := allBytes()
	callKeys := []string{"c0ffee24", "call.key*with>odd chars:and|bars"}
	for _, ck := range callKeys {
		for _, k := range oddIDs {
			if _, ok := save(t, s, ck, k, string(raw), 0, long); !ok {
				t.Fatalf("SaveRecord(%q/%q) conflicted", ck, k)
			}
			if r := load(t, s, ck, k); !bytes.Equal(r.Value, raw) || r.Version != 1 {
				t.Errorf("%q/%q round trip: v%d\n got %x\nwant %x", ck, k, r.Version, r.Value, raw)
			}
			if err := s.DeleteRecord(ctx(t), ck, k); err != nil {
				t.Errorf("DeleteRecord(%q/%q): %v", ck, k, err)
			}
		}
	}
}

func testRecordNoAliasing(t *testing.T, s store.Store, _ func(time.Duration)) {
	v := []byte("branches")
	if _, ok, err := s.SaveRecord(ctx(t), "c0ffee25", "k", v, 0, long); err != nil || !ok {
		t.Fatalf("SaveRecord = %v, %v", ok, err)
	}
	v[0] = 'X'
	r := load(t, s, "c0ffee25", "k")
	r.Value[1] = 'X'
	if r := load(t, s, "c0ffee25", "k"); string(r.Value) != "branches" {
		t.Errorf("stored value changed through the caller's slices: %q", r.Value)
	}
}

func testRecordIsolation(t *testing.T, s store.Store, _ func(time.Duration)) {
	save(t, s, "c0ffee26", "same", "a", 0, long)
	save(t, s, "c0ffee27", "same", "b", 0, long)
	// A once marker with the same key is another namespace.
	if !once(t, s, "same", long) {
		t.Fatalf("Once(same) = false on a new key")
	}
	if _, ok := save(t, s, "c0ffee26", "same", "a2", 1, long); !ok {
		t.Fatalf("SaveRecord(c0ffee26, v1) conflicted")
	}
	if r := load(t, s, "c0ffee27", "same"); string(r.Value) != "b" || r.Version != 1 {
		t.Errorf("other call's record = %q v%d, want b v1", r.Value, r.Version)
	}
	if once(t, s, "same", long) {
		t.Errorf("once marker changed by a record write: Once(same) = true again")
	}
}

func testRecordInvalid(t *testing.T, s store.Store, _ func(time.Duration)) {
	c := ctx(t)
	cases := []struct {
		name string
		call func() error
	}{
		{"load empty callkey", func() error { _, err := s.LoadRecord(c, "", "k"); return err }},
		{"load brace callkey", func() error { _, err := s.LoadRecord(c, "a{b", "k"); return err }},
		{"load closing brace callkey", func() error { _, err := s.LoadRecord(c, "a}b", "k"); return err }},
		{"load empty key", func() error { _, err := s.LoadRecord(c, "c", ""); return err }},
		{"save empty callkey", func() error { _, _, err := s.SaveRecord(c, "", "k", nil, 0, long); return err }},
		{"save brace callkey", func() error { _, _, err := s.SaveRecord(c, "{c}", "k", nil, 0, long); return err }},
		{"save empty key", func() error { _, _, err := s.SaveRecord(c, "c", "", nil, 0, long); return err }},
		{"save ttl 0", func() error { _, _, err := s.SaveRecord(c, "c", "k", nil, 0, 0); return err }},
		{"save ttl negative", func() error { _, _, err := s.SaveRecord(c, "c", "k", nil, 0, -time.Second); return err }},
		{"save version negative", func() error { _, _, err := s.SaveRecord(c, "c", "k", nil, -1, long); return err }},
		{"delete empty callkey", func() error { return s.DeleteRecord(c, "", "k") }},
		{"delete brace callkey", func() error { return s.DeleteRecord(c, "c}", "k") }},
		{"delete empty key", func() error { return s.DeleteRecord(c, "c", "") }},
	}
	for _, tc := range cases {
		if err := tc.call(); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	wantNoRecord(t, s, "c", "k") // nothing was created
}

func testRecordCanceled(t *testing.T, s store.Store, _ func(time.Duration)) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		call func() error
	}{
		{"LoadRecord", func() error { _, err := s.LoadRecord(c, "c", "k"); return err }},
		{"SaveRecord", func() error { _, _, err := s.SaveRecord(c, "c", "k", nil, 0, long); return err }},
		{"DeleteRecord", func() error { return s.DeleteRecord(c, "c", "k") }},
	}
	for _, tc := range cases {
		if err := tc.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", tc.name, err)
		}
	}
}
