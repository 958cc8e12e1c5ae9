package ports

import (
	"strconv"
	"testing"
	"time"
)

// TestRecent: a reply is found until its ttl passes, then gone; each
// answer from memory renews it; a full cache takes no more; and in a steady stream (one put per tick, entries
// expiring as fast as they come) the FIFO stays within twice the live
// entries instead of growing or being shifted whole on every call.
func TestRecent(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	r := newRecent(10*time.Second, 1000)
	r.put("a", []byte("200 a"), t0)
	r.put("a", []byte("200 again"), t0.Add(time.Second))
	if got := string(r.get("a", t0.Add(10*time.Second))); got != "200 a" {
		t.Errorf("at the ttl: %q, want the first reply", got)
	}
	if got := r.get("a", t0.Add(20*time.Second+time.Millisecond)); got != nil {
		t.Errorf("past the ttl after the latest answer: %q, want nothing", got)
	}

	// Retransmissions every 4 s (T2) keep the reply past the ttl of the
	// first answer; once they stop it goes a ttl after the latest.
	rn := newRecent(5*time.Second, 10)
	rn.put("r", []byte("200 r"), t0)
	for i := 1; i <= 8; i++ {
		if got := string(rn.get("r", t0.Add(time.Duration(4*i)*time.Second))); got != "200 r" {
			t.Fatalf("retransmission %d at %d s: %q, want the reply", i, 4*i, got)
		}
	}
	if got := rn.get("r", t0.Add(37*time.Second+time.Millisecond)); got != nil {
		t.Errorf("5 s after the latest retransmission: %q, want nothing", got)
	}
	if len(rn.m) != 0 || len(rn.fifo)-rn.head != 0 {
		t.Errorf("after expiry: %d entries, %d FIFO items past the head", len(rn.m), len(rn.fifo)-rn.head)
	}

	full := newRecent(time.Hour, 3)
	for i := range 5 {
		full.put(strconv.Itoa(i), []byte{byte(i)}, t0)
	}
	if full.get("2", t0) == nil || full.get("3", t0) != nil || len(full.m) != 3 {
		t.Errorf("a cache of 3 holds %d entries (3: %v)", len(full.m), full.get("3", t0))
	}

	r = newRecent(10*time.Second, 1000)
	live := 0
	for i := range 100_000 {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		r.put("k"+strconv.Itoa(i), []byte("200"), now)
		live = len(r.m)
		if len(r.fifo)-r.head != live {
			t.Fatalf("at %d: %d entries in the FIFO past its head, %d in the map", i, len(r.fifo)-r.head, live)
		}
		if len(r.fifo) > 2*live+1 {
			t.Fatalf("at %d: FIFO of %d for %d live entries", i, len(r.fifo), live)
		}
	}
	if live < 1000 || live > 1001 { // 10 s of 1 ms ticks, capped at max 1000
		t.Errorf("%d live entries, want the cap of 1000", live)
	}
}

// BenchmarkRecentSteady: put and get in a steady state of 128k live
// entries (4,000 REGISTER/s for 32 s), each expiring one entry. With the
// FIFO shifted whole on every expiry this took 290 µs per op; with the
// head index, 1.4 µs.
func BenchmarkRecentSteady(b *testing.B) {
	t0 := time.Unix(1_800_000_000, 0)
	r := newRecent(32*time.Second, 200_000)
	const tick = 250 * time.Microsecond
	i := 0
	for ; i < 128_000; i++ {
		r.put(strconv.Itoa(i), []byte("200"), t0.Add(time.Duration(i)*tick))
	}
	b.ResetTimer()
	for range b.N {
		now := t0.Add(time.Duration(i) * tick)
		k := strconv.Itoa(i)
		r.get(k, now)
		r.put(k, []byte("200"), now)
		i++
	}
}
