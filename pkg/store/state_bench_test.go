package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
)

// benchState measures the OnceStore and RecordStore operations of s, one
// call per iteration.
func benchState(b *testing.B, s store.Store) {
	ctx := context.Background()

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
