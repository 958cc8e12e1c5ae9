package location

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// entry is one Contact of an Update, validated and normalised: what both
// engines apply.
type entry struct {
	field  string // hash field / map key (fieldOf)
	remove bool   // Expires not after Update.Now
	b      Binding
}

// prepare validates u and returns its contacts normalised (times to the
// millisecond, q to q*1000, AOR/Call-ID/CSeq/Updated from u), the last one
// winning when two name the same binding, and u.Now truncated to the
// millisecond.
func prepare(u *Update) ([]entry, time.Time, error) {
	if err := validAOR(u.AOR); err != nil {
		return nil, time.Time{}, err
	}
	switch {
	case u.CallID == "":
		return nil, time.Time{}, fmt.Errorf("%w: update of %s without Call-ID", ErrInvalid, u.AOR)
	case u.Now.IsZero():
		return nil, time.Time{}, fmt.Errorf("%w: update of %s without Now", ErrInvalid, u.AOR)
	case u.MaxContacts < 0:
		return nil, time.Time{}, fmt.Errorf("%w: update of %s: MaxContacts %d < 0", ErrInvalid, u.AOR, u.MaxContacts)
	case u.Wildcard && len(u.Contacts) > 0:
		return nil, time.Time{}, fmt.Errorf("%w: update of %s: Wildcard with %d contacts", ErrInvalid, u.AOR, len(u.Contacts))
	}
	now := msTime(u.Now)
	es := make([]entry, 0, len(u.Contacts))
	seen := make(map[string]int, len(u.Contacts))
	for i := range u.Contacts {
		c := u.Contacts[i]
		if c.AOR != "" && c.AOR != u.AOR {
			return nil, time.Time{}, fmt.Errorf("%w: update of %s holds a contact of %s", ErrInvalid, u.AOR, c.AOR)
		}
		c.AOR, c.CallID, c.CSeq, c.Updated = u.AOR, u.CallID, u.CSeq, now
		key, err := normalise(&c)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("update of %s: %w", u.AOR, err)
		}
		e := entry{field: fieldOf(key, &c), remove: !c.LiveAt(now), b: c}
		id := e.field
		if outbound(&c) {
			id = "\x00" + c.InstanceID + "\x00" + strconv.Itoa(c.RegID)
		}
		if j, ok := seen[id]; ok {
			es[j] = e
			continue
		}
		seen[id] = len(es)
		es = append(es, e)
	}
	return es, now, nil
}

// normalise validates a binding and rounds it to what the engines store; it
// returns the binding's canonical contact key.
func normalise(b *Binding) (string, error) {
	if err := validAOR(b.AOR); err != nil {
		return "", err
	}
	key, err := contactKey(b.Contact)
	if err != nil {
		return "", err
	}
	if math.IsNaN(b.Q) || b.Q < 0 || b.Q > 1 {
		return "", fmt.Errorf("%w: contact %s: q %v outside 0..1", ErrInvalid, b.Contact, b.Q)
	}
	if b.RegID < 0 {
		return "", fmt.Errorf("%w: contact %s: reg-id %d < 0", ErrInvalid, b.Contact, b.RegID)
	}
	for _, p := range b.Path {
		if p == "" || strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return "", fmt.Errorf("%w: contact %s: empty Path value or one with control characters", ErrInvalid, b.Contact)
		}
	}
	b.Q = float64(qMilli(b.Q)) / 1000
	b.Expires = msTime(b.Expires)
	b.Updated = msTime(b.Updated)
	if len(b.Path) == 0 {
		b.Path = nil
	} else {
		b.Path = append([]string(nil), b.Path...)
	}
	return key, nil
}

// qMilli is q*1000 rounded, the stored form of q.
func qMilli(q float64) int { return int(math.Round(q * 1000)) }

// msTime truncates t to the millisecond the engines store; the zero time
// stays zero (permanent).
func msTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli())
}

// unixMilli is t in Unix milliseconds; 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMilli is the inverse of unixMilli.
func fromMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// validExpire checks the arguments of Expire.
func validExpire(now time.Time, max int) error {
	if now.IsZero() {
		return fmt.Errorf("%w: Expire without now", ErrInvalid)
	}
	if max <= 0 {
		return fmt.Errorf("%w: Expire max %d: must be > 0", ErrInvalid, max)
	}
	return nil
}

// validAORs checks the arguments of AORs.
func validAORs(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("%w: AORs limit %d: must be > 0", ErrInvalid, limit)
	}
	return nil
}

// cloneBinding returns a copy of b that shares no memory with it.
func cloneBinding(b Binding) Binding {
	if b.Path != nil {
		b.Path = append([]string(nil), b.Path...)
	}
	return b
}
