// Package subscribertest is the conformance suite of subscriber.Directory:
// every engine (memory, Redis) runs the same tests.
//
//	func TestMemory(t *testing.T) {
//		subscribertest.Run(t, func(t *testing.T) subscriber.Directory {
//			return subscriber.NewMemory()
//		})
//	}
package subscribertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/subscriber"
)

// Password is the password the suite sets; an engine test may look for it
// in what the engine stored (it must never be there).
const Password = "pw-4f9c2e-never-stored"

// Run runs the suite. newDir returns an empty directory for one test, with
// its cleanup registered on t; directories of different tests may share a
// server but must not see each other's subscribers (use a fresh prefix).
func Run(t *testing.T, newDir func(t *testing.T) subscriber.Directory) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, subscriber.Directory)
	}{
		{"AddGet", testAddGet},
		{"AORSpellings", testAORSpellings},
		{"Duplicate", testDuplicate},
		{"ConcurrentAddOneWinner", testConcurrentAdd},
		{"GetMissing", testGetMissing},
		{"Update", testUpdate},
		{"UpdateMissing", testUpdateMissing},
		{"Remove", testRemove},
		{"ListEmpty", testListEmpty},
		{"ListPagination", testListPagination},
		{"ListOrdering", testListOrdering},
		{"ListLimit", testListLimit},
		{"InvalidAOR", testInvalidAOR},
		{"InvalidFields", testInvalidFields},
		{"PasswordNeverStored", testPasswordNeverStored},
		{"CanceledContext", testCanceledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newDir(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// sub returns a valid enabled subscriber with Password set.
func sub(t *testing.T, aor string) subscriber.Subscriber {
	t.Helper()
	s := subscriber.Subscriber{AOR: aor, Name: "Zoë Ünicode ☎", Email: "zoe@example.com", Enabled: true, TZ: "Europe/Paris"}
	if err := s.SetPassword(Password); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	return s
}

func mustAdd(t *testing.T, d subscriber.Directory, s subscriber.Subscriber) {
	t.Helper()
	if err := d.Add(ctx(t), s); err != nil {
		t.Fatalf("Add(%s): %v", s.AOR, err)
	}
}

func mustGet(t *testing.T, d subscriber.Directory, aor string) subscriber.Subscriber {
	t.Helper()
	s, err := d.Get(ctx(t), aor)
	if err != nil {
		t.Fatalf("Get(%s): %v", aor, err)
	}
	return s
}

// sameFields compares everything but the times.
func sameFields(t *testing.T, got, want subscriber.Subscriber) {
	t.Helper()
	got.Created, got.Updated, want.Created, want.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Fatalf("subscriber\n got %+v\nwant %+v", got, want)
	}
}

// within checks that ts lies in [lo, hi] at millisecond precision.
func within(t *testing.T, what string, ts, lo, hi time.Time) {
	t.Helper()
	if ts.UnixMilli() < lo.UnixMilli() || ts.UnixMilli() > hi.UnixMilli() {
		t.Fatalf("%s = %v, want between %v and %v", what, ts, lo, hi)
	}
}

func testAddGet(t *testing.T, d subscriber.Directory) {
	s := sub(t, "alice@example.com")
	before := time.Now()
	mustAdd(t, d, s)
	after := time.Now()
	got := mustGet(t, d, "alice@example.com")
	sameFields(t, got, s)
	within(t, "Created", got.Created, before, after)
	if !got.Updated.Equal(got.Created) {
		t.Fatalf("Updated %v != Created %v after Add", got.Updated, got.Created)
	}
	if got.HA1SHA256 != digest.HA1(digest.SHA256, "alice", "example.com", Password) || got.HA1(digest.MD5) != digest.HA1(digest.MD5, "alice", "example.com", Password) {
		t.Fatalf("stored HA1 values do not match digest.HA1 for realm example.com")
	}

	// A disabled subscriber with no password, no name and no e-mail.
	bare := subscriber.Subscriber{AOR: "bare@example.com"}
	mustAdd(t, d, bare)
	sameFields(t, mustGet(t, d, "bare@example.com"), bare)

	// An imported Created is kept; upper-case HA1 is stored lower-case.
	imported := subscriber.Subscriber{AOR: "old@example.com", Created: time.Date(2004, 5, 6, 7, 8, 9, 0, time.UTC),
		HA1MD5: strings.ToUpper(digest.HA1(digest.MD5, "old", "example.com", "secret"))}
	mustAdd(t, d, imported)
	got = mustGet(t, d, "old@example.com")
	if !got.Created.Equal(imported.Created) {
		t.Fatalf("imported Created = %v, want %v", got.Created, imported.Created)
	}
	if got.HA1MD5 != strings.ToLower(imported.HA1MD5) {
		t.Fatalf("HA1MD5 = %s, want lower case", got.HA1MD5)
	}
}

func testAORSpellings(t *testing.T, d subscriber.Directory) {
	s := sub(t, "sip:Alice@EXAMPLE.com;transport=tcp")
	mustAdd(t, d, s)
	for _, aor := range []string{"Alice@example.com", "sip:Alice@Example.COM", "sips:Alice@example.com.", "Alice@example.com?subject=x"} {
		got := mustGet(t, d, aor)
		if got.AOR != "Alice@example.com" {
			t.Fatalf("Get(%s).AOR = %q, want the canonical Alice@example.com", aor, got.AOR)
		}
	}
	// The user part is case-sensitive.
	if _, err := d.Get(ctx(t), "alice@example.com"); !errors.Is(err, subscriber.ErrNotFound) {
		t.Fatalf("Get(alice@example.com) = %v, want ErrNotFound (user parts are case-sensitive)", err)
	}
	// IP domains.
	for aor, want := range map[string]string{"bob@192.0.2.1": "bob@192.0.2.1", "sip:carol@[2001:DB8:0::1]": "carol@[2001:db8::1]"} {
		mustAdd(t, d, sub(t, aor))
		if got := mustGet(t, d, want); got.AOR != want {
			t.Fatalf("Get(%s).AOR = %q", want, got.AOR)
		}
	}
}

func testDuplicate(t *testing.T, d subscriber.Directory) {
	s := sub(t, "alice@example.com")
	mustAdd(t, d, s)
	other := sub(t, "sip:alice@EXAMPLE.COM")
	other.Name = "Mallory"
	for _, dup := range []subscriber.Subscriber{s, other} {
		if err := d.Add(ctx(t), dup); !errors.Is(err, subscriber.ErrExists) {
			t.Fatalf("second Add(%s) = %v, want ErrExists", dup.AOR, err)
		}
	}
	if got := mustGet(t, d, "alice@example.com"); got.Name != s.Name {
		t.Fatalf("a refused Add changed the subscriber: Name %q", got.Name)
	}
	if subs, _, err := d.List(ctx(t), "", 10); err != nil || len(subs) != 1 {
		t.Fatalf("List = %d subscribers, %v; want 1", len(subs), err)
	}
}

func testConcurrentAdd(t *testing.T, d subscriber.Directory) {
	var wins, exists atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			s := sub(t, "race@example.com")
			s.Name = fmt.Sprint("writer ", i)
			switch err := d.Add(ctx(t), s); {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, subscriber.ErrExists):
				exists.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || exists.Load() != 15 {
		t.Fatalf("%d Adds won and %d got ErrExists, want 1 and 15", wins.Load(), exists.Load())
	}
}

func testGetMissing(t *testing.T, d subscriber.Directory) {
	if _, err := d.Get(ctx(t), "nobody@example.com"); !errors.Is(err, subscriber.ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
}

func testUpdate(t *testing.T, d subscriber.Directory) {
	mustAdd(t, d, sub(t, "alice@example.com"))
	orig := mustGet(t, d, "alice@example.com")
	time.Sleep(5 * time.Millisecond) // so Updated moves at ms precision

	changed := orig
	changed.AOR = "sip:alice@Example.com" // any spelling
	changed.Name, changed.Email, changed.Enabled = "Alice Liddell", "alice@wonderland.example", false
	changed.TZ, changed.MissedCallOptOut, changed.Admin = "America/New_York", true, true
	changed.Created = time.Unix(1, 0) // ignored: Update keeps Created
	if err := changed.SetPassword("new password"); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := d.Update(ctx(t), changed); err != nil {
		t.Fatalf("Update: %v", err)
	}
	after := time.Now()
	got := mustGet(t, d, "alice@example.com")
	changed.AOR = "alice@example.com"
	sameFields(t, got, changed)
	if !got.Created.Equal(orig.Created) {
		t.Fatalf("Created = %v after Update, want the original %v", got.Created, orig.Created)
	}
	within(t, "Updated", got.Updated, before, after)
	if !got.Updated.After(got.Created) {
		t.Fatalf("Updated %v not after Created %v", got.Updated, got.Created)
	}
	// Clearing optional fields.
	cleared := got
	cleared.Name, cleared.Email, cleared.HA1MD5, cleared.HA1SHA256 = "", "", "", ""
	cleared.TZ, cleared.MissedCallOptOut, cleared.Admin = "", false, false
	if err := d.Update(ctx(t), cleared); err != nil {
		t.Fatal(err)
	}
	sameFields(t, mustGet(t, d, "alice@example.com"), cleared)
}

func testUpdateMissing(t *testing.T, d subscriber.Directory) {
	if err := d.Update(ctx(t), sub(t, "ghost@example.com")); !errors.Is(err, subscriber.ErrNotFound) {
		t.Fatalf("Update = %v, want ErrNotFound", err)
	}
	if _, err := d.Get(ctx(t), "ghost@example.com"); !errors.Is(err, subscriber.ErrNotFound) {
		t.Fatalf("Update of a missing subscriber created it: Get = %v", err)
	}
	if subs, _, _ := d.List(ctx(t), "", 10); len(subs) != 0 {
		t.Fatalf("Update of a missing subscriber listed it: %v", subs)
	}
}

func testRemove(t *testing.T, d subscriber.Directory) {
	mustAdd(t, d, sub(t, "alice@example.com"))
	mustAdd(t, d, sub(t, "bob@example.com"))
	if err := d.Remove(ctx(t), "sip:alice@EXAMPLE.com"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := d.Get(ctx(t), "alice@example.com"); !errors.Is(err, subscriber.ErrNotFound) {
		t.Fatalf("Get after Remove = %v, want ErrNotFound", err)
	}
	if err := d.Remove(ctx(t), "alice@example.com"); !errors.Is(err, subscriber.ErrNotFound) {
		t.Fatalf("second Remove = %v, want ErrNotFound", err)
	}
	subs, _, err := d.List(ctx(t), "", 10)
	if err != nil || len(subs) != 1 || subs[0].AOR != "bob@example.com" {
		t.Fatalf("List after Remove = %v, %v; want only bob", subs, err)
	}
	// Removed AORs can be added again.
	mustAdd(t, d, sub(t, "alice@example.com"))
}

func testListEmpty(t *testing.T, d subscriber.Directory) {
	subs, next, err := d.List(ctx(t), "", 10)
	if err != nil || len(subs) != 0 || next != "" {
		t.Fatalf("List of an empty directory = %v, %q, %v", subs, next, err)
	}
}

func testListPagination(t *testing.T, d subscriber.Directory) {
	var want []string
	for i := range 25 {
		want = append(want, fmt.Sprintf("user%02d@example.com", i))
	}
	shuffled := slices.Clone(want)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, aor := range shuffled {
		mustAdd(t, d, subscriber.Subscriber{AOR: aor})
	}
	var got []string
	var sizes []int
	cursor := ""
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("List does not terminate")
		}
		subs, next, err := d.List(ctx(t), cursor, 10)
		if err != nil {
			t.Fatalf("List(%q): %v", cursor, err)
		}
		sizes = append(sizes, len(subs))
		for _, s := range subs {
			got = append(got, s.AOR)
		}
		if next == "" {
			break
		}
		if next != subs[len(subs)-1].AOR {
			t.Fatalf("next cursor %q, want the last AOR of the page %q", next, subs[len(subs)-1].AOR)
		}
		cursor = next
	}
	if !slices.Equal(sizes, []int{10, 10, 5}) {
		t.Fatalf("page sizes %v, want [10 10 5]", sizes)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed\n%v\nwant\n%v", got, want)
	}
	// A limit equal to what is left ends without a next cursor.
	if subs, next, err := d.List(ctx(t), "user19@example.com", 5); err != nil || len(subs) != 5 || next != "" {
		t.Fatalf("List(user19, 5) = %d, %q, %v; want 5 and no next", len(subs), next, err)
	}
	// A cursor between AORs, and one after all of them.
	if subs, _, err := d.List(ctx(t), "user10@example.com~", 1); err != nil || len(subs) != 1 || subs[0].AOR != "user11@example.com" {
		t.Fatalf("List(between) = %v, %v; want user11", subs, err)
	}
	if subs, next, err := d.List(ctx(t), "zzz", 10); err != nil || len(subs) != 0 || next != "" {
		t.Fatalf("List(after all) = %v, %q, %v", subs, next, err)
	}
	// A limit above the total returns everything.
	if subs, next, err := d.List(ctx(t), "", 100); err != nil || len(subs) != 25 || next != "" {
		t.Fatalf("List(100) = %d, %q, %v", len(subs), next, err)
	}
}

func testListOrdering(t *testing.T, d subscriber.Directory) {
	// Byte order: upper case before lower case, '.' before '@', digits
	// before letters, and the domain counts after the user part.
	want := []string{"Bob@example.com", "a.b@example.com", "a@example.com", "a@example.org", "a_b@example.com", "alice@a.example", "b@192.0.2.1", "zed@[2001:db8::1]"}
	for _, i := range rand.Perm(len(want)) {
		mustAdd(t, d, subscriber.Subscriber{AOR: want[i]})
	}
	subs, next, err := d.List(ctx(t), "", 100)
	if err != nil || next != "" {
		t.Fatal(err, next)
	}
	var got []string
	for _, s := range subs {
		got = append(got, s.AOR)
	}
	sorted := slices.Clone(want)
	slices.Sort(sorted)
	if !slices.Equal(got, sorted) {
		t.Fatalf("listed %v, want byte order %v", got, sorted)
	}
}

func testListLimit(t *testing.T, d subscriber.Directory) {
	for _, limit := range []int{0, -1} {
		if _, _, err := d.List(ctx(t), "", limit); !errors.Is(err, subscriber.ErrInvalid) {
			t.Errorf("List(limit %d) = %v, want ErrInvalid", limit, err)
		}
	}
	mustAdd(t, d, subscriber.Subscriber{AOR: "a@example.com"})
	if subs, _, err := d.List(ctx(t), "", subscriber.MaxListLimit*10); err != nil || len(subs) != 1 {
		t.Errorf("List(huge limit) = %v, %v; want the one subscriber", subs, err)
	}
}

var badAORs = []string{
	"", "alice", "@example.com", "alice@", "al ice@example.com", "alice@exa mple.com",
	"alice@example.com:5060", "alice@-example.com", "alice@example-.com", "alice@exa_mple.com",
	"tel:+15551234567", "sip:alice:pw@example.com", "a{b}@example.com", "alice@{x}",
	"alice@[::1", "alice@[::1]:5060", "alice@[1.2.3.4]", "alice@1.2.3.999", "alice@example.123",
	"ali%zce@example.com", "alice@exämple.com", "alice\r\n@example.com", "alice@example.com\r\n",
	"<sip:alice@example.com>", "alice@@example.com",
}

func testInvalidAOR(t *testing.T, d subscriber.Directory) {
	for _, aor := range badAORs {
		s := subscriber.Subscriber{AOR: aor}
		checks := map[string]error{
			"Add":    d.Add(ctx(t), s),
			"Update": d.Update(ctx(t), s),
			"Remove": d.Remove(ctx(t), aor),
		}
		_, checks["Get"] = d.Get(ctx(t), aor)
		for op, err := range checks {
			if !errors.Is(err, subscriber.ErrInvalid) {
				t.Errorf("%s(%q) = %v, want ErrInvalid", op, aor, err)
			} else if aor != "" && !strings.Contains(err.Error(), "AOR") {
				t.Errorf("%s(%q): error %q does not name the AOR", op, aor, err)
			}
		}
	}
	if subs, _, _ := d.List(ctx(t), "", 100); len(subs) != 0 {
		t.Fatalf("invalid subscribers were stored: %v", subs)
	}
}

func testInvalidFields(t *testing.T, d subscriber.Directory) {
	tests := []struct {
		name string
		edit func(*subscriber.Subscriber)
		want string
	}{
		{"email with CRLF", func(s *subscriber.Subscriber) { s.Email = "bob@example.com\r\nBcc: all@example.com" }, "CR or LF"},
		{"email with LF", func(s *subscriber.Subscriber) { s.Email = "bob@example.com\n" }, "CR or LF"},
		{"email with display name", func(s *subscriber.Subscriber) { s.Email = "Bob <bob@example.com>" }, "bare address"},
		{"email in brackets", func(s *subscriber.Subscriber) { s.Email = "<bob@example.com>" }, "bare address"},
		{"email with comment", func(s *subscriber.Subscriber) { s.Email = "bob@example.com (Bob)" }, "bare address"},
		{"email without domain", func(s *subscriber.Subscriber) { s.Email = "bob" }, "not an e-mail address"},
		{"email too long", func(s *subscriber.Subscriber) { s.Email = strings.Repeat("b", 250) + "@example.com" }, "longer than 254"},
		{"name with control character", func(s *subscriber.Subscriber) { s.Name = "Bob\x1b[31m" }, "control characters"},
		{"name with newline", func(s *subscriber.Subscriber) { s.Name = "Bob\nInjected: yes" }, "control characters"},
		{"name invalid UTF-8", func(s *subscriber.Subscriber) { s.Name = "Bob\xff" }, "UTF-8"},
		{"name too long", func(s *subscriber.Subscriber) { s.Name = strings.Repeat("é", subscriber.MaxNameLen+1) }, "more than 128"},
		{"HA1MD5 not hex", func(s *subscriber.Subscriber) { s.HA1MD5 = strings.Repeat("x", 32) }, "HA1MD5"},
		{"HA1MD5 wrong length", func(s *subscriber.Subscriber) { s.HA1MD5 = s.HA1SHA256 }, "HA1MD5"},
		{"HA1SHA256 wrong length", func(s *subscriber.Subscriber) { s.HA1SHA256 = s.HA1MD5 }, "HA1SHA256"},
		{"unknown time zone", func(s *subscriber.Subscriber) { s.TZ = "Mars/Olympus_Mons" }, "not an IANA time zone"},
		{"host time zone", func(s *subscriber.Subscriber) { s.TZ = "Local" }, "host's zone"},
		{"time zone with newline", func(s *subscriber.Subscriber) { s.TZ = "Europe/Paris\nX: y" }, "not a time zone name"},
		{"time zone too long", func(s *subscriber.Subscriber) { s.TZ = strings.Repeat("A", 65) }, "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sub(t, "bob@example.com")
			tt.edit(&s)
			if err := s.Validate(); !errors.Is(err, subscriber.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want ErrInvalid naming %q", err, tt.want)
			}
			if err := d.Add(ctx(t), s); !errors.Is(err, subscriber.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Add = %v, want ErrInvalid naming %q", err, tt.want)
			}
			if _, err := d.Get(ctx(t), "bob@example.com"); !errors.Is(err, subscriber.ErrNotFound) {
				t.Fatalf("an invalid Add stored something: Get = %v", err)
			}
			good := sub(t, "bob@example.com")
			mustAdd(t, d, good)
			t.Cleanup(func() { _ = d.Remove(context.Background(), "bob@example.com") })
			if err := d.Update(ctx(t), s); !errors.Is(err, subscriber.ErrInvalid) {
				t.Fatalf("Update = %v, want ErrInvalid", err)
			}
			sameFields(t, mustGet(t, d, "bob@example.com"), good)
		})
	}
}

func testPasswordNeverStored(t *testing.T, d subscriber.Directory) {
	s := sub(t, "alice@example.com")
	mustAdd(t, d, s)
	got := mustGet(t, d, "alice@example.com")
	listed, _, err := d.List(ctx(t), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{s, got, listed} {
		if out := fmt.Sprintf("%+v %#v", v, v); strings.Contains(out, Password) {
			t.Fatalf("the password appears in %s", out)
		}
	}
}

func testCanceledContext(t *testing.T, d subscriber.Directory) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{
		"Add":    d.Add(c, sub(t, "alice@example.com")),
		"Update": d.Update(c, sub(t, "alice@example.com")),
		"Remove": d.Remove(c, "alice@example.com"),
	}
	_, checks["Get"] = d.Get(c, "alice@example.com")
	_, _, checks["List"] = d.List(c, "", 10)
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) || errors.Is(err, subscriber.ErrUnavailable) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled, not ErrUnavailable", op, err)
		}
	}
}
