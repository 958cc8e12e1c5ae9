package store

import (
	"context"
	"fmt"
	"time"
)

// memRecord is a stored Record; value is owned by the store.
type memRecord struct {
	value   []byte
	version int64
	exp     time.Time
}

// Once implements OnceStore.
func (s *Memory) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := validOnce(key, ttl); err != nil {
		return false, err
	}
	if err := s.check(ctx); err != nil {
		return false, err
	}
	now := s.now()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if exp, ok := sh.once[key]; ok && now.Before(exp) {
		return false, nil
	}
	sh.once[key] = now.Add(ttl)
	return true, nil
}

// lookupRecord returns the live record for k, removing it when expired. The
// shard lock must be held.
func (sh *memShard) lookupRecord(k memKey, now time.Time) *memRecord {
	r := sh.rec[k]
	if r == nil {
		return nil
	}
	if !now.Before(r.exp) {
		delete(sh.rec, k)
		return nil
	}
	return r
}

// LoadRecord implements RecordStore.
func (s *Memory) LoadRecord(ctx context.Context, callKey, key string) (Record, error) {
	if err := validRecordKeys(callKey, key); err != nil {
		return Record{}, err
	}
	if err := s.check(ctx); err != nil {
		return Record{}, err
	}
	sh := s.shard(callKey)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.lookupRecord(memKey{callKey, key}, s.now())
	if r == nil {
		return Record{}, fmt.Errorf("load record %s: %w", key, ErrNotFound)
	}
	return Record{Value: cloneBytes(r.value), Version: r.version}, nil
}

// SaveRecord implements RecordStore.
func (s *Memory) SaveRecord(ctx context.Context, callKey, key string, value []byte, version int64, ttl time.Duration) (int64, bool, error) {
	if err := validSave(callKey, key, version, ttl); err != nil {
		return 0, false, err
	}
	if err := s.check(ctx); err != nil {
		return 0, false, err
	}
	v, ok := s.saveRecord(callKey, key, value, version, ttl)
	return v, ok, nil
}

// saveRecord is SaveRecord once the arguments are checked.
func (s *Memory) saveRecord(callKey, key string, value []byte, version int64, ttl time.Duration) (int64, bool) {
	now := s.now()
	k := memKey{callKey, key}
	sh := s.shard(callKey)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.lookupRecord(k, now)
	var cur int64
	if r != nil {
		cur = r.version
	}
	if cur != version {
		return cur, false
	}
	if r == nil {
		r = &memRecord{}
		sh.rec[k] = r
	}
	if len(value) == 0 {
		r.value = nil
	} else {
		r.value = append(r.value[:0], value...) // never handed out: Load copies
	}
	r.version, r.exp = version+1, now.Add(ttl)
	return r.version, true
}

// DeleteRecord implements RecordStore.
func (s *Memory) DeleteRecord(ctx context.Context, callKey, key string) error {
	if err := validRecordKeys(callKey, key); err != nil {
		return err
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	s.deleteRecord(callKey, key)
	return nil
}

// deleteRecord is DeleteRecord once the arguments are checked.
func (s *Memory) deleteRecord(callKey, key string) {
	sh := s.shard(callKey)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.rec, memKey{callKey, key})
}
