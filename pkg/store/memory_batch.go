package store

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

var (
	_ BatchStore = (*Memory)(nil)
	_ IndexStore = (*Memory)(nil)
	_ Membership = (*Memory)(nil)
)

// memIndexes is the memory engine's indexes: index -> member -> score.
// An index without members is removed, as Redis drops an empty ZSET.
type memIndexes struct {
	mu sync.Mutex
	m  map[string]map[string]int64
}

// memGroups is the memory engine's membership: group -> id -> lease end
// (unix ms).
type memGroups struct {
	mu sync.Mutex
	m  map[string]map[string]int64
}

// Apply implements BatchStore: the ops one after the other, each under
// its own lock as its RecordStore counterpart.
func (s *Memory) Apply(ctx context.Context, ops []Op) ([]OpResult, error) {
	res, n := checkOps(ops)
	if n == 0 {
		return res, nil
	}
	if err := s.check(ctx); err != nil {
		return res, failBatch(res, err)
	}
	for i := range ops {
		op := &ops[i]
		if res[i].Err != nil {
			continue
		}
		switch op.Kind {
		case OpSaveRecord:
			v, ok := s.saveRecord(op.CallKey, op.Key, op.Value, op.Version, op.TTL)
			res[i] = OpResult{Version: v, OK: ok}
		case OpDeleteRecord:
			s.deleteRecord(op.CallKey, op.Key)
			res[i].OK = true
		case OpPutRecord:
			s.deleteRecord(op.CallKey, op.Key)
			v, _ := s.saveRecord(op.CallKey, op.Key, op.Value, 0, op.TTL)
			res[i] = OpResult{Version: v, OK: true}
		case OpIndexSet:
			s.indexes.set(op.Index, op.Member, op.Score)
			res[i].OK = true
		case OpIndexRemove:
			s.indexes.remove(op.Index, op.Member)
			res[i].OK = true
		}
	}
	return res, nil
}

func (x *memIndexes) set(index, member string, score int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	idx := x.m[index]
	if idx == nil {
		idx = make(map[string]int64)
		x.m[index] = idx
	}
	idx[member] = score
}

func (x *memIndexes) remove(index, member string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	idx := x.m[index]
	delete(idx, member)
	if len(idx) == 0 {
		delete(x.m, index)
	}
}

// IndexRange implements IndexStore.
func (s *Memory) IndexRange(ctx context.Context, index string, maxScore int64) ([]IndexEntry, error) {
	if err := validIndex(index); err != nil {
		return nil, err
	}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	x := &s.indexes
	x.mu.Lock()
	var out []IndexEntry
	for m, score := range x.m[index] {
		if score <= maxScore {
			out = append(out, IndexEntry{Member: m, Score: score})
		}
	}
	x.mu.Unlock()
	slices.SortFunc(out, func(a, b IndexEntry) int {
		return cmp.Or(cmp.Compare(a.Score, b.Score), cmp.Compare(a.Member, b.Member))
	})
	return out, nil
}

// Heartbeat implements Membership against the engine's clock
// (MemoryOptions.Now), in milliseconds as on Redis.
func (s *Memory) Heartbeat(ctx context.Context, group, id string, ttl time.Duration) ([]string, error) {
	if err := validHeartbeat(group, id, ttl); err != nil {
		return nil, err
	}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	now := s.now().UnixMilli()
	g := &s.groups
	g.mu.Lock()
	defer g.mu.Unlock()
	members := g.m[group]
	if members == nil {
		members = make(map[string]int64)
		g.m[group] = members
	}
	members[id] = now + ttlMillis(ttl)
	out := make([]string, 0, len(members))
	for m, end := range members {
		if end <= now {
			delete(members, m)
			continue
		}
		out = append(out, m)
	}
	slices.Sort(out)
	return out, nil
}

// Leave implements Membership.
func (s *Memory) Leave(ctx context.Context, group, id string) error {
	if err := validGroup(group, id); err != nil {
		return err
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	g := &s.groups
	g.mu.Lock()
	defer g.mu.Unlock()
	members := g.m[group]
	delete(members, id)
	if len(members) == 0 {
		delete(g.m, group)
	}
	return nil
}
