package location

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Memory is the in-memory engine: one process only (`sipbus up`, unit
// tests). Every operation holds one mutex, so each is atomic; Expire walks
// every AOR (fine for the one-process scale it serves). Times come from the
// callers (Update.Now, the now arguments), so tests need no clock; only Add
// with a zero Updated reads time.Now. Bindings are copied in and out.
type Memory struct {
	mu   sync.Mutex
	aors map[string]map[string]Binding // AOR -> field -> binding
	now  func() time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory engine.
func NewMemory() *Memory {
	return &Memory{aors: make(map[string]map[string]Binding), now: time.Now}
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("location: %w", err)
	}
	return nil
}

// Apply implements Store.
func (s *Memory) Apply(ctx context.Context, u Update) ([]Binding, []Change, error) {
	es, now, err := prepare(&u)
	if err != nil {
		return nil, nil, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next, changes, err := applyEntries(s.aors[u.AOR], es, &u, now)
	if err != nil {
		return nil, nil, err
	}
	if len(next) == 0 {
		delete(s.aors, u.AOR)
	} else {
		s.aors[u.AOR] = next
	}
	out := make([]Binding, 0, len(next))
	for _, b := range next {
		out = append(out, cloneBinding(b))
	}
	sortBindings(out)
	for i := range changes {
		changes[i].Binding = cloneBinding(changes[i].Binding)
	}
	SortChanges(changes)
	return out, changes, nil
}

// Lookup implements Store.
func (s *Memory) Lookup(ctx context.Context, aor string, now time.Time) ([]Binding, error) {
	if err := validAOR(aor); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bs := s.aors[aor]
	out := make([]Binding, 0, len(bs))
	for _, b := range bs {
		if b.LiveAt(now) {
			out = append(out, cloneBinding(b))
		}
	}
	sortBindings(out)
	return out, nil
}

// Add implements Store.
func (s *Memory) Add(ctx context.Context, b Binding) error {
	if b.Updated.IsZero() {
		b.Updated = s.now()
	}
	field, err := prepareAdd(&b)
	if err != nil {
		return err
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bs := s.aors[b.AOR]
	if bs == nil {
		bs = make(map[string]Binding)
		s.aors[b.AOR] = bs
	}
	bs[field] = b
	return nil
}

// prepareAdd validates and normalises the binding of Add and returns its
// field. Updated must be set.
func prepareAdd(b *Binding) (string, error) {
	key, err := normalise(b)
	if err != nil {
		return "", fmt.Errorf("add binding: %w", err)
	}
	if !b.LiveAt(b.Updated) {
		return "", fmt.Errorf("%w: add binding %s of %s: expires %v is not after updated %v", ErrInvalid, b.Contact, b.AOR, b.Expires, b.Updated)
	}
	return fieldOf(key, b), nil
}

// Remove implements Store.
func (s *Memory) Remove(ctx context.Context, aor, contact string) ([]Binding, error) {
	key, err := prepareRemove(aor, contact)
	if err != nil {
		return nil, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bs := s.aors[aor]
	var out []Binding
	for f, b := range bs {
		if contact == "" || fieldMatches(f, key) {
			out = append(out, b)
			delete(bs, f)
		}
	}
	if len(bs) == 0 {
		delete(s.aors, aor)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("remove %q from %s: %w", contact, aor, ErrNotFound)
	}
	sortBindings(out)
	return out, nil
}

// prepareRemove validates Remove's arguments and returns the contact's
// canonical key ("" for every contact).
func prepareRemove(aor, contact string) (string, error) {
	if err := validAOR(aor); err != nil {
		return "", err
	}
	if contact == "" {
		return "", nil
	}
	key, err := contactKey(contact)
	if err != nil {
		return "", fmt.Errorf("remove from %s: %w", aor, err)
	}
	return key, nil
}

// AORs implements Store.
func (s *Memory) AORs(ctx context.Context, cursor string, limit int) ([]string, string, error) {
	if err := validAORs(limit); err != nil {
		return nil, "", err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	all := make([]string, 0, len(s.aors))
	for aor := range s.aors {
		if aor > cursor {
			all = append(all, aor)
		}
	}
	s.mu.Unlock()
	slices.Sort(all)
	if len(all) <= limit {
		return all, "", nil
	}
	page := all[:limit]
	return page, page[limit-1], nil
}

// Expire implements Store.
func (s *Memory) Expire(ctx context.Context, now time.Time, max int) ([]Binding, error) {
	if err := validExpire(now, max); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Binding
	for aor, bs := range s.aors {
		for f, b := range bs {
			if len(out) == max {
				break
			}
			if !b.LiveAt(now) {
				out = append(out, b)
				delete(bs, f)
			}
		}
		if len(bs) == 0 {
			delete(s.aors, aor)
		}
		if len(out) == max {
			break
		}
	}
	sortExpired(out)
	return out, nil
}

// NextExpiry implements Store: the earliest expiry of every binding, under
// the lock.
func (s *Memory) NextExpiry(ctx context.Context) (time.Time, bool, error) {
	if err := ctxErr(ctx); err != nil {
		return time.Time{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, bs := range s.aors {
		for _, b := range bs {
			if !b.Permanent() && (next.IsZero() || b.Expires.Before(next)) {
				next = b.Expires
			}
		}
	}
	return next, !next.IsZero(), nil
}

// sortExpired orders Expire's result by expiry, then AOR and contact.
func sortExpired(bs []Binding) {
	sort.SliceStable(bs, func(i, j int) bool {
		a, b := &bs[i], &bs[j]
		if !a.Expires.Equal(b.Expires) {
			return a.Expires.Before(b.Expires)
		}
		if a.AOR != b.AOR {
			return a.AOR < b.AOR
		}
		return a.Contact < b.Contact
	})
}
