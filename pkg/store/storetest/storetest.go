// Package storetest is the conformance suite of the store interfaces: every
// engine (memory, Redis) runs the same tests, so they cannot drift apart.
// [RunOnce], [RunRecords], [RunBatch] (store.BatchStore and
// store.IndexStore) and [RunMembership] each cover one part of store.Store,
// and [RunAll] all of them, Ping included.
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

// NewStore makes a store.Store for one test.
//
// It returns a store for one test, with its cleanup registered on t, and
// advance, which makes d pass for that store (a fake clock for memory,
// time.Sleep for Redis). Stores returned for different tests may share a
// server but must not see each other's keys (use a fresh prefix).
type NewStore func(t *testing.T) (store.Store, func(d time.Duration))

// RunAll runs every suite of the package against the engine made by
// newStore: Ping, RunOnce, RunRecords, RunBatch and
// RunMembership, as subtests.
func RunAll(t *testing.T, newStore NewStore) {
	t.Helper()
	t.Run("Ping", func(t *testing.T) {
		s, _ := newStore(t)
		if err := s.Ping(ctx(t)); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
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

// oddIDs are once keys, record keys, index members and member ids of
// awkward bytes.
var oddIDs = []string{
	"c0ffee|z9hG4bK-1|INVITE|192.0.2.1:5060|B",
	"{t3}braces}{",
	"pipes|||and|0|1||",
	"nul\x00byte\xff",
	"crlf\r\nInjected: yes",
	"ünïcödé-键",
	"with space and\ttab",
	"*",
	string(bytes.Repeat([]byte("long"), 256)),
}

// allBytes is a SIP message followed by every byte value.
func allBytes() []byte {
	b := []byte("SIP/2.0 200 OK\r\nContent-Length: 256\r\n\r\n")
	for i := range 256 {
		b = append(b, byte(i))
	}
	return append(b, 0, '\r', '\n', 0xff, 0xfe, 0)
}
