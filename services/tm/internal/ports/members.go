package ports

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/store"
)

// Group is the membership group of tm replicas.
const Group = "tm"

// MembershipStore is what partition ownership needs of the store.
type MembershipStore interface {
	store.Membership
	store.IndexStore
}

// Members keeps this replica in the group of live tm replicas and owns the
// partitions rendezvous hashing gives it (Owner): every replica computes
// the same owner for each partition from the same member list, with no
// coordination, and when a replica joins or leaves only the partitions it
// wins or held move. A replica's lease is TTL (default 3s), renewed every
// Every (default 1s): a replica that dies loses its partitions within TTL,
// and in the meantime SIP's retransmissions wait for the new owner, which
// reads the records (and their deadlines) from the store. A replica that
// stops leaves the group at once.
type Members struct {
	ID    string
	Store MembershipStore
	Input *Input
	Every time.Duration
	TTL   time.Duration
	Log   *slog.Logger

	mu      sync.Mutex
	members []string
	owned   map[string]bool
	cancel  context.CancelFunc
	done    chan struct{}
	kick    chan struct{}      // a member left: tick now
	sub     *nats.Subscription // ChangedSubject
}

// Start joins the group, takes this replica's partitions and keeps them
// up to date until Stop.
func (m *Members) Start(ctx context.Context) error {
	if m.Every <= 0 {
		m.Every = time.Second
	}
	if m.TTL <= 0 {
		m.TTL = 3 * m.Every
	}
	m.owned = make(map[string]bool)
	if err := m.tick(ctx, false); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel, m.done, m.kick = cancel, make(chan struct{}), make(chan struct{}, 1)
	if m.Input != nil && m.Input.nc != nil {
		m.sub, _ = m.Input.nc.Subscribe(ChangedSubject, func(*nats.Msg) {
			select {
			case m.kick <- struct{}{}:
			default:
			}
		})
	}
	go m.loop(rctx)
	return nil
}

func (m *Members) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.Every)
	defer t.Stop()
	for {
		kicked := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.kick:
			kicked = true
		}
		if err := m.tick(ctx, kicked); err != nil && ctx.Err() == nil {
			m.Log.Warn("tm: membership", "err", err)
		}
	}
}

// tick renews the lease and moves partitions to match the member list.
// It says so on TookSubject when it subscribed to partitions, or when
// kicked (a replica left: it waits for that word even from a replica
// that gains nothing new).
func (m *Members) tick(ctx context.Context, kicked bool) error {
	hctx, cancel := context.WithTimeout(ctx, m.Every)
	members, err := m.Store.Heartbeat(hctx, Group, m.ID, m.TTL)
	cancel()
	if err != nil {
		return err
	}
	want := make(map[string]bool)
	for i := range bus.Partitions {
		p := bus.PartitionToken(i)
		if Owner(p, members) == m.ID {
			want[p] = true
		}
	}
	m.mu.Lock()
	m.members = members
	var gain, lose []string
	for p := range want {
		if !m.owned[p] {
			gain = append(gain, p)
		}
	}
	for p := range m.owned {
		if !want[p] {
			lose = append(lose, p)
		}
	}
	m.mu.Unlock()
	for _, p := range lose {
		m.Input.Release(p)
		m.mu.Lock()
		delete(m.owned, p)
		m.mu.Unlock()
	}
	sort.Strings(gain)
	// Subscribe to every gained partition first (a replica that left
	// stopped taking their messages: the gap is as short as a subscribe),
	// then load each partition's deadlines from the store.
	var firstErr error
	for _, p := range gain {
		if err := m.Input.Acquire(ctx, p, nil); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if len(gain) > 0 || kicked {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if m.Input.Flush(fctx) == nil {
			// The server has the subscriptions: a replica leaving (whose
			// partitions these were) may pass on what it held.
			m.announceTook(members)
		}
		cancel()
	}
	// The deadlines, a few partitions at a time: a replica that left
	// hands over up to all of them at once, and their timers are late by
	// as long as this takes.
	var wg sync.WaitGroup
	var errMu sync.Mutex
	sem := make(chan struct{}, 8)
	for _, p := range gain {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := m.Input.Acquire(actx, p, m.Store)
			cancel()
			if err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				return // tried again at the next tick
			}
			m.mu.Lock()
			m.owned[p] = true
			m.mu.Unlock()
		}()
	}
	wg.Wait()
	if len(gain)+len(lose) > 0 {
		m.Log.Info("tm: partitions", "members", members, "gained", len(gain), "lost", len(lose), "owned", len(want))
	}
	return firstErr
}

// View returns the live members and how many partitions this replica owns.
func (m *Members) View() (members []string, owned int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.members...), len(m.owned)
}

// ChangedSubject is where a replica that leaves the group says so, so the
// others take its partitions over at once rather than at their next tick.
const ChangedSubject = "sipbus.tm.members.changed"

// Quiesce stops the heartbeat loop (no partition is gained or lost any
// more); the replica stays a member until Stop.
func (m *Members) Quiesce() {
	if m.cancel != nil {
		m.cancel()
		<-m.done
		m.cancel = nil
	}
	if m.sub != nil {
		_ = m.sub.Unsubscribe()
		m.sub = nil
	}
}

// Leave leaves the group and tells the other replicas (ChangedSubject),
// which take this replica's partitions over at once. The partitions stay
// subscribed here until Stop (see Input.BeginHandover).
func (m *Members) Leave(ctx context.Context) error {
	m.Quiesce()
	err := m.Store.Leave(ctx, Group, m.ID)
	if m.Input != nil && m.Input.nc != nil {
		_ = m.Input.nc.Publish(ChangedSubject, []byte(m.ID))
		_ = m.Input.nc.Flush()
	}
	return err
}

// Stop leaves the group (Leave) and releases every partition.
func (m *Members) Stop(ctx context.Context) error {
	err := m.Leave(ctx)
	m.mu.Lock()
	owned := m.owned
	m.owned = map[string]bool{}
	m.mu.Unlock()
	for p := range owned {
		m.Input.Release(p)
	}
	return err
}

// Owner is the member that owns partition p: the highest score of
// FNV-1a 64 over "member|p" (rendezvous hashing). "" when there is none.
func Owner(p string, members []string) string {
	best, bestScore := "", uint64(0)
	for _, id := range members {
		h := uint64(14695981039346656037)
		for i := 0; i < len(id); i++ {
			h = (h ^ uint64(id[i])) * 1099511628211
		}
		h = (h ^ '|') * 1099511628211
		for i := 0; i < len(p); i++ {
			h = (h ^ uint64(p[i])) * 1099511628211
		}
		h ^= h >> 33 // FNV's low bits mix poorly for short keys
		h *= 0xff51afd7ed558ccd
		h ^= h >> 33
		if best == "" || h > bestScore {
			best, bestScore = id, h
		}
	}
	return best
}
