package location

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/testenv/redishook"
)

// Tracked's tests run against a real redis-server: a Tracked reading, and
// writers that are other processes' engines (a registrar elsewhere) on
// clients of their own.

var trackedT0 = time.Now().Add(-time.Minute).Truncate(time.Millisecond)

func trackClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func track(t *testing.T, c *redis.Client, prefix string) *Tracked {
	t.Helper()
	tr := Track(NewRedis(c, prefix), nil)
	if tr == nil {
		t.Fatal("Track on a *redis.Client returned nil")
	}
	t.Cleanup(func() { _ = tr.Close() })
	waitTracking(t, tr, true)
	return tr
}

func waitTracking(t *testing.T, tr *Tracked, on bool) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, func() bool { return tr.Tracking() == on }, "tracking never turned %v", on)
}

// register gives aor one binding, contact, with a unique Call-ID.
var regSeq atomic.Uint32

func register(t *testing.T, s Store, aor, contact string) {
	t.Helper()
	n := regSeq.Add(1)
	u := Update{AOR: aor, CallID: fmt.Sprintf("c%d", n), CSeq: 1, Now: trackedT0,
		Wildcard: true}
	if _, _, err := s.Apply(testenv.Context(t, 5*time.Second), u); err != nil {
		t.Fatalf("Apply *: %v", err)
	}
	u = Update{AOR: aor, CallID: fmt.Sprintf("c%d", n), CSeq: 2, Now: trackedT0,
		Contacts: []Binding{{Contact: contact, Q: 1, Expires: trackedT0.Add(time.Hour)}}}
	if _, _, err := s.Apply(testenv.Context(t, 5*time.Second), u); err != nil {
		t.Fatalf("Apply %s: %v", contact, err)
	}
}

// contactOf looks aor up through tr and returns its one contact ("" for none).
func contactOf(t *testing.T, tr *Tracked, aor string) string {
	t.Helper()
	bs, err := tr.Lookup(testenv.Context(t, 5*time.Second), aor, time.Now())
	if err != nil {
		t.Fatalf("Lookup %s: %v", aor, err)
	}
	var cs []string
	for _, b := range bs {
		cs = append(cs, b.Contact)
	}
	return strings.Join(cs, ",")
}

// sees waits until tr answers want for aor (the invalidation is read on
// a goroutine of its own), and fails if it never does.
func sees(t *testing.T, tr *Tracked, aor, want string) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, func() bool { return contactOf(t, tr, aor) == want },
		"Lookup %s never answered %q (last %q)", aor, want, contactOf(t, tr, aor))
}

// A second Lookup of an unchanged AOR is answered from memory, without a
// command to Redis; the answer is a copy the caller may change.
func TestTrackedHit(t *testing.T) {
	c := trackClient(t, testenv.RedisURL(t))
	var cmds redishook.Counter
	c.AddHook(&cmds)
	tr := track(t, c, "hit")
	register(t, tr, "alice@example.com", "sip:alice@192.0.2.1")
	// The write's own invalidation may drop the first copy: a later one stays.
	testenv.Eventually(t, 5*time.Second, func() bool {
		hits := tr.Stats().Hits
		return contactOf(t, tr, "alice@example.com") == "sip:alice@192.0.2.1" && tr.Stats().Hits > hits
	}, "no Lookup was answered from memory")
	before, hits := cmds.Commands.Load()+cmds.Pipelined.Load(), tr.Stats().Hits
	bs, err := tr.Lookup(context.Background(), "alice@example.com", time.Now())
	if err != nil || len(bs) != 1 {
		t.Fatalf("second Lookup = %v, %v", bs, err)
	}
	if n := cmds.Commands.Load() + cmds.Pipelined.Load() - before; n != 0 {
		t.Errorf("second Lookup sent %d commands, want 0", n)
	}
	if st := tr.Stats(); st.Hits != hits+1 {
		t.Errorf("stats %+v, want %d hits", st, hits+1)
	}
	bs[0].Contact = "sip:changed@198.51.100.1"
	if got := contactOf(t, tr, "alice@example.com"); got != "sip:alice@192.0.2.1" {
		t.Errorf("after the caller changed its answer, Lookup = %q", got)
	}
	// Expired bindings are filtered by the time asked, from memory too.
	if bs, err := tr.Lookup(context.Background(), "alice@example.com", trackedT0.Add(2*time.Hour)); err != nil || len(bs) != 0 {
		t.Errorf("Lookup after the binding's expiry = %v, %v; want none", bs, err)
	}
	// An unknown AOR is remembered as unknown, and learnt when it registers.
	if got := contactOf(t, tr, "bob@example.com"); got != "" {
		t.Fatalf("unknown AOR: %q", got)
	}
	register(t, NewRedis(trackClient(t, "redis://"+c.Options().Addr), "hit"), "bob@example.com", "sip:bob@192.0.2.2")
	sees(t, tr, "bob@example.com", "sip:bob@192.0.2.2")
}

// Another process's registrar changes an AOR: the copy is dropped on
// Redis's word, and the next Lookup answers the change.
func TestTrackedRemoteWrite(t *testing.T) {
	url := testenv.RedisURL(t)
	tr := track(t, trackClient(t, url), "remote")
	other := NewRedis(trackClient(t, url), "remote")
	register(t, other, "alice@example.com", "sip:alice@192.0.2.1")
	sees(t, tr, "alice@example.com", "sip:alice@192.0.2.1")
	contactOf(t, tr, "alice@example.com") // from memory now
	register(t, other, "alice@example.com", "sip:alice@192.0.2.99")
	sees(t, tr, "alice@example.com", "sip:alice@192.0.2.99")
	if st := tr.Stats(); st.Hits == 0 || st.Drops == 0 {
		t.Errorf("stats %+v: want hits and a drop", st)
	}
	// Another prefix (another deployment on the same server) is not ours.
	register(t, NewRedis(trackClient(t, url), "elsewhere"), "alice@example.com", "sip:x@192.0.2.7")
	time.Sleep(50 * time.Millisecond)
	if got := contactOf(t, tr, "alice@example.com"); got != "sip:alice@192.0.2.99" {
		t.Errorf("after a write under another prefix, Lookup = %q", got)
	}
}

// The invalidation connection is killed and, before it is back, another
// process changes an AOR: what Redis sent meanwhile is lost, so the copy
// must be dropped when the new connection subscribes; after that, changes
// are heard again (tracking is on on the new connection).
func TestTrackedConnectionKilled(t *testing.T) {
	url := testenv.RedisURL(t)
	tr := track(t, trackClient(t, url), "killed")
	other := NewRedis(trackClient(t, url), "killed")
	admin := trackClient(t, url)
	ctx := testenv.Context(t, 10*time.Second)
	register(t, other, "alice@example.com", "sip:alice@192.0.2.1")
	sees(t, tr, "alice@example.com", "sip:alice@192.0.2.1")
	if err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	register(t, other, "alice@example.com", "sip:alice@192.0.2.2")
	sees(t, tr, "alice@example.com", "sip:alice@192.0.2.2")
	waitTracking(t, tr, true)
	contactOf(t, tr, "alice@example.com")
	register(t, other, "alice@example.com", "sip:alice@192.0.2.3")
	sees(t, tr, "alice@example.com", "sip:alice@192.0.2.3")
}

// FLUSHALL (an invalidation without keys) drops every copy.
func TestTrackedFlushAll(t *testing.T) {
	url := testenv.RedisURL(t)
	tr := track(t, trackClient(t, url), "flush")
	register(t, tr, "alice@example.com", "sip:alice@192.0.2.1")
	sees(t, tr, "alice@example.com", "sip:alice@192.0.2.1")
	if err := trackClient(t, url).FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	sees(t, tr, "alice@example.com", "")
	waitTracking(t, tr, true)
	register(t, NewRedis(trackClient(t, url), "flush"), "alice@example.com", "sip:alice@192.0.2.5")
	sees(t, tr, "alice@example.com", "sip:alice@192.0.2.5")
}

// Redis restarts with nothing: while it is down Lookup fails as the
// engine's does (no answer from memory), and after it is back the old
// copy is gone.
func TestTrackedRedisRestart(t *testing.T) {
	r := testenv.StartRedis(t)
	tr := track(t, trackClient(t, r.URL), "restart")
	register(t, tr, "alice@example.com", "sip:alice@192.0.2.1")
	sees(t, tr, "alice@example.com", "sip:alice@192.0.2.1")
	r.Stop()
	waitTracking(t, tr, false)
	if _, err := tr.Lookup(context.Background(), "alice@example.com", time.Now()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Lookup with Redis down: %v, want ErrUnavailable", err)
	}
	r.Start()
	waitTracking(t, tr, true)
	sees(t, tr, "alice@example.com", "")
}

// Only one server is tracked.
func TestTrackNeedsOneServer(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	t.Cleanup(func() { _ = ring.Close() })
	if tr := Track(NewRedis(ring, ""), nil); tr != nil {
		tr.Close()
		t.Error("Track on a Ring client did not return nil")
	}
}
