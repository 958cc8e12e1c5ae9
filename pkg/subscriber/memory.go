package subscriber

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Memory is the in-process engine: a map and a sorted key slice under one
// mutex. It never returns ErrUnavailable.
type Memory struct {
	mu   sync.RWMutex
	subs map[string]Subscriber
	aors []string // sorted
}

var _ Directory = (*Memory)(nil)

// NewMemory returns an empty in-memory directory.
func NewMemory() *Memory { return &Memory{subs: make(map[string]Subscriber)} }

// Add implements Directory.
func (m *Memory) Add(ctx context.Context, s Subscriber) error {
	s, err := normalize(s)
	if err != nil {
		return err
	}
	if err := ctxErr(ctx, "add", s.AOR); err != nil {
		return err
	}
	now := msTime(time.Now())
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[s.AOR]; ok {
		return fmt.Errorf("add subscriber %s: %w", s.AOR, ErrExists)
	}
	s.Created, s.Updated = createdTime(s.Created, now), now
	m.subs[s.AOR] = s
	i, _ := slices.BinarySearch(m.aors, s.AOR)
	m.aors = slices.Insert(m.aors, i, s.AOR)
	return nil
}

// Get implements Directory.
func (m *Memory) Get(ctx context.Context, aor string) (Subscriber, error) {
	key, err := CanonicalAOR(aor)
	if err != nil {
		return Subscriber{}, err
	}
	if err := ctxErr(ctx, "get", key); err != nil {
		return Subscriber{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.subs[key]
	if !ok {
		return Subscriber{}, fmt.Errorf("get subscriber %s: %w", key, ErrNotFound)
	}
	return s, nil
}

// Update implements Directory.
func (m *Memory) Update(ctx context.Context, s Subscriber) error {
	s, err := normalize(s)
	if err != nil {
		return err
	}
	if err := ctxErr(ctx, "update", s.AOR); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.subs[s.AOR]
	if !ok {
		return fmt.Errorf("update subscriber %s: %w", s.AOR, ErrNotFound)
	}
	s.Created, s.Updated = cur.Created, msTime(time.Now())
	m.subs[s.AOR] = s
	return nil
}

// Remove implements Directory.
func (m *Memory) Remove(ctx context.Context, aor string) error {
	key, err := CanonicalAOR(aor)
	if err != nil {
		return err
	}
	if err := ctxErr(ctx, "remove", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[key]; !ok {
		return fmt.Errorf("remove subscriber %s: %w", key, ErrNotFound)
	}
	delete(m.subs, key)
	if i, found := slices.BinarySearch(m.aors, key); found {
		m.aors = slices.Delete(m.aors, i, i+1)
	}
	return nil
}

// List implements Directory.
func (m *Memory) List(ctx context.Context, cursor string, limit int) ([]Subscriber, string, error) {
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, "", err
	}
	if err := ctxErr(ctx, "list", cursor); err != nil {
		return nil, "", err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, found := slices.BinarySearch(m.aors, cursor)
	if found {
		i++
	}
	end := min(i+limit, len(m.aors))
	out := make([]Subscriber, 0, end-i)
	for _, aor := range m.aors[i:end] {
		out = append(out, m.subs[aor])
	}
	next := ""
	if end < len(m.aors) && len(out) > 0 {
		next = out[len(out)-1].AOR
	}
	return out, next, nil
}

// ctxErr returns the context's error wrapped, or nil.
func ctxErr(ctx context.Context, op, aor string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s subscriber %s: %w", op, aor, err)
	}
	return nil
}
