package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
)

// RunMembership runs the store.Membership suite against the engine made by
// newStore (see [NewStore]). Leases run on the engine's clock,
// which advance moves.
func RunMembership(t *testing.T, newStore NewStore) {
	t.Helper()
	runCases(t, newStore, []storeCase{
		{"HeartbeatSorted", testHeartbeatSorted},
		{"LeaseExpiry", testLeaseExpiry},
		{"Leave", testLeave},
		{"GroupsAreIsolated", testGroupIsolation},
		{"OddIDs", testMemberOddIDs},
		{"InvalidArguments", testMembershipInvalid},
		{"CanceledContext", testMembershipCanceled},
	})
}

func heartbeat(t *testing.T, s store.Membership, group, id string, ttl time.Duration) []string {
	t.Helper()
	live, err := s.Heartbeat(ctx(t), group, id, ttl)
	if err != nil {
		t.Fatalf("Heartbeat(%s, %q): %v", group, id, err)
	}
	return live
}

func wantLive(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: live members %q, want %q", what, got, want)
	}
}

func testHeartbeatSorted(t *testing.T, s store.Store, _ func(time.Duration)) {
	steps := []struct {
		id   string
		want []string
	}{
		{"tm-c", []string{"tm-c"}},
		{"tm-b", []string{"tm-b", "tm-c"}},
		{"tm-c", []string{"tm-b", "tm-c"}}, // again: no duplicate
		{"tm-a", []string{"tm-a", "tm-b", "tm-c"}},
		{"tm-10", []string{"tm-10", "tm-a", "tm-b", "tm-c"}},
	}
	for _, st := range steps {
		wantLive(t, "Heartbeat("+st.id+")", heartbeat(t, s, "tm", st.id, long), st.want...)
	}
}

// testLeaseExpiry: a member whose lease ended is dropped; a heartbeat
// renews the lease; a new heartbeat brings it back.
func testLeaseExpiry(t *testing.T, s store.Store, advance func(time.Duration)) {
	heartbeat(t, s, "tm", "a", short)
	wantLive(t, "b joins", heartbeat(t, s, "tm", "b", long), "a", "b")
	advance(3 * short / 4)
	heartbeat(t, s, "tm", "a", short) // renewed: alive until 7/4 short
	advance(5 * short / 8)            // 11/8 short: past a's first lease
	wantLive(t, "after a renewed", heartbeat(t, s, "tm", "b", long), "a", "b")
	advance(short) // 19/8 short: past the renewed lease
	wantLive(t, "after a's lease ended", heartbeat(t, s, "tm", "b", long), "b")
	wantLive(t, "a is back", heartbeat(t, s, "tm", "a", long), "a", "b")
}

func testLeave(t *testing.T, s store.Store, _ func(time.Duration)) {
	heartbeat(t, s, "tm", "a", long)
	heartbeat(t, s, "tm", "b", long)
	heartbeat(t, s, "tm", "c", long)
	for _, id := range []string{"b", "b", "never"} { // absent is fine
		if err := s.Leave(ctx(t), "tm", id); err != nil {
			t.Fatalf("Leave(%q): %v", id, err)
		}
	}
	wantLive(t, "after b left", heartbeat(t, s, "tm", "a", long), "a", "c")
	for _, id := range []string{"a", "c"} {
		if err := s.Leave(ctx(t), "tm", id); err != nil {
			t.Fatalf("Leave(%q): %v", id, err)
		}
	}
	if err := s.Leave(ctx(t), "empty-group", "x"); err != nil {
		t.Errorf("Leave of a group nobody joined: %v", err)
	}
	wantLive(t, "after everyone left", heartbeat(t, s, "tm", "d", long), "d")
}

func testGroupIsolation(t *testing.T, s store.Store, _ func(time.Duration)) {
	heartbeat(t, s, "tm", "x", long)
	wantLive(t, "edge", heartbeat(t, s, "edge", "x", long), "x")
	wantLive(t, "edge 2", heartbeat(t, s, "edge", "y", long), "x", "y")
	if err := s.Leave(ctx(t), "edge", "x"); err != nil {
		t.Fatal(err)
	}
	wantLive(t, "tm", heartbeat(t, s, "tm", "z", long), "x", "z")
	wantLive(t, "t", heartbeat(t, s, "t", "z", long), "z")
}

func testMemberOddIDs(t *testing.T, s store.Store, _ func(time.Duration)) {
	want := slices.Clone(oddIDs)
	slices.Sort(want)
	var live []string
	for _, id := range oddIDs {
		live = heartbeat(t, s, "tm", id, long)
	}
	wantLive(t, "odd ids", live, want...)
	for _, id := range oddIDs[1:] {
		if err := s.Leave(ctx(t), "tm", id); err != nil {
			t.Fatalf("Leave(%q): %v", id, err)
		}
	}
	wantLive(t, "after leaving", heartbeat(t, s, "tm", oddIDs[0], long), oddIDs[0])
}

func testMembershipInvalid(t *testing.T, s store.Store, _ func(time.Duration)) {
	c := ctx(t)
	cases := []struct {
		name string
		call func() error
	}{
		{"heartbeat empty group", func() error { _, err := s.Heartbeat(c, "", "a", long); return err }},
		{"heartbeat brace group", func() error { _, err := s.Heartbeat(c, "t{m", "a", long); return err }},
		{"heartbeat closing brace group", func() error { _, err := s.Heartbeat(c, "tm}", "a", long); return err }},
		{"heartbeat empty id", func() error { _, err := s.Heartbeat(c, "tm", "", long); return err }},
		{"heartbeat ttl 0", func() error { _, err := s.Heartbeat(c, "tm", "a", 0); return err }},
		{"heartbeat ttl negative", func() error { _, err := s.Heartbeat(c, "tm", "a", -time.Second); return err }},
		{"leave empty group", func() error { return s.Leave(c, "", "a") }},
		{"leave brace group", func() error { return s.Leave(c, "{tm}", "a") }},
		{"leave empty id", func() error { return s.Leave(c, "tm", "") }},
	}
	for _, tc := range cases {
		if err := tc.call(); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	wantLive(t, "after invalid calls", heartbeat(t, s, "tm", "b", long), "b")
}

func testMembershipCanceled(t *testing.T, s store.Store, _ func(time.Duration)) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Heartbeat(c, "tm", "a", long); !errors.Is(err, context.Canceled) {
		t.Errorf("Heartbeat with a canceled context: err = %v, want context.Canceled", err)
	}
	if err := s.Leave(c, "tm", "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Leave with a canceled context: err = %v, want context.Canceled", err)
	}
	wantLive(t, "after canceled calls", heartbeat(t, s, "tm", "b", long), "b")
}
