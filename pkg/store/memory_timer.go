package store

import (
	"container/heap"
	"context"
	"strconv"
	"sync"
	"time"
)

// memTimers is the memory engine's TimerStore: a map by id and a min-heap by
// score (the due time, or the lease deadline while claimed), under one lock.
type memTimers struct {
	mu   sync.Mutex
	m    map[string]*memTimer
	heap timerHeap
	seq  uint64 // claim tokens
}

type memTimer struct {
	id      string
	due     int64 // unix ms
	score   int64 // unix ms: due, or lease deadline while claimed
	payload []byte
	token   string
	claims  int
	idx     int // position in the heap
}

// timerHeap orders timers by score, then id.
type timerHeap []*memTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score < h[j].score
	}
	return h[i].id < h[j].id
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*memTimer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// ArmBatch implements TimerStore.
func (s *Memory) ArmBatch(ctx context.Context, arms []TimerArm) error {
	for _, a := range arms {
		if err := validTimerID(a.ID); err != nil {
			return err
		}
	}
	for _, a := range arms {
		if err := s.Arm(ctx, a.ID, a.Due, a.Payload); err != nil {
			return err
		}
	}
	return nil
}

// CancelBatch implements TimerStore.
func (s *Memory) CancelBatch(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if err := validTimerID(id); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if _, err := s.Cancel(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Arm implements TimerStore.
func (s *Memory) Arm(ctx context.Context, id string, due time.Time, payload []byte) error {
	if err := validTimerID(id); err != nil {
		return err
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	ms := due.UnixMilli()
	p := cloneBytes(payload)
	ts := &s.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t := ts.m[id]; t != nil {
		t.due, t.score, t.payload, t.token, t.claims = ms, ms, p, "", 0
		heap.Fix(&ts.heap, t.idx)
		return nil
	}
	t := &memTimer{id: id, due: ms, score: ms, payload: p}
	ts.m[id] = t
	heap.Push(&ts.heap, t)
	return nil
}

// Cancel implements TimerStore.
func (s *Memory) Cancel(ctx context.Context, id string) (bool, error) {
	if err := validTimerID(id); err != nil {
		return false, err
	}
	if err := s.check(ctx); err != nil {
		return false, err
	}
	ts := &s.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.m[id]
	if t == nil {
		return false, nil
	}
	ts.remove(t)
	return true, nil
}

// Claim implements TimerStore: it takes the due timers in order of score.
func (s *Memory) Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]Timer, error) {
	if err := validClaim(max, lease); err != nil {
		return nil, err
	}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	nowMs := now.UnixMilli()
	deadline := nowMs + ttlMillis(lease) // > nowMs, so the loop ends
	ts := &s.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []Timer
	for len(out) < max && len(ts.heap) > 0 && ts.heap[0].score <= nowMs {
		t := ts.heap[0]
		ts.seq++
		t.token = "m" + strconv.FormatUint(ts.seq, 10)
		t.claims++
		t.score = deadline
		heap.Fix(&ts.heap, 0)
		out = append(out, Timer{ID: t.id, Due: time.UnixMilli(t.due), Payload: cloneBytes(t.payload), Token: t.token, Claims: t.claims})
	}
	return out, nil
}

// Done implements TimerStore.
func (s *Memory) Done(ctx context.Context, id, token string) (bool, error) {
	if err := validDone(id, token); err != nil {
		return false, err
	}
	if err := s.check(ctx); err != nil {
		return false, err
	}
	ts := &s.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.m[id]
	if t == nil || t.token != token {
		return false, nil
	}
	ts.remove(t)
	return true, nil
}

// remove deletes t; the lock must be held.
func (ts *memTimers) remove(t *memTimer) {
	heap.Remove(&ts.heap, t.idx)
	delete(ts.m, t.id)
}
