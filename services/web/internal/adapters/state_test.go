package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
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
		c, prefix, err := store.OpenRedisClient(context.Background(), testenv.RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		dir := subscriber.NewRedis(c, prefix)
		f(t, adapters.NewRedis(c, prefix, dir), dir)
	})
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
