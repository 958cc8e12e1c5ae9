package web_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/web"
	"github.com/sipbus/sipbus/services/web/internal/app"
	"github.com/sipbus/sipbus/services/web/internal/ports"
)

// flaky is a history whose writes fail while fail is set (Redis away).
type flaky struct {
	ports.Histories
	fail atomic.Bool
}

func (f *flaky) Record(ctx context.Context, lines []app.Line, max int, ttl time.Duration) (int, error) {
	if f.fail.Load() {
		return 0, errors.New("test: redis away")
	}
	return f.Histories.Record(ctx, lines, max, ttl)
}

// TestInProcessFeed: the histories of sipbus up come from bus.Local, and
// the stream is read to catch up: from its start when no mark is stored,
// from the mark after a restart (calls that ended while the page was
// away), and from a failed write once writes work again. Real NATS
// JetStream, real Redis.
func TestInProcessFeed(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	ns := testenv.NATS(t)
	nc, js := testenv.Connect(t, ns.ClientURL())
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	hot, err := nats.Connect(ns.ClientURL(), nats.NoEcho())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hot.Close)
	local, err := bus.NewLocal(hot)
	if err != nil {
		t.Fatal(err)
	}
	c, prefix, err := store.OpenRedisClient(ctx, testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	dir := subscriber.NewRedis(c, prefix)
	bob := subscriber.Subscriber{AOR: "bob@example.com", Enabled: true}
	if err := bob.SetPassword("bob-secret-1"); err != nil {
		t.Fatal(err)
	}
	if err := dir.Add(ctx, bob); err != nil {
		t.Fatal(err)
	}
	st := web.StateOn(c, prefix)
	hist := &flaky{Histories: st.History}
	st.History = hist

	away := bus.NewPublisher(js, "sipbus/test/1", bus.PublisherOptions{})               // straight to the stream
	inproc := bus.NewPublisher(js, "sipbus/test/1", bus.PublisherOptions{Local: local}) // as tm in sipbus up
	missed := func(p *bus.Publisher, key string) {
		t.Helper()
		now := time.Now()
		d := &events.CallMissed{CallID: key + "@test", CallKey: key, Caller: events.Party{URI: "sip:carol@example.net"},
			Callee: events.Party{URI: "sip:bob@example.com"}, StartedAt: now.Add(-5 * time.Second), EndedAt: now,
			Reason: events.MissedNoAnswer, Status: 408, LocalUser: true, RequestURI: "sip:bob@example.com"}
		if err := p.PublishData(ctx, bus.SubjectCall(bus.CallEventMissed, key), "missed-"+key, d.CallID, key, d); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	start := func() *web.Service {
		t.Helper()
		cfg := web.DefaultConfig()
		cfg.SessionKey = []byte(strings.Repeat("s", 32))
		svc, err := web.New(cfg, web.Deps{NC: nc, JS: js, Directory: dir, Locations: location.NewRedis(c, prefix), State: st,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Local: local})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return svc
	}
	// waitCalls waits until bob's history holds exactly want (newest
	// first), for up to 10 s.
	waitCalls := func(step string, want ...string) {
		t.Helper()
		var got []string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			calls, err := hist.Calls(ctx, "bob@example.com")
			if err != nil {
				t.Fatal(err)
			}
			got = got[:0]
			for _, c := range calls {
				got = append(got, strings.TrimSuffix(c.ID, ":in"))
			}
			if strings.Join(got, " ") == strings.Join(want, " ") {
				return
			}
		}
		t.Fatalf("%s: bob's history %q, want %q", step, got, want)
	}

	// A call missed before the page ever ran: no mark, the catch-up reads
	// the stream from its start.
	missed(away, "00000000000000a1")
	svc := start()
	waitCalls("first start", "00000000000000a1")
	waitMark := func(step string, after time.Time) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if m, ok, err := hist.Marked(ctx); err != nil {
				t.Fatal(err)
			} else if ok && !m.Before(after) {
				return
			}
		}
		m, ok, _ := hist.Marked(ctx)
		t.Fatalf("%s: mark %v (%v), want one at or after %v", step, m, ok, after)
	}
	waitMark("after the first catch-up", time.Now().Add(-time.Minute))

	// In-process: recorded, and the mark follows the event's time.
	before := time.Now()
	missed(inproc, "00000000000000a2")
	waitCalls("in-process", "00000000000000a2", "00000000000000a1")
	if err := svc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitMark("after shutdown", before)

	// A call missed while the page was away: read from the mark at start.
	missed(away, "00000000000000a3")
	svc = start()
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	waitCalls("restart", "00000000000000a3", "00000000000000a2", "00000000000000a1")

	// A write that fails: caught up from the stream once writes work.
	hist.fail.Store(true)
	missed(inproc, "00000000000000a4")
	time.Sleep(300 * time.Millisecond)
	waitCalls("write failing", "00000000000000a3", "00000000000000a2", "00000000000000a1")
	hist.fail.Store(false)
	waitCalls("writes work again", "00000000000000a4", "00000000000000a3", "00000000000000a2", "00000000000000a1")

	// No consumer of the page's is left on the stream: the catch-ups'
	// ordered consumers are gone or ephemeral, and no durable exists.
	s, err := js.Stream(ctx, bus.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	for name := range s.ConsumerNames(ctx).Name() {
		if ci, err := s.Consumer(ctx, name); err == nil && ci.CachedInfo().Config.Durable != "" {
			t.Errorf("durable consumer %q on the stream", name)
		}
	}
}
