package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemoryJanitorRemovesExpired(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1700000000, 0)}
	s := newMemory(MemoryOptions{Now: clock.Now, JanitorInterval: 5 * time.Millisecond})
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	for i, ttl := range []time.Duration{time.Second, time.Hour} {
		key := string(rune('a' + i))
		if _, _, err := s.SaveRecord(ctx, "c", key, []byte("v"), 0, ttl); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Once(ctx, key, ttl); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.size(); n != 4 {
		t.Fatalf("size = %d, want 4", n)
	}
	clock.advance(2 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for s.size() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("janitor left %d records and once markers after 5s, want 2", s.size())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMemoryCloseStopsJanitor(t *testing.T) {
	s := newMemory(MemoryOptions{JanitorInterval: time.Millisecond})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("janitor still running after Close")
	}
}
