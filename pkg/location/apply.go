package location

import (
	"fmt"
	"time"
)

// applyEntries is Apply's rule, shared by the memory engine and mirrored by
// the Redis engine's applyScript (the conformance suite holds them
// together). cur maps fields to the stored bindings and is not modified; it
// returns the new map or ErrOutOfOrder / ErrTooMany.
//
//  1. Bindings that expired at now are dropped (changes: Expired).
//  2. Wildcard: a binding with the request's Call-ID and a CSeq not lower
//     than the request's fails the request (RFC 3261 §10.3 step 6);
//     otherwise every binding is removed.
//  3. Otherwise each contact is matched to a stored binding: by instance and
//     reg-id for RFC 5626 contacts, else by field (SameContact). A match
//     with the request's Call-ID and a CSeq not lower fails the request
//     (step 7). Then, in order: a removal deletes the match; a match with
//     the same field is refreshed; otherwise the contact is added (and an
//     RFC 5626 match with another Contact URI, the old flow, is removed).
//  4. MaxContacts > 0, at least one binding added and more bindings than
//     MaxContacts: ErrTooMany.
func applyEntries(cur map[string]Binding, es []entry, u *Update, now time.Time) (map[string]Binding, []Change, error) {
	next := make(map[string]Binding, len(cur)+len(es))
	var changes []Change
	for f, b := range cur {
		if b.LiveAt(now) {
			next[f] = b
		} else {
			changes = append(changes, Change{Kind: Expired, Binding: b})
		}
	}
	stale := func(b *Binding) bool { return b.CallID == u.CallID && b.CSeq >= u.CSeq }
	if u.Wildcard {
		for _, b := range next {
			if stale(&b) {
				return nil, nil, fmt.Errorf("%w: Contact: * of %s with Call-ID %s CSeq %d, stored CSeq %d", ErrOutOfOrder, u.AOR, u.CallID, u.CSeq, b.CSeq)
			}
		}
		for f, b := range next {
			changes = append(changes, Change{Kind: Removed, Binding: b})
			delete(next, f)
		}
		return next, changes, nil
	}
	match := make([]string, len(es))
	for i := range es {
		m := findMatch(next, &es[i])
		if m == "" {
			continue
		}
		if b := next[m]; stale(&b) {
			return nil, nil, fmt.Errorf("%w: contact %s of %s with Call-ID %s CSeq %d, stored CSeq %d", ErrOutOfOrder, es[i].b.Contact, u.AOR, u.CallID, u.CSeq, b.CSeq)
		}
		match[i] = m
	}
	added := 0
	for i := range es {
		e := &es[i]
		m := match[i]
		old, ok := next[m]
		if m != "" && !ok {
			m = ""
		}
		switch {
		case e.remove:
			if m != "" {
				changes = append(changes, Change{Kind: Removed, Binding: old})
				delete(next, m)
			}
		case m != "" && m == e.field:
			next[e.field] = e.b
			changes = append(changes, Change{Kind: Refreshed, Binding: e.b})
		default:
			if m != "" {
				changes = append(changes, Change{Kind: Removed, Binding: old})
				delete(next, m)
			}
			if prev, ok := next[e.field]; ok {
				changes = append(changes, Change{Kind: Removed, Binding: prev})
			}
			next[e.field] = e.b
			changes = append(changes, Change{Kind: Added, Binding: e.b})
			added++
		}
	}
	if u.MaxContacts > 0 && added > 0 && len(next) > u.MaxContacts {
		return nil, nil, fmt.Errorf("%w: %s would have %d bindings, at most %d allowed", ErrTooMany, u.AOR, len(next), u.MaxContacts)
	}
	return next, changes, nil
}

// findMatch returns the field of the stored binding e names, or "".
func findMatch(bs map[string]Binding, e *entry) string {
	if !outbound(&e.b) {
		if _, ok := bs[e.field]; ok {
			return e.field
		}
		return ""
	}
	for f, b := range bs {
		if b.InstanceID == e.b.InstanceID && b.RegID == e.b.RegID {
			return f
		}
	}
	return ""
}
