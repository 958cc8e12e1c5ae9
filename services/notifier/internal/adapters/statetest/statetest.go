// Package statetest is the conformance suite of the notifier's state: the
// fence, the rate limiter and the digest schedule. Both engines (Redis,
// memory) run it.
package statetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// State is everything an engine offers.
type State interface {
	Acquire(ctx context.Context, key, owner string, lease time.Duration) (app.Claim, error)
	Reopen(ctx context.Context, key, owner string, lease time.Duration) (app.Claim, error)
	Complete(ctx context.Context, key, owner, state, detail string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, key, owner string) (bool, error)
	Peek(ctx context.Context, key string) (app.Claim, error)
	Admit(ctx context.Context, callee string, w int64, key string, summary []byte, ttl time.Duration) (int, error)
	Folded(ctx context.Context, callee string, w int64, from, max int) ([][]byte, int, error)
	ScheduleDigest(ctx context.Context, callee string, w int64, due time.Time) error
	RescheduleDigest(ctx context.Context, d app.Due, at time.Time) error
	DueDigests(ctx context.Context, now time.Time, max int) ([]app.Due, error)
	DigestDone(ctx context.Context, d app.Due) error
}

// Run runs the suite; newState returns an empty state per test (a fresh
// key prefix on a shared server is fine).
func Run(t *testing.T, newState func(t *testing.T) State) {
	tests := []struct {
		name string
		fn   func(*testing.T, State)
	}{
		{"AcquireOnce", testAcquireOnce},
		{"ConcurrentAcquireOneWinner", testConcurrentAcquire},
		{"CompleteByHolderOnly", testComplete},
		{"Release", testRelease},
		{"LeaseExpires", testLeaseExpires},
		{"Reopen", testReopen},
		{"KeysOfAnyBytes", testOddKeys},
		{"AdmitRanks", testAdmit},
		{"ConcurrentAdmit", testConcurrentAdmit},
		{"Digests", testDigests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newState(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func check[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func claim(t *testing.T) func(app.Claim, error) app.Claim { return check[app.Claim](t) }
func yes(t *testing.T) func(bool, error) bool             { return check[bool](t) }
func rank(t *testing.T) func(int, error) int              { return check[int](t) }
func due(t *testing.T) func([]app.Due, error) []app.Due   { return check[[]app.Due](t) }

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testAcquireOnce(t *testing.T, s State) {
	c := claim(t)(s.Acquire(ctx(t), "k1", "owner-a", time.Minute))
	if !c.Taken || c.State != "" {
		t.Fatalf("first Acquire = %+v, want taken over nothing", c)
	}
	c = claim(t)(s.Acquire(ctx(t), "k1", "owner-b", time.Minute))
	if c.Taken || c.State != app.FenceSending || c.Detail != "owner-a" || c.TTL <= 0 || c.TTL > time.Minute {
		t.Fatalf("second Acquire = %+v, want held by owner-a (sending) with a TTL", c)
	}
	if p := claim(t)(s.Peek(ctx(t), "k1")); p.Taken || p.State != app.FenceSending || p.Detail != "owner-a" {
		t.Fatalf("Peek = %+v", p)
	}
	if p := claim(t)(s.Peek(ctx(t), "absent")); p.State != "" || p.TTL != 0 {
		t.Fatalf("Peek of an absent key = %+v", p)
	}
}

func testConcurrentAcquire(t *testing.T, s State) {
	var mu sync.Mutex
	taken := 0
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			c, err := s.Acquire(ctx(t), "race", fmt.Sprint("owner-", i), time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if c.Taken {
				mu.Lock()
				taken++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if taken != 1 {
		t.Fatalf("%d of 16 concurrent Acquires took the key, want 1", taken)
	}
}

func testComplete(t *testing.T, s State) {
	claim(t)(s.Acquire(ctx(t), "k", "a", time.Minute))
	if ok := yes(t)(s.Complete(ctx(t), "k", "b", app.FenceSent, "x@y", time.Hour)); ok {
		t.Fatal("Complete by a non-holder succeeded")
	}
	if ok := yes(t)(s.Complete(ctx(t), "k", "a", app.FenceSent, "m1@example.com", time.Hour)); !ok {
		t.Fatal("Complete by the holder failed")
	}
	c := claim(t)(s.Acquire(ctx(t), "k", "c", time.Minute))
	if c.Taken || c.State != app.FenceSent || c.Detail != "m1@example.com" || c.TTL <= time.Minute {
		t.Fatalf("Acquire after Complete = %+v, want sent m1@example.com with the hour's TTL", c)
	}
	if ok := yes(t)(s.Complete(ctx(t), "k", "a", app.FenceSent, "again", time.Hour)); ok {
		t.Fatal("a second Complete succeeded: the key is no longer held")
	}
	if ok := yes(t)(s.Complete(ctx(t), "never", "a", app.FenceSent, "x", time.Hour)); ok {
		t.Fatal("Complete of an absent key succeeded")
	}
}

func testRelease(t *testing.T, s State) {
	claim(t)(s.Acquire(ctx(t), "k", "a", time.Minute))
	if ok := yes(t)(s.Release(ctx(t), "k", "b")); ok {
		t.Fatal("Release by a non-holder succeeded")
	}
	if ok := yes(t)(s.Release(ctx(t), "k", "a")); !ok {
		t.Fatal("Release by the holder failed")
	}
	if c := claim(t)(s.Acquire(ctx(t), "k", "b", time.Minute)); !c.Taken {
		t.Fatalf("Acquire after Release = %+v", c)
	}
}

func testLeaseExpires(t *testing.T, s State) {
	claim(t)(s.Acquire(ctx(t), "k", "dead", 150*time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := claim(t)(s.Acquire(ctx(t), "k", "next", time.Minute))
		if c.Taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the 150ms lease of a dead holder never ended: %+v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The dead holder's late Complete changes nothing.
	if ok := yes(t)(s.Complete(ctx(t), "k", "dead", app.FenceSent, "late", time.Hour)); ok {
		t.Fatal("the expired holder completed the key")
	}
}

func testReopen(t *testing.T, s State) {
	// Absent: taken.
	if c := claim(t)(s.Reopen(ctx(t), "gone", "r", time.Minute)); !c.Taken || c.State != "" {
		t.Fatalf("Reopen of an absent key = %+v", c)
	}
	// Failed: taken, and what it was is reported.
	claim(t)(s.Acquire(ctx(t), "f", "a", time.Minute))
	yes(t)(s.Complete(ctx(t), "f", "a", app.FenceFailed, "nf-1", time.Hour))
	if c := claim(t)(s.Reopen(ctx(t), "f", "r", time.Minute)); !c.Taken || c.State != app.FenceFailed || c.Detail != "nf-1" {
		t.Fatalf("Reopen of a failed key = %+v", c)
	}
	if ok := yes(t)(s.Complete(ctx(t), "f", "r", app.FenceSent, "m@x", time.Hour)); !ok {
		t.Fatal("Complete after Reopen failed")
	}
	// Sent or being sent: not taken.
	if c := claim(t)(s.Reopen(ctx(t), "f", "r2", time.Minute)); c.Taken || c.State != app.FenceSent {
		t.Fatalf("Reopen of a sent key = %+v", c)
	}
	claim(t)(s.Acquire(ctx(t), "busy", "a", time.Minute))
	if c := claim(t)(s.Reopen(ctx(t), "busy", "r", time.Minute)); c.Taken || c.State != app.FenceSending {
		t.Fatalf("Reopen of a held key = %+v", c)
	}
}

func testOddKeys(t *testing.T, s State) {
	for _, k := range []string{"a{b}c", "{", "}", "with space", "\x00\xff\r\n", "mail.call.terminal.0123456789abcdef.fedcba9876543210"} {
		if c := claim(t)(s.Acquire(ctx(t), k, "o", time.Minute)); !c.Taken {
			t.Errorf("Acquire(%q) = %+v", k, c)
		}
		if ok := yes(t)(s.Complete(ctx(t), k, "o", app.FenceSent, "d", time.Hour)); !ok {
			t.Errorf("Complete(%q) failed", k)
		}
		if c := claim(t)(s.Peek(ctx(t), k)); c.State != app.FenceSent {
			t.Errorf("Peek(%q) = %+v", k, c)
		}
	}
}

func testAdmit(t *testing.T, s State) {
	const callee = "bob@example.com"
	for i, k := range []string{"k0", "k1", "k2"} {
		if r := rank(t)(s.Admit(ctx(t), callee, 7, k, []byte("s"+k), time.Hour)); r != i {
			t.Fatalf("Admit(%s) = rank %d, want %d", k, r, i)
		}
	}
	// Again (a redelivery): the same rank, nothing added.
	if r := rank(t)(s.Admit(ctx(t), callee, 7, "k1", []byte("other"), time.Hour)); r != 1 {
		t.Fatalf("second Admit(k1) = %d, want 1", r)
	}
	// Another window, another callee: their own ranks.
	if r := rank(t)(s.Admit(ctx(t), callee, 8, "k9", nil, time.Hour)); r != 0 {
		t.Fatalf("window 8: rank %d", r)
	}
	if r := rank(t)(s.Admit(ctx(t), "{odd}@example.com", 7, "k9", nil, time.Hour)); r != 0 {
		t.Fatalf("other callee: rank %d", r)
	}
	sums, total, err := s.Folded(ctx(t), callee, 7, 1, 10)
	if err != nil || total != 3 || len(sums) != 2 || string(sums[0]) != "sk1" || string(sums[1]) != "sk2" {
		t.Fatalf("Folded(from 1) = %q, %d, %v; want [sk1 sk2], 3", sums, total, err)
	}
	if sums, total, _ := s.Folded(ctx(t), callee, 7, 0, 1); total != 3 || len(sums) != 1 || string(sums[0]) != "sk0" {
		t.Fatalf("Folded(0, 1) = %q, %d", sums, total)
	}
	if sums, total, _ := s.Folded(ctx(t), "nobody@example.com", 7, 0, 10); total != 0 || len(sums) != 0 {
		t.Fatalf("Folded of an empty window = %q, %d", sums, total)
	}
	// The window expires.
	rank(t)(s.Admit(ctx(t), "short@example.com", 1, "a", nil, 100*time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, total, _ := s.Folded(ctx(t), "short@example.com", 1, 0, 10); total == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a window with a 100ms TTL is still there after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testConcurrentAdmit(t *testing.T, s State) {
	ranks := make([]int, 20)
	var wg sync.WaitGroup
	for i := range ranks {
		wg.Go(func() {
			r, err := s.Admit(ctx(t), "c@example.com", 1, fmt.Sprint("key-", i), nil, time.Hour)
			if err != nil {
				t.Error(err)
			}
			ranks[i] = r
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for _, r := range ranks {
		if r < 0 || r >= len(ranks) || seen[r] {
			t.Fatalf("ranks %v: want each of 0..19 once", ranks)
		}
		seen[r] = true
	}
}

func testDigests(t *testing.T, s State) {
	base := time.UnixMilli(time.Now().UnixMilli())
	noErr(t, s.ScheduleDigest(ctx(t), "b@example.com", 2, base.Add(2*time.Second)))
	noErr(t, s.ScheduleDigest(ctx(t), "a@example.com", 1, base.Add(time.Second)))
	noErr(t, s.ScheduleDigest(ctx(t), "a@example.com", 1, base.Add(time.Hour))) // NX: the first stands
	noErr(t, s.ScheduleDigest(ctx(t), "c|x@example.com", 3, base.Add(time.Hour)))
	if d := due(t)(s.DueDigests(ctx(t), base, 10)); len(d) != 0 {
		t.Fatalf("due before any is due: %+v", d)
	}
	d := due(t)(s.DueDigests(ctx(t), base.Add(3*time.Second), 10))
	if len(d) != 2 || d[0].Callee != "a@example.com" || d[0].Window != 1 || !d[0].At.Equal(base.Add(time.Second)) || d[1].Callee != "b@example.com" {
		t.Fatalf("due = %+v, want a (window 1) then b", d)
	}
	if d := due(t)(s.DueDigests(ctx(t), base.Add(3*time.Second), 1)); len(d) != 1 {
		t.Fatalf("max 1: %+v", d)
	}
	noErr(t, s.RescheduleDigest(ctx(t), d[0], base.Add(time.Minute)))
	noErr(t, s.DigestDone(ctx(t), d[1]))
	if d := due(t)(s.DueDigests(ctx(t), base.Add(3*time.Second), 10)); len(d) != 0 {
		t.Fatalf("due after reschedule and done: %+v", d)
	}
	d = due(t)(s.DueDigests(ctx(t), base.Add(2*time.Hour), 10))
	if len(d) != 2 || d[0].Callee != "a@example.com" || d[1].Callee != "c|x@example.com" || d[1].Window != 3 {
		t.Fatalf("due later = %+v", d)
	}
	// Rescheduling one that is done does not bring it back.
	noErr(t, s.DigestDone(ctx(t), d[0]))
	noErr(t, s.RescheduleDigest(ctx(t), d[0], base))
	if d := due(t)(s.DueDigests(ctx(t), base.Add(2*time.Hour), 10)); len(d) != 1 {
		t.Fatalf("a done digest came back: %+v", d)
	}
}
