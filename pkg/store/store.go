// Package store is the state-store contract of sipbus: SIP transaction state
// (and, in later issues, dialogs and location) shared by every edge and tm
// replica. It has two engines with one conformance suite (storetest): Redis,
// for any deployment with more than one process, and memory, for `sipbus up`
// in one process and fast unit tests.
//
// Semantics every engine guarantees:
//   - every operation on one transaction is atomic (Redis: one Lua script or
//     one command; memory: one mutex);
//   - every key has a TTL derived from the SIP timers by the caller; nothing
//     grows without bound;
//   - all keys of one call share the hash tag {callkey}, so multi-key scripts
//     work on Redis Cluster.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors.
var (
	ErrNotFound    = errors.New("store: not found")
	ErrUnavailable = errors.New("store: unavailable")
)

// Transaction kinds.
const (
	KindServer = "server"
	KindClient = "client"
)

// Tx is the shared state of one SIP transaction.
type Tx struct {
	CallKey string // sipmsg.CallKey of the Call-ID (hash tag)
	Key     string // sipmsg.ServerTxKey / ClientTxKey
	Kind    string // KindServer or KindClient
	Method  string // method of the request that created it
	State   string // FSM state name, owned by the transaction layer
	Edge    string // id of the edge that created it
	Source  string // where the request came from: "udp:ip:port" or "tcp:flowid"
	// LastStatus is the status of LastResponse (0 when none is stored).
	LastStatus int
	// LastResponse is the raw last response sent for a server transaction;
	// a retransmitted request is answered with it.
	LastResponse []byte
	// LastDest is where LastResponse goes: "udp:ip:port" or "tcp:flowid".
	LastDest string
	// Retransmits counts requests absorbed as retransmissions.
	Retransmits int
	Created     time.Time
	Updated     time.Time
}

// TxStore keeps transaction state.
type TxStore interface {
	// CreateOrGet stores tx when no transaction with (tx.CallKey, tx.Key)
	// exists and returns (tx, true). Otherwise it leaves the stored one
	// unchanged except for incrementing Retransmits, and returns it with false.
	// ttl bounds the life of the new transaction.
	CreateOrGet(ctx context.Context, tx *Tx, ttl time.Duration) (cur *Tx, created bool, err error)

	// Get returns the transaction or ErrNotFound.
	Get(ctx context.Context, callKey, key string) (*Tx, error)

	// SetResponse stores a response as the transaction's last response and
	// sets its state, unless a final response (>= 200) is already stored and
	// status is provisional, or a different final is already stored: then it
	// returns false and changes nothing. It returns ErrNotFound when there is
	// no such transaction. ttl replaces the transaction's remaining life.
	SetResponse(ctx context.Context, callKey, key string, r Response, ttl time.Duration) (bool, error)

	// UpdateState sets State to `to` when the current state is one of from
	// (compare-and-set; an empty from matches any state) and returns whether
	// it did. ttl > 0 replaces the remaining life. ErrNotFound when absent.
	UpdateState(ctx context.Context, callKey, key string, from []string, to string, ttl time.Duration) (bool, error)

	// Expire sets the remaining life of a transaction (0 deletes it now).
	Expire(ctx context.Context, callKey, key string, ttl time.Duration) error

	// Ping checks the engine is reachable.
	Ping(ctx context.Context) error

	// Close releases the engine's resources.
	Close() error
}

// Response is a response stored on a server transaction.
type Response struct {
	Status int
	Raw    []byte
	Dest   string // "udp:ip:port" or "tcp:flowid"
	State  string // transaction state after sending it
}
