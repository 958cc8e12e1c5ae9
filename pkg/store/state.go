package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Store is everything an engine offers.
type Store interface {
	TimerStore
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

// Timer is a SIP timer deadline kept by a TimerStore.
type Timer struct {
	ID      string    // caller's id, unique (e.g. "<callkey>|<txkey>|B"); any bytes
	Due     time.Time // deadline (millisecond precision)
	Payload []byte    // opaque to the store; empty reads back as nil
	Token   string    // set by Claim: identifies this claim; Done needs it
	Claims  int       // how many times it has been claimed since it was armed (1 on first claim)
}

// TimerStore keeps SIP timer deadlines shared by all tm replicas: any live
// replica claims a due timer.
//
// A claimed timer stays in the store until Done (or Cancel, or a re-Arm
// replaces it): a claimer that dies leaves it to reappear when its lease
// ends, so a caller must Done or re-Arm every timer it claims. Nothing else
// removes a timer; there is no TTL.
type TimerStore interface {
	// Arm creates or replaces the timer id (due, payload). Re-arming a
	// claimed timer replaces it (the old claim's Done becomes a no-op) and
	// resets Claims.
	Arm(ctx context.Context, id string, due time.Time, payload []byte) error

	// Cancel removes the timer; false when it did not exist.
	Cancel(ctx context.Context, id string) (bool, error)

	// ArmBatch arms every timer of arms as Arm does, in one round trip on
	// Redis (a pipeline). On an error some may be armed: arming is
	// idempotent, so the caller arms them all again.
	ArmBatch(ctx context.Context, arms []TimerArm) error

	// CancelBatch cancels every timer of ids as Cancel does, in one round
	// trip on Redis; an id that does not exist is no error.
	CancelBatch(ctx context.Context, ids []string) error

	// Claim atomically takes up to max timers with Due <= now and leases
	// each for lease: they are invisible to other Claim calls until
	// now+lease, then due again (the claimer died) unless Done or re-armed.
	// It returns fewer than max only when fewer are due. On an error the
	// timers claimed before it are returned with it (they are leased to the
	// caller either way).
	Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]Timer, error)

	// Done removes a claimed timer if it is still the same claim (token);
	// false when it was re-armed, cancelled or claimed again meanwhile.
	Done(ctx context.Context, id, token string) (bool, error)
}

// TimerArm is one timer of TimerStore.ArmBatch.
type TimerArm struct {
	ID      string
	Due     time.Time
	Payload []byte
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

// timerShards is the number of Redis timer shards (see the package doc).
const timerShards = 16

// fnv32a is FNV-1a (32 bits) of s, without allocating.
func fnv32a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// timerShard is the shard of a timer id: FNV-1a (32 bits) of the id,
// finished with Murmur3's fmix32 (FNV's low and high bits alone spread
// short ids poorly), mod timerShards.
func timerShard(id string) int {
	h := fnv32a(id)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return int(h % timerShards)
}

// validTimerID checks a timer id.
func validTimerID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty timer id", ErrInvalid)
	}
	return nil
}

// validClaim checks the arguments of Claim.
func validClaim(max int, lease time.Duration) error {
	switch {
	case max <= 0:
		return fmt.Errorf("%w: claim max %d: must be > 0", ErrInvalid, max)
	case lease <= 0:
		return fmt.Errorf("%w: claim lease %v: must be > 0", ErrInvalid, lease)
	}
	return nil
}

// validDone checks the arguments of Done.
func validDone(id, token string) error {
	if err := validTimerID(id); err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("%w: empty claim token for timer %q", ErrInvalid, id)
	}
	return nil
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
