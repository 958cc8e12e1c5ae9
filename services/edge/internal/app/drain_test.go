package app

import (
	"testing"
	"time"
)

// TestIdle: a draining edge waits for quiet with no pending transaction,
// or for a longer silence when one stalls.
func TestIdle(t *testing.T) {
	now := time.Unix(1000, 0)
	e := &Edge{opt: Options{Now: func() time.Time { return now }}, cache: newTxCache(100, func() time.Time { return now })}
	e.work()
	if e.Idle(time.Second, 3*time.Second) {
		t.Fatal("idle right after work")
	}
	now = now.Add(1500 * time.Millisecond)
	if !e.Idle(time.Second, 3*time.Second) {
		t.Fatal("not idle after 1.5s of quiet with nothing pending")
	}
	e.cache.with("tx1", func(*txEntry) (*txEntry, bool) { return &txEntry{status: 100, expires: now.Add(time.Minute)}, true })
	if e.Idle(time.Second, 3*time.Second) {
		t.Fatal("idle with a transaction awaiting its final after 1.5s")
	}
	now = now.Add(2 * time.Second)
	if !e.Idle(time.Second, 3*time.Second) {
		t.Fatal("not idle after 3.5s of silence: a stalled transaction holds the drain")
	}
	e.cache.with("tx1", func(t *txEntry) (*txEntry, bool) { t.status = 200; return t, false })
	if n := e.cache.pending(); n != 0 {
		t.Fatalf("pending %d after the final", n)
	}
}

// TestDrainStartCountsAsWork: an edge that saw no work (or whose last
// request is still being handled) is not idle the moment it starts to
// drain; it is a quiet while later.
func TestDrainStartCountsAsWork(t *testing.T) {
	now := time.Unix(1000, 0)
	e := &Edge{opt: Options{Now: func() time.Time { return now }}, cache: newTxCache(100, func() time.Time { return now })}
	e.Drain()
	if !e.Draining() {
		t.Fatal("not draining after Drain")
	}
	if e.Idle(time.Second, 3*time.Second) {
		t.Fatal("idle the moment the drain began")
	}
	now = now.Add(1500 * time.Millisecond)
	if !e.Idle(time.Second, 3*time.Second) {
		t.Fatal("not idle a quiet while after the drain began, with nothing pending")
	}
}
