package adapters

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sipbus/sipbus/services/ctd/internal/app"
	"github.com/sipbus/sipbus/services/ctd/internal/ports"
)

// Memory is the Store and Tokens in this process (`sipbus up` without
// Redis; one process only). Records never expire: a process's lifetime
// is the bound. Watches still lists a watch for LiveTTL only, as Redis
// does, so that a replica filters call.ringing alike on both engines.
type Memory struct {
	mu      sync.Mutex
	calls   map[string]app.State
	dialogs map[string]string
	watches map[string]time.Time // State.Watch -> when Redis would expire it
	tokens  map[string]string
}

var (
	_ ports.Store  = (*Memory)(nil)
	_ ports.Tokens = (*Memory)(nil)
)

// NewMemory returns an empty engine.
func NewMemory() *Memory {
	return &Memory{calls: map[string]app.State{}, dialogs: map[string]string{}, watches: map[string]time.Time{},
		tokens: map[string]string{}}
}

func (m *Memory) write(s app.State) (app.State, error) {
	old := s.Version
	cur, ok := m.calls[s.ID]
	switch {
	case old == 0 && ok:
		return app.State{}, fmt.Errorf("call %s: %w", s.ID, ports.ErrExists)
	case old != 0 && (!ok || cur.Version != old):
		return app.State{}, fmt.Errorf("call %s version %d: %w", s.ID, old, ports.ErrConflict)
	}
	s.Version++
	s = s.Clone()
	m.calls[s.ID] = s
	for _, l := range s.Legs {
		if l.Dialog != "" {
			m.dialogs[l.Dialog] = s.ID
		}
	}
	if s.Watch != "" && old == 0 {
		m.dialogs[s.Watch] = s.ID
		m.watches[s.Watch] = time.Now().Add(LiveTTL)
	}
	return s.Clone(), nil
}

// Create implements ports.Store.
func (m *Memory) Create(_ context.Context, s app.State) (app.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.Version = 0
	return m.write(s)
}

// Save implements ports.Store.
func (m *Memory) Save(_ context.Context, s app.State) (app.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.Version <= 0 {
		return app.State{}, fmt.Errorf("call %s: save without a version: %w", s.ID, ports.ErrConflict)
	}
	return m.write(s)
}

// Load implements ports.Store.
func (m *Memory) Load(_ context.Context, id string) (app.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.calls[id]
	if !ok {
		return app.State{}, fmt.Errorf("call %s: %w", id, ports.ErrNotFound)
	}
	return s.Clone(), nil
}

// Due implements ports.Store.
func (m *Memory) Due(_ context.Context, now time.Time, limit int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	type due struct {
		id string
		at time.Time
	}
	var ds []due
	for id, s := range m.calls {
		if !s.Deadline.IsZero() && !s.Deadline.After(now) {
			ds = append(ds, due{id, s.Deadline})
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].at.Before(ds[j].at) })
	var ids []string
	for i := 0; i < len(ds) && i < limit; i++ {
		ids = append(ids, ds[i].id)
	}
	return ids, nil
}

// Index implements ports.Store (the memory index is the records).
func (m *Memory) Index(context.Context, string, time.Time) error { return nil }

// ByDialog implements ports.Store.
func (m *Memory) ByDialog(_ context.Context, dialog string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.dialogs[dialog]
	if !ok {
		return "", fmt.Errorf("dialog %s: %w", dialog, ports.ErrNotFound)
	}
	return id, nil
}

// Watches implements ports.Store.
func (m *Memory) Watches(_ context.Context, now time.Time, limit int) ([]ports.Watch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ws []ports.Watch
	for k, exp := range m.watches {
		if exp.After(now) {
			ws = append(ws, ports.Watch{Key: k, Expires: exp})
		}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Expires.After(ws[j].Expires) })
	return ws[:min(len(ws), limit)], nil
}

// CreateToken implements ports.Tokens.
func (m *Memory) CreateToken(_ context.Context, aor string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tok := NewToken()
	m.tokens[hashToken(tok)] = aor
	return tok, nil
}

// LookupToken implements ports.Tokens.
func (m *Memory) LookupToken(_ context.Context, tok string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	aor, ok := m.tokens[hashToken(tok)]
	if !ok {
		return "", ports.ErrNotFound
	}
	return aor, nil
}
