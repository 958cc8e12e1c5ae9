package location

import (
	"context"
	"errors"
	"time"
)

// Errors. Every error an engine returns wraps one of these (or a canceled
// context), so callers map them to SIP status codes with errors.Is.
var (
	// ErrNotFound: Remove matched no binding.
	ErrNotFound = errors.New("location: not found")
	// ErrOutOfOrder: a REGISTER with the Call-ID of a stored binding and a
	// CSeq not higher than the stored one (RFC 3261 §10.3 steps 6 and 7).
	// Nothing was changed.
	ErrOutOfOrder = errors.New("location: out-of-order request")
	// ErrTooMany: the update would leave more than Update.MaxContacts
	// bindings. Nothing was changed.
	ErrTooMany = errors.New("location: too many contacts")
	// ErrInvalid: a bad argument (empty or malformed AOR, a Contact that is
	// not a URI, q outside 0..1, ...): a bug in the caller.
	ErrInvalid = errors.New("location: invalid argument")
	// ErrUnavailable: the engine cannot answer now (Redis down, timeout, a
	// transient server reply). The registrar answers 503 with Retry-After.
	ErrUnavailable = errors.New("location: unavailable")
)

// Binding is one Contact bound to an address-of-record (a usrloc ucontact).
type Binding struct {
	AOR string // "user@domain" as ParseAOR makes it
	// Contact is the Contact URI as registered: without <> and without the
	// header parameters (expires, q, +sip.instance, reg-id).
	Contact string
	// Q is the contact's preference, 0..1 with millisecond steps (it is
	// stored as q*1000, so 0.4567 reads back as 0.457). The Binding zero
	// value has q=0: callers set 1.0 for a Contact without a q parameter
	// (app.Decide does), the highest preference, as Kamailio does.
	Q float64
	// Expires is when the binding ends. The zero time means permanent: a
	// binding added by Add with no expiry (ul_add with expires 0: a gateway).
	Expires time.Time
	CallID  string // Call-ID of the REGISTER that wrote it
	CSeq    uint32 // CSeq number of that REGISTER
	// Path holds the Path header values of the REGISTER (RFC 3327), one
	// element per value, in order, as written ("<sip:edge1.example.com;lr>").
	Path []string
	// Received is where the REGISTER came from (the NAT's public side):
	// "udp:ip:port" or "tcp:flowid".
	Received   string
	Transport  string // transport the REGISTER arrived on ("udp", "tcp", ...)
	Edge       string // id of the edge that received it
	UserAgent  string // User-Agent header of the REGISTER
	InstanceID string // +sip.instance (RFC 5626), without the quotes; "" when absent
	RegID      int    // reg-id (RFC 5626); 0 when absent
	Updated    time.Time
}

// LiveAt reports whether b is live at now: permanent, or expiring after now.
func (b *Binding) LiveAt(now time.Time) bool {
	return b.Expires.IsZero() || b.Expires.After(now)
}

// Permanent reports whether b never expires.
func (b *Binding) Permanent() bool { return b.Expires.IsZero() }

// ChangeKind says what happened to a binding.
type ChangeKind string

// Kinds of change.
const (
	Added     ChangeKind = "added"     // a new binding
	Refreshed ChangeKind = "refreshed" // an existing binding re-registered (new expiry, Call-ID, CSeq, ...)
	Removed   ChangeKind = "removed"   // removed by a REGISTER (expires 0, Contact: *) or Remove
	Expired   ChangeKind = "expired"   // its expiry passed (reported by Expire, or by an Apply that found it)
)

// Change is one binding that a write added, refreshed or removed. For
// Removed and Expired it is the binding as it was stored; for Added and
// Refreshed the binding as it is now.
type Change struct {
	Kind    ChangeKind
	Binding Binding
}

// Update is one REGISTER's worth of changes to one AOR, applied atomically.
type Update struct {
	AOR    string
	CallID string
	CSeq   uint32
	// Now is the registrar's clock when the REGISTER is processed: the
	// binding's Updated time and the reference for the expiries below.
	Now time.Time
	// Contacts are the Contact values. A Contact whose Expires is not after
	// Now (and not zero) removes that contact; otherwise it is added or
	// refreshed. A zero Expires makes a permanent binding. AOR, CallID,
	// CSeq and Updated of each are set from the Update (a Contact with
	// another non-empty AOR is ErrInvalid). When two Contacts name the same
	// binding, the last one wins.
	Contacts []Binding
	// Wildcard removes every binding (Contact: * with Expires: 0); Contacts
	// must be empty.
	Wildcard bool
	// MaxContacts caps the bindings of the AOR after the update; 0 means
	// unlimited. An update that adds a binding and would exceed it fails with
	// ErrTooMany; removals and refreshes always succeed.
	MaxContacts int
}

// Store is the location service: the registrar writes it, tm and the
// management commands read it. Both engines (Memory, Redis) pass the same
// conformance suite (locationtest).
type Store interface {
	// Apply applies one REGISTER atomically (one Lua script on Redis): per
	// binding Call-ID/CSeq ordering (RFC 3261 §10.3 step 7: the same Call-ID
	// with a CSeq not higher than the stored one fails with ErrOutOfOrder
	// and changes nothing; a different Call-ID replaces the binding),
	// removals, additions, refreshes and MaxContacts. Bindings of the AOR
	// that had already expired at u.Now are dropped and reported as
	// Expired changes. It returns the resulting live bindings (sorted by q
	// descending, then most recently updated first) and the changes (see
	// SortChanges for their order).
	Apply(ctx context.Context, u Update) ([]Binding, []Change, error)
	// Lookup returns the bindings of an AOR that are live at now, sorted as
	// Apply's; an empty slice and a nil error when there are none.
	Lookup(ctx context.Context, aor string, now time.Time) ([]Binding, error)
	// Add stores a binding administratively (ul_add), replacing the one with
	// the same identity. A zero Expires makes it permanent. A zero Updated
	// is set to the current time.
	Add(ctx context.Context, b Binding) error
	// Remove deletes the bindings of aor whose Contact is the same URI as
	// contact (SameContact), or every binding when contact is "", and returns
	// them (sorted as Lookup's); ErrNotFound when nothing matched.
	Remove(ctx context.Context, aor, contact string) ([]Binding, error)
	// AORs lists the AORs that have bindings in lexicographic order, at most
	// limit (> 0) of them after cursor ("" starts at the beginning). The
	// returned cursor is "" after the last page.
	AORs(ctx context.Context, cursor string, limit int) ([]string, string, error)
	// Expire removes up to max (> 0) bindings whose Expires is not after now
	// and returns them. Any replica may call it concurrently: each expired
	// binding is returned exactly once across all callers (and never by
	// both Expire and Apply).
	Expire(ctx context.Context, now time.Time, max int) ([]Binding, error)
	// NextExpiry returns when Expire will next find work: the earliest
	// Expires of the stored bindings that have one (permanent bindings do
	// not count), in the past when a binding is due and not yet expired;
	// ok is false when no binding expires. An expiry loop sleeps until
	// then instead of polling. The Redis engine may answer earlier (the old
	// expiry of a binding since refreshed or removed: an Expire at that
	// time finds nothing and corrects it) and hides an AOR claimed by a
	// running Expire until that caller is done, or its ExpireLease ends if
	// it died (see the package doc).
	NextExpiry(ctx context.Context) (at time.Time, ok bool, err error)
}
