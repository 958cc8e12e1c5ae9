package ctd

import (
	"testing"
	"time"
)

// TestRingKeys: which call.ringing needs the store, step by step.
func TestRingKeys(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	const a, b, c = "ring:a@x>b@x", "ring:b@x>a@x", "ring:c@x>a@x"
	type step struct {
		name string
		do   func(r *ringKeys)
		now  int
		want map[string]bool // key -> mayBeOurs
	}
	var gen uint64
	steps := []step{
		{"before the store was read: every key", func(r *ringKeys) {}, 0, map[string]bool{a: true, c: true}},
		{"a seed started before a gap does not complete the set", func(r *ringKeys) {
			gen, _ = r.generation()
			r.observe(1, 0) // a reconnect while the store was read
			r.seeded(gen)
		}, 0, map[string]bool{a: true, c: true}},
		{"seeded with a: only a", func(r *ringKeys) {
			gen, _ = r.generation()
			r.add(a, at(100), at(0))
			r.seeded(gen)
		}, 1, map[string]bool{a: true, b: false, c: false}},
		{"announced b", func(r *ringKeys) { r.add(b, at(50), at(1)) }, 2, map[string]bool{a: true, b: true, c: false}},
		{"b expired", func(r *ringKeys) {}, 50, map[string]bool{a: true, b: false, c: false}},
		{"b heard again lives longer", func(r *ringKeys) { r.add(b, at(150), at(50)) }, 120, map[string]bool{a: false, b: true, c: false}},
		{"dropped announcements: every key again", func(r *ringKeys) { r.observe(1, 3) }, 120, map[string]bool{a: true, b: true, c: true}},
		{"the same counts seen again change nothing", func(r *ringKeys) {
			r.observe(1, 3)
			gen, _ = r.generation()
			r.seeded(gen)
		}, 120, map[string]bool{b: true, c: false}},
		{"set full (b, c): a refused, every key until a would expire", func(r *ringKeys) {
			r.add(c, at(300), at(120))
			r.add(a, at(400), at(120))
		}, 130, map[string]bool{a: true, "ring:z@x>y@x": true}},
		{"after that, the set again", func(r *ringKeys) {}, 400, map[string]bool{a: false, b: false, c: false}},
	}
	r := newRingKeys(2)
	for _, s := range steps {
		s.do(r)
		for k, want := range s.want {
			if got := r.mayBeOurs(k, at(s.now)); got != want {
				t.Fatalf("%s: mayBeOurs(%s) at %ds = %v, want %v", s.name, k, s.now, got, want)
			}
		}
	}
	if r.len() != 2 {
		t.Fatalf("%d keys held, want the cap 2", r.len())
	}
	// some key may be ours while one is alive (c until 300, a refused and
	// looked up until 400), none after
	for _, s := range []struct {
		now  int
		want bool
	}{{299, true}, {399, true}, {400, false}} {
		if got := r.anyMayBeOurs(at(s.now)); got != s.want {
			t.Fatalf("anyMayBeOurs at %ds = %v, want %v", s.now, got, s.want)
		}
	}
	if fresh := newRingKeys(2); !fresh.anyMayBeOurs(at(0)) {
		t.Fatal("anyMayBeOurs before the store was read = false, want true (every key may be ours)")
	}
	r.sweep(at(400))
	if r.len() != 0 {
		t.Fatalf("%d keys after the sweep, want 0", r.len())
	}
}
