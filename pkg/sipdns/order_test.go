package sipdns

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func srvNames(rs []srv) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Target)
	}
	return strings.Join(s, ",")
}

// RFC 2782: lower priority first, always; within a priority a weighted
// draw. A draw function returning fixed values shows the running-sum rule.
func TestOrderSRV(t *testing.T) {
	recs := []srv{
		{Priority: 20, Weight: 10, Target: "backup"},
		{Priority: 10, Weight: 0, Target: "zero"},
		{Priority: 10, Weight: 60, Target: "big"},
		{Priority: 10, Weight: 40, Target: "small"},
	}
	for _, tc := range []struct {
		name  string
		draws []uint64
		want  string
	}{
		// Running sums in draw order: zero 0, big 60, small 100.
		{"draw 0 takes the weight-0 record", []uint64{0, 0, 0, 0}, "zero,big,small,backup"},
		{"draw 1..60 takes big", []uint64{37, 0, 0, 0}, "big,zero,small,backup"},
		{"draw 61..100 takes small", []uint64{61, 60, 0, 0}, "small,big,zero,backup"},
	} {
		i := 0
		rnd := func(n uint64) uint64 {
			v := tc.draws[i] % n
			i++
			return v
		}
		if got := srvNames(orderSRV(recs, rnd)); got != tc.want {
			t.Errorf("%s: order %s, want %s", tc.name, got, tc.want)
		}
	}
}

// Over many draws each record of a priority comes first in proportion
// to its weight (a seeded generator: the same numbers every run).
func TestOrderSRVWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rnd := func(n uint64) uint64 { return r.Uint64N(n) }
	recs := []srv{{Priority: 1, Weight: 80, Target: "a"}, {Priority: 1, Weight: 20, Target: "b"}, {Priority: 1, Weight: 0, Target: "c"}}
	first := map[string]int{}
	const n = 10000
	for range n {
		first[orderSRV(recs, rnd)[0].Target]++
	}
	if a := float64(first["a"]) / n; a < 0.77 || a > 0.83 {
		t.Errorf("weight 80 of 100 came first %.3f of the time: %v", a, first)
	}
	if c := float64(first["c"]) / n; c > 0.02 {
		t.Errorf("weight 0 came first %.3f of the time: %v", c, first)
	}
	// All weights 0: each comes first about equally often.
	zero := []srv{{Priority: 1, Target: "x"}, {Priority: 1, Target: "y"}}
	firstZero := map[string]int{}
	for range n {
		firstZero[orderSRV(zero, rnd)[0].Target]++
	}
	if x := float64(firstZero["x"]) / n; x < 0.45 || x > 0.55 {
		t.Errorf("weights 0: x first %.3f of the time", x)
	}
	// A seed makes the draw repeatable (RFC 3263 §4.4).
	a := srvNames(orderSRV(recs, randFor(42, rnd)))
	for range 20 {
		if b := srvNames(orderSRV(recs, randFor(42, rnd))); b != a {
			t.Fatalf("seeded order changed: %s then %s", a, b)
		}
	}
}

// RFC 3263 §4.1 / RFC 3403: unsupported services and flags are
// discarded first, then the lowest order is kept, by preference.
func TestNAPTRChoices(t *testing.T) {
	all := map[string]bool{UDP: true, TCP: true, TLS: true}
	recs := []naptr{
		{Order: 5, Preference: 1, Flags: "s", Service: "SIP+D2S", Replacement: "_sip._sctp.x"},
		{Order: 10, Preference: 50, Flags: "s", Service: "SIP+D2T", Replacement: "_sip._tcp.x"},
		{Order: 10, Preference: 10, Flags: "S", Service: "sip+d2u", Replacement: "_sip._udp.x"},
		{Order: 10, Preference: 20, Flags: "s", Service: "SIPS+D2T", Replacement: "_sips._tcp.x"},
		{Order: 10, Preference: 5, Flags: "u", Service: "SIP+D2U", Regexp: "!.*!sip:x!", Replacement: ""},
		{Order: 20, Preference: 1, Flags: "s", Service: "SIP+D2U", Replacement: "_sip._udp.later"},
	}
	for _, tc := range []struct {
		name      string
		secure    bool
		supported map[string]bool
		want      string
	}{
		{"sip:", false, all, "udp _sip._udp.x,tls _sips._tcp.x,tcp _sip._tcp.x"},
		{"sips: keeps SIPS only", true, all, "tls _sips._tcp.x"},
		{"without TLS support", false, map[string]bool{UDP: true, TCP: true}, "udp _sip._udp.x,tcp _sip._tcp.x"},
		{"UDP only", false, map[string]bool{UDP: true}, "udp _sip._udp.x"},
	} {
		var got []string
		for _, c := range naptrChoices(recs, tc.secure, tc.supported) {
			got = append(got, c.transport+" "+c.name)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
}

// FuzzExtract feeds arbitrary DNS messages to the answer reader: it never
// panics, and whatever it takes is usable (host names, real addresses,
// nothing beyond the bounds).
func FuzzExtract(f *testing.F) {
	for _, seed := range seedAnswers(f) {
		f.Add(seed, uint16(dns.TypeSRV))
	}
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}, uint16(dns.TypeA))
	f.Fuzz(func(t *testing.T, raw []byte, qtype uint16) {
		m := new(dns.Msg)
		if err := m.Unpack(raw); err != nil || len(m.Question) == 0 {
			return
		}
		qname := canonical(m.Question[0].Name)
		ans, next, _, err := extract(m, qname, qtype, map[string]bool{qname: true})
		if err != nil {
			return
		}
		if next != "" && !validName(next) {
			t.Fatalf("next name %q is not a host name", next)
		}
		if len(ans.addrs) > maxRecords || len(ans.srvs) > maxRecords || len(ans.naptrs) > maxRecords {
			t.Fatalf("more than %d records taken", maxRecords)
		}
		for _, a := range ans.addrs {
			if !usable(a) {
				t.Fatalf("unusable address %v taken", a)
			}
		}
		for _, s := range ans.srvs {
			if s.Target != "." && !validName(s.Target) {
				t.Fatalf("SRV target %q is not a host name", s.Target)
			}
		}
		_ = naptrChoices(ans.naptrs, false, map[string]bool{UDP: true, TCP: true, TLS: true})
		_ = orderSRV(ans.srvs, rand.Uint64N)
	})
}

// seedAnswers are well-formed answers: SRV, NAPTR, a CNAME loop.
func seedAnswers(f *testing.F) [][]byte {
	var out [][]byte
	for _, rrs := range [][]string{
		{"_sip._udp.pbx.test. 60 IN SRV 10 60 5060 a1.pbx.test.", "_sip._udp.pbx.test. 60 IN SRV 20 0 5060 a2.pbx.test."},
		{`_sip._udp.pbx.test. 60 IN NAPTR 10 10 "s" "SIP+D2U" "" _sip._udp.pbx.test.`},
		{"_sip._udp.pbx.test. 60 IN CNAME x.test.", "x.test. 60 IN CNAME _sip._udp.pbx.test."},
	} {
		m := new(dns.Msg)
		m.SetQuestion("_sip._udp.pbx.test.", dns.TypeSRV)
		m.Response = true
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				f.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(fmt.Errorf("pack: %w", err))
		}
		out = append(out, b)
	}
	return out
}
