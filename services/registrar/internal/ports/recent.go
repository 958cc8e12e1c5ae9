package ports

import (
	"sync"
	"time"
)

// recent remembers the replies of the REGISTER transactions this replica
// answered, for 64*T1 (Timer J): a retransmission that reaches it (the UA
// retransmitted to another edge, or after the edge's T4 of memory, or the
// edge republished a request left unanswered) gets the same reply again, without a second digest check
// (whose nonce-count would now look replayed) or a second location update.
// Entries all live equally long, so a FIFO expires them in order: expire
// moves the FIFO's head and compacts it only once the head passes half of
// it, so each entry is copied at most once on average. (Shifting the whole
// FIFO on every expiry cost a 5 MB copy per REGISTER at 4,000/s, 32 s into
// a run: the registrar shed at 70 % machine CPU.)
type recent struct {
	mu   sync.Mutex
	m    map[string][]byte
	fifo []recentItem
	head int // fifo[:head] are expired
	ttl  time.Duration
	max  int
}

type recentItem struct {
	key string
	at  time.Time
}

func newRecent(ttl time.Duration, max int) *recent {
	return &recent{m: make(map[string][]byte), ttl: ttl, max: max}
}

func (r *recent) get(key string, now time.Time) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	return r.m[key]
}

func (r *recent) put(key string, reply []byte, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	if _, ok := r.m[key]; ok || len(r.m) >= r.max {
		return
	}
	r.m[key] = reply
	r.fifo = append(r.fifo, recentItem{key: key, at: now})
}

func (r *recent) expire(now time.Time) {
	for r.head < len(r.fifo) && now.Sub(r.fifo[r.head].at) > r.ttl {
		delete(r.m, r.fifo[r.head].key)
		r.fifo[r.head] = recentItem{} // let the key go
		r.head++
	}
	if r.head > 0 && r.head >= len(r.fifo)/2 {
		n := copy(r.fifo, r.fifo[r.head:])
		clear(r.fifo[n:])
		r.fifo, r.head = r.fifo[:n], 0
	}
}
