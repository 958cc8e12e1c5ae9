package app

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
)

func TestPTxCache(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := newPTxCache(func() time.Time { return now })
	c.put("ck1|a", &cached{p: &ptx{ID: "a"}, version: 3}, 30*time.Second)
	if e := c.get("ck1|a"); e == nil || e.version != 3 {
		t.Fatalf("get = %+v", e)
	}
	c.put("ck1|dirty", &cached{p: &ptx{ID: "dirty"}, dirty: true}, time.Second)
	c.putDialog(&dialog{CallKey: "ck1", PTx: "a"}, time.Minute)
	now = now.Add(31 * time.Second)
	if e := c.get("ck1|a"); e != nil {
		t.Error("an expired entry was returned")
	}
	if n := c.sweep(); n != 0 {
		t.Errorf("sweep removed %d, want 0 (the expired one went on get; the dirty one waits for its write)", n)
	}
	if c.dialog("ck1") == nil {
		t.Error("the dialog went before its time")
	}
	c.put("ck2|b", &cached{p: &ptx{ID: "b"}}, time.Hour)
	c.forget(func(ck string) bool { return ck == "ck1" })
	if c.dialog("ck1") != nil || c.get("ck1|dirty") != nil || c.get("ck2|b") == nil {
		t.Error("forget dropped the wrong entries")
	}
	c.drop("ck2|b")
	if c.len() != 0 {
		t.Errorf("%d entries left", c.len())
	}
}

// Two replicas share the store: A creates the INVITE's transaction and
// caches it, B handles the 180 (the record moves on), then A handles the
// 200 from its stale cache: the compare-and-set fails, A reads the record
// and the 2xx goes up once, with the call answered once.
func TestStaleCacheFallsBackToTheStore(t *testing.T) {
	h := newHarness(t, "", bob)
	a := h.e
	b := NewEngine(Config{Advertise: proxyAddr, Domains: []string{"example.com"}, NoAnswer: 10 * time.Second}, Deps{
		Records: h.st, Commit: apply{h.st}, Sched: sched{h}, Send: sender{h}, Emit: emitter{h},
		Locate: bob, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return h.now },
	})
	h.request(invite(40, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	if a.cache.len() != 1 {
		t.Fatalf("replica A caches %d records after the INVITE, want 1", a.cache.len())
	}
	h.e = b
	h.respond(req, 180, "b40")
	if got := only(t, h.take(), "180 via replica B"); got.StatusCode != 180 {
		t.Fatalf("replica B relayed %d, want 180", got.StatusCode)
	}
	h.e = a
	h.respond(req, 200, "b40")
	up := only(t, h.take(), "200 via replica A")
	if up.StatusCode != 200 {
		t.Fatalf("replica A relayed %d, want 200", up.StatusCode)
	}
	answered := 0
	for _, em := range h.emits {
		if _, ok := em.Data.(*events.CallAnswered); ok {
			answered++
		}
	}
	if answered != 1 {
		t.Errorf("%d call.answered events, want 1 (the stale cache must not double the 2xx handling)", answered)
	}
}

// The cache's shards: a sweep forgets the expired entries of every shard
// (not the dirty ones), and a call whose shard is locked (swept, or busy)
// does not hold up a call in another shard.
func TestPTxCacheShards(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := newPTxCache(func() time.Time { return now })
	const calls = 1000
	for i := range calls {
		ck := fmt.Sprintf("%016x", i*7919)
		life := time.Hour
		if i%2 == 0 {
			life = time.Second
		}
		c.put(cacheKey(ck, "a"), &cached{p: &ptx{ID: "a"}, dirty: i%10 == 0}, life)
		c.putDialog(&dialog{CallKey: ck, PTx: "a"}, life)
	}
	used := 0
	for i := range c.shards {
		if len(c.shards[i].m) > 0 {
			used++
		}
	}
	if used < cacheShards/2 {
		t.Errorf("%d calls fill %d of %d shards", calls, used, cacheShards)
	}
	now = now.Add(2 * time.Second)
	// 500 transactions and 500 dialogs expired; the 100 dirty transactions
	// wait for their write
	if n := c.sweep(); n != 900 {
		t.Errorf("sweep removed %d entries, want 900", n)
	}
	if n := c.len(); n != 1100 {
		t.Errorf("%d entries left, want 1100", n)
	}
	if n := len(c.snapshot()); n != 600 {
		t.Errorf("snapshot lists %d transactions, want 600", n)
	}
	c.forget(func(ck string) bool { return ck < "0000000000008000" })
	for _, kc := range c.snapshot() {
		if callKeyOf(kc.key) < "0000000000008000" {
			t.Fatalf("forget left %s", kc.key)
		}
	}

	a, b := "0000000000000001", ""
	for i := 2; b == ""; i++ {
		if k := fmt.Sprintf("%016x", i); c.shard(k) != c.shard(a) {
			b = k
		}
	}
	c.put(cacheKey(b, "x"), &cached{p: &ptx{ID: "x"}}, time.Hour)
	s := c.shard(a)
	s.mu.Lock()
	got := make(chan *cached, 1)
	go func() { got <- c.get(cacheKey(b, "x")) }()
	select {
	case e := <-got:
		if e == nil {
			t.Error("the other call's transaction is missing")
		}
	case <-time.After(5 * time.Second):
		t.Error("a locked shard held up a call of another shard")
	}
	s.mu.Unlock()
}
