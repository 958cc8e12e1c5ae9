package ports

import (
	"container/heap"
	"sync"
	"time"
)

// Scheduler keeps this replica's deadlines in memory: one per proxy
// transaction (its earliest timer; the record holds the rest). It sleeps
// until the earliest deadline, then hands each due transaction to fire,
// which queues it on the call's lane. A deadline re-scheduled or dropped
// before it comes is skipped (lazy deletion: the heap may hold stale items;
// the map says which one counts).
//
// It replaces the first design's polling of Redis (a ZCOUNT sweep of 16
// shards every 20 ms, 800 commands a second while idle): Redis holds each
// partition's deadlines only for the replica that takes the partition over.
type Scheduler struct {
	fire func(callKey, id string)
	now  func() time.Time

	mu    sync.Mutex
	due   map[string]schedKey // "ck|id" -> deadline that counts
	h     schedHeap
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	fired uint64
}

type schedKey struct {
	ck, id string
	at     time.Time
}

type schedItem struct {
	key string
	at  time.Time
}

type schedHeap []schedItem

func (h schedHeap) Len() int           { return len(h) }
func (h schedHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h schedHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *schedHeap) Push(x any)        { *h = append(*h, x.(schedItem)) }
func (h *schedHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// NewScheduler starts a scheduler that calls fire for due deadlines.
func NewScheduler(fire func(callKey, id string), now func() time.Time) *Scheduler {
	if now == nil {
		now = time.Now
	}
	s := &Scheduler{
		fire: fire, now: now, due: make(map[string]schedKey),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go s.run()
	return s
}

// Schedule sets the deadline of transaction id of call callKey.
func (s *Scheduler) Schedule(callKey, id string, at time.Time) {
	key := callKey + "|" + id
	s.mu.Lock()
	if cur, ok := s.due[key]; ok && cur.at.Equal(at) {
		s.mu.Unlock()
		return
	}
	s.due[key] = schedKey{ck: callKey, id: id, at: at}
	heap.Push(&s.h, schedItem{key: key, at: at})
	first := s.h[0].key == key && s.h[0].at.Equal(at)
	s.mu.Unlock()
	if first {
		s.poke()
	}
}

// Unschedule forgets the deadline of a transaction.
func (s *Scheduler) Unschedule(callKey, id string) {
	s.mu.Lock()
	delete(s.due, callKey+"|"+id)
	s.mu.Unlock()
}

// Forget drops the deadlines of the calls drop selects (a partition this
// replica gave up).
func (s *Scheduler) Forget(drop func(callKey string) bool) {
	s.mu.Lock()
	for k, v := range s.due {
		if drop(v.ck) {
			delete(s.due, k)
		}
	}
	s.mu.Unlock()
}

// Len is the number of deadlines held.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.due)
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) run() {
	defer close(s.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		var due []schedKey
		s.mu.Lock()
		now := s.now()
		for len(s.h) > 0 && !s.h[0].at.After(now) {
			it := heap.Pop(&s.h).(schedItem)
			if cur, ok := s.due[it.key]; ok && cur.at.Equal(it.at) {
				delete(s.due, it.key)
				due = append(due, cur)
			}
		}
		if len(s.h) > 4*len(s.due)+4096 {
			s.compact()
		}
		// Drop stale heads so the wait below is for a live deadline.
		for len(s.h) > 0 {
			if cur, ok := s.due[s.h[0].key]; ok && cur.at.Equal(s.h[0].at) {
				break
			}
			heap.Pop(&s.h)
		}
		wait := time.Hour
		if len(s.h) > 0 {
			wait = s.h[0].at.Sub(now)
		}
		s.fired += uint64(len(due))
		s.mu.Unlock()
		for _, d := range due {
			s.fire(d.ck, d.id)
		}
		if len(due) > 0 {
			continue
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-s.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		case <-s.stop:
			return
		}
	}
}

// compact rebuilds the heap from the live deadlines (stale items pile up
// when transactions re-schedule often).
func (s *Scheduler) compact() {
	h := make(schedHeap, 0, len(s.due))
	for k, v := range s.due {
		h = append(h, schedItem{key: k, at: v.at})
	}
	heap.Init(&h)
	s.h = h
}

// Stop ends the scheduler.
func (s *Scheduler) Stop() {
	close(s.stop)
	<-s.done
}
