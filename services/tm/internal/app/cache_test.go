package app

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
)

func TestRecordCache(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := newRecordCache(16, 30*time.Second, func() time.Time { return now })
	c.put("a", 3, []byte("v3"))
	if r, ok := c.get("a"); !ok || r.version != 3 || string(r.value) != "v3" {
		t.Fatalf("get(a) = %+v, %v", r, ok)
	}
	now = now.Add(31 * time.Second)
	if _, ok := c.get("a"); ok {
		t.Error("an entry older than maxAge was returned")
	}
	for i := range 100 {
		c.put(fmt.Sprint(i), int64(i), nil)
	}
	if n := c.len(); n > 16 {
		t.Errorf("%d entries, want at most 16", n)
	}
	c.put("b", 1, nil)
	c.drop("b")
	if _, ok := c.get("b"); ok {
		t.Error("a dropped entry was returned")
	}
	var nilCache *recordCache
	nilCache.put("x", 1, nil)
	if _, ok := nilCache.get("x"); ok {
		t.Error("the nil cache returned an entry")
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
		Records: h.st, Timers: h.st, Once: h.st, Tx: h.st, Send: sender{h}, Emit: emitter{h},
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
