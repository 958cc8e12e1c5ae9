package store

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// OnceKey returns the Redis key of an idempotency marker:
// <prefix>:once:{<fnv>}:<key>, where <fnv> is FNV-1a (32 bits) of key in
// 8 hex digits, so a key of any bytes has a well-formed hash tag.
func OnceKey(prefix, key string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	var tag [8]byte
	const hex = "0123456789abcdef"
	h := fnv32a(key)
	for i := 7; i >= 0; i-- {
		tag[i] = hex[h&0xf]
		h >>= 4
	}
	return prefix + ":once:{" + string(tag[:]) + "}:" + key
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// RecordKey returns the Redis key of a record: <prefix>:rec:{<callkey>}:<key>.
func RecordKey(prefix, callKey, key string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + ":rec:{" + callKey + "}:" + key
}

// Once implements OnceStore with SET NX PX.
func (s *Redis) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := validOnce(key, ttl); err != nil {
		return false, err
	}
	if s.badPrefix != nil {
		return false, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	ok, err := s.c.SetNX(ctx, OnceKey(s.prefix, key), "1", time.Duration(ttlMillis(ttl))*time.Millisecond).Result()
	if err != nil {
		return false, mapErr(ctx, fmt.Sprintf("once %q", key), err)
	}
	return ok, nil
}

// LoadRecord implements RecordStore.
func (s *Redis) LoadRecord(ctx context.Context, callKey, key string) (Record, error) {
	if err := validRecordKeys(callKey, key); err != nil {
		return Record{}, err
	}
	if s.badPrefix != nil {
		return Record{}, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	vals, err := s.c.HMGet(ctx, RecordKey(s.prefix, callKey, key), "v", "d").Result()
	if err != nil {
		return Record{}, mapErr(ctx, "load record "+key, err)
	}
	if len(vals) != 2 || vals[0] == nil {
		return Record{}, fmt.Errorf("load record %s: %w", key, ErrNotFound)
	}
	v, err := strconv.ParseInt(asString(vals[0]), 10, 64)
	if err != nil {
		return Record{}, fmt.Errorf("load record %s: store: malformed version: %w", key, err)
	}
	r := Record{Version: v}
	if d := asString(vals[1]); d != "" {
		r.Value = []byte(d)
	}
	return r, nil
}

// SaveRecord implements RecordStore.
func (s *Redis) SaveRecord(ctx context.Context, callKey, key string, value []byte, version int64, ttl time.Duration) (int64, bool, error) {
	if err := validSave(callKey, key, version, ttl); err != nil {
		return 0, false, err
	}
	if s.badPrefix != nil {
		return 0, false, s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := saveRecordScript.Run(ctx, s.c, []string{RecordKey(s.prefix, callKey, key)},
		version, value, ttlMillis(ttl)).Int64Slice()
	if err != nil {
		return 0, false, mapErr(ctx, "save record "+key, err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("save record %s: store: unexpected script reply %v", key, res)
	}
	return res[0], res[1] == 1, nil
}

// DeleteRecord implements RecordStore.
func (s *Redis) DeleteRecord(ctx context.Context, callKey, key string) error {
	if err := validRecordKeys(callKey, key); err != nil {
		return err
	}
	if s.badPrefix != nil {
		return s.badPrefix
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := s.c.Del(ctx, RecordKey(s.prefix, callKey, key)).Err(); err != nil {
		return mapErr(ctx, "delete record "+key, err)
	}
	return nil
}
