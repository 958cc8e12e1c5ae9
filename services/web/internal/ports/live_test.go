package ports_test

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/testenv/redislog"
	"github.com/sipbus/sipbus/services/web/internal/adapters"
	"github.com/sipbus/sipbus/services/web/internal/config"
	"github.com/sipbus/sipbus/services/web/internal/ports"
)

// commands counts what a client sends (redislog.Log) since the last
// take.
type commands struct {
	redislog.Log
	mark int
}

// take returns what was sent since the last take, as "N round trips:
// cmd×n ...", commands sorted by name.
func (h *commands) take() string {
	trips := h.Since(h.mark)
	h.mark += len(trips)
	names := map[string]int{}
	for _, trip := range trips {
		for _, c := range trip {
			n, _, _ := strings.Cut(c, " ")
			names[n]++
		}
	}
	var cs []string
	for _, n := range slices.Sorted(maps.Keys(names)) {
		cs = append(cs, fmt.Sprintf("%s×%d", n, names[n]))
	}
	return fmt.Sprintf("%d round trips: %s", len(trips), strings.Join(cs, " "))
}

// TestHistoryHandler feeds call events to the history consumer's handler
// on each engine: lines are kept for subscribers only (caller and callee),
// a redelivery adds nothing, and on Redis an event is one round trip (a
// pipeline of one script per line, no directory read), two when the
// server has lost the script.
func TestHistoryHandler(t *testing.T) {
	const alice, bob = "alice@example.com", "bob@example.com" // subscribers
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ended := func(key, from, to string) *bus.Event {
		return event(t, key, &events.CallEnded{CallID: key + "@t", CallKey: key, Caller: events.Party{URI: from}, Callee: events.Party{URI: to},
			StartedAt: now, AnsweredAt: now.Add(2 * time.Second), EndedAt: now.Add(62 * time.Second), HangupBy: events.HangupCaller})
	}
	missed := func(key, from, to string) *bus.Event {
		return event(t, key, &events.CallMissed{CallID: key + "@t", CallKey: key, Caller: events.Party{URI: from},
			Callee: events.Party{URI: to}, RequestURI: to, StartedAt: now, EndedAt: now.Add(20 * time.Second),
			Reason: events.MissedNoAnswer, Status: 408})
	}
	steps := []struct {
		name string
		ev   *bus.Event
		// flush: SCRIPT FLUSH before the event (a restarted server).
		flush bool
		// sent is what the Redis engine sends, on a fresh server.
		sent string
	}{
		{name: "both ends subscribers", ev: ended("k1", "sip:alice@example.com", "sip:bob@example.com;transport=tcp"),
			sent: "2 round trips: eval×2 evalsha×2"}, // the server does not know the script yet
		{name: "caller no subscriber", ev: missed("k2", "sip:mallory@evil.example", "sip:alice@EXAMPLE.com:5060"),
			sent: "1 round trips: evalsha×2"},
		{name: "redelivery", ev: missed("k2", "sip:mallory@evil.example", "sip:alice@EXAMPLE.com:5060"),
			sent: "1 round trips: evalsha×2"},
		{name: "neither end subscribers", ev: missed("k3", "sip:mallory@evil.example", "sip:nobody@example.com"),
			sent: "1 round trips: evalsha×2"},
		{name: "no AOR at either end", ev: missed("k4", "tel:+15550100", "sip:example.com"),
			sent: "0 round trips: "},
		{name: "script lost", ev: ended("k5", "sip:bob@example.com", "sip:alice@example.com"), flush: true,
			sent: "2 round trips: eval×2 evalsha×2"},
	}
	want := map[string][]string{
		alice:                  {"k5:in", "k2:in", "k1:out"},
		bob:                    {"k5:out", "k1:in"},
		"mallory@evil.example": nil,
		"nobody@example.com":   nil,
	}

	// sent returns what the engine sent to Redis since its last call
	// (nil: the memory engine, which sends nothing).
	run := func(t *testing.T, dir subscriber.Directory, h ports.Histories, sent func(flush bool) string) {
		ctx := testenv.Context(t, 30*time.Second)
		for _, aor := range []string{alice, bob} {
			if err := dir.Add(ctx, subscriber.Subscriber{AOR: aor, Enabled: true}); err != nil {
				t.Fatal(err)
			}
		}
		srv := &ports.Server{Cfg: config.Default(), Directory: dir, History: h}
		if sent != nil {
			sent(false)
		}
		for _, s := range steps {
			if sent != nil {
				sent(s.flush)
			}
			if err := srv.HistoryHandler(ctx, s.ev); err != nil {
				t.Fatalf("%s: HistoryHandler = %v", s.name, err)
			}
			if sent == nil {
				continue
			}
			if got := sent(false); got != s.sent {
				t.Errorf("%s: sent %s, want %s", s.name, got, s.sent)
			}
		}
		for aor, ids := range want {
			calls, err := h.Calls(ctx, aor)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range calls {
				got = append(got, c.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(ids) {
				t.Errorf("history of %s = %v, want %v", aor, got, ids)
			}
		}
	}

	t.Run("memory", func(t *testing.T) {
		dir := subscriber.NewMemory()
		run(t, dir, adapters.NewMemory(dir), nil)
	})
	t.Run("redis", func(t *testing.T) {
		ctx := testenv.Context(t, 30*time.Second)
		c, prefix, err := store.OpenRedisClient(ctx, testenv.RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		h := &commands{}
		c.AddHook(h)
		dir := subscriber.NewRedis(c, prefix)
		run(t, dir, adapters.NewRedis(c, prefix, dir), func(flush bool) string {
			if flush {
				if err := c.ScriptFlush(ctx).Err(); err != nil {
					t.Fatal(err)
				}
			}
			return h.take()
		})
		// Only the subscribers' histories exist: a URI that names no
		// subscriber created no key.
		keys, err := c.Keys(ctx, "*web:calls:*").Result()
		sort.Strings(keys)
		if err != nil || fmt.Sprint(keys) != "[web:calls:{alice@example.com} web:calls:{bob@example.com}]" {
			t.Fatalf("history keys = %v, %v; want alice's and bob's only", keys, err)
		}
	})
}

// event is data as the consumer receives it.
func event(t *testing.T, key string, data bus.Typed) *bus.Event {
	t.Helper()
	ev, err := bus.NewEvent(data.CEType()+"-"+key, key+"@t", key, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
