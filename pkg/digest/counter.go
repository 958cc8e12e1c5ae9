package digest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// NonceCounter is nonce-count replay protection shared by replicas.
type NonceCounter interface {
	// Advance records nc for nonce and reports whether it is greater than
	// every nc seen before for that nonce (the first nc of a nonce always
	// is). ttl bounds memory: the record is forgotten ttl after the last
	// accepted nc. An empty nonce or ttl <= 0 is ErrInvalid.
	Advance(ctx context.Context, nonce string, nc uint32, ttl time.Duration) (bool, error)
}

// sweepEvery is how often the memory counter drops expired records.
const sweepEvery = time.Minute

type memoryCounter struct {
	now       func() time.Time
	mu        sync.Mutex
	seen      map[string]ncRecord
	nextSweep time.Time
}

type ncRecord struct {
	max uint32
	exp time.Time
}

var _ NonceCounter = (*memoryCounter)(nil)

// NewMemoryCounter returns a NonceCounter for one process (tests, `sipbus
// up`); now is its clock (nil: time.Now). Expired records are dropped at
// most sweepEvery (1m) after they expire, so memory holds the nonces used
// within the last ttl plus a minute.
func NewMemoryCounter(now func() time.Time) NonceCounter {
	if now == nil {
		now = time.Now
	}
	return &memoryCounter{now: now, seen: make(map[string]ncRecord)}
}

// Advance implements NonceCounter.
func (c *memoryCounter) Advance(ctx context.Context, nonce string, nc uint32, ttl time.Duration) (bool, error) {
	if err := validAdvance(nonce, ttl); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("digest: advance nonce-count: %w", err)
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !now.Before(c.nextSweep) {
		for k, r := range c.seen {
			if !now.Before(r.exp) {
				delete(c.seen, k)
			}
		}
		c.nextSweep = now.Add(sweepEvery)
	}
	if r, ok := c.seen[nonce]; ok && now.Before(r.exp) && nc <= r.max {
		return false, nil
	}
	c.seen[nonce] = ncRecord{max: nc, exp: now.Add(ttl)}
	return true, nil
}

func validAdvance(nonce string, ttl time.Duration) error {
	switch {
	case nonce == "":
		return fmt.Errorf("%w: empty nonce", ErrInvalid)
	case ttl <= 0:
		return fmt.Errorf("%w: nonce-count ttl %v: must be > 0", ErrInvalid, ttl)
	}
	return nil
}
