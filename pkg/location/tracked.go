package location

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tracked is the Redis engine with a copy in memory of the bindings that
// Lookup read, kept true by Redis's server-assisted client-side caching.
// tm looks an AOR up for every initial INVITE; a phone's bindings change
// when it registers (every few minutes at most), so most lookups would
// read the same hash again: with Tracked they cost a map lookup instead of
// a round trip.
//
// How the copy stays true: Tracked holds one connection of its own (RESP2)
// with CLIENT TRACKING on in broadcasting mode for the prefix of the AORs'
// hashes (<prefix>:loc:{), redirected to itself and subscribed to
// __redis__:invalidate. Every write to an AOR's hash, by any process, makes
// Redis send that key on the connection; Tracked drops the AOR's copy.
// Redis sends it before the writer's reply (broadcast invalidations go out
// at the end of the event-loop iteration, ahead of the replies), so once a
// registrar has answered a REGISTER, the change is on its way to every
// Tracked; what remains is the time it takes to read it (microseconds, on
// a goroutine of its own), not a TTL. Writes through this Tracked (Apply,
// Add, Remove, Expire) drop the copy themselves, before and after the
// write: a process reads its own writes at once.
//
// A read races an invalidation safely: Lookup files an empty entry for the
// AOR before it reads, and keeps what it read only if the entry is still
// there (an invalidation of the AOR, or any reset, removes it).
//
// The copy is used only while the connection is known good: from the
// confirmation of its subscription (the copy starts empty then) until an
// error on it, a new connection (tracking is per connection: whatever was
// sent to the old one is lost), or 3 s without a word from Redis (Tracked
// pings after 1 s of silence, so a connection that died without a FIN
// stops the copy within 3 s). Meanwhile Lookup reads Redis, as the plain
// engine does. Expired bindings are never served: the copy holds every
// binding read, and Lookup filters them by the time asked, as the engine
// does. At most MaxTracked AORs are kept (one dropped at random to make
// room).
//
// Why broadcasting mode: Redis then tells of every write under the
// prefix, read or not, so tracking is a property of one connection, whose
// loss Tracked sees. In the default mode Redis tells only of keys the
// client read, which would need tracking on every pooled connection that
// reads, and a copy dropped whenever any of them is lost (what Redis
// remembers for a closed connection is sent nowhere). The price: every
// REGISTER's write reaches every tm replica's connection (Redis puts the
// keys of one event-loop iteration in one message; at 1,500 REGISTER/s
// on `sipbus up` the CPU per REGISTER did not move measurably).
//
// Only a single server (a *redis.Client: standalone or Sentinel) is
// tracked; Track returns nil for Cluster or Ring, where invalidations come
// from each node separately.
type Tracked struct {
	*Redis
	sub    *redis.Client
	keyPre string // <prefix>:loc:{
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	on    bool      // subscribed with tracking on: invalidations arrive
	heard time.Time // the latest word from the invalidation connection
	m     map[string]*trackedAOR

	hits, reads, drops atomic.Uint64
}

// MaxTracked is the most AORs a Tracked keeps.
const MaxTracked = 1 << 16

const (
	invalidateChannel = "__redis__:invalidate"
	trackPing         = time.Second     // ping after this long without a word
	trackStale        = 3 * time.Second // no word for this long: the copy is not used
)

type trackedAOR struct {
	bs   []Binding // every binding read, live or not then
	done bool      // false while the read that filed it is in flight
}

// TrackedStats counts Lookup's answers from memory (Hits) and from Redis
// (Reads), and the copies dropped on Redis's word or a write (Drops).
type TrackedStats struct{ Hits, Reads, Drops uint64 }

// Track starts keeping r's lookups in memory (see Tracked); Close stops
// it. It returns nil when r's client is not a *redis.Client.
func Track(r *Redis, log *slog.Logger) *Tracked {
	rc, ok := r.c.(*redis.Client)
	if !ok || r.badPrefix != nil {
		return nil
	}
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tracked{Redis: r, keyPre: r.prefix + ":loc:{", log: log, cancel: cancel,
		done: make(chan struct{}), m: make(map[string]*trackedAOR)}
	opt := *rc.Options()
	opt.Protocol = 2 // invalidations as Pub/Sub messages on the subscribed connection
	opt.PoolSize, opt.MinIdleConns, opt.MaxIdleConns = 1, 0, 1
	prev := opt.OnConnect
	opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		t.set(false) // nothing sent to an earlier connection reaches this one
		if prev != nil {
			if err := prev(ctx, cn); err != nil {
				return err
			}
		}
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			return err
		}
		return cn.Do(ctx, "CLIENT", "TRACKING", "ON", "REDIRECT", id, "BCAST", "PREFIX", t.keyPre).Err()
	}
	t.sub = redis.NewClient(&opt)
	go t.run(ctx)
	return t
}

// TrackStore returns s with its lookups kept in memory when it is the Redis
// engine on one server (Track), else s itself, and what stops it.
func TrackStore(s Store, log *slog.Logger) (Store, func() error) {
	if r, ok := s.(*Redis); ok {
		if t := Track(r, log); t != nil {
			return t, t.Close
		}
	}
	return s, func() error { return nil }
}

// Close stops tracking; Lookup reads Redis from then on. The engine's
// client is not closed.
func (t *Tracked) Close() error {
	t.cancel()
	<-t.done
	t.set(false)
	return t.sub.Close()
}

// Tracking reports whether Lookup answers from memory now (the
// invalidation connection is subscribed and heard from).
func (t *Tracked) Tracking() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fresh()
}

func (t *Tracked) fresh() bool { return t.on && time.Since(t.heard) <= trackStale }

// Stats returns the counters so far.
func (t *Tracked) Stats() TrackedStats {
	return TrackedStats{Hits: t.hits.Load(), Reads: t.reads.Load(), Drops: t.drops.Load()}
}

func (t *Tracked) run(ctx context.Context) {
	defer close(t.done)
	ps := t.sub.Subscribe(ctx, invalidateChannel)
	defer ps.Close()
	failing := false
	backoff := time.Second
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, trackPing)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_ = ps.Ping(ctx) // the answer is the next word heard
				continue
			}
			// A broken connection (go-redis connects again and subscribes
			// again: its confirmation turns the copy back on), or a message
			// go-redis cannot read (a FLUSHALL's invalidation has no key):
			// either way the copy is dropped, and subscribing again on a
			// healthy connection brings a confirmation.
			t.set(false)
			if !failing {
				t.log.Warn("location: lookups read Redis until the invalidation connection is back", "err", err)
				failing = true
			}
			if err := ps.Subscribe(ctx, invalidateChannel); err != nil {
				select { // Redis down, or it refuses CLIENT TRACKING (ACL, before 6.0)
				case <-ctx.Done():
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 30*time.Second)
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == invalidateChannel {
				t.set(true)
				backoff = time.Second
				if failing {
					t.log.Info("location: lookups kept in memory again")
					failing = false
				}
			}
		case *redis.Pong:
			t.hear()
		case *redis.Message:
			if m.Channel == invalidateChannel {
				t.invalidate(m.PayloadSlice)
			}
		}
	}
}

// set empties the copy and turns it on or off.
func (t *Tracked) set(on bool) {
	t.mu.Lock()
	clear(t.m)
	t.on, t.heard = on, time.Now()
	t.mu.Unlock()
}

func (t *Tracked) hear() {
	t.mu.Lock()
	t.heard = time.Now()
	t.mu.Unlock()
}

func (t *Tracked) invalidate(keys []string) {
	t.mu.Lock()
	t.heard = time.Now()
	for _, k := range keys {
		if aor, ok := strings.CutPrefix(k, t.keyPre); ok {
			aor = strings.TrimSuffix(aor, "}")
			if _, ok := t.m[aor]; ok {
				delete(t.m, aor)
				t.drops.Add(1)
			}
		}
	}
	t.mu.Unlock()
}

// forget drops the copy of aor (a write through this Tracked).
func (t *Tracked) forget(aor string) {
	t.mu.Lock()
	if _, ok := t.m[aor]; ok {
		delete(t.m, aor)
		t.drops.Add(1)
	}
	t.mu.Unlock()
}

// Lookup implements Store: from memory when the copy holds aor and is
// kept true, else one HVALS (whose answer is kept).
func (t *Tracked) Lookup(ctx context.Context, aor string, now time.Time) ([]Binding, error) {
	t.mu.Lock()
	if !t.fresh() {
		t.mu.Unlock()
		t.reads.Add(1)
		return t.Redis.Lookup(ctx, aor, now)
	}
	if c := t.m[aor]; c != nil {
		if !c.done { // another read of it in flight: do not wait for it
			t.mu.Unlock()
			t.reads.Add(1)
			return t.Redis.Lookup(ctx, aor, now)
		}
		bs := c.bs // kept whole once read: an invalidation drops the entry
		t.mu.Unlock()
		t.hits.Add(1)
		return own(bs, now), nil
	}
	if len(t.m) >= MaxTracked {
		for k := range t.m { // Go starts a map's iteration at random
			delete(t.m, k)
			break
		}
	}
	c := &trackedAOR{}
	t.m[aor] = c
	t.mu.Unlock()

	t.reads.Add(1)
	bs, err := t.Redis.lookupAll(ctx, aor)
	t.mu.Lock()
	if t.m[aor] == c {
		if err != nil {
			delete(t.m, aor)
		} else {
			c.bs, c.done = bs, true
		}
	}
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return own(bs, now), nil
}

// own gives the caller the bindings of bs (the copy) live at now as its
// own: a slice and Paths of their own, so nothing the caller changes
// reaches the copy.
func own(bs []Binding, now time.Time) []Binding {
	out := live(slices.Clone(bs), now)
	for i := range out {
		out[i].Path = slices.Clone(out[i].Path)
	}
	return out
}

// Apply implements Store (the engine's, dropping the AOR's copy).
func (t *Tracked) Apply(ctx context.Context, u Update) ([]Binding, []Change, error) {
	t.forget(u.AOR)
	defer t.forget(u.AOR)
	return t.Redis.Apply(ctx, u)
}

// Add implements Store (the engine's, dropping the AOR's copy).
func (t *Tracked) Add(ctx context.Context, b Binding) error {
	t.forget(b.AOR)
	defer t.forget(b.AOR)
	return t.Redis.Add(ctx, b)
}

// Remove implements Store (the engine's, dropping the AOR's copy).
func (t *Tracked) Remove(ctx context.Context, aor, contact string) ([]Binding, error) {
	t.forget(aor)
	defer t.forget(aor)
	return t.Redis.Remove(ctx, aor, contact)
}

// Expire implements Store (the engine's, dropping the copies of the AORs
// it expired bindings of).
func (t *Tracked) Expire(ctx context.Context, now time.Time, max int) ([]Binding, error) {
	bs, err := t.Redis.Expire(ctx, now, max)
	for _, b := range bs {
		t.forget(b.AOR)
	}
	return bs, err
}

var _ Store = (*Tracked)(nil)
