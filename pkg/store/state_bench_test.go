package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
)

// benchState measures the TimerStore, OnceStore and RecordStore operations
// of s, one call per iteration.
func benchState(b *testing.B, s store.Store) {
	ctx := context.Background()
	payload := make([]byte, 200)
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	// Arm: a new timer per iteration.
	b.Run("Arm", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if err := s.Arm(ctx, "bench-arm|z9hG4bK-"+strconv.Itoa(i)+"|B", t0.Add(time.Hour), payload); err != nil {
				b.Fatal(err)
			}
		}
	})

	// Claim: 1024 timers, always due (now moves past every lease), so each
	// call finds work in the first shard it asks.
	const pool = 1024
	for i := range pool {
		if err := s.Arm(ctx, "bench-claim|z9hG4bK-"+strconv.Itoa(i)+"|F", t0, payload); err != nil {
			b.Fatal(err)
		}
	}
	now := t0.Add(time.Hour) // only moves forward, across runs too
	for _, max := range []int{1, 16} {
		b.Run("Claim/max="+strconv.Itoa(max), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(time.Second)
				ts, err := s.Claim(ctx, now, max, time.Millisecond)
				if err != nil || len(ts) != max {
					b.Fatalf("Claim = %d timers, %v; want %d", len(ts), err, max)
				}
			}
		})
	}
	// Claim with nothing due: every shard is asked.
	b.Run("Claim/none-due", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ts, err := s.Claim(ctx, t0.Add(-time.Hour), 16, time.Second); err != nil || len(ts) != 0 {
				b.Fatalf("Claim = %d timers, %v; want 0", len(ts), err)
			}
		}
	})

	// Once: a new key per iteration (the first caller's path).
	b.Run("Once", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if ok, err := s.Once(ctx, "bench-once|c0ffee|ptx-"+strconv.Itoa(i), time.Minute); err != nil || !ok {
				b.Fatalf("Once = %v, %v", ok, err)
			}
		}
	})

	// SaveRecord: successive versions of one record.
	runs := 0
	b.Run("SaveRecord", func(b *testing.B) {
		b.ReportAllocs()
		value := make([]byte, 500)
		runs++
		ck := "bench-rec-" + strconv.Itoa(runs)
		var ver int64
		for b.Loop() {
			v, ok, err := s.SaveRecord(ctx, ck, "ptx|z9hG4bK-1", value, ver, time.Minute)
			if err != nil || !ok {
				b.Fatalf("SaveRecord(version %d) = %d, %v, %v", ver, v, ok, err)
			}
			ver = v
		}
	})
}
