package digest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Limits bound password guessing: failed authentications counted per
// (user, source) and per source, in a fixed window, and the block that
// follows when a count reaches its limit. See the package doc, Brute force.
type Limits struct {
	// Window is how long failures are counted: a count starts at the
	// first failure and is forgotten Window later (a fixed window).
	Window time.Duration
	// PerUser failures of one user from one source within Window block
	// that user from that source; 0: no such limit.
	PerUser int
	// PerSource failures from one source within Window, whatever the
	// users, block the source for every user; 0: no such limit.
	PerSource int
	// Block is how long a block lasts, from the failure that reached the
	// limit.
	Block time.Duration
}

// On reports whether l limits anything.
func (l Limits) On() bool { return l.PerUser > 0 || l.PerSource > 0 }

// Validate reports every problem of l, joined; each names its field. The
// zero Limits (nothing limited) is valid.
func (l Limits) Validate() error {
	var errs []error
	if l.PerUser < 0 {
		errs = append(errs, fmt.Errorf("%w: Limits.PerUser %d is negative", ErrInvalid, l.PerUser))
	}
	if l.PerSource < 0 {
		errs = append(errs, fmt.Errorf("%w: Limits.PerSource %d is negative", ErrInvalid, l.PerSource))
	}
	if l.On() {
		if l.Window < time.Millisecond {
			errs = append(errs, fmt.Errorf("%w: Limits.Window %v: must be at least 1ms", ErrInvalid, l.Window))
		}
		if l.Block < time.Millisecond {
			errs = append(errs, fmt.Errorf("%w: Limits.Block %v: must be at least 1ms", ErrInvalid, l.Block))
		}
	}
	return errors.Join(errs...)
}

// Scope says what a block covers.
type Scope int

// Scopes of a Block.
const (
	// NotBlocked: go on.
	NotBlocked Scope = iota
	// UserBlocked: this user from this source (Limits.PerUser).
	UserBlocked
	// SourceBlocked: every user from this source (Limits.PerSource).
	SourceBlocked
)

// String returns "none", "user" or "source", fit for a log line or a
// metric label.
func (s Scope) String() string {
	switch s {
	case UserBlocked:
		return "user"
	case SourceBlocked:
		return "source"
	}
	return "none"
}

// Block is what FailureCounter says about a user and a source.
type Block struct {
	// Scope is the broader block in force (SourceBlocked when both are).
	Scope Scope
	// Started: this failure reached the limit of Scope and started the
	// block. Exactly one Fail call reports it per block, across every
	// replica: the one to log it.
	Started bool
	// Failures is the count of the blocking scope (0 when not blocked).
	Failures int
}

// FailureCounter counts failed authentications, shared by the replicas
// (NewRedisFailures) or in one process (NewMemoryFailures). Only failures
// write: a success is never counted and never resets a count (a guesser
// holding one valid account could reset its source's count otherwise).
type FailureCounter interface {
	// Fail counts one failed authentication of user from source and
	// reports the block in force after it. An invalid source, a negative
	// limit or a window or block under 1ms with a limit on is ErrInvalid.
	Fail(ctx context.Context, user string, source netip.Addr, l Limits) (Block, error)
	// Blocked reports the block in force for user from source without
	// counting anything (Started is always false).
	Blocked(ctx context.Context, user string, source netip.Addr, l Limits) (Block, error)
}

// SourceKey is how a source is counted: an IPv4 address as it is (an
// IPv4-mapped IPv6 address unmapped), an IPv6 address by its /64 prefix,
// which one host or site usually holds whole. "" for an invalid address.
func SourceKey(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return ""
	case a.Is4():
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// scopeOf is the block the counts make under l.
func scopeOf(user, source int, l Limits) Block {
	switch {
	case l.PerSource > 0 && source >= l.PerSource:
		return Block{Scope: SourceBlocked, Failures: source}
	case l.PerUser > 0 && user >= l.PerUser:
		return Block{Scope: UserBlocked, Failures: user}
	}
	return Block{}
}

// blockAfterFail is the Block a failure leaves, from the counts of (user,
// source) and source after it and whether each reached its limit with it.
// Started reports only the start of the block in force: a user block
// starting while the source is blocked already is no news.
func blockAfterFail(n [2]int, started [2]bool, l Limits) Block {
	b := scopeOf(n[0], n[1], l)
	switch b.Scope {
	case UserBlocked:
		b.Started = started[0]
	case SourceBlocked:
		b.Started = started[1]
	}
	return b
}

func checkFailArgs(source netip.Addr, l Limits) (string, error) {
	if err := l.Validate(); err != nil {
		return "", err
	}
	src := SourceKey(source)
	if src == "" {
		return "", fmt.Errorf("%w: invalid source address", ErrInvalid)
	}
	return src, nil
}

// memoryFailures is the FailureCounter of one process.
type memoryFailures struct {
	now       func() time.Time
	mu        sync.Mutex
	counts    map[string]failCount
	nextSweep time.Time
}

type failCount struct {
	n   int
	exp time.Time
}

var _ FailureCounter = (*memoryFailures)(nil)

// NewMemoryFailures returns a FailureCounter for one process (tests,
// `sipbus up` without Redis); now is its clock (nil: time.Now). Expired
// counts are dropped at most sweepEvery (1m) after they expire.
func NewMemoryFailures(now func() time.Time) FailureCounter {
	if now == nil {
		now = time.Now
	}
	return &memoryFailures{now: now, counts: make(map[string]failCount)}
}

// Fail implements FailureCounter.
func (m *memoryFailures) Fail(ctx context.Context, user string, source netip.Addr, l Limits) (Block, error) {
	src, err := checkFailArgs(source, l)
	if err != nil {
		return Block{}, err
	}
	if err := ctx.Err(); err != nil {
		return Block{}, fmt.Errorf("digest: count failed authentication: %w", err)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	var n [2]int
	var started [2]bool
	for i, k := range [2]struct {
		key string
		lim int
	}{{userKey(src, user), l.PerUser}, {src, l.PerSource}} {
		if k.lim <= 0 {
			continue
		}
		c := m.counts[k.key]
		if !now.Before(c.exp) {
			c = failCount{exp: now.Add(l.Window)}
		}
		c.n++
		if c.n == k.lim {
			c.exp = now.Add(l.Block)
			started[i] = true
		}
		m.counts[k.key] = c
		n[i] = c.n
	}
	return blockAfterFail(n, started, l), nil
}

// Blocked implements FailureCounter.
func (m *memoryFailures) Blocked(ctx context.Context, user string, source netip.Addr, l Limits) (Block, error) {
	src, err := checkFailArgs(source, l)
	if err != nil {
		return Block{}, err
	}
	if err := ctx.Err(); err != nil {
		return Block{}, fmt.Errorf("digest: read failed authentications: %w", err)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	count := func(key string) int {
		if c, ok := m.counts[key]; ok && now.Before(c.exp) {
			return c.n
		}
		return 0
	}
	return scopeOf(count(userKey(src, user)), count(src), l), nil
}

func (m *memoryFailures) sweep(now time.Time) {
	if now.Before(m.nextSweep) {
		return
	}
	for k, c := range m.counts {
		if !now.Before(c.exp) {
			delete(m.counts, k)
		}
	}
	m.nextSweep = now.Add(sweepEvery)
}

// userKey is the memory key of (source, user); a source key holds no
// '\x00', so the two never collide.
func userKey(src, user string) string { return src + "\x00" + user }
