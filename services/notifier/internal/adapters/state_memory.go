package adapters

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sipbus/sipbus/services/notifier/internal/app"
)

// Memory is the notifier's state in this process, for `sipbus up` without
// Redis and for unit tests: the same semantics as Redis (one conformance
// suite, statetest), lost on exit. Expired entries are dropped as they are
// met and by a sweep every 1024 writes.
type Memory struct {
	now func() time.Time

	mu      sync.Mutex
	fences  map[string]memValue
	windows map[string]*memWindow
	digests map[string]app.Due
	writes  int
}

type memValue struct {
	v   string
	exp time.Time
}

type memWindow struct {
	keys []string
	sums map[string][]byte
	exp  time.Time
}

// NewMemory returns an empty state; now nil is time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, fences: map[string]memValue{}, windows: map[string]*memWindow{}, digests: map[string]app.Due{}}
}

// fence returns the live value of key ("" when absent or expired).
func (m *Memory) fence(key string, now time.Time) (memValue, bool) {
	v, ok := m.fences[key]
	if ok && !now.Before(v.exp) {
		delete(m.fences, key)
		return memValue{}, false
	}
	return v, ok
}

func (m *Memory) wrote(now time.Time) {
	m.writes++
	if m.writes%1024 != 0 {
		return
	}
	for k, v := range m.fences {
		if !now.Before(v.exp) {
			delete(m.fences, k)
		}
	}
	for k, w := range m.windows {
		if !now.Before(w.exp) {
			delete(m.windows, k)
		}
	}
}

func memClaim(v memValue, ok bool, now time.Time) app.Claim {
	if !ok {
		return app.Claim{}
	}
	c := parseClaim(false, v.v, 0)
	c.TTL = v.exp.Sub(now)
	return c
}

// Acquire implements the fence.
func (m *Memory) Acquire(ctx context.Context, key, owner string, lease time.Duration) (app.Claim, error) {
	if err := ctx.Err(); err != nil {
		return app.Claim{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if v, ok := m.fence(key, now); ok {
		return memClaim(v, ok, now), nil
	}
	m.fences[key] = memValue{v: sending(owner), exp: now.Add(lease)}
	m.wrote(now)
	return app.Claim{Taken: true}, nil
}

// Reopen implements the fence.
func (m *Memory) Reopen(ctx context.Context, key, owner string, lease time.Duration) (app.Claim, error) {
	if err := ctx.Err(); err != nil {
		return app.Claim{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	v, ok := m.fence(key, now)
	if ok && !strings.HasPrefix(v.v, app.FenceFailed+" ") {
		return memClaim(v, ok, now), nil
	}
	c := app.Claim{Taken: true}
	if ok {
		c.State, c.Detail, _ = strings.Cut(v.v, " ")
	}
	m.fences[key] = memValue{v: sending(owner), exp: now.Add(lease)}
	m.wrote(now)
	return c, nil
}

// Complete implements the fence.
func (m *Memory) Complete(ctx context.Context, key, owner, state, detail string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if v, ok := m.fence(key, now); !ok || v.v != sending(owner) {
		return false, nil
	}
	m.fences[key] = memValue{v: state + " " + detail, exp: now.Add(ttl)}
	m.wrote(now)
	return true, nil
}

// Release implements the fence.
func (m *Memory) Release(ctx context.Context, key, owner string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.fence(key, m.now()); !ok || v.v != sending(owner) {
		return false, nil
	}
	delete(m.fences, key)
	return true, nil
}

// Peek implements the fence.
func (m *Memory) Peek(ctx context.Context, key string) (app.Claim, error) {
	if err := ctx.Err(); err != nil {
		return app.Claim{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	v, ok := m.fence(key, now)
	return memClaim(v, ok, now), nil
}

func windowID(callee string, w int64) string { return digestMember(callee, w) }

// Admit implements the rate limiter.
func (m *Memory) Admit(ctx context.Context, callee string, w int64, key string, summary []byte, ttl time.Duration) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	id := windowID(callee, w)
	win := m.windows[id]
	if win == nil || !now.Before(win.exp) {
		win = &memWindow{sums: map[string][]byte{}}
		m.windows[id] = win
	}
	if i := slices.Index(win.keys, key); i >= 0 {
		return i, nil
	}
	win.keys = append(win.keys, key)
	win.sums[key] = append([]byte(nil), summary...)
	win.exp = now.Add(ttl)
	m.wrote(now)
	return len(win.keys) - 1, nil
}

// Folded implements the rate limiter.
func (m *Memory) Folded(ctx context.Context, callee string, w int64, from, max int) ([][]byte, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	win := m.windows[windowID(callee, w)]
	if win == nil || !m.now().Before(win.exp) {
		return nil, 0, nil
	}
	var out [][]byte
	for i := from; i < len(win.keys) && i < from+max; i++ {
		out = append(out, append([]byte(nil), win.sums[win.keys[i]]...))
	}
	return out, len(win.keys), nil
}

// ScheduleDigest implements the digest schedule.
func (m *Memory) ScheduleDigest(ctx context.Context, callee string, w int64, due time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := digestMember(callee, w)
	if _, ok := m.digests[id]; !ok {
		m.digests[id] = app.Due{Callee: callee, Window: w, At: time.UnixMilli(due.UnixMilli())}
	}
	return nil
}

// RescheduleDigest implements the digest schedule.
func (m *Memory) RescheduleDigest(ctx context.Context, d app.Due, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := digestMember(d.Callee, d.Window)
	if cur, ok := m.digests[id]; ok {
		cur.At = time.UnixMilli(at.UnixMilli())
		m.digests[id] = cur
	}
	return nil
}

// DueDigests implements the digest schedule.
func (m *Memory) DueDigests(ctx context.Context, now time.Time, max int) ([]app.Due, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []app.Due
	for _, d := range m.digests {
		if !d.At.After(now) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b app.Due) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(digestMember(a.Callee, a.Window), digestMember(b.Callee, b.Window))
	})
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// DigestDone implements the digest schedule.
func (m *Memory) DigestDone(ctx context.Context, d app.Due) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.digests, digestMember(d.Callee, d.Window))
	return nil
}
