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
//
// It also keeps each edge's low watermark as its inputs carry it
// (Input.Behind): the freshest seen, and when the latest input from the
// edge was handled.
type EdgeTable struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	marks   map[string]queueMark
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
	return &EdgeTable{seen: make(map[string]time.Time), marks: make(map[string]queueMark), started: now(), every: bus.DefaultBeatEvery, now: now}
}

// queueMark is where a queue stands, an edge's or (in Behind) a
// partition's: low, the freshest low watermark its inputs handled here
// carried (unix ns: the edge had published everything it received before
// it), and at, when the latest of them was handled.
type queueMark struct{ low, at int64 }

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

// Input records an input from edge id carrying watermark low, handled
// now: a sign of life, and where the edge stands.
func (t *EdgeTable) Input(id string, low time.Time) {
	if id == "" {
		return
	}
	now := t.now()
	t.mu.Lock()
	t.seen[id] = now
	m := t.marks[id]
	m.low, m.at = max(m.low, low.UnixNano()), now.UnixNano()
	t.marks[id] = m
	t.mu.Unlock()
}

// markTTL is how long an edge's mark is kept after its latest input: an
// edge quiet that long has nothing waiting (an edge id gone with its pod
// leaves the table).
const markTTL = time.Minute

// appendMarks appends every edge's mark to ms, and forgets the marks of
// edges quiet for markTTL.
func (t *EdgeTable) appendMarks(ms []queueMark) []queueMark {
	old := t.now().Add(-markTTL).UnixNano()
	t.mu.Lock()
	for id, m := range t.marks {
		if m.at < old {
			delete(t.marks, id)
			continue
		}
		ms = append(ms, m)
	}
	t.mu.Unlock()
	return ms
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
