// Package storetest is the conformance suite every ctd Store and Tokens
// engine passes.
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sipbus/sipbus/services/ctd/internal/app"
	"github.com/sipbus/sipbus/services/ctd/internal/ports"
)

// Engine is what the suite tests.
type Engine interface {
	ports.Store
	ports.Tokens
}

// Run runs the suite on engines made by mk (a fresh, empty one each call).
func Run(t *testing.T, mk func(t *testing.T) Engine) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	fresh := func(id string) app.State {
		return app.NewState(id, "alice@example.com", "sip:alice@example.com", "sip:bob@example.com", app.DefaultPolicy(), now)
	}
	t.Run("create load save conflict", func(t *testing.T) {
		e := mk(t)
		s, err := e.Create(ctx, fresh("c1"))
		if err != nil || s.Version != 1 {
			t.Fatalf("create: %v %d", err, s.Version)
		}
		if _, err := e.Create(ctx, fresh("c1")); !errors.Is(err, ports.ErrExists) {
			t.Fatalf("second create: %v", err)
		}
		if _, err := e.Load(ctx, "nope"); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("load missing: %v", err)
		}
		got, err := e.Load(ctx, "c1")
		if err != nil || got.Version != 1 || got.To != "sip:bob@example.com" || got.Winner != -1 {
			t.Fatalf("load: %+v %v", got, err)
		}
		got.Phase = app.PhaseTrying
		saved, err := e.Save(ctx, got)
		if err != nil || saved.Version != 2 {
			t.Fatalf("save: %v %d", err, saved.Version)
		}
		got.Phase = app.PhaseFailed // stale version 1
		if _, err := e.Save(ctx, got); !errors.Is(err, ports.ErrConflict) {
			t.Fatalf("stale save: %v", err)
		}
		back, _ := e.Load(ctx, "c1")
		if back.Phase != app.PhaseTrying || back.Version != 2 {
			t.Fatalf("after stale save: %s %d", back.Phase, back.Version)
		}
	})
	t.Run("one of concurrent savers wins", func(t *testing.T) {
		e := mk(t)
		s, _ := e.Create(ctx, fresh("c2"))
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.Save(ctx, s); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d saves of one version won", wins)
		}
	})
	t.Run("deadlines and dialogs", func(t *testing.T) {
		e := mk(t)
		w := fresh("a")
		w.Watch = "ring:alice@example.com>bob@example.com"
		a, _ := e.Create(ctx, w)
		b, _ := e.Create(ctx, fresh("b"))
		a.Deadline, a.Timer = now.Add(time.Second), app.TimerRefer
		a.Legs = []app.Leg{{Role: app.RoleCaller, Dialog: "0123-dlg"}}
		a, _ = e.Save(ctx, a)
		b.Deadline = now.Add(time.Hour)
		b, _ = e.Save(ctx, b)
		if ids, _ := e.Due(ctx, now, 10); len(ids) != 0 {
			t.Fatalf("due before: %v", ids)
		}
		if ids, err := e.Due(ctx, now.Add(2*time.Second), 10); err != nil || len(ids) != 1 || ids[0] != "a" {
			t.Fatalf("due: %v %v", ids, err)
		}
		if id, err := e.ByDialog(ctx, "0123-dlg"); err != nil || id != "a" {
			t.Fatalf("by dialog: %q %v", id, err)
		}
		if id, err := e.ByDialog(ctx, "ring:alice@example.com>bob@example.com"); err != nil || id != "a" {
			t.Fatalf("by watch key: %q %v", id, err)
		}
		if _, err := e.ByDialog(ctx, "other"); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("unknown dialog: %v", err)
		}
		a.Deadline, a.Done = time.Time{}, true
		if _, err := e.Save(ctx, a); err != nil {
			t.Fatal(err)
		}
		if ids, _ := e.Due(ctx, now.Add(2*time.Hour), 10); len(ids) != 1 || ids[0] != "b" {
			t.Fatalf("due after done: %v", ids)
		}
	})
	t.Run("watches expire with their dialog key", func(t *testing.T) {
		e := mk(t)
		before := time.Now()
		for _, c := range []struct{ id, watch string }{{"w1", "ring:alice@example.com>bob@example.com"},
			{"w2", ""}, {"w3", "ring:bob@example.com>alice@example.com"}} {
			s := fresh(c.id)
			s.Watch = c.watch
			if _, err := e.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond) // distinct expiry times: the order is checked
		}
		ws, err := e.Watches(ctx, time.Now(), 10)
		if err != nil || len(ws) != 2 || ws[0].Key != "ring:bob@example.com>alice@example.com" || ws[1].Key != "ring:alice@example.com>bob@example.com" {
			t.Fatalf("watches: %+v %v, want the two keys, the latest first", ws, err)
		}
		for _, w := range ws {
			if w.Expires.Before(before.Add(23*time.Hour)) || w.Expires.After(time.Now().Add(25*time.Hour)) {
				t.Fatalf("watch %s expires at %s, want a day after its creation", w.Key, w.Expires)
			}
		}
		if ws, _ := e.Watches(ctx, time.Now(), 1); len(ws) != 1 || ws[0].Key != "ring:bob@example.com>alice@example.com" {
			t.Fatalf("watches limit 1: %+v", ws)
		}
		if ws, _ := e.Watches(ctx, time.Now().Add(25*time.Hour), 10); len(ws) != 0 {
			t.Fatalf("watches a day later: %+v", ws)
		}
	})
	t.Run("tokens", func(t *testing.T) {
		e := mk(t)
		tok, err := e.CreateToken(ctx, "alice@example.com")
		if err != nil || len(tok) < 40 {
			t.Fatalf("token %q %v", tok, err)
		}
		tok2, _ := e.CreateToken(ctx, "alice@example.com")
		if tok2 == tok {
			t.Fatal("two tokens alike")
		}
		if aor, err := e.LookupToken(ctx, tok); err != nil || aor != "alice@example.com" {
			t.Fatalf("lookup %q %v", aor, err)
		}
		if _, err := e.LookupToken(ctx, tok+"x"); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("bad token: %v", err)
		}
	})
}
