package location_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/location/locationtest"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/testenv/redishook"
)

// rawClient connects to url (a real redis-server from testenv).
func rawClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	o.ContextTimeoutEnabled = true
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisConformance(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	var n atomic.Int64
	locationtest.Run(t, func(t *testing.T) location.Store {
		// One server for the suite; a fresh prefix per test keeps them apart.
		return location.NewRedis(c, fmt.Sprintf("t%d", n.Add(1)))
	})
}

// The engine with its lookups kept in memory (location.Tracked) passes the
// same suite: a process reads its own writes at once.
func TestTrackedConformance(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	var n atomic.Int64
	locationtest.Run(t, func(t *testing.T) location.Store {
		tr := location.Track(location.NewRedis(c, fmt.Sprintf("t%d", n.Add(1))), nil)
		t.Cleanup(func() { _ = tr.Close() })
		testenv.Eventually(t, 5*time.Second, tr.Tracking, "tracking never turned on")
		return tr
	})
}

func TestRedisKeyLayout(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	ctx := testenv.Context(t, 10*time.Second)
	s := location.NewRedis(c, "lay")
	t0 := locationtest.T0
	u := location.Update{AOR: "alice@example.com", CallID: "c1", CSeq: 1, Now: t0, Contacts: []location.Binding{
		{Contact: "sip:alice@192.0.2.1", Q: 1, Expires: t0.Add(time.Hour), Path: []string{"<sip:e1;lr>"}},
		{Contact: "sip:alice@192.0.2.2", Q: 0.5, Expires: t0.Add(30 * time.Minute)},
	}}
	if _, _, err := s.Apply(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, location.Binding{AOR: "gw@example.com", Contact: "sip:gw@198.51.100.1", Q: 1, Updated: t0}); err != nil {
		t.Fatal(err)
	}
	shard := location.ExpiryShard("alice@example.com")
	want := []string{
		"lay:loc:{alice@example.com}",
		"lay:loc:{gw@example.com}",
		"lay:locaors",
		fmt.Sprintf("lay:locx:{x%d}", shard),
	}
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	if got := location.LocKey("lay", "alice@example.com"); got != want[0] {
		t.Errorf("LocKey = %q", got)
	}

	// Fields are canonical contacts; values are JSON.
	h, err := c.HGetAll(ctx, want[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if v := h["sip:alice@192.0.2.1"]; v != `{"contact":"sip:alice@192.0.2.1","q":1000,"expires":1735790645000,"callid":"c1","cseq":1,"path":["<sip:e1;lr>"],"updated":1735787045000}` {
		t.Errorf("stored binding = %s", v)
	}
	// TTL: latest expiry minus Now plus the margin; permanent: none.
	ttl, err := c.PTTL(ctx, want[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if max := time.Hour + location.TTLMargin; ttl <= max-10*time.Second || ttl > max {
		t.Errorf("PTTL of the AOR = %v, want about %v", ttl, max)
	}
	if ttl, err := c.PTTL(ctx, want[1]).Result(); err != nil || ttl != -1 {
		t.Errorf("PTTL of a permanent AOR = %v, %v; want none (-1)", ttl, err)
	}
	// Expiry index: earliest expiry of the AOR; the permanent one is not in it.
	z, err := c.ZRangeWithScores(ctx, want[3], 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(z) != 1 || z[0].Member != "alice@example.com" || int64(z[0].Score) != t0.Add(30*time.Minute).UnixMilli() {
		t.Errorf("expiry index = %+v", z)
	}
	if aors, err := c.ZRange(ctx, want[2], 0, -1).Result(); err != nil || !slices.Equal(aors, []string{"alice@example.com", "gw@example.com"}) {
		t.Errorf("AOR list = %q, %v", aors, err)
	}

	// After everything expired and was removed, no key is left but the
	// permanent AOR and the list.
	if _, err := s.Expire(ctx, t0.Add(2*time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	keys, _ = c.Keys(ctx, "*").Result()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"lay:loc:{gw@example.com}", "lay:locaors"}) {
		t.Errorf("keys after expiry = %q", keys)
	}
}

func TestRedisBadPrefix(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	s := location.NewRedis(c, "a{b}")
	ctx := testenv.Context(t, 5*time.Second)
	if _, err := s.Lookup(ctx, "alice@example.com", locationtest.T0); !errorsIs(err, location.ErrInvalid) {
		t.Errorf("Lookup with a braced prefix: %v, want ErrInvalid", err)
	}
}

func TestRedisUnavailable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp")), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	s := location.NewRedis(c, "")
	ctx := testenv.Context(t, 5*time.Second)
	_, err := s.Lookup(ctx, "alice@example.com", locationtest.T0)
	if !errorsIs(err, location.ErrUnavailable) {
		t.Errorf("Lookup with no server: %v, want ErrUnavailable", err)
	}
	_, _, err = s.Apply(ctx, location.Update{AOR: "alice@example.com", CallID: "c", CSeq: 1, Now: locationtest.T0})
	if !errorsIs(err, location.ErrUnavailable) {
		t.Errorf("Apply with no server: %v, want ErrUnavailable", err)
	}
}

// TestRedisNextExpiryOneRoundTrip: NextExpiry is one pipeline of one ZRANGE
// per expiry shard, whatever the number of bindings, and the answer is the
// lowest score.
func TestRedisNextExpiryOneRoundTrip(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	ctx := testenv.Context(t, 10*time.Second)
	var n redishook.Counter
	c.AddHook(&n)
	s := location.NewRedis(c, "nextrt")
	t0 := locationtest.T0
	for i := range 50 {
		u := location.Update{AOR: fmt.Sprintf("u%d@example.com", i), CallID: "c", CSeq: 1, Now: t0, Contacts: []location.Binding{
			{Contact: "sip:u@192.0.2.1", Q: 1, Expires: t0.Add(time.Duration(100-i) * time.Minute)},
		}}
		if _, _, err := s.Apply(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// The Applies above opened the connection (its HELLO went through the
	// hooks then), so only NextExpiry's commands are counted.
	n.Reset()
	at, ok, err := s.NextExpiry(ctx)
	if want := t0.Add(51 * time.Minute); err != nil || !ok || !at.Equal(want) {
		t.Errorf("NextExpiry = %v, %v, %v; want %v", at, ok, err, want)
	}
	if p, k, c := n.Pipelines.Load(), n.Pipelined.Load(), n.Commands.Load(); p != 1 || k != location.ExpiryShards || c != 0 {
		t.Errorf("NextExpiry sent %d pipelines of %d commands and %d single commands; want 1 pipeline of %d",
			p, k, c, location.ExpiryShards)
	}
}

// TestRedisApplyGroupCommit: Applies that arrive while one pipeline is in
// flight go together in the next (one round trip for all of them), each
// gets its own answer (bindings, an out-of-order refusal), and the indexes
// hold every AOR. A caller whose context ends while it waits gets its
// context's error and its REGISTER is not sent.
func TestRedisApplyGroupCommit(t *testing.T) {
	c := rawClient(t, testenv.RedisURL(t))
	ctx := testenv.Context(t, 20*time.Second)
	s := location.NewRedis(c, "group")
	t0 := locationtest.T0
	update := func(i int, cseq uint32) location.Update {
		return location.Update{AOR: fmt.Sprintf("g%d@example.com", i), CallID: "c", CSeq: cseq, Now: t0, Contacts: []location.Binding{
			{Contact: fmt.Sprintf("sip:g%d@192.0.2.1", i), Q: 1, Expires: t0.Add(time.Duration(10+i) * time.Minute)}}}
	}
	if _, _, err := s.Apply(ctx, update(0, 5)); err != nil { // connects, loads the script
		t.Fatal(err)
	}
	h := &redishook.HoldFirst{Hold: 500 * time.Millisecond}
	c.AddHook(h)
	const n = 64
	errs := make([]error, n)
	got := make([][]location.Binding, n)
	start := make(chan struct{})
	done := make(chan int, n+1)
	for i := range n {
		go func() {
			<-start
			if i > 0 {
				time.Sleep(50 * time.Millisecond) // behind the first, held pipeline
			}
			cseq := uint32(1) // AOR 0 is at CSeq 5: out of order
			if i > 0 {
				cseq = 2
			}
			got[i], _, errs[i] = s.Apply(ctx, update(i, cseq))
			done <- i
		}()
	}
	gone, cancel := context.WithCancel(ctx)
	go func() {
		<-start
		time.Sleep(100 * time.Millisecond)
		_, _, err := s.Apply(gone, update(n, 1))
		if !errorsIs(err, context.Canceled) {
			t.Errorf("Apply whose context ended while it waited: %v, want context.Canceled", err)
		}
		done <- n
	}()
	close(start)
	time.Sleep(200 * time.Millisecond)
	cancel()
	for range n + 1 {
		<-done
	}
	if p := h.Pipelines.Load(); p != 2 {
		t.Errorf("%d Applies took %d pipelines, want 2 (the held one, then all that waited)", n, p)
	}
	if !errorsIs(errs[0], location.ErrOutOfOrder) {
		t.Errorf("AOR 0 at an old CSeq: %v, want ErrOutOfOrder", errs[0])
	}
	for i := 1; i < n; i++ {
		if want := fmt.Sprintf("sip:g%d@192.0.2.1", i); errs[i] != nil || len(got[i]) != 1 || got[i][0].Contact != want {
			t.Errorf("Apply %d: %v, %+v; want its own binding %s", i, errs[i], got[i], want)
		}
	}
	aors, _, err := s.AORs(ctx, "", 2*n)
	if err != nil || len(aors) != n {
		t.Errorf("AORs: %d (%v), want %d: the indexes of every Apply in the batch", len(aors), err, n)
	}
	if b, _ := s.Lookup(ctx, fmt.Sprintf("g%d@example.com", n), t0); len(b) != 0 {
		t.Errorf("the canceled Apply was written: %+v", b)
	}
	if at, ok, err := s.NextExpiry(ctx); err != nil || !ok || !at.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("NextExpiry = %v, %v, %v; want %v", at, ok, err, t0.Add(10*time.Minute))
	}
}
