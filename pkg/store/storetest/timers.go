package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/store"
)

// RunTimers runs the store.TimerStore suite against the engine made by
// newStore (see [NewStore]). Claim takes the time as an argument,
// so these tests use a synthetic clock (t0) and never wait.
func RunTimers(t *testing.T, newStore NewStore) {
	t.Helper()
	runCases(t, newStore, []storeCase{
		{"ArmThenClaimDueOnly", testArmClaimDue},
		{"NotYetDue", testNotYetDue},
		{"LeaseHidesThenReappears", testLease},
		{"DoneToken", testDoneToken},
		{"RearmDuringClaim", testRearmDuringClaim},
		{"Cancel", testCancel},
		{"Batch", testTimerBatch},
		{"ClaimMaxAcrossShards", testClaimMax},
		{"ConcurrentClaimers", testConcurrentClaim},
		{"BinaryPayloadAndIDs", testTimerBinary},
		{"NoAliasing", testTimerNoAliasing},
		{"InvalidArguments", testTimerInvalid},
		{"CanceledContext", testTimerCanceled},
	})
}

// t0 is the suite's synthetic "now" for Claim, a whole millisecond.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func arm(t *testing.T, s store.TimerStore, id string, due time.Time, payload []byte) {
	t.Helper()
	if err := s.Arm(ctx(t), id, due, payload); err != nil {
		t.Fatalf("Arm(%q): %v", id, err)
	}
}

func claim(t *testing.T, s store.TimerStore, now time.Time, max int, lease time.Duration) []store.Timer {
	t.Helper()
	ts, err := s.Claim(ctx(t), now, max, lease)
	if err != nil {
		t.Fatalf("Claim(now %v, max %d, lease %v): %v", now.Sub(t0), max, lease, err)
	}
	if len(ts) > max {
		t.Fatalf("Claim(max %d) returned %d timers", max, len(ts))
	}
	return ts
}

func done(t *testing.T, s store.TimerStore, id, token string) bool {
	t.Helper()
	ok, err := s.Done(ctx(t), id, token)
	if err != nil {
		t.Fatalf("Done(%q, %q): %v", id, token, err)
	}
	return ok
}

func ids(ts []store.Timer) []string {
	out := make([]string, len(ts))
	for i, tm := range ts {
		out[i] = tm.ID
	}
	slices.Sort(out)
	return out
}

func byID(ts []store.Timer) map[string]store.Timer {
	m := make(map[string]store.Timer, len(ts))
	for _, tm := range ts {
		m[tm.ID] = tm
	}
	return m
}

func testArmClaimDue(t *testing.T, s store.Store, _ func(time.Duration)) {
	arms := []struct {
		id  string
		due time.Duration // from t0
	}{
		{"call-1|z9hG4bK-1|B", -time.Second},
		{"call-1|z9hG4bK-1|D", 0},
		{"call-2|z9hG4bK-2|F", -time.Hour},
		{"call-3|z9hG4bK-3|B", time.Millisecond},
		{"call-4|z9hG4bK-4|H", time.Minute},
	}
	for _, a := range arms {
		arm(t, s, a.id, t0.Add(a.due), []byte("payload of "+a.id))
	}
	got := claim(t, s, t0, 100, time.Minute)
	want := []string{"call-1|z9hG4bK-1|B", "call-1|z9hG4bK-1|D", "call-2|z9hG4bK-2|F"}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("claimed %q, want the due ones %q", ids(got), want)
	}
	tokens := map[string]bool{}
	for _, a := range arms[:3] {
		tm := byID(got)[a.id]
		if !tm.Due.Equal(t0.Add(a.due)) {
			t.Errorf("%s: Due = %v, want %v", a.id, tm.Due, t0.Add(a.due))
		}
		if string(tm.Payload) != "payload of "+a.id {
			t.Errorf("%s: Payload = %q", a.id, tm.Payload)
		}
		if tm.Claims != 1 {
			t.Errorf("%s: Claims = %d, want 1", a.id, tm.Claims)
		}
		if tm.Token == "" || tokens[tm.Token] {
			t.Errorf("%s: Token = %q, want a new non-empty token", a.id, tm.Token)
		}
		tokens[tm.Token] = true
	}
	if got := claim(t, s, t0, 100, time.Minute); len(got) != 0 {
		t.Errorf("second Claim at t0 = %q, want none (all leased)", ids(got))
	}
}

func testNotYetDue(t *testing.T, s store.Store, _ func(time.Duration)) {
	arm(t, s, "b", t0.Add(time.Second), nil)
	for _, now := range []time.Duration{-time.Hour, 0, 999 * time.Millisecond} {
		if got := claim(t, s, t0.Add(now), 10, time.Minute); len(got) != 0 {
			t.Errorf("Claim at t0%+v = %q, want none: due at t0+1s", now, ids(got))
		}
	}
	// Due <= now: due exactly now is claimed.
	got := claim(t, s, t0.Add(time.Second), 10, time.Minute)
	if !slices.Equal(ids(got), []string{"b"}) || got[0].Payload != nil {
		t.Fatalf("Claim at t0+1s = %+v, want b with a nil payload", got)
	}
}

func testLease(t *testing.T, s store.Store, _ func(time.Duration)) {
	const lease = 10 * time.Second
	arm(t, s, "lease", t0, []byte("p"))
	first := claim(t, s, t0, 10, lease)
	if len(first) != 1 || first[0].Claims != 1 {
		t.Fatalf("first Claim = %+v, want lease with Claims 1", first)
	}
	for _, now := range []time.Duration{0, lease / 2, lease - time.Millisecond} {
		if got := claim(t, s, t0.Add(now), 10, lease); len(got) != 0 {
			t.Errorf("Claim at t0+%v = %q, want none: leased until t0+%v", now, ids(got), lease)
		}
	}
	// The claimer died: at the end of the lease it is due again.
	again := claim(t, s, t0.Add(lease), 10, lease)
	if len(again) != 1 {
		t.Fatalf("Claim at t0+%v = %+v, want the timer again", lease, again)
	}
	tm := again[0]
	if tm.Claims != 2 || tm.Token == first[0].Token || !tm.Due.Equal(t0) || string(tm.Payload) != "p" {
		t.Errorf("reclaimed = %+v, want Claims 2, a new token, Due t0, payload p (first token %q)", tm, first[0].Token)
	}
	if done(t, s, "lease", first[0].Token) {
		t.Errorf("Done with the expired claim's token = true, want false")
	}
	if !done(t, s, "lease", tm.Token) {
		t.Errorf("Done with the current token = false, want true")
	}
	if got := claim(t, s, t0.Add(time.Hour), 10, lease); len(got) != 0 {
		t.Errorf("Claim after Done = %q, want none", ids(got))
	}
}

func testDoneToken(t *testing.T, s store.Store, _ func(time.Duration)) {
	arm(t, s, "d", t0, nil)
	got := claim(t, s, t0, 1, time.Minute)
	if len(got) != 1 {
		t.Fatalf("Claim = %+v, want one", got)
	}
	steps := []struct {
		name, id, token string
		want            bool
	}{
		{"wrong token", "d", got[0].Token + "x", false},
		{"unknown id", "other", got[0].Token, false},
		{"right token", "d", got[0].Token, true},
		{"right token again", "d", got[0].Token, false},
	}
	for _, st := range steps {
		if ok := done(t, s, st.id, st.token); ok != st.want {
			t.Errorf("%s: Done = %v, want %v", st.name, ok, st.want)
		}
	}
	if ok, err := s.Cancel(ctx(t), "d"); err != nil || ok {
		t.Errorf("Cancel after Done = %v, %v; want false (removed)", ok, err)
	}
}

func testRearmDuringClaim(t *testing.T, s store.Store, _ func(time.Duration)) {
	arm(t, s, "r", t0, []byte("old"))
	old := claim(t, s, t0, 1, time.Minute)
	if len(old) != 1 {
		t.Fatalf("Claim = %+v, want one", old)
	}
	arm(t, s, "r", t0.Add(time.Second), []byte("new"))
	if done(t, s, "r", old[0].Token) {
		t.Errorf("Done of the old claim after a re-arm = true, want false")
	}
	if got := claim(t, s, t0.Add(time.Second-time.Millisecond), 10, time.Minute); len(got) != 0 {
		t.Errorf("Claim before the new due = %q, want none", ids(got))
	}
	got := claim(t, s, t0.Add(time.Second), 10, time.Minute)
	if len(got) != 1 {
		t.Fatalf("Claim at the new due = %+v, want the re-armed timer", got)
	}
	if tm := got[0]; string(tm.Payload) != "new" || !tm.Due.Equal(t0.Add(time.Second)) || tm.Claims != 1 {
		t.Errorf("re-armed timer = %+v, want payload new, Due t0+1s, Claims 1", tm)
	}
	// Re-arming an unclaimed timer moves it too.
	arm(t, s, "u", t0, nil)
	arm(t, s, "u", t0.Add(time.Hour), []byte("later"))
	if got := claim(t, s, t0.Add(time.Minute), 10, time.Minute); len(got) != 0 {
		t.Errorf("Claim after moving u to t0+1h = %q, want none", ids(got))
	}
}

func testCancel(t *testing.T, s store.Store, _ func(time.Duration)) {
	arm(t, s, "a", t0, nil)
	arm(t, s, "b", t0, nil)
	steps := []struct {
		id   string
		want bool
	}{{"a", true}, {"a", false}, {"never", false}}
	for _, st := range steps {
		ok, err := s.Cancel(ctx(t), st.id)
		if err != nil || ok != st.want {
			t.Errorf("Cancel(%q) = %v, %v; want %v", st.id, ok, err, st.want)
		}
	}
	got := claim(t, s, t0, 10, time.Minute)
	if !slices.Equal(ids(got), []string{"b"}) {
		t.Fatalf("Claim = %q, want only b", ids(got))
	}
	// Cancelling a claimed timer removes it; its claim's Done is then false.
	if ok, err := s.Cancel(ctx(t), "b"); err != nil || !ok {
		t.Errorf("Cancel(claimed b) = %v, %v; want true", ok, err)
	}
	if done(t, s, "b", got[0].Token) {
		t.Errorf("Done after Cancel = true, want false")
	}
	if got := claim(t, s, t0.Add(time.Hour), 10, time.Minute); len(got) != 0 {
		t.Errorf("Claim after the lease = %q, want none: cancelled", ids(got))
	}
}

// testTimerBatch: ArmBatch arms like Arm (across shards, replacing an
// armed timer), CancelBatch cancels like Cancel (unknown ids are fine), and
// an invalid id in a batch is refused before anything is armed.
func testTimerBatch(t *testing.T, s store.Store, _ func(time.Duration)) {
	arm(t, s, "old", t0, []byte("old"))
	var arms []store.TimerArm
	for i := range 40 {
		arms = append(arms, store.TimerArm{ID: fmt.Sprintf("batch-%d", i), Due: t0.Add(time.Duration(i) * time.Millisecond), Payload: []byte{byte(i)}})
	}
	arms = append(arms, store.TimerArm{ID: "old", Due: t0.Add(time.Hour), Payload: []byte("new")})
	if err := s.ArmBatch(ctx(t), arms); err != nil {
		t.Fatalf("ArmBatch: %v", err)
	}
	if err := s.ArmBatch(ctx(t), nil); err != nil {
		t.Errorf("ArmBatch(nil): %v", err)
	}
	var cancel []string
	for i := 0; i < 40; i += 2 {
		cancel = append(cancel, fmt.Sprintf("batch-%d", i))
	}
	if err := s.CancelBatch(ctx(t), append(cancel, "never-armed")); err != nil {
		t.Fatalf("CancelBatch: %v", err)
	}
	got := claim(t, s, t0.Add(time.Second), 100, time.Minute)
	if len(got) != 20 {
		t.Fatalf("Claim after the batches = %d timers %q, want the 20 odd ones", len(got), ids(got))
	}
	for _, tm := range got {
		var i int
		if _, err := fmt.Sscanf(tm.ID, "batch-%d", &i); err != nil || i%2 != 1 || !bytes.Equal(tm.Payload, []byte{byte(i)}) {
			t.Errorf("claimed %q payload %v: want an odd batch timer with its own payload", tm.ID, tm.Payload)
		}
		done(t, s, tm.ID, tm.Token)
	}
	late := claim(t, s, t0.Add(2*time.Hour), 10, time.Minute)
	if len(late) != 1 || late[0].ID != "old" || string(late[0].Payload) != "new" {
		t.Fatalf("re-armed by the batch: %+v, want old with the new payload, due an hour later", late)
	}
	done(t, s, late[0].ID, late[0].Token)
	if err := s.ArmBatch(ctx(t), []store.TimerArm{{ID: "fine", Due: t0}, {ID: "", Due: t0}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ArmBatch with an empty id = %v, want ErrInvalid", err)
	}
	if got := claim(t, s, t0.Add(3*time.Hour), 10, time.Minute); len(got) != 0 {
		t.Errorf("a refused batch armed %q", ids(got))
	}
	if err := s.CancelBatch(ctx(t), []string{""}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CancelBatch with an empty id = %v, want ErrInvalid", err)
	}
}

func testClaimMax(t *testing.T, s store.Store, _ func(time.Duration)) {
	const n, max = 53, 7
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("call-%d|z9hG4bK-%d|A", i, i)
		arm(t, s, want[i], t0.Add(-time.Duration(i)*time.Millisecond), nil)
	}
	arm(t, s, "future", t0.Add(time.Second), nil)
	slices.Sort(want)
	var all []store.Timer
	for remaining := n; remaining > 0; remaining -= max {
		got := claim(t, s, t0, max, time.Minute)
		if len(got) != min(max, remaining) {
			t.Fatalf("Claim(max %d) with %d due = %d timers, want %d", max, remaining, len(got), min(max, remaining))
		}
		all = append(all, got...)
	}
	if got := claim(t, s, t0, max, time.Minute); len(got) != 0 {
		t.Errorf("Claim after all were claimed = %q, want none", ids(got))
	}
	if !slices.Equal(ids(all), want) {
		t.Errorf("claimed %d timers %q,\nwant each of %d once", len(all), ids(all), n)
	}
}

func testConcurrentClaim(t *testing.T, s store.Store, _ func(time.Duration)) {
	const (
		n       = 400
		workers = 8
	)
	for i := range n {
		arm(t, s, fmt.Sprintf("c-%d", i), t0.Add(-time.Duration(i%50)*time.Millisecond), nil)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		count = map[string]int{}
		total int
		errs  []error
		start = make(chan struct{})
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for {
				ts, err := s.Claim(context.Background(), t0, 1+w%5, time.Hour)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, tm := range ts {
					count[tm.ID]++
				}
				total += len(ts)
				runaway := total > 2*n // a broken lease hands out timers forever
				mu.Unlock()
				if err != nil || len(ts) == 0 || runaway {
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d Claim calls failed, first: %v", len(errs), errs[0])
	}
	if len(count) != n {
		t.Errorf("claimed %d distinct timers, want %d", len(count), n)
	}
	for id, c := range count {
		if c != 1 {
			t.Errorf("timer %s claimed %d times within one lease, want 1", id, c)
		}
	}
}

// oddIDs are timer ids and once keys of awkward bytes.
var oddIDs = []string{
	"c0ffee|z9hG4bK-1|INVITE|192.0.2.1:5060|B",
	"{t3}braces}{",
	"pipes|||and|0|1||",
	"nul\x00byte\xff",
	"crlf\r\nInjected: yes",
	"ünïcödé-键",
	"with space and\ttab",
	"*",
	string(bytes.Repeat([]byte("long"), 256)),
}

func testTimerBinary(t *testing.T, s store.Store, _ func(time.Duration)) {
	raw := allBytes()
	payloads := map[string][]byte{}
	for i, id := range oddIDs {
		payloads[id] = bytes.Clone(raw[i:])
		arm(t, s, id, t0, payloads[id])
	}
	got := claim(t, s, t0, len(oddIDs)+1, time.Minute)
	if len(got) != len(oddIDs) {
		t.Fatalf("claimed %d timers, want %d", len(got), len(oddIDs))
	}
	for _, tm := range got {
		want, ok := payloads[tm.ID]
		if !ok {
			t.Errorf("claimed unknown id %q", tm.ID)
			continue
		}
		if !bytes.Equal(tm.Payload, want) {
			t.Errorf("%q: payload round trip:\n got %x\nwant %x", tm.ID, tm.Payload, want)
		}
		if !done(t, s, tm.ID, tm.Token) {
			t.Errorf("Done(%q) = false", tm.ID)
		}
	}
}

func testTimerNoAliasing(t *testing.T, s store.Store, _ func(time.Duration)) {
	p := []byte("payload")
	arm(t, s, "x", t0, p)
	p[0] = 'X'
	got := claim(t, s, t0, 1, time.Millisecond)
	if len(got) != 1 || string(got[0].Payload) != "payload" {
		t.Fatalf("Claim = %+v, want payload unchanged by the caller's slice", got)
	}
	got[0].Payload[1] = 'X'
	again := claim(t, s, t0.Add(time.Second), 1, time.Minute)
	if len(again) != 1 || string(again[0].Payload) != "payload" {
		t.Errorf("reclaimed = %+v, want payload unchanged by a returned slice", again)
	}
}

func testTimerInvalid(t *testing.T, s store.Store, _ func(time.Duration)) {
	c := ctx(t)
	cases := []struct {
		name string
		call func() error
	}{
		{"arm empty id", func() error { return s.Arm(c, "", t0, nil) }},
		{"cancel empty id", func() error { _, err := s.Cancel(c, ""); return err }},
		{"claim max 0", func() error { _, err := s.Claim(c, t0, 0, time.Minute); return err }},
		{"claim max negative", func() error { _, err := s.Claim(c, t0, -1, time.Minute); return err }},
		{"claim lease 0", func() error { _, err := s.Claim(c, t0, 1, 0); return err }},
		{"claim lease negative", func() error { _, err := s.Claim(c, t0, 1, -time.Second); return err }},
		{"done empty id", func() error { _, err := s.Done(c, "", "tok"); return err }},
		{"done empty token", func() error { _, err := s.Done(c, "x", ""); return err }},
	}
	for _, tc := range cases {
		if err := tc.call(); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
}

func testTimerCanceled(t *testing.T, s store.Store, _ func(time.Duration)) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		call func() error
	}{
		{"Arm", func() error { return s.Arm(c, "x", t0, nil) }},
		{"Cancel", func() error { _, err := s.Cancel(c, "x"); return err }},
		{"Claim", func() error { _, err := s.Claim(c, t0, 1, time.Minute); return err }},
		{"Done", func() error { _, err := s.Done(c, "x", "tok"); return err }},
	}
	for _, tc := range cases {
		if err := tc.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", tc.name, err)
		}
	}
}
