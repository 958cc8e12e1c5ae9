// Package locationtest is the conformance suite of location.Store: the
// memory and Redis engines run the same tests, so they cannot drift apart.
//
//	func TestMemory(t *testing.T) {
//		locationtest.Run(t, func(t *testing.T) location.Store { return location.NewMemory() })
//	}
//
// Every time the suite uses is derived from T0 and passed explicitly
// (Update.Now, the now arguments, Binding.Updated), so no test sleeps and
// engines need no clock.
package locationtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
)

// T0 is the suite's reference time.
var T0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// NewStore returns an empty store for one test, its cleanup registered on t.
// Stores returned for different tests may share a server but must not see
// each other's keys (use a fresh prefix).
type NewStore func(t *testing.T) location.Store

// Run runs the conformance suite against the engine made by newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, location.Store)
	}{
		{"AddRefreshRemove", testAddRefreshRemove},
		{"RoundTripEveryField", testRoundTrip},
		{"Wildcard", testWildcard},
		{"WildcardOutOfOrder", testWildcardOutOfOrder},
		{"OutOfOrderCSeq", testOutOfOrder},
		{"NewCallIDReplaces", testNewCallID},
		{"DuplicateContactLastWins", testDuplicate},
		{"SameContactSpellings", testSameContactSpellings},
		{"MaxContacts", testMaxContacts},
		{"QOrdering", testQOrdering},
		{"Permanent", testPermanent},
		{"LookupExcludesExpired", testLookupExpired},
		{"ApplyReportsExpired", testApplyReportsExpired},
		{"OutboundFlowReplaces", testOutbound},
		{"RemoveContact", testRemove},
		{"AddReplaces", testAddReplaces},
		{"ExpireBudget", testExpireBudget},
		{"ExpireReschedules", testExpireReschedules},
		{"ExpireAfterShortening", testExpireShortened},
		{"ExpireExactlyOnceConcurrent", testExpireConcurrent},
		{"ConcurrentApplyAndExpire", testApplyExpireRace},
		{"NextExpiry", testNextExpiry},
		{"AORsPagination", testAORsPagination},
		{"InvalidInput", testInvalid},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
	hour  = time.Hour
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// contact is a Contact of an Update expiring at exp, q 1.
func contact(uri string, exp time.Time) location.Binding {
	return location.Binding{Contact: uri, Q: 1, Expires: exp, Transport: "udp", Edge: "edge-1"}
}

// reg is one REGISTER of aor.
func reg(aor, callID string, cseq uint32, now time.Time, cs ...location.Binding) location.Update {
	return location.Update{AOR: aor, CallID: callID, CSeq: cseq, Now: now, Contacts: cs}
}

func apply(t *testing.T, s location.Store, u location.Update) ([]location.Binding, []location.Change) {
	t.Helper()
	bs, cs, err := s.Apply(ctx(t), u)
	if err != nil {
		t.Fatalf("Apply(%s cseq %d): %v", u.AOR, u.CSeq, err)
	}
	return bs, cs
}

func lookup(t *testing.T, s location.Store, aor string, now time.Time) []location.Binding {
	t.Helper()
	bs, err := s.Lookup(ctx(t), aor, now)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", aor, err)
	}
	if bs == nil {
		t.Fatalf("Lookup(%s) = nil slice, want an empty one", aor)
	}
	return bs
}

// uris lists the contacts of bindings in order.
func uris(bs []location.Binding) []string {
	out := make([]string, len(bs))
	for i := range bs {
		out[i] = bs[i].Contact
	}
	return out
}

// kinds renders changes as "kind contact".
func kinds(cs []location.Change) []string {
	out := make([]string, len(cs))
	for i := range cs {
		out[i] = string(cs[i].Kind) + " " + cs[i].Binding.Contact
	}
	return out
}

func wantList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
	if err != nil && !strings.Contains(err.Error(), "location: ") {
		t.Errorf("%s: error %q does not name the package", what, err)
	}
}

// sameBinding compares every field, times with Equal.
func sameBinding(t *testing.T, what string, got, want location.Binding) {
	t.Helper()
	g, w := got, want
	if !g.Expires.Equal(w.Expires) || !g.Updated.Equal(w.Updated) {
		t.Errorf("%s: Expires/Updated = %v/%v, want %v/%v", what, g.Expires, g.Updated, w.Expires, w.Updated)
	}
	g.Expires, g.Updated, w.Expires, w.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if fmt.Sprintf("%#v", g) != fmt.Sprintf("%#v", w) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, g, w)
	}
}

func testAddRefreshRemove(t *testing.T, s location.Store) {
	a := "sip:alice@192.0.2.1:5060"
	bs, cs := apply(t, s, reg(alice, "c1", 1, T0, contact(a, T0.Add(hour))))
	wantList(t, "bindings after add", uris(bs), []string{a})
	wantList(t, "changes after add", kinds(cs), []string{"added " + a})
	if b := bs[0]; b.AOR != alice || b.CallID != "c1" || b.CSeq != 1 || !b.Updated.Equal(T0) || !b.Expires.Equal(T0.Add(hour)) {
		t.Errorf("added binding = %+v", b)
	}

	t1 := T0.Add(30 * time.Minute)
	bs, cs = apply(t, s, reg(alice, "c1", 2, t1, contact(a, t1.Add(hour))))
	wantList(t, "changes after refresh", kinds(cs), []string{"refreshed " + a})
	if b := bs[0]; b.CSeq != 2 || !b.Updated.Equal(t1) || !b.Expires.Equal(t1.Add(hour)) {
		t.Errorf("refreshed binding = %+v", b)
	}
	if got := lookup(t, s, alice, t1); len(got) != 1 || !got[0].Expires.Equal(t1.Add(hour)) {
		t.Errorf("Lookup after refresh = %+v", got)
	}

	// Expires == Now removes; removing an unknown contact changes nothing.
	t2 := t1.Add(time.Minute)
	bs, cs = apply(t, s, reg(alice, "c1", 3, t2, contact(a, t2), contact("sip:other@192.0.2.9", t2)))
	wantList(t, "bindings after remove", uris(bs), nil)
	wantList(t, "changes after remove", kinds(cs), []string{"removed " + a})
	if cs[0].Binding.CSeq != 2 {
		t.Errorf("removed change carries CSeq %d, want the stored 2", cs[0].Binding.CSeq)
	}
	if got := lookup(t, s, alice, t2); len(got) != 0 {
		t.Errorf("Lookup after remove = %v", uris(got))
	}
	if aors, _, err := s.AORs(ctx(t), "", 10); err != nil || len(aors) != 0 {
		t.Errorf("AORs after the last binding went = %q, %v; want none", aors, err)
	}

	// A REGISTER without contacts is a query.
	apply(t, s, reg(alice, "c1", 4, t2, contact(a, t2.Add(hour))))
	bs, cs = apply(t, s, reg(alice, "c1", 5, t2))
	wantList(t, "query bindings", uris(bs), []string{a})
	wantList(t, "query changes", kinds(cs), nil)
}

func testRoundTrip(t *testing.T, s location.Store) {
	in := location.Binding{
		Contact:    "sip:alice@10.0.0.7:5062;transport=tcp;ob",
		Q:          0.25,
		Expires:    T0.Add(hour).Add(123456789 * time.Nanosecond),
		Path:       []string{"<sip:edge-1.example.com;lr;ob>", "<sip:[2001:db8::1]:5070;lr>"},
		Received:   "tcp:f-42",
		Transport:  "tcp",
		Edge:       "edge-1",
		UserAgent:  `Phone "X" 1.0 <€>`,
		InstanceID: "<urn:uuid:00000000-0000-1000-8000-000a95a0e128>",
		RegID:      1,
	}
	bs, cs := apply(t, s, reg(alice, "call-1@host", 7, T0.Add(999*time.Microsecond), in))
	want := in
	want.AOR, want.CallID, want.CSeq = alice, "call-1@host", 7
	want.Expires = T0.Add(hour).Add(123 * time.Millisecond)
	want.Updated = T0
	if len(bs) != 1 || len(cs) != 1 {
		t.Fatalf("Apply = %d bindings, %d changes; want 1, 1", len(bs), len(cs))
	}
	sameBinding(t, "Apply result", bs[0], want)
	sameBinding(t, "Apply change", cs[0].Binding, want)
	got := lookup(t, s, alice, T0)
	if len(got) != 1 {
		t.Fatalf("Lookup = %d bindings, want 1", len(got))
	}
	sameBinding(t, "Lookup", got[0], want)

	// The caller's slices are not aliased.
	got[0].Path[0] = "<sip:changed>"
	sameBinding(t, "Lookup after the caller changed its copy", lookup(t, s, alice, T0)[0], want)
}

func testWildcard(t *testing.T, s location.Store) {
	a, b := "sip:alice@192.0.2.1", "sip:alice@192.0.2.2"
	apply(t, s, reg(alice, "c1", 1, T0, contact(a, T0.Add(hour))))
	apply(t, s, reg(alice, "c2", 1, T0, contact(b, T0.Add(hour))))
	apply(t, s, reg(bob, "c3", 1, T0, contact("sip:bob@192.0.2.3", T0.Add(hour))))
	u := reg(alice, "c9", 1, T0.Add(time.Minute))
	u.Wildcard = true
	bs, cs := apply(t, s, u)
	wantList(t, "bindings after *", uris(bs), nil)
	wantList(t, "changes after *", kinds(cs), []string{"removed " + a, "removed " + b})
	wantList(t, "Lookup after *", uris(lookup(t, s, alice, T0)), nil)
	wantList(t, "other AOR after *", uris(lookup(t, s, bob, T0)), []string{"sip:bob@192.0.2.3"})
	// * on an AOR without bindings is fine.
	u.CSeq = 2
	if _, cs = apply(t, s, u); len(cs) != 0 {
		t.Errorf("* on an empty AOR changed %q", kinds(cs))
	}
}

func testWildcardOutOfOrder(t *testing.T, s location.Store) {
	a, b := "sip:alice@192.0.2.1", "sip:alice@192.0.2.2"
	apply(t, s, reg(alice, "c1", 5, T0, contact(a, T0.Add(hour))))
	apply(t, s, reg(alice, "c2", 1, T0, contact(b, T0.Add(hour))))
	for _, cseq := range []uint32{5, 4} {
		u := reg(alice, "c1", cseq, T0.Add(time.Minute))
		u.Wildcard = true
		_, _, err := s.Apply(ctx(t), u)
		wantErr(t, fmt.Sprintf("* with Call-ID c1 CSeq %d", cseq), err, location.ErrOutOfOrder)
	}
	wantList(t, "Lookup after refused *", uris(lookup(t, s, alice, T0)), []string{a, b})
}

func testOutOfOrder(t *testing.T, s location.Store) {
	a, b := "sip:alice@192.0.2.1", "sip:alice@192.0.2.2"
	apply(t, s, reg(alice, "c1", 10, T0, contact(a, T0.Add(hour))))
	for _, tc := range []struct {
		name string
		u    location.Update
	}{
		{"same CSeq", reg(alice, "c1", 10, T0.Add(time.Minute), contact(a, T0.Add(2*hour)))},
		{"lower CSeq", reg(alice, "c1", 9, T0.Add(time.Minute), contact(a, T0.Add(2*hour)))},
		{"lower CSeq removing", reg(alice, "c1", 9, T0.Add(time.Minute), contact(a, T0.Add(time.Minute)))},
		// One stale contact fails the whole request: b is not added.
		{"stale among new", reg(alice, "c1", 3, T0.Add(time.Minute), contact(b, T0.Add(hour)), contact(a, T0.Add(2*hour)))},
	} {
		_, _, err := s.Apply(ctx(t), tc.u)
		wantErr(t, tc.name, err, location.ErrOutOfOrder)
	}
	got := lookup(t, s, alice, T0)
	wantList(t, "Lookup after refused updates", uris(got), []string{a})
	if got[0].CSeq != 10 || !got[0].Expires.Equal(T0.Add(hour)) {
		t.Errorf("binding changed by refused updates: %+v", got[0])
	}
	// A contact not yet bound is not subject to ordering.
	if _, cs := apply(t, s, reg(alice, "c1", 3, T0, contact(b, T0.Add(hour)))); len(cs) != 1 || cs[0].Kind != location.Added {
		t.Errorf("new contact with a low CSeq: changes %q", kinds(cs))
	}
}

func testNewCallID(t *testing.T, s location.Store) {
	a := "sip:alice@192.0.2.1"
	apply(t, s, reg(alice, "c1", 10, T0, contact(a, T0.Add(hour))))
	bs, cs := apply(t, s, reg(alice, "c2", 1, T0.Add(time.Minute), contact(a, T0.Add(2*hour))))
	wantList(t, "changes", kinds(cs), []string{"refreshed " + a})
	if bs[0].CallID != "c2" || bs[0].CSeq != 1 || !bs[0].Expires.Equal(T0.Add(2*hour)) {
		t.Errorf("binding after a new Call-ID = %+v", bs[0])
	}
	// Now c2/1 is stored: c2/1 again is out of order, c1/11 replaces.
	_, _, err := s.Apply(ctx(t), reg(alice, "c2", 1, T0.Add(time.Minute), contact(a, T0.Add(hour))))
	wantErr(t, "repeat of c2/1", err, location.ErrOutOfOrder)
	if _, cs = apply(t, s, reg(alice, "c1", 11, T0.Add(time.Minute), contact(a, T0.Add(time.Minute)))); len(cs) != 1 || cs[0].Kind != location.Removed {
		t.Errorf("removal under the old Call-ID: %q", kinds(cs))
	}
}

func testDuplicate(t *testing.T, s location.Store) {
	// Two spellings of one binding (;ob is not part of its identity).
	bs, cs := apply(t, s, reg(alice, "c1", 1, T0, contact("sip:alice@192.0.2.1", T0.Add(hour)), contact("sip:alice@192.0.2.1;ob", T0.Add(2*hour))))
	if len(bs) != 1 || !bs[0].Expires.Equal(T0.Add(2*hour)) || bs[0].Contact != "sip:alice@192.0.2.1;ob" {
		t.Errorf("two spellings of one contact: bindings %+v; want the last one", bs)
	}
	wantList(t, "changes", kinds(cs), []string{"added sip:alice@192.0.2.1;ob"})
	// One spelling twice, the first removing it: the last one wins.
	bs, cs = apply(t, s, reg(bob, "c1", 1, T0, contact("sip:bob@192.0.2.1", T0), contact("sip:bob@192.0.2.1", T0.Add(2*hour))))
	if len(bs) != 1 || !bs[0].Expires.Equal(T0.Add(2*hour)) || len(cs) != 1 {
		t.Errorf("one contact twice: bindings %+v, changes %q; want the last one, once", bs, kinds(cs))
	}
}

func testSameContactSpellings(t *testing.T, s location.Store) {
	apply(t, s, reg(alice, "c1", 1, T0, contact("sip:Alice@Host.Example.com:5060;transport=UDP;ob", T0.Add(hour))))
	bs, cs := apply(t, s, reg(alice, "c1", 2, T0, contact("sip:%41lice@host.example.COM:5060;transport=udp", T0.Add(2*hour))))
	wantList(t, "re-register with another spelling", kinds(cs), []string{"refreshed sip:%41lice@host.example.COM:5060;transport=udp"})
	if len(bs) != 1 {
		t.Errorf("bindings = %q, want one", uris(bs))
	}
	// User case and port presence make different contacts.
	_, cs = apply(t, s, reg(alice, "c1", 3, T0, contact("sip:alice@host.example.com:5060;transport=udp", T0.Add(hour)), contact("sip:Alice@host.example.com;transport=udp", T0.Add(hour))))
	wantList(t, "different contacts", kinds(cs), []string{"added sip:Alice@host.example.com;transport=udp", "added sip:alice@host.example.com:5060;transport=udp"})
}

func testMaxContacts(t *testing.T, s location.Store) {
	c := func(i int) location.Binding { return contact(fmt.Sprintf("sip:alice@192.0.2.%d", i), T0.Add(hour)) }
	u := reg(alice, "c1", 1, T0, c(1), c(2))
	u.MaxContacts = 2
	apply(t, s, u)
	u = reg(alice, "c2", 1, T0, c(3))
	u.MaxContacts = 2
	_, _, err := s.Apply(ctx(t), u)
	wantErr(t, "third contact, max 2", err, location.ErrTooMany)
	u = reg(bob, "c3", 1, T0, c(1), c(2), c(3))
	u.MaxContacts = 2
	_, _, err = s.Apply(ctx(t), u)
	wantErr(t, "three contacts in one request, max 2", err, location.ErrTooMany)
	wantList(t, "alice after refusal", uris(lookup(t, s, alice, T0)), []string{"sip:alice@192.0.2.1", "sip:alice@192.0.2.2"})
	wantList(t, "bob after refusal", uris(lookup(t, s, bob, T0)), nil)

	// Replacing one contact by another within the limit is fine.
	u = reg(alice, "c1", 2, T0, contact("sip:alice@192.0.2.1", T0), c(3))
	u.MaxContacts = 2
	apply(t, s, u)
	// A lower limit never blocks refreshes and removals.
	u = reg(alice, "c1", 3, T0, c(2))
	u.MaxContacts = 1
	if _, cs := apply(t, s, u); len(cs) != 1 || cs[0].Kind != location.Refreshed {
		t.Errorf("refresh over a lowered limit: %q", kinds(cs))
	}
	// 0 is unlimited.
	u = reg(alice, "c9", 1, T0, c(4), c(5), c(6), c(7), c(8), c(9), c(10), c(11), c(12), c(13), c(14))
	if bs, _ := apply(t, s, u); len(bs) != 13 {
		t.Errorf("MaxContacts 0: %d bindings, want 13", len(bs))
	}
}

func testQOrdering(t *testing.T, s location.Store) {
	q := func(uri string, q float64) location.Binding {
		b := contact(uri, T0.Add(hour))
		b.Q = q
		return b
	}
	apply(t, s, reg(alice, "c1", 1, T0, q("sip:a@192.0.2.1", 0.5)))
	apply(t, s, reg(alice, "c2", 1, T0.Add(time.Second), q("sip:b@192.0.2.1", 0.5)))
	apply(t, s, reg(alice, "c3", 1, T0.Add(2*time.Second), q("sip:c@192.0.2.1", 0.1)))
	bs, _ := apply(t, s, reg(alice, "c4", 1, T0, q("sip:d@192.0.2.1", 1), q("sip:e@192.0.2.1", 0.4567), q("sip:f@192.0.2.1", 0)))
	want := []string{"sip:d@192.0.2.1", "sip:b@192.0.2.1", "sip:a@192.0.2.1", "sip:e@192.0.2.1", "sip:c@192.0.2.1", "sip:f@192.0.2.1"}
	wantList(t, "Apply order", uris(bs), want)
	got := lookup(t, s, alice, T0)
	wantList(t, "Lookup order", uris(got), want)
	if q := got[3].Q; math.Abs(q-0.457) > 1e-9 {
		t.Errorf("q 0.4567 stored as %v, want 0.457", q)
	}
}

func testPermanent(t *testing.T, s location.Store) {
	gw := location.Binding{AOR: "gw@example.com", Contact: "sip:gw@198.51.100.1:5060", Q: 1, Updated: T0}
	if err := s.Add(ctx(t), gw); err != nil {
		t.Fatalf("Add: %v", err)
	}
	far := T0.Add(10 * 365 * 24 * hour)
	got := lookup(t, s, "gw@example.com", far)
	if len(got) != 1 || !got[0].Expires.IsZero() || !got[0].Updated.Equal(T0) {
		t.Fatalf("Lookup of a permanent binding in ten years = %+v", got)
	}
	if ex, err := s.Expire(ctx(t), far, 100); err != nil || len(ex) != 0 {
		t.Errorf("Expire took a permanent binding: %v, %v", uris(ex), err)
	}
	// A REGISTER does not disturb it unless it names it.
	apply(t, s, reg("gw@example.com", "c1", 1, T0, contact("sip:gw@198.51.100.2", T0.Add(hour))))
	if ex, err := s.Expire(ctx(t), T0.Add(2*hour), 100); err != nil || len(ex) != 1 {
		t.Errorf("Expire next to a permanent binding = %q, %v; want the REGISTERed one", uris(ex), err)
	}
	wantList(t, "Lookup", uris(lookup(t, s, "gw@example.com", far)), []string{"sip:gw@198.51.100.1:5060"})
	if rm, err := s.Remove(ctx(t), "gw@example.com", "sip:gw@198.51.100.1:5060"); err != nil || len(rm) != 1 {
		t.Errorf("Remove permanent = %q, %v", uris(rm), err)
	}
	wantList(t, "Lookup after Remove", uris(lookup(t, s, "gw@example.com", T0)), nil)
}

func testLookupExpired(t *testing.T, s location.Store) {
	apply(t, s, reg(alice, "c1", 1, T0, contact("sip:a@192.0.2.1", T0.Add(time.Minute)), contact("sip:b@192.0.2.1", T0.Add(hour))))
	wantList(t, "just before", uris(lookup(t, s, alice, T0.Add(time.Minute-time.Millisecond))), []string{"sip:a@192.0.2.1", "sip:b@192.0.2.1"})
	wantList(t, "at expiry", uris(lookup(t, s, alice, T0.Add(time.Minute))), []string{"sip:b@192.0.2.1"})
	wantList(t, "after all", uris(lookup(t, s, alice, T0.Add(2*hour))), nil)
	wantList(t, "unknown AOR", uris(lookup(t, s, "nobody@example.com", T0)), nil)
}

func testApplyReportsExpired(t *testing.T, s location.Store) {
	a, b := "sip:a@192.0.2.1", "sip:b@192.0.2.1"
	apply(t, s, reg(alice, "c1", 1, T0, contact(a, T0.Add(time.Minute)), contact(b, T0.Add(time.Minute))))
	// At T0+2m both have expired; re-registering a is an add, b is reported
	// expired by Apply and never again by Expire. The stored Call-ID/CSeq of
	// an expired binding no longer orders anything.
	bs, cs := apply(t, s, reg(alice, "c1", 1, T0.Add(2*time.Minute), contact(a, T0.Add(hour))))
	wantList(t, "bindings", uris(bs), []string{a})
	wantList(t, "changes", kinds(cs), []string{"expired " + a, "expired " + b, "added " + a})
	if ex, err := s.Expire(ctx(t), T0.Add(3*time.Minute), 100); err != nil || len(ex) != 0 {
		t.Errorf("Expire after Apply reported them = %q, %v; want nothing", uris(ex), err)
	}
}

func testOutbound(t *testing.T, s location.Store) {
	ob := func(uri string, regID int) location.Binding {
		b := contact(uri, T0.Add(hour))
		b.InstanceID, b.RegID = "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>", regID
		return b
	}
	apply(t, s, reg(alice, "c1", 1, T0, ob("sip:alice@192.0.2.1:1111;ob", 1), ob("sip:alice@192.0.2.1:1111;ob", 2)))
	wantList(t, "two flows with one Contact URI", uris(lookup(t, s, alice, T0)), []string{"sip:alice@192.0.2.1:1111;ob", "sip:alice@192.0.2.1:1111;ob"})
	// Flow 1 comes back through another NAT binding: it replaces the old one.
	bs, cs := apply(t, s, reg(alice, "c1", 2, T0.Add(time.Minute), ob("sip:alice@192.0.2.1:2222;ob", 1)))
	wantList(t, "changes", kinds(cs), []string{"removed sip:alice@192.0.2.1:1111;ob", "added sip:alice@192.0.2.1:2222;ob"})
	if len(bs) != 2 || bs[0].RegID != 1 || bs[0].Contact != "sip:alice@192.0.2.1:2222;ob" || bs[1].RegID != 2 {
		t.Errorf("bindings after the flow moved = %+v", bs)
	}
	// The old flow's REGISTER, late, is out of order.
	_, _, err := s.Apply(ctx(t), reg(alice, "c1", 2, T0.Add(time.Minute), ob("sip:alice@192.0.2.1:1111;ob", 1)))
	wantErr(t, "late REGISTER of the old flow", err, location.ErrOutOfOrder)
	// Remove by Contact URI takes every flow with it.
	rm, err := s.Remove(ctx(t), alice, "sip:alice@192.0.2.1:1111;ob")
	if err != nil || len(rm) != 1 || rm[0].RegID != 2 {
		t.Errorf("Remove of the shared Contact = %+v, %v", rm, err)
	}
}

func testRemove(t *testing.T, s location.Store) {
	apply(t, s, reg(alice, "c1", 1, T0, contact("sip:alice@192.0.2.1:5060;transport=udp", T0.Add(hour)), contact("sip:alice@192.0.2.2", T0.Add(hour)), contact("sip:alice@192.0.2.3", T0.Add(hour))))
	rm, err := s.Remove(ctx(t), alice, "sip:alice@192.0.2.1:5060;transport=UDP;line=7")
	if err != nil || len(rm) != 1 || rm[0].Contact != "sip:alice@192.0.2.1:5060;transport=udp" || rm[0].AOR != alice {
		t.Errorf("Remove by an equivalent URI = %+v, %v", rm, err)
	}
	_, err = s.Remove(ctx(t), alice, "sip:alice@192.0.2.1:5060;transport=udp")
	wantErr(t, "Remove again", err, location.ErrNotFound)
	_, err = s.Remove(ctx(t), alice, "sip:alice@192.0.2.1")
	wantErr(t, "Remove without the port", err, location.ErrNotFound)
	_, err = s.Remove(ctx(t), "nobody@example.com", "")
	wantErr(t, "Remove all of an unknown AOR", err, location.ErrNotFound)
	rm, err = s.Remove(ctx(t), alice, "")
	wantList(t, "Remove all", uris(rm), []string{"sip:alice@192.0.2.2", "sip:alice@192.0.2.3"})
	if err != nil {
		t.Errorf("Remove all: %v", err)
	}
	wantList(t, "Lookup after Remove all", uris(lookup(t, s, alice, T0)), nil)
	if aors, _, err := s.AORs(ctx(t), "", 10); err != nil || len(aors) != 0 {
		t.Errorf("AORs after Remove all = %q, %v", aors, err)
	}
}

func testAddReplaces(t *testing.T, s location.Store) {
	b := location.Binding{AOR: alice, Contact: "sip:alice@192.0.2.1", Q: 0.5, Expires: T0.Add(hour), Updated: T0, CallID: "ul"}
	if err := s.Add(ctx(t), b); err != nil {
		t.Fatalf("Add: %v", err)
	}
	b.Q, b.Expires = 0.7, T0.Add(2*hour)
	if err := s.Add(ctx(t), b); err != nil {
		t.Fatalf("Add again: %v", err)
	}
	got := lookup(t, s, alice, T0)
	if len(got) != 1 {
		t.Fatalf("Lookup = %d bindings, want 1", len(got))
	}
	sameBinding(t, "Lookup", got[0], b)
	if aors, _, err := s.AORs(ctx(t), "", 10); err != nil || !slices.Equal(aors, []string{alice}) {
		t.Errorf("AORs after Add = %q, %v", aors, err)
	}
	if ex, err := s.Expire(ctx(t), T0.Add(3*hour), 10); err != nil || len(ex) != 1 {
		t.Errorf("Expire of an added binding = %q, %v", uris(ex), err)
	}
}

func testExpireBudget(t *testing.T, s location.Store) {
	for i := range 5 {
		apply(t, s, reg(fmt.Sprintf("u%d@example.com", i%2), fmt.Sprintf("c%d", i), 1, T0, contact(fmt.Sprintf("sip:u@192.0.2.%d", i), T0.Add(time.Duration(i+1)*time.Minute))))
	}
	now := T0.Add(hour)
	var got []string
	for _, want := range []int{2, 2, 1, 0} {
		ex, err := s.Expire(ctx(t), now, 2)
		if err != nil || len(ex) != want {
			t.Fatalf("Expire(max 2) = %d bindings (%v), want %d", len(ex), err, want)
		}
		for _, b := range ex {
			if b.LiveAt(now) || b.AOR == "" {
				t.Errorf("Expire returned %+v", b)
			}
			got = append(got, b.Contact)
		}
	}
	slices.Sort(got)
	wantList(t, "expired", got, []string{"sip:u@192.0.2.0", "sip:u@192.0.2.1", "sip:u@192.0.2.2", "sip:u@192.0.2.3", "sip:u@192.0.2.4"})
	if aors, _, err := s.AORs(ctx(t), "", 10); err != nil || len(aors) != 0 {
		t.Errorf("AORs after everything expired = %q, %v", aors, err)
	}
}

func testExpireReschedules(t *testing.T, s location.Store) {
	apply(t, s, reg(alice, "c1", 1, T0, contact("sip:a@192.0.2.1", T0.Add(10*time.Minute)), contact("sip:b@192.0.2.1", T0.Add(20*time.Minute))))
	// A refresh postpones; the other one still comes due.
	apply(t, s, reg(alice, "c1", 2, T0.Add(5*time.Minute), contact("sip:a@192.0.2.1", T0.Add(30*time.Minute))))
	for _, step := range []struct {
		at   time.Duration
		want []string
	}{
		{9 * time.Minute, nil},
		{15 * time.Minute, nil},
		{25 * time.Minute, []string{"sip:b@192.0.2.1"}},
		{29 * time.Minute, nil},
		{31 * time.Minute, []string{"sip:a@192.0.2.1"}},
		{40 * time.Minute, nil},
	} {
		ex, err := s.Expire(ctx(t), T0.Add(step.at), 100)
		if err != nil {
			t.Fatalf("Expire at +%v: %v", step.at, err)
		}
		wantList(t, fmt.Sprintf("Expire at +%v", step.at), uris(ex), step.want)
		for _, b := range ex {
			if b.AOR != alice || b.CallID != "c1" {
				t.Errorf("expired binding %+v", b)
			}
		}
	}
}

func testExpireShortened(t *testing.T, s location.Store) {
	apply(t, s, reg(alice, "c1", 1, T0, contact("sip:a@192.0.2.1", T0.Add(hour))))
	apply(t, s, reg(alice, "c1", 2, T0, contact("sip:a@192.0.2.1", T0.Add(time.Minute))))
	ex, err := s.Expire(ctx(t), T0.Add(2*time.Minute), 100)
	if err != nil || len(ex) != 1 {
		t.Errorf("Expire after the expiry was shortened = %q, %v; want it", uris(ex), err)
	}
}

func testExpireConcurrent(t *testing.T, s location.Store) {
	const aors, per = 60, 3
	for i := range aors {
		var cs []location.Binding
		for j := range per {
			cs = append(cs, contact(fmt.Sprintf("sip:u%d@192.0.2.%d", i, j), T0.Add(time.Duration(1+i%7)*time.Minute)))
		}
		// One live binding per third AOR must survive.
		if i%3 == 0 {
			cs = append(cs, contact(fmt.Sprintf("sip:u%d@198.51.100.1", i), T0.Add(hour)))
		}
		apply(t, s, reg(fmt.Sprintf("user%02d@example.com", i), "c", 1, T0, cs...))
	}
	now := T0.Add(10 * time.Minute)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				ex, err := s.Expire(ctx(t), now, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(ex) == 0 {
					return
				}
				mu.Lock()
				for _, b := range ex {
					seen[b.AOR+" "+b.Contact]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Expire: %v", err)
	}
	// AORs left claimed by a caller that ran out of budget come back (at
	// the latest when the claim's lease ends); drain them in one caller.
	for range 100 {
		ex, err := s.Expire(ctx(t), now.Add(time.Minute), 50)
		if err != nil {
			t.Fatalf("Expire: %v", err)
		}
		if len(ex) == 0 {
			break
		}
		for _, b := range ex {
			seen[b.AOR+" "+b.Contact]++
		}
	}
	if len(seen) != aors*per {
		t.Errorf("%d distinct bindings expired, want %d", len(seen), aors*per)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s expired %d times", k, n)
		}
		if strings.Contains(k, "198.51.100.1") {
			t.Errorf("live binding %s expired", k)
		}
	}
	for i := range aors {
		got := lookup(t, s, fmt.Sprintf("user%02d@example.com", i), T0)
		if want := map[bool]int{true: 1, false: 0}[i%3 == 0]; len(got) != want {
			t.Errorf("AOR %d keeps %d bindings, want %d", i, len(got), want)
		}
	}
	list, _, err := s.AORs(ctx(t), "", 1000)
	if err != nil || len(list) != aors/3 {
		t.Errorf("AORs after expiry = %d (%v), want %d", len(list), err, aors/3)
	}
}

// spreadAORs returns n AORs in n different expiry shards (of the Redis
// engine; any n AORs do for the others).
func spreadAORs(n int) []string {
	var out []string
	used := map[int]bool{}
	for i := 0; len(out) < n; i++ {
		aor := fmt.Sprintf("next%d@example.com", i)
		if sh := location.ExpiryShard(aor); !used[sh] {
			used[sh] = true
			out = append(out, aor)
		}
	}
	return out
}

func testNextExpiry(t *testing.T, s location.Store) {
	want := func(what string, at time.Time) {
		t.Helper()
		got, ok, err := s.NextExpiry(ctx(t))
		switch {
		case err != nil:
			t.Fatalf("NextExpiry %s: %v", what, err)
		case at.IsZero() && ok:
			t.Errorf("NextExpiry %s = %v, want none", what, got)
		case !at.IsZero() && (!ok || !got.Equal(at)):
			t.Errorf("NextExpiry %s = %v, %v; want %v", what, got, ok, at)
		}
	}
	want("of an empty store", time.Time{})
	// Permanent bindings do not count.
	gw := location.Binding{AOR: "gw@example.com", Contact: "sip:gw@198.51.100.1", Q: 1, Updated: T0}
	if err := s.Add(ctx(t), gw); err != nil {
		t.Fatalf("Add: %v", err)
	}
	want("with only a permanent binding", time.Time{})

	// Four AORs in four shards; the earliest AOR has a later second binding.
	aors := spreadAORs(4)
	at := func(m int) time.Time { return T0.Add(time.Duration(m) * time.Minute) }
	apply(t, s, reg(aors[0], "c0", 1, T0, contact("sip:a@192.0.2.1", at(40))))
	apply(t, s, reg(aors[1], "c1", 1, T0, contact("sip:b@192.0.2.1", at(10)), contact("sip:b@192.0.2.2", at(50))))
	apply(t, s, reg(aors[2], "c2", 1, T0, contact("sip:c@192.0.2.1", at(30))))
	if err := s.Add(ctx(t), location.Binding{AOR: aors[3], Contact: "sip:d@192.0.2.1", Q: 1, Expires: at(20), Updated: T0}); err != nil {
		t.Fatalf("Add: %v", err)
	}
	want("of four AORs", at(10))
	for _, step := range []struct {
		now  int
		gone []string
		next time.Time
	}{
		{15, []string{"sip:b@192.0.2.1"}, at(20)},
		{25, []string{"sip:d@192.0.2.1"}, at(30)},
		{45, []string{"sip:a@192.0.2.1", "sip:c@192.0.2.1"}, at(50)},
		{55, []string{"sip:b@192.0.2.2"}, time.Time{}},
	} {
		ex, err := s.Expire(ctx(t), at(step.now), 100)
		if err != nil {
			t.Fatalf("Expire at +%dm: %v", step.now, err)
		}
		got := uris(ex)
		slices.Sort(got)
		wantList(t, fmt.Sprintf("Expire at +%dm", step.now), got, step.gone)
		want(fmt.Sprintf("after Expire at +%dm", step.now), step.next)
	}
	wantList(t, "the permanent binding after every expiry", uris(lookup(t, s, gw.AOR, at(60))), []string{gw.Contact})
}

func testAORsPagination(t *testing.T, s location.Store) {
	var want []string
	for i := range 25 {
		aor := fmt.Sprintf("u%02d@example.com", 24-i)
		apply(t, s, reg(aor, "c", 1, T0, contact("sip:x@192.0.2.1", T0.Add(hour))))
		want = append(want, aor)
	}
	slices.Sort(want)
	var got []string
	cursor, pages := "", 0
	for {
		page, next, err := s.AORs(ctx(t), cursor, 10)
		if err != nil {
			t.Fatalf("AORs(%q): %v", cursor, err)
		}
		pages++
		got = append(got, page...)
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatalf("AORs does not end: cursor %q", next)
		}
		cursor = next
	}
	wantList(t, "all pages", got, want)
	if pages != 3 {
		t.Errorf("%d pages of 10 for 25 AORs, want 3", pages)
	}
	page, next, err := s.AORs(ctx(t), "", 25)
	if err != nil || len(page) != 25 || next != "" {
		t.Errorf("AORs(limit 25 of 25) = %d, %q, %v; want all and no cursor", len(page), next, err)
	}
	page, next, err = s.AORs(ctx(t), "u10@example.com", 3)
	wantList(t, "after a cursor", page, []string{"u11@example.com", "u12@example.com", "u13@example.com"})
	if next != "u13@example.com" || err != nil {
		t.Errorf("next cursor = %q, %v", next, err)
	}
	page, _, err = s.AORs(ctx(t), "zzz", 3)
	if err != nil || len(page) != 0 {
		t.Errorf("AORs past the end = %q, %v", page, err)
	}
}

func testInvalid(t *testing.T, s location.Store) {
	ok := contact("sip:a@192.0.2.1", T0.Add(hour))
	with := func(f func(*location.Binding)) location.Binding { b := ok; f(&b); return b }
	wild := reg(alice, "c", 1, T0, ok)
	wild.Wildcard = true
	negMax := reg(alice, "c", 1, T0, ok)
	negMax.MaxContacts = -1
	for _, tc := range []struct {
		name string
		u    location.Update
	}{
		{"empty AOR", reg("", "c", 1, T0, ok)},
		{"AOR with a brace", reg("a}b@example.com", "c", 1, T0, ok)},
		{"AOR with a space", reg("a b@example.com", "c", 1, T0, ok)},
		{"no Call-ID", reg(alice, "", 1, T0, ok)},
		{"no Now", reg(alice, "c", 1, time.Time{}, ok)},
		{"wildcard with contacts", wild},
		{"negative MaxContacts", negMax},
		{"empty contact", reg(alice, "c", 1, T0, with(func(b *location.Binding) { b.Contact = "" }))},
		{"contact not a URI", reg(alice, "c", 1, T0, with(func(b *location.Binding) { b.Contact = "alice at home" }))},
		{"contact in <>", reg(alice, "c", 1, T0, with(func(b *location.Binding) { b.Contact = "<sip:a@192.0.2.1>" }))},
		{"q above 1", reg(alice, "c", 1, T0, with(func(b *location.Binding) { b.Q = 1.5 }))},
		{"q below 0", reg(alice, "c", 1, T0, with(func(b *location.Binding) { b.Q = -0.1 }))},
		{"q NaN", reg(alice, "c", 1, T0, with(func(b *location.Binding) { b.Q = math.NaN() }))},
		{"negative reg-id", reg(alice, "c", 1, T0, with(func(b *location.Binding) { b.RegID = -1 }))},
		{"Path with CRLF", reg(alice, "c", 1, T0, with(func(b *location.Binding) { b.Path = []string{"<sip:p;lr>\r\nX: y"} }))},
		{"contact of another AOR", reg(alice, "c", 1, T0, with(func(b *location.Binding) { b.AOR = bob }))},
	} {
		_, _, err := s.Apply(ctx(t), tc.u)
		wantErr(t, "Apply "+tc.name, err, location.ErrInvalid)
	}
	wantList(t, "nothing stored", uris(lookup(t, s, alice, T0)), nil)

	_, err := s.Lookup(ctx(t), "", T0)
	wantErr(t, "Lookup of an empty AOR", err, location.ErrInvalid)
	err = s.Add(ctx(t), location.Binding{Contact: "sip:a@192.0.2.1", Updated: T0})
	wantErr(t, "Add without AOR", err, location.ErrInvalid)
	err = s.Add(ctx(t), location.Binding{AOR: alice, Contact: "sip:a@192.0.2.1", Updated: T0, Expires: T0})
	wantErr(t, "Add of an expired binding", err, location.ErrInvalid)
	_, err = s.Remove(ctx(t), alice, "not a uri")
	wantErr(t, "Remove of a non-URI", err, location.ErrInvalid)
	_, err = s.Remove(ctx(t), "", "")
	wantErr(t, "Remove from an empty AOR", err, location.ErrInvalid)
	_, _, err = s.AORs(ctx(t), "", 0)
	wantErr(t, "AORs limit 0", err, location.ErrInvalid)
	_, err = s.Expire(ctx(t), T0, 0)
	wantErr(t, "Expire max 0", err, location.ErrInvalid)
	_, err = s.Expire(ctx(t), time.Time{}, 10)
	wantErr(t, "Expire without now", err, location.ErrInvalid)
}

func testCanceled(t *testing.T, s location.Store) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := s.Apply(c, reg(alice, "c", 1, T0, contact("sip:a@192.0.2.1", T0.Add(hour))))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a canceled context: %v, want context.Canceled", err)
	}
	_, err = s.Lookup(c, alice, T0)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup with a canceled context: %v, want context.Canceled", err)
	}
	_, err = s.Expire(c, T0, 10)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Expire with a canceled context: %v, want context.Canceled", err)
	}
	_, _, err = s.NextExpiry(c)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("NextExpiry with a canceled context: %v, want context.Canceled", err)
	}
}

// testApplyExpireRace runs REGISTERs (refreshes with short expiries,
// removals) and Expire callers concurrently on a shared fake clock, then
// drains. Every binding that was added must end exactly once, removed or
// expired, whichever operation reported it; nothing may be left behind (an
// AOR lost from the expiry index would keep its bindings).
func testApplyExpireRace(t *testing.T, s location.Store) {
	const writers, aorsPer, rounds = 4, 3, 60
	var tick atomic.Int64
	now := func() time.Time { return T0.Add(time.Duration(tick.Load()) * time.Second) }
	var mu sync.Mutex
	count := map[string]int{} // AOR contact -> added - (removed + expired)
	record := func(kind location.ChangeKind, b location.Binding) {
		mu.Lock()
		defer mu.Unlock()
		k := b.AOR + " " + b.Contact
		switch kind {
		case location.Added:
			count[k]++
		case location.Removed, location.Expired:
			// Reports of different goroutines reach here in any order, so
			// only the final balance is checked.
			count[k]--
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				for a := range aorsPer {
					aor := fmt.Sprintf("w%d-a%d@example.com", w, a)
					n := now()
					var cs []location.Binding
					for c := range 3 {
						exp := n.Add(time.Duration(1+(r+c+a)%4) * time.Second)
						if (r+c)%5 == 0 {
							exp = n // remove
						}
						cs = append(cs, contact(fmt.Sprintf("sip:c%d@192.0.2.%d", c, w), exp))
					}
					_, changes, err := s.Apply(context.Background(), reg(aor, "call", uint32(r+1), n, cs...))
					if err != nil {
						errs <- fmt.Errorf("Apply %s round %d: %w", aor, r, err)
						return
					}
					for _, c := range changes {
						record(c.Kind, c.Binding)
					}
				}
				tick.Add(1)
			}
		}()
	}
	var ex sync.WaitGroup
	for range 3 {
		ex.Add(1)
		go func() {
			defer ex.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				bs, err := s.Expire(context.Background(), now(), 4)
				for _, b := range bs {
					record(location.Expired, b)
				}
				if err != nil {
					errs <- fmt.Errorf("Expire: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	ex.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	end := now().Add(time.Hour)
	for range 1000 {
		bs, err := s.Expire(ctx(t), end, 100)
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
		if len(bs) == 0 {
			break
		}
		for _, b := range bs {
			record(location.Expired, b)
		}
	}
	for k, n := range count {
		if n != 0 {
			t.Errorf("%s: added %d times more than it ended (negative: ended more often)", k, n)
		}
	}
	for w := range writers {
		for a := range aorsPer {
			aor := fmt.Sprintf("w%d-a%d@example.com", w, a)
			if left := lookup(t, s, aor, T0); len(left) != 0 {
				t.Errorf("%s keeps %q after the drain", aor, uris(left))
			}
		}
	}
	if aors, _, err := s.AORs(ctx(t), "", 100); err != nil || len(aors) != 0 {
		t.Errorf("AORs after the drain = %q, %v", aors, err)
	}
}
