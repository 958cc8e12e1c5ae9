package ports

import (
	"sync"
	"time"
)

// recent remembers the replies of the REGISTER transactions this replica
// answered, T4 after the latest time it answered each (ReplyMemory): a
// retransmission that reaches it (the UA retransmitted to another edge,
// or the edge republished a request left unanswered) gets the same reply
// again, without a second digest check (whose nonce-count would now look
// replayed) or a second location update. A UA retransmits at most T2 (4
// s) after its previous attempt, so an entry renewed by each one it
// answers outlives the transaction whichever edges its attempts reach,
// as long as they reach this replica; one that an edge absorbed
// (it holds the final T4 after its own latest retransmission) does not
// renew it.
//
// Until round 19 of bench/RESULTS.md it held each reply Timer J (64*T1)
// from the first answer: at 8,000 REGISTER/s that was 200,000 replies,
// ~140 MB, the bulk of `sipbus up`'s heap, and the collections over it
// (a mark of 300-600 ms after 30 s) made the edge shed.
//
// A FIFO of (key, time answered) expires the entries in order: an item
// whose entry was renewed since is skipped. expire moves the FIFO's head
// and compacts it only once the head passes half of it, so each item is
// copied at most once on average. (Shifting the whole FIFO on every
// expiry cost a 5 MB copy per REGISTER at 4,000/s, 32 s into a run: the
// registrar shed at 70 % machine CPU.)
type recent struct {
	mu   sync.Mutex
	m    map[string]recentEntry
	fifo []recentItem
	head int // fifo[:head] are expired
	ttl  int64
	max  int
}

type recentEntry struct {
	reply []byte
	at    int64 // unix ns of the latest answer
}

type recentItem struct {
	key string
	at  int64
}

// ReplyMemory is how long the registrar answers a retransmission from
// its memory after it last answered the REGISTER: T4, the edge's own
// memory of a non-INVITE final.
const ReplyMemory = 5 * time.Second

func newRecent(ttl time.Duration, max int) *recent {
	return &recent{m: make(map[string]recentEntry), ttl: int64(ttl), max: max}
}

// get returns the reply remembered for key (nil: none) and renews it.
func (r *recent) get(key string, now time.Time) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := now.UnixNano()
	r.expire(t)
	e, ok := r.m[key]
	if !ok {
		return nil
	}
	e.at = t
	r.m[key] = e
	r.fifo = append(r.fifo, recentItem{key: key, at: t})
	return e.reply
}

func (r *recent) put(key string, reply []byte, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := now.UnixNano()
	r.expire(t)
	if _, ok := r.m[key]; ok || len(r.m) >= r.max {
		return
	}
	r.m[key] = recentEntry{reply: reply, at: t}
	r.fifo = append(r.fifo, recentItem{key: key, at: t})
}

func (r *recent) expire(now int64) {
	for r.head < len(r.fifo) && now-r.fifo[r.head].at > r.ttl {
		it := r.fifo[r.head]
		if e, ok := r.m[it.key]; ok && e.at == it.at {
			delete(r.m, it.key)
		}
		r.fifo[r.head] = recentItem{} // let the key go
		r.head++
	}
	if r.head > 0 && r.head >= len(r.fifo)/2 {
		n := copy(r.fifo, r.fifo[r.head:])
		clear(r.fifo[n:])
		r.fifo, r.head = r.fifo[:n], 0
	}
}
