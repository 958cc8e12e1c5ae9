package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// OpKind is the kind of one write of a batch ([Op]).
type OpKind uint8

// Kinds of Op.
const (
	// OpSaveRecord is RecordStore.SaveRecord: compare the version, write
	// the value, set the TTL (CallKey, Key, Value, Version, TTL).
	OpSaveRecord OpKind = iota + 1
	// OpDeleteRecord is RecordStore.DeleteRecord (CallKey, Key).
	OpDeleteRecord
	// OpIndexSet adds Member to Index with Score, or moves it to Score
	// (Redis: ZADD).
	OpIndexSet
	// OpIndexRemove removes Member from Index; absent is fine (Redis: ZREM).
	OpIndexRemove
	// OpPutRecord writes a record whatever its stored version, which it
	// sets to 1, and sets the TTL (CallKey, Key, Value, TTL): for data that
	// one writer owns and nobody compare-and-sets, such as the dialog of an
	// answered call. Two plain commands on Redis (HSET, PEXPIRE), no script.
	OpPutRecord
)

// String returns the kind's name, for errors and logs.
func (k OpKind) String() string {
	switch k {
	case OpSaveRecord:
		return "save-record"
	case OpDeleteRecord:
		return "delete-record"
	case OpIndexSet:
		return "index-set"
	case OpIndexRemove:
		return "index-remove"
	case OpPutRecord:
		return "put-record"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// MaxIndexScore bounds the scores of an index: |Score| <= 2^53, the
// integers a Redis ZSET score (a double) holds exactly. Unix milliseconds
// are far inside it.
const MaxIndexScore = 1 << 53

// Op is one write of a batch (BatchStore.Apply). Which fields count
// depends on Kind; the others are ignored.
type Op struct {
	Kind    OpKind
	CallKey string        // records: the call's key (hash tag; no '{' or '}')
	Key     string        // records: the record's key within the call
	Value   []byte        // OpSaveRecord, OpPutRecord
	Version int64         // OpSaveRecord: expected current version (0 = must not exist)
	TTL     time.Duration // OpSaveRecord, OpPutRecord: > 0, replaces the remaining life
	// Index names an index (OpIndexSet, OpIndexRemove), e.g.
	// "tm.deadlines.3f": non-empty, any bytes but '{' and '}' (it is the
	// Redis hash tag).
	Index  string
	Member string // OpIndexSet, OpIndexRemove: non-empty, any bytes
	Score  int64  // OpIndexSet: e.g. unix milliseconds; |Score| <= MaxIndexScore
}

// OpResult is the outcome of one Op.
type OpResult struct {
	// Version is, for OpSaveRecord, the new version when OK and the current
	// one (0 when absent) on a conflict; 0 for the other kinds.
	Version int64
	// OK is, for OpSaveRecord, whether the value was written (false on a
	// version conflict); for the other kinds, whether the op succeeded.
	OK bool
	// Err is this op's error: ErrInvalid for a bad argument (the op was not
	// sent), ErrUnavailable, a canceled context, ...; nil otherwise. A
	// version conflict is not an error.
	Err error
}

// BatchStore applies many writes in one round trip: the writes of every
// input a tm replica handled in one short window ("group commit"; see
// [Committer]).
type BatchStore interface {
	// Apply runs ops in order and returns one result per op. On Redis it
	// is one pipeline, so one round trip even when the ops span many hash
	// slots (go-redis' Cluster pipeline splits it per node, the nodes in
	// parallel). Ops are independent, not a transaction: one failing does
	// not stop the others, and another client may see some applied before
	// the others. Each op is atomic, with the semantics of its RecordStore
	// counterpart. An op with a bad argument gets ErrInvalid in its result
	// and is not sent; the others still run.
	//
	// The returned error is non-nil only when the whole batch failed
	// (connection down, context ended, engine closed): then every result
	// carries it too, but for those holding ErrInvalid. Otherwise each
	// result's Err tells (on Redis Cluster a node that is down fails only
	// the ops of its slots). As with any single write, an op that failed
	// with ErrUnavailable or a context error may still have been applied
	// (a timeout after the command was sent). An empty batch does nothing.
	Apply(ctx context.Context, ops []Op) ([]OpResult, error)
}

// IndexEntry is one member of an index.
type IndexEntry struct {
	Member string
	Score  int64
}

// IndexStore reads the indexes written by OpIndexSet and OpIndexRemove.
// An index has no TTL: the writer removes its members (a tm replica
// removes a deadline when the record it points to is done).
type IndexStore interface {
	// IndexRange returns every member of index with score <= maxScore,
	// lowest score first, equal scores ordered by member bytes
	// (math.MaxInt64 returns all). A missing index is empty, not an error.
	IndexRange(ctx context.Context, index string, maxScore int64) ([]IndexEntry, error)
}

// Membership is a set of live instances with leases, per group (tm
// replicas use group "tm"): each instance heartbeats well within its TTL,
// and one whose lease ended is no longer a member.
type Membership interface {
	// Heartbeat records id as alive for ttl (> 0) in group, drops the
	// members whose lease ended, and returns the live members sorted by
	// id (bytewise), id included. One round trip on Redis. Leases are
	// judged by the caller's clock (Redis: the client's, not the server's),
	// so replicas need clocks in step to well within a TTL.
	Heartbeat(ctx context.Context, group, id string, ttl time.Duration) ([]string, error)
	// Leave removes id from group at once (graceful shutdown); absent is
	// fine.
	Leave(ctx context.Context, group, id string) error
}

// validOp checks the arguments of one Op.
func validOp(op *Op) error {
	switch op.Kind {
	case OpSaveRecord:
		return validSave(op.CallKey, op.Key, op.Version, op.TTL)
	case OpDeleteRecord:
		return validRecordKeys(op.CallKey, op.Key)
	case OpPutRecord:
		return validSave(op.CallKey, op.Key, 0, op.TTL)
	case OpIndexSet:
		if err := validIndexMember(op.Index, op.Member); err != nil {
			return err
		}
		if op.Score > MaxIndexScore || op.Score < -MaxIndexScore {
			return fmt.Errorf("%w: score %d of %q in index %s: must be within ±2^53", ErrInvalid, op.Score, op.Member, op.Index)
		}
		return nil
	case OpIndexRemove:
		return validIndexMember(op.Index, op.Member)
	}
	return fmt.Errorf("%w: unknown op kind %d", ErrInvalid, uint8(op.Kind))
}

// validIndex checks an index name.
func validIndex(index string) error {
	switch {
	case index == "":
		return fmt.Errorf("%w: empty index name", ErrInvalid)
	case strings.ContainsAny(index, "{}"):
		return fmt.Errorf("%w: index name %q contains '{' or '}' (it is the Redis hash tag)", ErrInvalid, index)
	}
	return nil
}

// validIndexMember checks an index name and a member.
func validIndexMember(index, member string) error {
	if err := validIndex(index); err != nil {
		return err
	}
	if member == "" {
		return fmt.Errorf("%w: empty member (index %s)", ErrInvalid, index)
	}
	return nil
}

// validGroup checks a membership group and id.
func validGroup(group, id string) error {
	switch {
	case group == "":
		return fmt.Errorf("%w: empty membership group", ErrInvalid)
	case strings.ContainsAny(group, "{}"):
		return fmt.Errorf("%w: membership group %q contains '{' or '}' (it is the Redis hash tag)", ErrInvalid, group)
	case id == "":
		return fmt.Errorf("%w: empty member id (group %s)", ErrInvalid, group)
	}
	return nil
}

// validHeartbeat checks the arguments of Heartbeat.
func validHeartbeat(group, id string, ttl time.Duration) error {
	if err := validGroup(group, id); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("%w: ttl %v for member %q of group %s: must be > 0", ErrInvalid, ttl, id, group)
	}
	return nil
}

// checkOps returns one result per op, with ErrInvalid set on those with a
// bad argument, and how many are valid.
func checkOps(ops []Op) ([]OpResult, int) {
	res := make([]OpResult, len(ops))
	n := 0
	for i := range ops {
		if err := validOp(&ops[i]); err != nil {
			res[i].Err = err
			continue
		}
		n++
	}
	return res, n
}

// failBatch sets err on every result without an error (the valid ops) and
// returns it: the whole batch failed.
func failBatch(res []OpResult, err error) error {
	for i := range res {
		if res[i].Err == nil {
			res[i] = OpResult{Err: err}
		}
	}
	return err
}

// opName names an op in errors.
func opName(op *Op) string {
	switch op.Kind {
	case OpSaveRecord:
		return "save record " + op.Key
	case OpDeleteRecord:
		return "delete record " + op.Key
	case OpIndexSet:
		return fmt.Sprintf("set %q in index %s", op.Member, op.Index)
	case OpIndexRemove:
		return fmt.Sprintf("remove %q from index %s", op.Member, op.Index)
	}
	return op.Kind.String()
}
