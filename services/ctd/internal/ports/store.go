package ports

import (
	"context"
	"errors"
	"time"

	"github.com/sipbus/sipbus/services/ctd/internal/app"
)

// Errors of a Store and of Tokens.
var (
	ErrNotFound = errors.New("ctd: not found")
	ErrConflict = errors.New("ctd: changed by another replica") // compare-and-set lost
	ErrExists   = errors.New("ctd: exists")
)

// Store keeps the click-to-dials, so that any ctd replica can continue any
// of them. Both engines (adapters.Redis, adapters.Memory) pass one
// conformance suite (adapters/storetest).
type Store interface {
	// Create stores a new call (Version 0 becomes 1); ErrExists when its ID
	// is taken.
	Create(ctx context.Context, s app.State) (app.State, error)
	// Load returns a call or ErrNotFound.
	Load(ctx context.Context, id string) (app.State, error)
	// Save replaces the call if its stored Version is still s.Version
	// (compare-and-set; ErrConflict otherwise) and returns it with the
	// next Version. It keeps the deadline index and the index of the
	// legs' dialogs in step, and gives a Done call a short lifetime.
	Save(ctx context.Context, s app.State) (app.State, error)
	// Due returns up to limit ids whose deadline is not after now. Any
	// replica may call it; the compare-and-set of Save decides which one
	// acts on a call.
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
	// Index mends id's entry in the deadline index: deadline, or none
	// when zero (a due entry whose call had nothing due).
	Index(ctx context.Context, id string, deadline time.Time) error
	// ByDialog is the call that owns a dialog (a tm dialog id); ErrNotFound.
	ByDialog(ctx context.Context, dialog string) (string, error)
	// Watches lists the State.Watch keys recorded (by Create) and still
	// found by ByDialog after now, the latest to expire first, at most
	// limit of them: a replica that starts learns there the keys it
	// cannot have heard announced.
	Watches(ctx context.Context, now time.Time, limit int) ([]Watch, error)
}

// Watch is a State.Watch key and when its index entry expires.
type Watch struct {
	Key     string
	Expires time.Time
}

// Tokens are the API tokens: one random secret per subscriber token,
// stored hashed (SHA-256), never logged.
type Tokens interface {
	// Create makes a new token for aor and returns it (the only time it is
	// seen in clear).
	CreateToken(ctx context.Context, aor string) (string, error)
	// LookupToken returns the AOR of a token or ErrNotFound.
	LookupToken(ctx context.Context, token string) (string, error)
}
