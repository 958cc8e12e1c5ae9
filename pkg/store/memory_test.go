package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/store/storetest"
)

func newMemory(t *testing.T) (store.Store, func(time.Duration)) {
	clock := storetest.NewClock()
	s := store.NewMemory(store.MemoryOptions{Now: clock.Now, JanitorInterval: -1})
	t.Cleanup(func() { _ = s.Close() })
	return s, clock.Advance
}

func TestMemoryConformance(t *testing.T) {
	storetest.RunAll(t, newMemory)
}

func TestMemoryClosed(t *testing.T) {
	s := store.NewMemory(store.MemoryOptions{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	for op, res := range allOps(ctx, s) {
		if !errors.Is(res.err, store.ErrUnavailable) {
			t.Errorf("%s after Close: %v, want ErrUnavailable", op, res.err)
		}
	}
}

func BenchmarkMemoryState(b *testing.B) {
	s := store.NewMemory(store.MemoryOptions{})
	defer s.Close()
	benchState(b, s)
}
