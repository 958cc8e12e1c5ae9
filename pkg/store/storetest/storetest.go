// Package storetest is the conformance suite of the store interfaces: every
// engine (memory, Redis) runs the same tests, so they cannot drift apart.
// [Run] covers store.TxStore, [RunTimers], [RunOnce], [RunRecords],
// [RunBatch] (store.BatchStore and store.IndexStore) and [RunMembership]
// the other parts of store.Store, and [RunAll] all of them.
//
//	func TestMemory(t *testing.T) {
//		storetest.RunAll(t, func(t *testing.T) (store.Store, func(time.Duration)) {
//			clock := storetest.NewClock()
//			s := store.NewMemory(store.MemoryOptions{Now: clock.Now})
//			t.Cleanup(func() { s.Close() })
//			return s, clock.Advance
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
)

// TTLs of the suite. They are short because the Redis engine's advance
// really sleeps; the memory engine's advance moves a fake clock.
const (
	long  = time.Minute
	short = 400 * time.Millisecond
)

// Run runs the conformance suite against the engine made by newStore.
//
// newStore returns a store for one test, with its cleanup registered on t,
// and advance, which makes d pass for that store (a fake clock for memory,
// time.Sleep for Redis). Stores returned for different tests may share a
// server but must not see each other's keys (use a fresh prefix).
func Run(t *testing.T, newStore func(t *testing.T) (store.TxStore, func(d time.Duration))) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, store.TxStore, func(time.Duration))
	}{
		{"CreateThenGet", testCreateThenGet},
		{"CreateTwiceCountsRetransmits", testCreateTwice},
		{"ConcurrentCreateOneWinner", testConcurrentCreate},
		{"SetResponse", testSetResponse},
		{"SetResponseKeepsStateWhenEmpty", testSetResponseEmptyState},
		{"SetResponseTTL", testSetResponseTTL},
		{"UpdateState", testUpdateState},
		{"UpdateStateTTL", testUpdateStateTTL},
		{"Expire", testExpire},
		{"TTLExpiry", testTTLExpiry},
		{"BinarySafeLastResponse", testBinary},
		{"NoAliasing", testNoAliasing},
		{"OddKeys", testOddKeys},
		{"KeysAreIsolated", testIsolation},
		{"InvalidArguments", testInvalid},
		{"CanceledContext", testCanceled},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, advance := newStore(t)
			tc.fn(t, s, advance)
		})
	}
}

// NewStore makes a store.Store for one test; see [Run] for the contract.
type NewStore func(t *testing.T) (store.Store, func(d time.Duration))

// RunAll runs every suite of the package against the engine made by
// newStore: Run, RunTimers, RunOnce, RunRecords, RunBatch and
// RunMembership, as subtests.
func RunAll(t *testing.T, newStore NewStore) {
	t.Helper()
	t.Run("Tx", func(t *testing.T) {
		Run(t, func(t *testing.T) (store.TxStore, func(time.Duration)) { return newStore(t) })
	})
	t.Run("Timers", func(t *testing.T) { RunTimers(t, newStore) })
	t.Run("Once", func(t *testing.T) { RunOnce(t, newStore) })
	t.Run("Records", func(t *testing.T) { RunRecords(t, newStore) })
	t.Run("Batch", func(t *testing.T) { RunBatch(t, newStore) })
	t.Run("Membership", func(t *testing.T) { RunMembership(t, newStore) })
}

// runCases runs each case in a subtest with a fresh store.
func runCases(t *testing.T, newStore NewStore, cases []storeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, advance := newStore(t)
			tc.fn(t, s, advance)
		})
	}
}

type storeCase struct {
	name string
	fn   func(*testing.T, store.Store, func(time.Duration))
}

// Clock is a fake clock for engines that take one (store.MemoryOptions.Now).
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func newTx(callKey, key string) *store.Tx {
	return &store.Tx{
		CallKey: callKey,
		Key:     key,
		Kind:    store.KindServer,
		Method:  "INVITE",
		State:   "proceeding",
		Edge:    "edge-1",
		Source:  "udp:192.0.2.10:5060",
	}
}

func create(t *testing.T, s store.TxStore, tx *store.Tx, ttl time.Duration) *store.Tx {
	t.Helper()
	cur, created, err := s.CreateOrGet(ctx(t), tx, ttl)
	if err != nil {
		t.Fatalf("CreateOrGet(%s): %v", tx.Key, err)
	}
	if !created {
		t.Fatalf("CreateOrGet(%s): created = false on a new transaction", tx.Key)
	}
	return cur
}

func get(t *testing.T, s store.TxStore, callKey, key string) *store.Tx {
	t.Helper()
	tx, err := s.Get(ctx(t), callKey, key)
	if err != nil {
		t.Fatalf("Get(%s, %q): %v", callKey, key, err)
	}
	return tx
}

func wantNotFound(t *testing.T, s store.TxStore, callKey, key string) {
	t.Helper()
	tx, err := s.Get(ctx(t), callKey, key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%s, %q) = %+v, %v; want ErrNotFound", callKey, key, tx, err)
	}
}

// sameTx compares everything but the times.
func sameTx(t *testing.T, what string, got, want *store.Tx) {
	t.Helper()
	g, w := *got, *want
	g.Created, g.Updated, w.Created, w.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	g.LastResponse, w.LastResponse = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
	if !bytes.Equal(got.LastResponse, want.LastResponse) {
		t.Errorf("%s: LastResponse = %q, want %q", what, got.LastResponse, want.LastResponse)
	}
}

func testCreateThenGet(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	tx := newTx("c0ffee01", "z9hG4bK-1|INVITE|192.0.2.10:5060")
	cur := create(t, s, tx, long)
	sameTx(t, "created", cur, tx)
	if cur.Retransmits != 0 {
		t.Errorf("Retransmits = %d, want 0", cur.Retransmits)
	}
	if cur.Created.IsZero() || !cur.Updated.Equal(cur.Created) {
		t.Errorf("Created = %v, Updated = %v; want set and equal", cur.Created, cur.Updated)
	}
	got := get(t, s, tx.CallKey, tx.Key)
	sameTx(t, "get", got, tx)
	if !got.Created.Equal(cur.Created) || !got.Updated.Equal(cur.Updated) {
		t.Errorf("get times = %v/%v, want %v/%v", got.Created, got.Updated, cur.Created, cur.Updated)
	}
	wantNotFound(t, s, tx.CallKey, "z9hG4bK-other")
}

func testCreateTwice(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	tx := newTx("c0ffee02", "z9hG4bK-2")
	first := create(t, s, tx, long)
	again := newTx(tx.CallKey, tx.Key)
	again.Method, again.State, again.Edge = "BYE", "other", "edge-2"
	for i := 1; i <= 3; i++ {
		cur, created, err := s.CreateOrGet(ctx(t), again, long)
		if err != nil || created {
			t.Fatalf("CreateOrGet #%d: created = %v, err = %v; want false, nil", i+1, created, err)
		}
		want := *tx
		want.Retransmits = i
		sameTx(t, fmt.Sprintf("CreateOrGet #%d", i+1), cur, &want)
		if !cur.Created.Equal(first.Created) {
			t.Errorf("Created = %v, want %v", cur.Created, first.Created)
		}
	}
	if got := get(t, s, tx.CallKey, tx.Key); got.Retransmits != 3 {
		t.Errorf("stored Retransmits = %d, want 3", got.Retransmits)
	}
}

func testConcurrentCreate(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	const n = 50
	tx := newTx("c0ffee03", "z9hG4bK-3")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		seen    = map[int]bool{}
		errs    []error
		start   = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := newTx(tx.CallKey, tx.Key)
			mine.Edge = fmt.Sprintf("edge-%d", i)
			<-start
			cur, ok, err := s.CreateOrGet(context.Background(), mine, long)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case ok:
				created++
			default:
				seen[cur.Retransmits] = true
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d calls failed, first: %v", len(errs), n, errs[0])
	}
	if created != 1 {
		t.Fatalf("created = %d of %d, want exactly 1", created, n)
	}
	for i := 1; i < n; i++ {
		if !seen[i] {
			t.Errorf("no caller saw Retransmits = %d; increments are not atomic", i)
		}
	}
	if got := get(t, s, tx.CallKey, tx.Key); got.Retransmits != n-1 {
		t.Errorf("stored Retransmits = %d, want %d", got.Retransmits, n-1)
	}
}

func testSetResponse(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	type step struct {
		status int
		want   bool
	}
	cases := []struct {
		name       string
		steps      []step
		wantStatus int
		wantRaw    int // index of the step whose raw bytes must be stored
	}{
		{"provisional then final", []step{{100, true}, {180, true}, {200, true}}, 200, 2},
		{"provisional over provisional", []step{{183, true}, {180, true}}, 180, 1},
		{"final then provisional refused", []step{{486, true}, {180, false}}, 486, 0},
		{"200 then 486 refused", []step{{200, true}, {486, false}}, 200, 0},
		{"486 then 200 refused", []step{{100, true}, {486, true}, {200, false}}, 486, 1},
		{"same final again stored", []step{{200, true}, {200, true}}, 200, 1},
		{"same non-2xx final again stored", []step{{404, true}, {180, false}, {404, true}}, 404, 2},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx := newTx("c0ffee04", fmt.Sprintf("z9hG4bK-4-%d", i))
			create(t, s, tx, long)
			raws := make([][]byte, len(tc.steps))
			for j, st := range tc.steps {
				raws[j] = fmt.Appendf(nil, "SIP/2.0 %d step %d\r\n\r\n", st.status, j)
				r := store.Response{Status: st.status, Raw: raws[j], Dest: fmt.Sprintf("udp:192.0.2.%d:5060", j), State: fmt.Sprintf("s%d", j)}
				ok, err := s.SetResponse(ctx(t), tx.CallKey, tx.Key, r, long)
				if err != nil {
					t.Fatalf("step %d SetResponse(%d): %v", j, st.status, err)
				}
				if ok != st.want {
					t.Fatalf("step %d SetResponse(%d) = %v, want %v", j, st.status, ok, st.want)
				}
			}
			got := get(t, s, tx.CallKey, tx.Key)
			if got.LastStatus != tc.wantStatus {
				t.Errorf("LastStatus = %d, want %d", got.LastStatus, tc.wantStatus)
			}
			if !bytes.Equal(got.LastResponse, raws[tc.wantRaw]) {
				t.Errorf("LastResponse = %q, want %q", got.LastResponse, raws[tc.wantRaw])
			}
			if want := fmt.Sprintf("udp:192.0.2.%d:5060", tc.wantRaw); got.LastDest != want {
				t.Errorf("LastDest = %q, want %q", got.LastDest, want)
			}
			if want := fmt.Sprintf("s%d", tc.wantRaw); got.State != want {
				t.Errorf("State = %q, want %q", got.State, want)
			}
			if got.Updated.Before(got.Created) {
				t.Errorf("Updated %v before Created %v", got.Updated, got.Created)
			}
		})
	}
	t.Run("not found", func(t *testing.T) {
		ok, err := s.SetResponse(ctx(t), "c0ffee04", "absent", store.Response{Status: 200}, long)
		if ok || !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SetResponse on absent = %v, %v; want false, ErrNotFound", ok, err)
		}
	})
}

func testSetResponseEmptyState(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	tx := newTx("c0ffee05", "z9hG4bK-5")
	create(t, s, tx, long)
	ok, err := s.SetResponse(ctx(t), tx.CallKey, tx.Key, store.Response{Status: 100, Raw: []byte("SIP/2.0 100 Trying\r\n\r\n"), Dest: "udp:192.0.2.1:5060"}, long)
	if err != nil || !ok {
		t.Fatalf("SetResponse = %v, %v", ok, err)
	}
	if got := get(t, s, tx.CallKey, tx.Key); got.State != tx.State {
		t.Errorf("State = %q after a response with no state, want %q kept", got.State, tx.State)
	}
}

func testSetResponseTTL(t *testing.T, s store.TxStore, advance func(time.Duration)) {
	a, b := newTx("c0ffee06", "z9hG4bK-6a"), newTx("c0ffee06", "z9hG4bK-6b")
	create(t, s, a, long)
	create(t, s, b, short)
	r := store.Response{Status: 200, Raw: []byte("SIP/2.0 200 OK\r\n\r\n"), Dest: "udp:192.0.2.1:5060", State: "terminated"}
	if ok, err := s.SetResponse(ctx(t), a.CallKey, a.Key, r, short); err != nil || !ok {
		t.Fatalf("SetResponse(a, ttl %v) = %v, %v", short, ok, err)
	}
	// ttl <= 0 keeps b's short life.
	if ok, err := s.SetResponse(ctx(t), b.CallKey, b.Key, r, 0); err != nil || !ok {
		t.Fatalf("SetResponse(b, ttl 0) = %v, %v", ok, err)
	}
	advance(2 * short)
	wantNotFound(t, s, a.CallKey, a.Key)
	wantNotFound(t, s, b.CallKey, b.Key)
}

func testUpdateState(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	tx := newTx("c0ffee07", "z9hG4bK-7")
	tx.State = "trying"
	create(t, s, tx, long)
	steps := []struct {
		name  string
		from  []string
		to    string
		want  bool
		state string // stored state afterwards
	}{
		{"from matches", []string{"trying"}, "proceeding", true, "proceeding"},
		{"from list matches second", []string{"trying", "proceeding"}, "completed", true, "completed"},
		{"from does not match", []string{"trying", "proceeding"}, "terminated", false, "completed"},
		{"empty from matches any", nil, "confirmed", true, "confirmed"},
		{"empty slice matches any", []string{}, "terminated", true, "terminated"},
		{"to empty state", []string{"terminated"}, "", true, ""},
		{"from empty state", []string{""}, "trying", true, "trying"},
	}
	for _, st := range steps {
		ok, err := s.UpdateState(ctx(t), tx.CallKey, tx.Key, st.from, st.to, 0)
		if err != nil {
			t.Fatalf("%s: UpdateState: %v", st.name, err)
		}
		if ok != st.want {
			t.Errorf("%s: UpdateState(%q -> %q) = %v, want %v", st.name, st.from, st.to, ok, st.want)
		}
		if got := get(t, s, tx.CallKey, tx.Key); got.State != st.state {
			t.Errorf("%s: State = %q, want %q", st.name, got.State, st.state)
		}
	}
	ok, err := s.UpdateState(ctx(t), tx.CallKey, "absent", nil, "x", 0)
	if ok || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateState on absent = %v, %v; want false, ErrNotFound", ok, err)
	}
}

func testUpdateStateTTL(t *testing.T, s store.TxStore, advance func(time.Duration)) {
	a, b, c := newTx("c0ffee08", "a"), newTx("c0ffee08", "b"), newTx("c0ffee08", "c")
	for _, tx := range []*store.Tx{a, b, c} {
		create(t, s, tx, long)
	}
	if ok, err := s.UpdateState(ctx(t), a.CallKey, a.Key, nil, "completed", short); err != nil || !ok {
		t.Fatalf("UpdateState(a, ttl %v) = %v, %v", short, ok, err)
	}
	// A refused CAS changes nothing, its ttl included.
	if ok, err := s.UpdateState(ctx(t), b.CallKey, b.Key, []string{"nope"}, "completed", short); err != nil || ok {
		t.Fatalf("UpdateState(b, wrong from) = %v, %v; want false", ok, err)
	}
	if ok, err := s.UpdateState(ctx(t), c.CallKey, c.Key, nil, "completed", 0); err != nil || !ok {
		t.Fatalf("UpdateState(c, ttl 0) = %v, %v", ok, err)
	}
	advance(2 * short)
	wantNotFound(t, s, a.CallKey, a.Key)
	get(t, s, b.CallKey, b.Key)
	get(t, s, c.CallKey, c.Key)
}

func testExpire(t *testing.T, s store.TxStore, advance func(time.Duration)) {
	a, b := newTx("c0ffee09", "a"), newTx("c0ffee09", "b")
	create(t, s, a, long)
	create(t, s, b, long)
	if err := s.Expire(ctx(t), a.CallKey, a.Key, 0); err != nil {
		t.Fatalf("Expire(a, 0): %v", err)
	}
	wantNotFound(t, s, a.CallKey, a.Key)
	if err := s.Expire(ctx(t), a.CallKey, a.Key, 0); err != nil {
		t.Errorf("Expire(0) on absent = %v, want nil", err)
	}
	if err := s.Expire(ctx(t), a.CallKey, a.Key, short); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Expire(%v) on absent = %v, want ErrNotFound", short, err)
	}
	if err := s.Expire(ctx(t), b.CallKey, b.Key, short); err != nil {
		t.Fatalf("Expire(b, %v): %v", short, err)
	}
	get(t, s, b.CallKey, b.Key)
	advance(2 * short)
	wantNotFound(t, s, b.CallKey, b.Key)
}

func testTTLExpiry(t *testing.T, s store.TxStore, advance func(time.Duration)) {
	tx := newTx("c0ffee0a", "z9hG4bK-a")
	create(t, s, tx, short)
	advance(short / 4)
	get(t, s, tx.CallKey, tx.Key)
	// A retransmission does not extend the life.
	if _, created, err := s.CreateOrGet(ctx(t), tx, long); err != nil || created {
		t.Fatalf("CreateOrGet again = %v, %v; want false, nil", created, err)
	}
	advance(short)
	wantNotFound(t, s, tx.CallKey, tx.Key)
	if ok, err := s.SetResponse(ctx(t), tx.CallKey, tx.Key, store.Response{Status: 200}, long); ok || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetResponse after expiry = %v, %v; want ErrNotFound", ok, err)
	}
	cur := create(t, s, tx, long) // a new transaction with the same key
	if cur.Retransmits != 0 {
		t.Errorf("re-created Retransmits = %d, want 0", cur.Retransmits)
	}
}

func allBytes() []byte {
	b := []byte("SIP/2.0 200 OK\r\nContent-Length: 256\r\n\r\n")
	for i := range 256 {
		b = append(b, byte(i))
	}
	return append(b, 0, '\r', '\n', 0xff, 0xfe, 0)
}

func testBinary(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	raw := allBytes()
	tx := newTx("c0ffee0b", "z9hG4bK-b")
	tx.LastStatus, tx.LastResponse, tx.LastDest = 100, raw[:50], "udp:192.0.2.1:5060"
	create(t, s, tx, long)
	if got := get(t, s, tx.CallKey, tx.Key); !bytes.Equal(got.LastResponse, raw[:50]) || got.LastStatus != 100 {
		t.Errorf("created LastResponse = %q (%d), want %q (100)", got.LastResponse, got.LastStatus, raw[:50])
	}
	if ok, err := s.SetResponse(ctx(t), tx.CallKey, tx.Key, store.Response{Status: 200, Raw: raw, Dest: "tcp:flow-1"}, long); err != nil || !ok {
		t.Fatalf("SetResponse = %v, %v", ok, err)
	}
	got := get(t, s, tx.CallKey, tx.Key)
	if !bytes.Equal(got.LastResponse, raw) {
		t.Errorf("LastResponse round trip:\n got %x\nwant %x", got.LastResponse, raw)
	}
}

func testNoAliasing(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	raw := []byte("SIP/2.0 180 Ringing\r\n\r\n")
	tx := newTx("c0ffee0c", "z9hG4bK-c")
	tx.LastStatus, tx.LastResponse = 100, []byte("SIP/2.0 100 Trying\r\n\r\n")
	cur := create(t, s, tx, long)
	tx.LastResponse[0] = 'X'
	cur.LastResponse[1] = 'X'
	if got := get(t, s, tx.CallKey, tx.Key); string(got.LastResponse) != "SIP/2.0 100 Trying\r\n\r\n" {
		t.Errorf("stored bytes changed through the caller's slices: %q", got.LastResponse)
	}
	if ok, err := s.SetResponse(ctx(t), tx.CallKey, tx.Key, store.Response{Status: 180, Raw: raw}, long); err != nil || !ok {
		t.Fatalf("SetResponse = %v, %v", ok, err)
	}
	raw[0] = 'X'
	got := get(t, s, tx.CallKey, tx.Key)
	got.LastResponse[2] = 'X'
	if got := get(t, s, tx.CallKey, tx.Key); string(got.LastResponse) != "SIP/2.0 180 Ringing\r\n\r\n" {
		t.Errorf("stored bytes changed through the caller's slices: %q", got.LastResponse)
	}
}

func testOddKeys(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	keys := []string{
		"z9hG4bK776asdhds|INVITE|192.0.2.1:5060",
		"with space and\ttab",
		"{braces}}{in}the{tx}key",
		"*>.$%&\\\"'",
		"ünïcödé-ключ-键",
		"colons:a:b:c:",
		"nul\x00byte\xff",
		"crlf\r\nInjected: yes",
		strings.Repeat("long", 256),
	}
	callKeys := []string{"c0ffee0d", "call.key*with>odd chars:and|bars"}
	for _, ck := range callKeys {
		for _, k := range keys {
			tx := newTx(ck, k)
			create(t, s, tx, long)
			sameTx(t, fmt.Sprintf("get %q/%q", ck, k), get(t, s, ck, k), tx)
			if ok, err := s.SetResponse(ctx(t), ck, k, store.Response{Status: 200, Raw: []byte(k)}, long); err != nil || !ok {
				t.Errorf("SetResponse(%q/%q) = %v, %v", ck, k, ok, err)
			}
			if ok, err := s.UpdateState(ctx(t), ck, k, []string{"proceeding"}, "completed", long); err != nil || !ok {
				t.Errorf("UpdateState(%q/%q) = %v, %v", ck, k, ok, err)
			}
			got := get(t, s, ck, k)
			if got.Key != k || got.CallKey != ck || string(got.LastResponse) != k || got.State != "completed" {
				t.Errorf("after updates %q/%q: %+v", ck, k, got)
			}
		}
	}
	for _, ck := range callKeys {
		for _, k := range keys {
			if err := s.Expire(ctx(t), ck, k, 0); err != nil {
				t.Errorf("Expire(%q/%q, 0): %v", ck, k, err)
			}
			wantNotFound(t, s, ck, k)
		}
	}
}

func testIsolation(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	a, b := newTx("c0ffee0e", "same"), newTx("c0ffee0f", "same")
	b.Method = "BYE"
	create(t, s, a, long)
	create(t, s, b, long) // same txkey, other call: a different transaction
	if ok, err := s.UpdateState(ctx(t), a.CallKey, a.Key, nil, "only-a", 0); err != nil || !ok {
		t.Fatalf("UpdateState = %v, %v", ok, err)
	}
	if got := get(t, s, b.CallKey, b.Key); got.State != b.State || got.Method != "BYE" {
		t.Errorf("b changed by a write to a: %+v", got)
	}
}

func testInvalid(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	c := ctx(t)
	ok := newTx("c0ffee10", "k")
	cases := []struct {
		name string
		call func() error
	}{
		{"create nil tx", func() error { _, _, err := s.CreateOrGet(c, nil, long); return err }},
		{"create empty callkey", func() error { _, _, err := s.CreateOrGet(c, newTx("", "k"), long); return err }},
		{"create callkey with brace", func() error { _, _, err := s.CreateOrGet(c, newTx("ab{c", "k"), long); return err }},
		{"create callkey with closing brace", func() error { _, _, err := s.CreateOrGet(c, newTx("ab}c", "k"), long); return err }},
		{"create empty key", func() error { _, _, err := s.CreateOrGet(c, newTx("c0ffee10", ""), long); return err }},
		{"create ttl 0", func() error { _, _, err := s.CreateOrGet(c, ok, 0); return err }},
		{"create ttl negative", func() error { _, _, err := s.CreateOrGet(c, ok, -time.Second); return err }},
		{"get empty key", func() error { _, err := s.Get(c, "c0ffee10", ""); return err }},
		{"get brace callkey", func() error { _, err := s.Get(c, "{x}", "k"); return err }},
		{"set response status 0", func() error {
			_, err := s.SetResponse(c, "c0ffee10", "k", store.Response{}, long)
			return err
		}},
		{"set response status 700", func() error {
			_, err := s.SetResponse(c, "c0ffee10", "k", store.Response{Status: 700}, long)
			return err
		}},
		{"update state empty callkey", func() error { _, err := s.UpdateState(c, "", "k", nil, "x", 0); return err }},
		{"expire negative", func() error { return s.Expire(c, "c0ffee10", "k", -time.Second) }},
		{"expire empty key", func() error { return s.Expire(c, "c0ffee10", "", 0) }},
	}
	for _, tc := range cases {
		if err := tc.call(); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	wantNotFound(t, s, ok.CallKey, ok.Key) // nothing was created
}

func testCanceled(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.CreateOrGet(c, newTx("c0ffee11", "k"), long); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateOrGet with a canceled context: err = %v, want context.Canceled", err)
	}
}

func testPing(t *testing.T, s store.TxStore, _ func(time.Duration)) {
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
