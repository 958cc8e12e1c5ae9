package app

import (
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
