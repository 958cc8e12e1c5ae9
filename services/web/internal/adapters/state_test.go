package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/web/internal/adapters"
	"github.com/sipbus/sipbus/services/web/internal/app"
)

// engine is what both engines offer; the conformance cases run on each.
type engine interface {
	Entries(ctx context.Context, aor string) ([]app.Entry, error)
	Put(ctx context.Context, aor string, e app.Entry, max int) (app.Entry, error)
	Delete(ctx context.Context, aor, id string) error
	Push(ctx context.Context, aor string, c app.Call, max int, ttl time.Duration) (bool, error)
	Calls(ctx context.Context, aor string) ([]app.Call, error)
}

func engines(t *testing.T, f func(t *testing.T, e engine)) {
	t.Run("memory", func(t *testing.T) { f(t, adapters.NewMemory()) })
	t.Run("redis", func(t *testing.T) {
		c, prefix, err := store.OpenRedisClient(context.Background(), testenv.RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		f(t, adapters.NewRedis(c, prefix))
	})
}

func TestPhonebook(t *testing.T) {
	engines(t, func(t *testing.T, e engine) {
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
	engines(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		for i := range 5 {
			ok, err := e.Push(ctx, "bob@x", app.Call{ID: fmt.Sprintf("k%d:in", i), Dir: app.In, Missed: true}, 3, time.Hour)
			if err != nil || !ok {
				t.Fatalf("Push %d = %v, %v", i, ok, err)
			}
		}
		if ok, _ := e.Push(ctx, "bob@x", app.Call{ID: "k4:in"}, 3, time.Hour); ok {
			t.Fatal("a redelivered call was added again")
		}
		got, _ := e.Calls(ctx, "bob@x")
		if len(got) != 3 || got[0].ID != "k4:in" || got[2].ID != "k2:in" || !got[0].Missed {
			t.Fatalf("Calls = %+v, want k4, k3, k2 (bounded to 3, newest first)", got)
		}
	})
}
