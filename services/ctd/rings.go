package ctd

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/services/ctd/internal/adapters"
)

// SubjectRing is where a replica announces the RingKey of a click-to-dial
// it created (core NATS, every replica subscribes, no queue group). It is
// under "sipbus.>", outside the stream: an announcement matters only to
// the replicas running, and a replica that starts reads the keys from the
// store instead (see the package doc).
const SubjectRing = "sipbus.ctd.ring"

// RingAnnouncement is the payload of SubjectRing.
type RingAnnouncement struct {
	Key string `json:"key"`
	// TTLMs is the lifetime of the key's record in the store, counted by
	// each receiver from the moment it hears it (no shared clock needed).
	TTLMs int64 `json:"ttl_ms"`
}

// MaxRingKeys caps the RingKeys a replica holds in memory (about 150 bytes
// each). A key that finds the set full is not kept; instead every
// call.ringing is looked up until that key would have expired: memory
// stays bounded and no call is missed, only the saving is lost.
const MaxRingKeys = 100_000

// ringSweepEvery is how often the timer loop drops expired keys.
const ringSweepEvery = time.Minute

// ringKeys is the set of RingKeys that may be one of ctd's calls, with the
// lifetime of their records: announced ones, the replica's own and those
// read from the store. Until the set is complete (fresh: read from the
// store after the latest moment an announcement may have been missed),
// or while keys were refused for want of room (all), every key may be one.
type ringKeys struct {
	mu    sync.Mutex
	keys  map[string]time.Time // RingKey -> expiry
	max   int
	all   time.Time // look every key up until then (keys refused: set full)
	last  time.Time // the latest expiry heard (kept or refused): no key is alive after it
	fresh bool      // the store was read after the latest gap
	gen   uint64    // counts gaps (start, NATS reconnect, dropped announcements)
	swept time.Time
	// What observe saw last: the connection's reconnects and the
	// announcements the subscription dropped.
	reconnects uint64
	dropped    int
}

func newRingKeys(max int) *ringKeys { return &ringKeys{keys: map[string]time.Time{}, max: max} }

// add keeps key until exp (a later expiry wins for a key heard twice).
func (r *ringKeys) add(key string, exp, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !exp.After(now) {
		return
	}
	if exp.After(r.last) {
		r.last = exp
	}
	if cur, ok := r.keys[key]; ok {
		if exp.After(cur) {
			r.keys[key] = exp
		}
		return
	}
	if len(r.keys) >= r.max {
		r.sweepLocked(now)
	}
	if len(r.keys) >= r.max {
		r.coverLocked(exp)
		return
	}
	r.keys[key] = exp
}

// cover makes every key one that may be ours until exp: keys the set
// could not take expire by then.
func (r *ringKeys) cover(exp time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.coverLocked(exp)
}

func (r *ringKeys) coverLocked(exp time.Time) {
	if exp.After(r.all) {
		r.all = exp
	}
}

// mayBeOurs says whether a call.ringing between the AORs of key needs the
// store: false only when the set is complete and key is not in it.
func (r *ringKeys) mayBeOurs(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.fresh || now.Before(r.all) {
		return true
	}
	exp, ok := r.keys[key]
	return ok && now.Before(exp)
}

// anyMayBeOurs says whether some call.ringing may need the store: false
// when the set is complete and no key in it is alive, the common case of
// a platform whose calls are not click-to-dial. call.ringing reaches every
// ctd replica for every call, and this is checked before it is decoded.
func (r *ringKeys) anyMayBeOurs(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.fresh || now.Before(r.all) || now.Before(r.last)
}

// observe takes the connection's reconnect count and the announcements
// its subscription dropped: when either moved, announcements may have
// been missed (core NATS does not replay), and the set is incomplete
// until seeded again.
func (r *ringKeys) observe(reconnects uint64, dropped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if reconnects != r.reconnects || dropped != r.dropped {
		r.reconnects, r.dropped = reconnects, dropped
		r.fresh = false
		r.gen++
	}
}

// generation is the current gap count and whether the set is complete.
func (r *ringKeys) generation() (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen, r.fresh
}

// seeded marks the set complete if no gap came since gen was read.
func (r *ringKeys) seeded(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen == r.gen {
		r.fresh = true
	}
}

// sweep drops expired keys, at most once per ringSweepEvery.
func (r *ringKeys) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.swept) >= ringSweepEvery {
		r.sweepLocked(now)
	}
}

func (r *ringKeys) sweepLocked(now time.Time) {
	maps.DeleteFunc(r.keys, func(_ string, exp time.Time) bool { return !exp.After(now) })
	r.swept = now
}

// len is the number of keys held, expired ones included until swept.
func (r *ringKeys) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

// announceRing keeps key and tells the other replicas; it runs after the
// store recorded key (a replica reading the store later finds it) and
// before the caller's INVITE goes out on the same connection, so the
// announcement reaches every replica long before the callee can ring.
// A failed publish leaves the others to the NOTIFYs of the caller's phone.
func (s *Service) announceRing(key string) {
	now := time.Now()
	s.rings.add(key, now.Add(adapters.LiveTTL), now)
	b, _ := json.Marshal(RingAnnouncement{Key: key, TTLMs: adapters.LiveTTL.Milliseconds()})
	if err := s.d.NC.Publish(SubjectRing, b); err != nil {
		s.log.Warn("ctd: announce ring key", "subject", SubjectRing, "err", err)
	}
}

func (s *Service) onRingAnnouncement(msg *nats.Msg) {
	var a RingAnnouncement
	if err := json.Unmarshal(msg.Data, &a); err != nil || a.Key == "" || a.TTLMs <= 0 {
		s.log.Warn("ctd: bad ring announcement", "subject", msg.Subject, "bytes", len(msg.Data))
		return
	}
	now := time.Now()
	s.rings.add(a.Key, now.Add(time.Duration(a.TTLMs)*time.Millisecond), now)
}

// ringGap checks for announcements this replica may have missed: after a
// NATS reconnect or announcements dropped as a slow consumer, the set is
// incomplete until the timer loop reads the store again.
func (s *Service) ringGap() {
	dropped, _ := s.announce.Dropped()
	s.rings.observe(s.d.NC.Stats().Reconnects, dropped)
}

// seedRings reads the live RingKeys from the store when the set is not
// complete. An announcement heard meanwhile is kept too (add merges), and
// one sent after the read is heard: the flush first makes sure the server
// has the subscription (sent at Start, or again after a reconnect).
func (s *Service) seedRings(ctx context.Context) error {
	gen, fresh := s.rings.generation()
	if fresh {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.d.NC.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("ctd: flush the subscription to %s: %w", SubjectRing, err)
	}
	now := time.Now()
	ws, err := s.store.Watches(ctx, now, MaxRingKeys)
	if err != nil {
		return err
	}
	for _, w := range ws {
		s.rings.add(w.Key, w.Expires, now)
	}
	if len(ws) == MaxRingKeys {
		s.rings.cover(ws[len(ws)-1].Expires) // the store may hold more, expiring before the last one read
	}
	s.rings.seeded(gen)
	return nil
}
