package ports

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
)

// EdgeTable knows which edges are alive: those whose beats (or messages)
// arrived within three beat intervals. tm sends a response from the edge
// its request came in on while that edge lives (RFC 3581 symmetric
// response routing: a NAT lets the answer in only from the address the
// request went to), and from any edge otherwise. Right after start, before
// a beat had time to arrive, every edge counts as alive.
type EdgeTable struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	started time.Time
	every   time.Duration
	sub     *nats.Subscription
	now     func() time.Time
}

// NewEdgeTable returns a table fed by Seen; Watch subscribes it to beats.
func NewEdgeTable(now func() time.Time) *EdgeTable {
	if now == nil {
		now = time.Now
	}
	return &EdgeTable{seen: make(map[string]time.Time), started: now(), every: bus.DefaultBeatEvery, now: now}
}

// Watch subscribes to the edges' beats.
func (t *EdgeTable) Watch(nc *nats.Conn) error {
	sub, err := nc.Subscribe("sipbus.beat.edge.*", func(m *nats.Msg) {
		if b, err := bus.DecodeBeat(m.Data); err == nil {
			t.Seen(b.ID)
		}
	})
	t.sub = sub
	return err
}

// Seen records a sign of life of edge id.
func (t *EdgeTable) Seen(id string) {
	if id == "" {
		return
	}
	now := t.now()
	t.mu.Lock()
	t.seen[id] = now
	t.mu.Unlock()
}

// Alive implements app.Edges.
func (t *EdgeTable) Alive(id string) bool {
	now := t.now()
	t.mu.Lock()
	last, ok := t.seen[id]
	t.mu.Unlock()
	if ok {
		return now.Sub(last) < 3*t.every
	}
	return now.Sub(t.started) < 3*t.every
}

// Stop unsubscribes.
func (t *EdgeTable) Stop() {
	if t.sub != nil {
		_ = t.sub.Unsubscribe()
	}
}
