package bus_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
)

func TestSubjects(t *testing.T) {
	const ck = "0123456789abcdef"
	tests := []struct {
		name, got, want string
	}{
		{"request in", bus.SubjectRequestIn("INVITE", ck), "sip.01.in.req.INVITE"},
		{"response in 1xx", bus.SubjectResponseIn(180, ck), "sip.01.in.res.1xx"},
		{"response in 6xx", bus.SubjectResponseIn(603, ck), "sip.01.in.res.6xx"},
		{"response out of range", bus.SubjectResponseIn(99, ck), "sip.01.in.res.xxx"},
		{"request out", bus.SubjectRequestOut("edge-1", "BYE", ck), "sip.01.out.edge-1.req.BYE"},
		{"response out any", bus.SubjectResponseOut(bus.AnyEdge, 200, ck), "sip.01.out.any.res.2xx"},
		{"rejected", bus.SubjectRejected(ck), "sip.01.in.bad"},
		{"partition in", bus.PartitionInFilter("3f"), "sip.3f.in.>"},
		{"edge out", bus.EdgeOutFilter("edge-1"), "sip.*.out.edge-1.>"},
		{"REGISTER in", bus.RequestInFilter("REGISTER"), "sip.*.in.req.REGISTER"},
		{"beat", bus.SubjectBeat("tm", "tm-1"), "sipbus.beat.tm.tm-1"},
		{"tx created", bus.SubjectTx(bus.TxEventCreated, ck), "tx.created." + ck},
		{"tx absorbed", bus.SubjectTx(bus.TxEventAbsorbed, ck), "tx.absorbed." + ck},
		{"call", bus.SubjectCall("missed", ck), "call.missed.01"},
		{"notify failed", bus.SubjectNotify(bus.NotifyEventFailed, "nf-0123456789abcdef"), "notify.failed.nf-0123456789abcdef"},
		{"dead", bus.SubjectDead("registrar", "sip.01.in.req.REGISTER"), "dead.registrar.sip.01.in.req.REGISTER"},
		{"app", bus.SubjectApp("screen", ck), "app.screen.01"},
		{"odd call key", bus.SubjectRejected(""), "sip." + bus.Partition("_") + ".in.bad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// Every call key has a partition, the first two hex digits of a key
// sipmsg.CallKey made, a hash of anything else; tokens and numbers map
// both ways.
func TestPartition(t *testing.T) {
	for _, tc := range []struct{ ck, want string }{
		{"0123456789abcdef", "01"}, {"ff00000000000000", "ff"}, {"a", ""}, {"ZZ", ""}, {"_", ""},
	} {
		got := bus.Partition(tc.ck)
		if tc.want != "" && got != tc.want {
			t.Errorf("Partition(%q) = %q, want %q", tc.ck, got, tc.want)
		}
		if i := bus.PartitionIndex(got); i < 0 || i >= bus.Partitions || bus.PartitionToken(i) != got {
			t.Errorf("Partition(%q) = %q: index %d does not map back", tc.ck, got, i)
		}
	}
	if bus.Partition("a") != bus.Partition("a") || bus.PartitionIndex("g0") != -1 || bus.PartitionIndex("0") != -1 {
		t.Error("Partition is not stable, or PartitionIndex accepts a bad token")
	}
	seen := map[string]bool{}
	for i := range bus.Partitions {
		seen[bus.PartitionToken(i)] = true
	}
	if len(seen) != bus.Partitions {
		t.Errorf("%d distinct partition tokens, want %d", len(seen), bus.Partitions)
	}
}

func TestSafeToken(t *testing.T) {
	intmeth := "!interesting-Method0123456789_*+`.%indeed'~"
	long := strings.Repeat("A", 80)
	tests := []struct {
		name, in string
		want     string // "" = only check the invariants
		same     bool   // returned unchanged
	}{
		{"plain", "INVITE", "INVITE", true},
		{"dash underscore", "X-Foo_1", "X-Foo_1", true},
		{"empty", "", "_", false},
		{"intmeth", intmeth, "", false},
		{"dot", "IN.VITE", "", false},
		{"wildcards", "*>", "", false},
		{"space", "A B", "", false},
		{"utf8", "INVITÉ", "", false},
		{"too long", long, "", false},
		{"exactly 64", strings.Repeat("B", 64), strings.Repeat("B", 64), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := bus.SafeToken(tc.in)
			if tc.want != "" && got != tc.want {
				t.Fatalf("SafeToken(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if (got == tc.in) != tc.same {
				t.Fatalf("SafeToken(%q) = %q, unchanged=%v, want %v", tc.in, got, got == tc.in, tc.same)
			}
			if len(got) == 0 || len(got) > 64 {
				t.Fatalf("SafeToken(%q) = %q: length %d", tc.in, got, len(got))
			}
			for _, c := range []byte(got) {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
					t.Fatalf("SafeToken(%q) = %q holds %q", tc.in, got, c)
				}
			}
		})
	}
	// Distinct methods that map to the same characters stay distinct.
	a, b := bus.SafeToken("A*B"), bus.SafeToken("A%B")
	if a == b || a == "A_B" {
		t.Errorf("SafeToken collisions: %q %q", a, b)
	}
	if got := bus.SafeToken(intmeth); !strings.HasPrefix(got, "_interesting-Method0123456789______indeed__-") {
		t.Errorf("intmeth -> %q", got)
	}
}

func TestSafeTokenNoAlloc(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = bus.SafeToken("INVITE") }); n != 0 {
		t.Errorf("SafeToken of a safe token allocates %v times", n)
	}
}

// CallFilter selects the partition of a call (every subject of the call
// once, the other partitions never); the call's own events are those with
// its callkey attribute.
func TestCallFilter(t *testing.T) {
	const ck = "0123456789abcdef"
	f := bus.CallFilter(ck)
	match := func(subject string) int {
		n := 0
		for _, flt := range f {
			if server.SubjectMatchesFilter(subject, flt) {
				n++
			}
		}
		return n
	}
	for _, s := range []string{
		bus.SubjectRequestIn("INVITE", ck), bus.SubjectResponseIn(200, ck),
		bus.SubjectRequestOut("e1", "ACK", ck), bus.SubjectResponseOut(bus.AnyEdge, 487, ck),
		bus.SubjectRejected(ck), bus.SubjectCall("ended", ck),
	} {
		if n := match(s); n != 1 {
			t.Errorf("%s matched by %d filters of %v, want exactly 1", s, n, f)
		}
	}
	for _, s := range []string{bus.SubjectRequestIn("INVITE", "fedcba9876543210"), bus.SubjectCall("ended", "02ffffffffffffff"), "reg.contact.added." + ck} {
		if n := match(s); n != 0 {
			t.Errorf("%s matched by %v", s, f)
		}
	}
	h := nats.Header{}
	if bus.CallKeyOf(h) != "" || bus.CallKeyOf(nil) != "" {
		t.Error("CallKeyOf of a message without a callkey is not empty")
	}
	h.Set(bus.HeaderCallKey, ck)
	if bus.CallKeyOf(h) != ck {
		t.Errorf("CallKeyOf = %q, want %q", bus.CallKeyOf(h), ck)
	}
}

// The stream's subjects are a bounded set, whatever the number of calls:
// every subject of 20,000 calls is one of at most Partitions per kind.
func TestSubjectsBounded(t *testing.T) {
	kinds := []func(ck string) string{
		func(ck string) string { return bus.SubjectRequestIn("INVITE", ck) },
		func(ck string) string { return bus.SubjectRequestIn("ACK", ck) },
		func(ck string) string { return bus.SubjectResponseIn(180, ck) },
		func(ck string) string { return bus.SubjectResponseIn(200, ck) },
		func(ck string) string { return bus.SubjectRejected(ck) },
		func(ck string) string { return bus.SubjectRequestOut(bus.AnyEdge, "INVITE", ck) },
		func(ck string) string { return bus.SubjectResponseOut("edge-1", 200, ck) },
		func(ck string) string { return bus.SubjectCall(bus.CallEventEnded, ck) },
		func(ck string) string { return bus.SubjectApp("screen", ck) },
	}
	seen := map[string]bool{}
	for i := range 20000 {
		ck := fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15)
		for _, k := range kinds {
			s := k(ck)
			if strings.Contains(s, ck) {
				t.Fatalf("%s names the call %s", s, ck)
			}
			seen[s] = true
		}
	}
	if limit := len(kinds) * bus.Partitions; len(seen) > limit {
		t.Errorf("%d distinct subjects for 20,000 calls, want at most %d", len(seen), limit)
	}
}

func BenchmarkSubjectRequestIn(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = bus.SubjectRequestIn("INVITE", "0123456789abcdef")
	}
}
