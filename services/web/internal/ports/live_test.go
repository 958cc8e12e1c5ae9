package ports_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/web/internal/adapters"
	"github.com/sipbus/sipbus/services/web/internal/config"
	"github.com/sipbus/sipbus/services/web/internal/ports"
)

// commands is a go-redis hook that counts what a client sends: round
// trips (one per command or pipeline) and commands by name.
type commands struct {
	mu     sync.Mutex
	rounds int
	names  map[string]int
}

func (h *commands) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, c redis.Cmder) error {
		h.count([]redis.Cmder{c})
		return next(ctx, c)
	}
}

func (h *commands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cs []redis.Cmder) error {
		h.count(cs)
		return next(ctx, cs)
	}
}

// count counts a round trip of cs. A new connection's set-up (HELLO,
// CLIENT SETINFO) is no part of an event's cost and is left out.
func (h *commands) count(cs []redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	counted := false
	for _, c := range cs {
		if n := c.Name(); n != "hello" && n != "client" {
			h.names[n]++
			counted = true
		}
	}
	if counted {
		h.rounds++
	}
}

// take returns what was sent since the last take, as "N round trips:
// cmd×n ...", commands sorted by name.
func (h *commands) take() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.names))
	for n := range h.names {
		names = append(names, n)
	}
	sort.Strings(names)
	var cs []string
	for _, n := range names {
		cs = append(cs, fmt.Sprintf("%s×%d", n, h.names[n]))
	}
	s := fmt.Sprintf("%d round trips: %s", h.rounds, strings.Join(cs, " "))
	h.rounds, h.names = 0, map[string]int{}
	return s
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
		h := &commands{names: map[string]int{}}
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
