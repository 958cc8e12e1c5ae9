package store_test

import (
	"context"
	"errors"
	"fmt"
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
	tx := &store.Tx{CallKey: "c", Key: "k"}
	if _, _, err := s.CreateOrGet(ctx, tx, time.Minute); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateOrGet after Close: %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping after Close: %v, want ErrUnavailable", err)
	}
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

func BenchmarkMemoryCreateOrGet(b *testing.B) {
	s := store.NewMemory(store.MemoryOptions{})
	defer s.Close()
	benchCreateOrGet(b, s)
}

// benchCreateOrGet measures a new transaction per iteration ("new") and a
// retransmission of one transaction ("retransmit").
func benchCreateOrGet(b *testing.B, s store.TxStore) {
	ctx := context.Background()
	raw := make([]byte, 600)
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		tx := &store.Tx{CallKey: "bench", Kind: store.KindServer, Method: "INVITE", State: "proceeding",
			Edge: "edge-1", Source: "udp:192.0.2.1:5060", LastStatus: 100, LastResponse: raw}
		b.RunParallel(func(pb *testing.PB) {
			tx := *tx
			base := fmt.Sprintf("%p", &tx)
			i := 0
			for pb.Next() {
				i++
				tx.CallKey = fmt.Sprintf("%s-%d", base, i%1024)
				tx.Key = fmt.Sprintf("z9hG4bK-%s-%d", base, i)
				if _, _, err := s.CreateOrGet(ctx, &tx, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("retransmit", func(b *testing.B) {
		b.ReportAllocs()
		tx := &store.Tx{CallKey: "bench-rtx", Key: "z9hG4bK-rtx", Kind: store.KindServer, Method: "INVITE",
			LastStatus: 100, LastResponse: raw}
		for b.Loop() {
			if _, _, err := s.CreateOrGet(ctx, tx, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}
