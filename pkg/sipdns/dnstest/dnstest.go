// Package dnstest runs a real DNS server on loopback for tests: it
// serves a zone given as master-file text (github.com/miekg/dns), over
// UDP and TCP on one free port, and counts the questions it gets.
//
// Beyond the zone, names can be made to fail: Drop makes the server
// never answer a name (a timeout), Fail answers it with an rcode
// (SERVFAIL, REFUSED). A name the zone does not hold (nor any name under
// it) gets NXDOMAIN with the zone's SOA; a name it holds without records
// of the type asked gets NOERROR, no answer, and the SOA (RFC 2308
// NODATA). CNAMEs are followed within the zone, as a recursive server
// does, and stop at a loop.
package dnstest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is a DNS server serving one zone on 127.0.0.1.
type Server struct {
	// Addr is where it listens, "127.0.0.1:port", UDP and TCP.
	Addr string

	mu      sync.Mutex
	rrs     []dns.RR
	soa     *dns.SOA
	drop    map[string]bool
	rcode   map[string]int
	queries map[string]int // "TYPE name" -> count
	trunc   bool

	udp, tcp *dns.Server
}

// Serve parses zone (master-file text; $ORIGIN and $TTL allowed, names
// relative to origin) and serves it until the test ends.
func Serve(t testing.TB, origin, zone string) *Server {
	t.Helper()
	s := &Server{drop: map[string]bool{}, rcode: map[string]int{}, queries: map[string]int{}}
	if err := s.Load(origin, zone); err != nil {
		t.Fatalf("dnstest: zone: %v", err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dnstest: listen udp: %v", err)
	}
	var ln net.Listener
	for range 20 {
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatalf("dnstest: listen udp: %v", err)
		}
	}
	if ln == nil {
		t.Fatalf("dnstest: no port free for both UDP and TCP: %v", err)
	}
	s.Addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("dnstest: server did not start")
		}
	}
	t.Cleanup(func() {
		_ = s.udp.Shutdown()
		_ = s.tcp.Shutdown()
	})
	return s
}

// Load replaces the zone.
func (s *Server) Load(origin, zone string) error {
	zp := dns.NewZoneParser(strings.NewReader(zone), dns.Fqdn(origin), "zone")
	var rrs []dns.RR
	var soa *dns.SOA
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if v, isSOA := rr.(*dns.SOA); isSOA {
			soa = v
			continue
		}
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return err
	}
	if soa == nil {
		soa = &dns.SOA{Hdr: dns.RR_Header{Name: dns.Fqdn(origin), Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
			Ns: "ns." + dns.Fqdn(origin), Mbox: "hostmaster." + dns.Fqdn(origin), Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 60}
	}
	s.mu.Lock()
	s.rrs, s.soa = rrs, soa
	s.mu.Unlock()
	return nil
}

// Drop makes the server ignore questions for name (no answer at all).
func (s *Server) Drop(name string) {
	s.mu.Lock()
	s.drop[canonical(name)] = true
	s.mu.Unlock()
}

// Fail makes the server answer questions for name with rcode.
func (s *Server) Fail(name string, rcode int) {
	s.mu.Lock()
	s.rcode[canonical(name)] = rcode
	s.mu.Unlock()
}

// Heal undoes Drop and Fail for name.
func (s *Server) Heal(name string) {
	s.mu.Lock()
	delete(s.drop, canonical(name))
	delete(s.rcode, canonical(name))
	s.mu.Unlock()
}

// Truncate makes every UDP answer truncated (TC, no records), so
// clients must ask again over TCP.
func (s *Server) Truncate(on bool) {
	s.mu.Lock()
	s.trunc = on
	s.mu.Unlock()
}

// Queries counts the questions for qtype ("SRV", "A", ...) and name.
func (s *Server) Queries(qtype, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[qtype+" "+canonical(name)]
}

// Total counts every question.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.queries {
		n += c
	}
	return n
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := canonical(q.Name)
	s.mu.Lock()
	s.queries[dns.TypeToString[q.Qtype]+" "+name]++
	drop := s.drop[name]
	rcode, hasRcode := s.rcode[name]
	trunc := s.trunc && w.LocalAddr().Network() == "udp"
	s.mu.Unlock()
	if drop {
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	switch {
	case hasRcode:
		m.Rcode = rcode
	case trunc:
		m.Truncated = true
	default:
		s.answer(m, name, q.Qtype)
	}
	_ = w.WriteMsg(m)
}

// answer fills m for name and qtype, following CNAMEs in the zone.
func (s *Server) answer(m *dns.Msg, name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for !seen[name] {
		seen[name] = true
		exists, cname := false, ""
		for _, rr := range s.rrs {
			h := rr.Header()
			owner := canonical(h.Name)
			if strings.HasSuffix(owner, "."+name) {
				exists = true // an empty non-terminal: NODATA, not NXDOMAIN (RFC 8020)
			}
			if owner != name {
				continue
			}
			exists = true
			switch {
			case h.Rrtype == qtype:
				m.Answer = append(m.Answer, dns.Copy(rr))
			case h.Rrtype == dns.TypeCNAME && qtype != dns.TypeCNAME:
				m.Answer = append(m.Answer, dns.Copy(rr))
				cname = canonical(rr.(*dns.CNAME).Target)
			}
		}
		switch {
		case !exists:
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, dns.Copy(s.soa))
			return
		case cname == "":
			if !hasType(m.Answer, qtype) {
				m.Ns = append(m.Ns, dns.Copy(s.soa))
			}
			return
		}
		name = cname
	}
}

func hasType(rrs []dns.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}

func canonical(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }

// String is the server's address.
func (s *Server) String() string { return fmt.Sprintf("dnstest %s", s.Addr) }
