package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Store is everything an engine offers.
type Store interface {
	OnceStore
	RecordStore
	BatchStore
	IndexStore
	Membership

	// Ping checks the engine is reachable.
	Ping(ctx context.Context) error

	// Close releases the engine's resources.
	Close() error
}

// OnceStore keeps idempotency markers: exactly-once side effects across
// replicas and redeliveries.
type OnceStore interface {
	// Once returns true for the first caller with key within ttl, false
	// afterwards (Redis: SET NX PX). ttl > 0 required.
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Record is a small versioned document kept by a RecordStore.
type Record struct {
	Value   []byte // empty reads back as nil
	Version int64  // 1 after the first save
}

// RecordStore keeps small versioned documents (a proxy transaction's
// branches, a dialog) with optimistic concurrency.
type RecordStore interface {
	// LoadRecord returns the record or ErrNotFound.
	LoadRecord(ctx context.Context, callKey, key string) (Record, error)

	// SaveRecord writes value when the stored version equals version (0 =
	// must not exist yet) and returns the new version (version+1) and true;
	// it returns (current version, false) on a conflict (0 when absent).
	// ttl > 0 required: it replaces the remaining life.
	SaveRecord(ctx context.Context, callKey, key string, value []byte, version int64, ttl time.Duration) (int64, bool, error)

	// DeleteRecord removes it (absent is fine).
	DeleteRecord(ctx context.Context, callKey, key string) error
}

// fnv32a is FNV-1a (32 bits) of s, without allocating.
func fnv32a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// validOnce checks the arguments of Once.
func validOnce(key string, ttl time.Duration) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty once key", ErrInvalid)
	case ttl <= 0:
		return fmt.Errorf("%w: ttl %v for once key %q: must be > 0", ErrInvalid, ttl, key)
	}
	return nil
}

// validRecordKeys checks a record's (callKey, key).
func validRecordKeys(callKey, key string) error {
	switch {
	case callKey == "":
		return fmt.Errorf("%w: empty callkey", ErrInvalid)
	case strings.ContainsAny(callKey, "{}"):
		return fmt.Errorf("%w: callkey %q contains '{' or '}' (it is the Redis hash tag)", ErrInvalid, callKey)
	case key == "":
		return fmt.Errorf("%w: empty record key (callkey %s)", ErrInvalid, callKey)
	}
	return nil
}

// validSave checks the arguments of SaveRecord.
func validSave(callKey, key string, version int64, ttl time.Duration) error {
	if err := validRecordKeys(callKey, key); err != nil {
		return err
	}
	switch {
	case version < 0:
		return fmt.Errorf("%w: version %d of record %s: must be >= 0", ErrInvalid, version, key)
	case ttl <= 0:
		return fmt.Errorf("%w: ttl %v for record %s: must be > 0", ErrInvalid, ttl, key)
	}
	return nil
}
