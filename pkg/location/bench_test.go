package location_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/location/locationtest"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// engines are the stores the benchmarks run on: memory and a real Redis.
func engines(b *testing.B) []struct {
	name string
	s    location.Store
} {
	c := rawClient(b, testenv.RedisURL(b))
	return []struct {
		name string
		s    location.Store
	}{
		{"memory", location.NewMemory()},
		{"redis", location.NewRedis(c, "bench")},
	}
}

// benchAORs is how many AORs the benchmarks spread over.
const benchAORs = 1000

func benchBinding(i int) location.Binding {
	return location.Binding{
		Contact:   fmt.Sprintf("sip:user%d@198.51.100.%d:5060;transport=udp;ob", i, i%250),
		Q:         1,
		Path:      []string{"<sip:edge-1.example.com;lr>"},
		Received:  fmt.Sprintf("udp:198.51.100.%d:5060", i%250),
		Transport: "udp",
		Edge:      "edge-1",
		UserAgent: "Bench/1.0",
	}
}

// BenchmarkApply is a REGISTER refresh: one contact re-registered with a
// higher CSeq, over 1000 AORs.
func BenchmarkApply(b *testing.B) {
	for _, e := range engines(b) {
		cseq := uint32(0) // b.Run calls the function again with a larger b.N: keep CSeqs rising
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			now := locationtest.T0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				a := i % benchAORs
				c := benchBinding(a)
				c.Expires = now.Add(time.Hour)
				cseq++
				u := location.Update{AOR: fmt.Sprintf("user%d@example.com", a), CallID: "call-" + fmt.Sprint(a), CSeq: cseq, Now: now, Contacts: []location.Binding{c}, MaxContacts: 10}
				if _, _, err := e.s.Apply(ctx, u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLookup reads an AOR with two bindings (what tm does per INVITE).
func BenchmarkLookup(b *testing.B) {
	for _, e := range engines(b) {
		seeded := false
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			now := locationtest.T0
			for a := range benchAORs {
				if seeded {
					break
				}
				c1, c2 := benchBinding(a), benchBinding(a+benchAORs)
				c1.Expires, c2.Expires = now.Add(time.Hour), now.Add(time.Hour)
				c2.Q = 0.5
				u := location.Update{AOR: fmt.Sprintf("user%d@example.com", a), CallID: "c", CSeq: 1, Now: now, Contacts: []location.Binding{c1, c2}}
				if _, _, err := e.s.Apply(ctx, u); err != nil {
					b.Fatal(err)
				}
			}
			seeded = true
			aors := make([]string, benchAORs)
			for a := range aors {
				aors[a] = fmt.Sprintf("user%d@example.com", a)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				bs, err := e.s.Lookup(ctx, aors[i%benchAORs], now)
				if err != nil || len(bs) != 2 {
					b.Fatalf("Lookup = %d, %v", len(bs), err)
				}
			}
		})
	}
}
