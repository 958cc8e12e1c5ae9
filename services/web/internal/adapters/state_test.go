package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/testenv/redishook"
	"github.com/sipbus/sipbus/services/web/internal/adapters"
	"github.com/sipbus/sipbus/services/web/internal/app"
)

// engine is what both engines offer; the conformance cases run on each.
type engine interface {
	Entries(ctx context.Context, aor string) ([]app.Entry, error)
	Put(ctx context.Context, aor string, e app.Entry, max int) (app.Entry, error)
	Delete(ctx context.Context, aor, id string) error
	Record(ctx context.Context, lines []app.Line, max int, ttl time.Duration) (int, error)
	Calls(ctx context.Context, aor string) ([]app.Call, error)
}

// engines runs f on each engine, with the directory whose subscribers
// get a history.
func engines(t *testing.T, f func(t *testing.T, e engine, dir subscriber.Directory)) {
	t.Run("memory", func(t *testing.T) {
		dir := subscriber.NewMemory()
		f(t, adapters.NewMemory(dir), dir)
	})
	t.Run("redis", func(t *testing.T) {
		_, _, dir, e := redisEngine(t)
		f(t, e, dir)
	})
}

// redisEngine is the Redis engine on the test server, with its client,
// key prefix and subscriber directory.
func redisEngine(t *testing.T) (redis.UniversalClient, string, *subscriber.Redis, *adapters.Redis) {
	t.Helper()
	c, prefix, err := store.OpenRedisClient(context.Background(), testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	dir := subscriber.NewRedis(c, prefix)
	return c, prefix, dir, adapters.NewRedis(c, prefix, dir)
}

func TestPhonebook(t *testing.T) {
	engines(t, func(t *testing.T, e engine, _ subscriber.Directory) {
		ctx := context.Background()
		a, err := e.Put(ctx, "alice@x", app.Entry{Name: "Bob", Target: "sip:bob@x"}, 2)
		if err != nil || a.ID == "" {
			t.Fatalf("Put = %+v, %v", a, err)
		}
		if _, err := e.Put(ctx, "alice@x", app.Entry{Name: "Carol", Target: "123"}, 2); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Put(ctx, "alice@x", app.Entry{Name: "Dave", Target: "124"}, 2); !errors.Is(err, adapters.ErrFull) {
			t.Fatalf("third Put with max 2 = %v, want ErrFull", err)
		}
		a.Name = "Bobby"
		if _, err := e.Put(ctx, "alice@x", a, 2); err != nil {
			t.Fatalf("edit at max = %v", err)
		}
		if _, err := e.Put(ctx, "alice@x", app.Entry{ID: "nope", Name: "X", Target: "1"}, 2); !errors.Is(err, adapters.ErrNotFound) {
			t.Fatalf("edit of a missing entry = %v, want ErrNotFound", err)
		}
		got, _ := e.Entries(ctx, "alice@x")
		got = app.Search(got, "")
		if len(got) != 2 || got[0].Name != "Bobby" || got[0].ID != a.ID || got[1].Name != "Carol" {
			t.Fatalf("Entries = %+v", got)
		}
		if other, _ := e.Entries(ctx, "mallory@x"); len(other) != 0 {
			t.Fatalf("another user's phonebook = %+v, want empty", other)
		}
		if err := e.Delete(ctx, "mallory@x", a.ID); !errors.Is(err, adapters.ErrNotFound) {
			t.Fatalf("Delete in another phonebook = %v, want ErrNotFound", err)
		}
		if err := e.Delete(ctx, "alice@x", a.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.Entries(ctx, "alice@x"); len(got) != 1 {
			t.Fatalf("after Delete: %+v", got)
		}
	})
}

func TestHistory(t *testing.T) {
	engines(t, func(t *testing.T, e engine, dir subscriber.Directory) {
		ctx := context.Background()
		if err := dir.Add(ctx, subscriber.Subscriber{AOR: "bob@x", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		line := func(uri, id string) app.Line {
			return app.Line{UserURI: uri, Call: app.Call{ID: id, Dir: app.In, Missed: true}}
		}
		// Each spelling of bob's AOR goes to his one history; mallory is
		// no subscriber and "tel:" no AOR.
		for i, uri := range []string{"sip:bob@x", "bob@X", "sip:bob@x.:5060;transport=tcp", `"Bob" <sips:bob@x>`, "sip:bob@x"} {
			n, err := e.Record(ctx, []app.Line{line(uri, fmt.Sprintf("k%d:in", i)), line("sip:mallory@x", fmt.Sprintf("k%d:out", i)), line("tel:+123", "t")}, 3, time.Hour)
			if err != nil || n != 1 {
				t.Fatalf("Record %d (%s) = %d, %v; want 1 added", i, uri, n, err)
			}
		}
		if n, err := e.Record(ctx, []app.Line{line("sip:bob@x", "k4:in")}, 3, time.Hour); n != 0 || err != nil {
			t.Fatalf("a redelivered call: Record = %d, %v; want 0 added", n, err)
		}
		got, _ := e.Calls(ctx, "bob@x")
		if len(got) != 3 || got[0].ID != "k4:in" || got[2].ID != "k2:in" || !got[0].Missed {
			t.Fatalf("Calls = %+v, want k4, k3, k2 (bounded to 3, newest first)", got)
		}
		if got, _ := e.Calls(ctx, "mallory@x"); len(got) != 0 {
			t.Fatalf("a non-subscriber's history = %+v, want none", got)
		}
	})
}

// TestHistoryIDs: on Redis a redelivered call is told by the history's id
// set, which stays as long as the list; a history kept before the id set
// existed (a list alone) is indexed from its lines on the next Record.
func TestHistoryIDs(t *testing.T) {
	c, prefix, dir, e := redisEngine(t)
	ctx := testenv.Context(t, 20*time.Second)
	if err := dir.Add(ctx, subscriber.Subscriber{AOR: "old@x", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	key := func(kind string) string {
		k := "web:" + kind + ":{old@x}"
		if prefix != "" {
			k = prefix + ":" + k
		}
		return k
	}
	// The history as the previous release left it: lines, newest first,
	// no id set; one line is not JSON (it has no id to index).
	for _, v := range []string{`{"id":"o1:in","dir":"in","missed":true}`, `not json`, `{"id":"o2:in","dir":"in","answered":true}`} {
		if err := c.LPush(ctx, key("calls"), v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	line := func(id string) []app.Line {
		return []app.Line{{UserURI: "sip:old@x", Call: app.Call{ID: id, Dir: app.In}}}
	}
	for _, id := range []string{"o1:in", "o2:in"} {
		if n, err := e.Record(ctx, line(id), 4, time.Hour); n != 0 || err != nil {
			t.Fatalf("Record of %s, a line the old history holds = %d, %v; want 0 added", id, n, err)
		}
	}
	for _, id := range []string{"n1:in", "n2:in", "n3:in"} {
		if n, err := e.Record(ctx, line(id), 4, time.Hour); n != 1 || err != nil {
			t.Fatalf("Record of %s = %d, %v; want 1 added", id, n, err)
		}
	}
	if n, err := e.Record(ctx, line("n1:in"), 4, time.Hour); n != 0 || err != nil {
		t.Fatalf("redelivered n1 = %d, %v; want 0 added", n, err)
	}
	got, err := e.Calls(ctx, "old@x")
	if err != nil || len(got) != 4 || got[0].ID != "n3:in" || got[1].ID != "n2:in" || got[2].ID != "n1:in" || got[3].ID != "o2:in" || !got[3].Answered {
		t.Fatalf("Calls = %+v, %v; want n3, n2, n1, o2 (4 kept: the line that is not JSON and o1 trimmed)", got, err)
	}
	ids, err := c.ZRange(ctx, key("callids"), 0, -1).Result()
	if err != nil || strings.Join(ids, " ") != "o2:in n1:in n2:in n3:in" {
		t.Fatalf("id set = %q, %v; want the 4 newest ids, oldest first (the list's o1 trimmed from both)", ids, err)
	}
	if ttl := c.PTTL(ctx, key("callids")).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("id set TTL = %v, want the history's (1h)", ttl)
	}
}

// TestRecordRedisDown: a Redis that does not answer is an error (the
// consumer retries the event), not a skipped line.
func TestRecordRedisDown(t *testing.T) {
	port := testenv.FreePort(t, "tcp") // nothing listens there
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	e := adapters.NewRedis(c, "", subscriber.NewRedis(c, ""))
	line := app.Line{UserURI: "sip:bob@example.com", Call: app.Call{ID: "k1:in", Dir: app.In}}
	n, err := e.Record(testenv.Context(t, 10*time.Second), []app.Line{line}, 10, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "history of bob@example.com") {
		t.Fatalf("Record against a dead server = %d, %v; want an error naming the history", n, err)
	}
}

// TestRecordGroupCommit: Records that arrive while one pipeline is in
// flight share the next round trip, each with its own answer (a line of
// a non-subscriber adds nothing), and a caller that gives up while it
// waits is not written.
func TestRecordGroupCommit(t *testing.T) {
	c, _, dir, e := redisEngine(t)
	ctx := testenv.Context(t, 20*time.Second)
	const n = 16
	for i := range n {
		if err := dir.Add(ctx, subscriber.Subscriber{AOR: fmt.Sprintf("g%d@x", i), Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	line := func(i int, id string) app.Line {
		return app.Line{UserURI: fmt.Sprintf("sip:g%d@x", i), Call: app.Call{ID: id, Dir: app.In}}
	}
	if _, err := e.Record(ctx, []app.Line{line(0, "warm")}, 10, time.Hour); err != nil { // connects, loads the script
		t.Fatal(err)
	}
	rc, ok := c.(*redis.Client)
	if !ok {
		t.Fatalf("client %T: the test hooks a single server", c)
	}
	h := &redishook.HoldFirst{Hold: 300 * time.Millisecond}
	rc.AddHook(h)

	added := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Go(func() { added[0], errs[0] = e.Record(ctx, []app.Line{line(0, "first")}, 10, time.Hour) })
	time.Sleep(adapters.RecordLinger + 50*time.Millisecond) // the first pipeline is held now (it lingered first)
	gone, cancel := context.WithCancel(ctx)
	wg.Go(func() { // gives up while it waits
		time.AfterFunc(20*time.Millisecond, cancel)
		if _, err := e.Record(gone, []app.Line{line(1, "abandoned")}, 10, time.Hour); !errors.Is(err, context.Canceled) {
			t.Errorf("abandoned Record = %v, want context.Canceled", err)
		}
	})
	for i := 1; i < n; i++ {
		wg.Go(func() {
			added[i], errs[i] = e.Record(ctx, []app.Line{line(i, fmt.Sprintf("c%d", i)), {UserURI: "sip:mallory@x", Call: app.Call{ID: "m", Dir: app.Out}}}, 10, time.Hour)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || added[i] != 1 {
			t.Errorf("Record %d = %d, %v; want 1 added", i, added[i], errs[i])
		}
	}
	if p, cmds := h.Pipelines.Load(), h.Commands.Load(); p != 2 || cmds != 1+2*(n-1) {
		t.Errorf("%d pipelines of %d scripts; want 2 of %d (the held one, then every Record that came meanwhile)", p, cmds, 1+2*(n-1))
	}
	calls, err := e.Calls(ctx, "g1@x")
	if err != nil || len(calls) != 1 || calls[0].ID != "c1" {
		t.Errorf("g1's history = %+v, %v; want c1 only (the abandoned Record not written)", calls, err)
	}
}
