package sipdns_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipdns/dnstest"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// zone is the test zone: pbx.test with NAPTR, SRV and A records on
// loopback, and names that go wrong in every way RFC 3263 meets.
const zone = `
$TTL 60
@               IN SOA   ns.test. hostmaster.test. 1 60 60 60 30
; pbx.test: UDP first (order 10, preference 10), TLS beside it
; (preference 20), TCP in a later order that is never used.
pbx             IN NAPTR 10 10 "s" "SIP+D2U"  "" _sip._udp.pbx.test.
pbx             IN NAPTR 10 20 "s" "SIPS+D2T" "" _sips._tcp.pbx.test.
pbx             IN NAPTR 20 10 "s" "SIP+D2T"  "" _sip._tcp.pbx.test.
_sip._udp.pbx   IN SRV   10 0 5070 a1.pbx.test.
_sip._udp.pbx   IN SRV   20 0 5080 a2.pbx.test.
_sips._tcp.pbx  IN SRV   10 0 5071 a1.pbx.test.
_sip._tcp.pbx   IN SRV   10 0 5072 a1.pbx.test.
a1.pbx          IN A     127.0.0.2
a2.pbx          IN A     127.0.0.3
; no NAPTR, SRV for TCP only
srvonly         IN SRV   10 0 5090 a1.pbx.test.
_sip._tcp.srvonly IN SRV 10 0 5090 a1.pbx.test.
; no NAPTR, no SRV
plain           IN A     127.0.0.4
plain           IN AAAA  ::1
; NAPTR of services nobody here speaks, so SRV is used
sctp            IN NAPTR 10 10 "s" "SIP+D2S" "" _sip._sctp.sctp.test.
_sip._udp.sctp  IN SRV   10 0 5060 plain.test.
; the service is decidedly not available (RFC 2782)
closed          IN A     127.0.0.5
_sip._udp.closed IN SRV  0 0 0 .
; a name with records, none of them useful
textonly        IN TXT   "nothing here"
; CNAMEs: a chain to a1, and a loop
alias           IN CNAME a1.pbx.test.
loop1           IN CNAME loop2.test.
loop2           IN CNAME loop1.test.
; SRV records pointing at a name that does not exist, then a good one
halfbroken      IN NAPTR 10 10 "s" "SIP+D2U" "" _sip._udp.halfbroken.test.
_sip._udp.halfbroken IN SRV 10 0 5060 gone.test.
_sip._udp.halfbroken IN SRV 20 0 5062 a2.pbx.test.
; an SRV target that is not a host name (a newline in it) is ignored
_sip._udp.weird IN SRV   10 0 5060 bad\010name.test.
_sip._udp.weird IN SRV   20 0 5062 a2.pbx.test.
; a TTL of 0 is not cached
zero          0 IN A     127.0.0.6
`

func newResolver(t *testing.T, srv *dnstest.Server, now func() time.Time, mod ...func(*sipdns.Config)) *sipdns.Resolver {
	t.Helper()
	cfg := sipdns.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Now: now}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := sipdns.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func query(t *testing.T, uri string) sipdns.Query {
	t.Helper()
	u, err := sipmsg.ParseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	q, err := sipdns.QueryFor(u)
	if err != nil {
		t.Fatalf("QueryFor(%s): %v", uri, err)
	}
	return q
}

func targets(ts []sipdns.Target) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.String())
	}
	return strings.Join(s, " ")
}

// TestResolve walks RFC 3263 §4 through a real DNS server on loopback.
func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name, uri string
		want      string
		asked     []string // questions the server must have got ("TYPE name")
		notAsked  []string
	}{
		{"§4.1 IP address: no DNS, UDP, 5060", "sip:bob@192.0.2.1", "udp:192.0.2.1:5060", nil, nil},
		{"§4.1 sips: IP address: TLS, 5061", "sips:192.0.2.1", "tls:192.0.2.1:5061", nil, nil},
		{"§4.1 transport parameter on an IP address", "sip:[2001:db8::1]:5070;transport=TCP", "tcp:[2001:db8::1]:5070", nil, nil},
		{"§4 maddr is the TARGET", "sip:bob@pbx.test;maddr=192.0.2.9", "udp:192.0.2.9:5060", nil, []string{"NAPTR pbx.test"}},
		{"§4.2 explicit port: A only", "sip:a1.pbx.test:5099", "udp:127.0.0.2:5099", []string{"A a1.pbx.test"}, []string{"NAPTR a1.pbx.test", "SRV _sip._udp.a1.pbx.test"}},
		{"§4.2 transport given: SRV of that transport", "sip:pbx.test;transport=tcp", "tcp:127.0.0.2:5072", []string{"SRV _sip._tcp.pbx.test"}, []string{"NAPTR pbx.test"}},
		{"§4.1 NAPTR: lowest order, by preference; SRV by priority", "sip:pbx.test", "udp:127.0.0.2:5070 udp:127.0.0.3:5080 tls:127.0.0.2:5071",
			[]string{"NAPTR pbx.test", "SRV _sip._udp.pbx.test", "SRV _sips._tcp.pbx.test"}, []string{"SRV _sip._tcp.pbx.test"}},
		{"§4.1 sips: only SIPS+D2T", "sips:pbx.test", "tls:127.0.0.2:5071", nil, nil},
		{"§4.1 no NAPTR: SRV per transport, the first that has records", "sip:srvonly.test", "tcp:127.0.0.2:5090",
			[]string{"NAPTR srvonly.test", "SRV _sip._udp.srvonly.test", "SRV _sip._tcp.srvonly.test"}, []string{"SRV _sips._tcp.srvonly.test"}},
		{"§4.1 NAPTR services not supported are discarded", "sip:sctp.test", "udp:127.0.0.4:5060", []string{"SRV _sip._udp.sctp.test"}, []string{"SRV _sip._sctp.sctp.test"}},
		{"§4.2 no SRV: A, default port", "sip:plain.test", "udp:127.0.0.4:5060", []string{"A plain.test"}, []string{"AAAA plain.test"}},
		{"§4.2 sips: no SRV: A, TLS, 5061", "sips:plain.test", "tls:127.0.0.4:5061", nil, nil},
		{"a CNAME chain is followed", "sip:alias.test:5060", "udp:127.0.0.2:5060", nil, nil},
		{"an SRV target without address is skipped", "sip:halfbroken.test", "udp:127.0.0.3:5062", nil, nil},
		{"an SRV target that is not a host name is ignored", "sip:weird.test", "udp:127.0.0.3:5062", nil, []string{"A bad\\010name.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := dnstest.Serve(t, "test", zone)
			r := newResolver(t, srv, nil)
			ts, err := r.Resolve(context.Background(), query(t, tc.uri))
			if err != nil {
				t.Fatalf("Resolve(%s): %v", tc.uri, err)
			}
			if got := targets(ts); got != tc.want {
				t.Errorf("Resolve(%s) = %s; want %s", tc.uri, got, tc.want)
			}
			for _, a := range tc.asked {
				typ, name, _ := strings.Cut(a, " ")
				if srv.Queries(typ, name) == 0 {
					t.Errorf("%s was not asked", a)
				}
			}
			for _, a := range tc.notAsked {
				typ, name, _ := strings.Cut(a, " ")
				if n := srv.Queries(typ, name); n != 0 {
					t.Errorf("%s was asked %d times; RFC 3263 skips it here", a, n)
				}
			}
		})
	}
}

// TestResolveFailures: each way a resolution fails is its own error,
// named in the text, and tells whether it may pass.
func TestResolveFailures(t *testing.T) {
	srv := dnstest.Serve(t, "test", zone+"\nbroken IN A 127.0.0.7\nsilent IN A 127.0.0.8\n")
	srv.Fail("broken.test", dns.RcodeServerFailure)
	srv.Drop("silent.test")
	for _, tc := range []struct {
		name, uri string
		want      error
		temporary bool
		text      string
	}{
		{"no such domain", "sip:missing.test", sipdns.ErrNXDomain, false, "no such domain for missing.test NAPTR"},
		{"no records", "sip:textonly.test", sipdns.ErrNoRecords, false, "no records for textonly.test A"},
		{"SRV target '.': no service, no A fallback", "sip:closed.test", sipdns.ErrNoService, false, "no SIP service for _sip._udp.closed.test SRV"},
		{"CNAME loop", "sip:loop1.test:5060", sipdns.ErrCNAMELoop, false, "CNAME loop for loop1.test A"},
		{"SERVFAIL", "sip:broken.test:5060", sipdns.ErrServer, true, "server failure (rcode SERVFAIL from"},
		{"no answer", "sip:silent.test:5060", sipdns.ErrTimeout, true, "timeout (no answer from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolver(t, srv, nil, func(c *sipdns.Config) { c.Timeout = 400 * time.Millisecond })
			ts, err := r.Resolve(context.Background(), query(t, tc.uri))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Resolve(%s) = %s, %v; want %v", tc.uri, targets(ts), err, tc.want)
			}
			var e *sipdns.Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q (%T) does not say %q", err, err, tc.text)
			}
			if sipdns.Temporary(err) != tc.temporary {
				t.Errorf("Temporary(%v) = %v", err, !tc.temporary)
			}
			// A failure is cached too: asked again, the answer comes
			// from memory.
			cts, cerr, ok := r.Cached(query(t, tc.uri))
			if !ok || !errors.Is(cerr, tc.want) || len(cts) != 0 {
				t.Errorf("Cached after the failure: %s, %v, ok=%v; want the same failure", targets(cts), cerr, ok)
			}
		})
	}
}

// TestQueryFor: the URI's transport parameter, scheme and maddr, and
// the URIs that cannot be resolved at all.
func TestQueryFor(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		want sipdns.Query
		err  error
	}{
		{"sip:pbx.test", sipdns.Query{Host: "pbx.test"}, nil},
		{"sip:pbx.test;transport=tls", sipdns.Query{Host: "pbx.test", Transport: "tls"}, nil},
		{"sips:pbx.test;transport=tcp", sipdns.Query{Host: "pbx.test", Transport: "tls", Secure: true}, nil},
		{"sips:pbx.test:5999", sipdns.Query{Host: "pbx.test", Port: 5999, Transport: "tls", Secure: true}, nil},
		{"sip:x@pbx.test;maddr=[2001:DB8::1]", sipdns.Query{Host: "2001:db8::1"}, nil},
		{"sips:pbx.test;transport=udp", sipdns.Query{}, sipdns.ErrTransport},
		{"sip:pbx.test;transport=sctp", sipdns.Query{}, sipdns.ErrTransport},
		{"sip:pbx.test;transport=ws", sipdns.Query{}, sipdns.ErrTransport},
		{"sip:bad..name", sipdns.Query{}, sipdns.ErrBadName},
		{"tel:+4930123", sipdns.Query{}, sipdns.ErrBadScheme},
	} {
		u, err := sipmsg.ParseURI(tc.uri)
		if err != nil {
			t.Fatalf("%s: %v", tc.uri, err)
		}
		q, err := sipdns.QueryFor(u)
		if !errors.Is(err, tc.err) || (err == nil && q != tc.want) {
			t.Errorf("QueryFor(%s) = %+v, %v; want %+v, %v", tc.uri, q, err, tc.want, tc.err)
		}
	}
}

// clock is a settable clock for cache tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestCache: answers are kept for their TTL (no question asked again
// within it; Cached answers without I/O), negative answers for the SOA's
// negative TTL (RFC 2308), failures for ErrorTTL; a TTL of 0 is not kept.
func TestCache(t *testing.T) {
	srv := dnstest.Serve(t, "test", zone)
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r := newResolver(t, srv, clk.Now)
	ctx := context.Background()
	pbx := query(t, "sip:pbx.test")
	if _, _, ok := r.Cached(pbx); ok {
		t.Fatal("Cached answered before anything was asked")
	}
	if _, err := r.Resolve(ctx, pbx); err != nil {
		t.Fatal(err)
	}
	asked := srv.Total()
	ts, err, ok := r.Cached(pbx)
	if !ok || err != nil || len(ts) != 3 {
		t.Fatalf("Cached after Resolve: %s, %v, %v", targets(ts), err, ok)
	}
	if _, err := r.Resolve(ctx, pbx); err != nil || srv.Total() != asked {
		t.Errorf("second Resolve within the TTL asked %d questions (err %v); want none", srv.Total()-asked, err)
	}
	clk.Add(61 * time.Second) // $TTL 60
	if _, _, ok := r.Cached(pbx); ok {
		t.Error("Cached answered after the TTL")
	}
	if _, err := r.Resolve(ctx, pbx); err != nil || srv.Queries("NAPTR", "pbx.test") != 2 {
		t.Errorf("after the TTL: NAPTR asked %d times, want 2 (err %v)", srv.Queries("NAPTR", "pbx.test"), err)
	}

	// NXDOMAIN: kept for min(SOA TTL 60, MINIMUM 30) = 30s.
	missing := query(t, "sip:missing.test")
	for range 3 {
		if _, err := r.Resolve(ctx, missing); !errors.Is(err, sipdns.ErrNXDomain) {
			t.Fatalf("missing.test: %v", err)
		}
	}
	if n := srv.Queries("NAPTR", "missing.test"); n != 1 {
		t.Errorf("NXDOMAIN asked %d times within its negative TTL; want 1", n)
	}
	clk.Add(31 * time.Second)
	_, _ = r.Resolve(ctx, missing)
	if n := srv.Queries("NAPTR", "missing.test"); n != 2 {
		t.Errorf("NXDOMAIN asked %d times after its negative TTL; want 2", n)
	}

	// TTL 0: asked every time.
	zero := query(t, "sip:zero.test:5060")
	for range 2 {
		if _, err := r.Resolve(ctx, zero); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Queries("A", "zero.test"); n != 2 {
		t.Errorf("a TTL of 0 was cached: asked %d times, want 2", n)
	}
	if _, _, ok := r.Cached(zero); ok {
		t.Error("Cached answered a name with TTL 0")
	}
}

// TestFailureCachedBriefly: a server failure is remembered for ErrorTTL
// only, then asked again.
func TestFailureCachedBriefly(t *testing.T) {
	srv := dnstest.Serve(t, "test", zone+"\nbroken IN A 127.0.0.7\n")
	srv.Fail("broken.test", dns.RcodeRefused)
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r := newResolver(t, srv, clk.Now, func(c *sipdns.Config) { c.ErrorTTL = 5 * time.Second })
	q := query(t, "sip:broken.test:5060")
	for range 3 {
		if _, err := r.Resolve(context.Background(), q); !errors.Is(err, sipdns.ErrServer) {
			t.Fatalf("broken.test: %v", err)
		}
	}
	first := srv.Queries("A", "broken.test")
	clk.Add(6 * time.Second)
	srv.Heal("broken.test")
	ts, err := r.Resolve(context.Background(), q)
	if err != nil || targets(ts) != "udp:127.0.0.7:5060" {
		t.Errorf("after ErrorTTL and the repair: %s, %v", targets(ts), err)
	}
	if srv.Queries("A", "broken.test") == first {
		t.Error("the failure was kept longer than ErrorTTL")
	}
}

// TestOneQueryInFlight: callers resolving the same name at once share
// one query, even when the server never answers.
func TestOneQueryInFlight(t *testing.T) {
	srv := dnstest.Serve(t, "test", zone)
	srv.Drop("a2.pbx.test")
	r := newResolver(t, srv, nil, func(c *sipdns.Config) { c.Timeout = 300 * time.Millisecond })
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := r.Resolve(context.Background(), query(t, "sip:a2.pbx.test:5060")); !errors.Is(err, sipdns.ErrTimeout) {
				t.Errorf("dropped name: %v", err)
			}
		})
	}
	wg.Wait()
	// One flight: at most its two attempts (twice round one server).
	if n := srv.Queries("A", "a2.pbx.test"); n > 2 {
		t.Errorf("20 concurrent resolutions asked %d questions; want one flight (<= 2 attempts)", n)
	}
}

// TestTruncatedAnswerOverTCP: a truncated UDP answer is asked again
// over TCP.
func TestTruncatedAnswerOverTCP(t *testing.T) {
	srv := dnstest.Serve(t, "test", zone)
	srv.Truncate(true)
	r := newResolver(t, srv, nil)
	ts, err := r.Resolve(context.Background(), query(t, "sip:pbx.test"))
	if err != nil || targets(ts) != "udp:127.0.0.2:5070 udp:127.0.0.3:5080 tls:127.0.0.2:5071" {
		t.Errorf("over TCP: %s, %v", targets(ts), err)
	}
}

// TestHostsFileAndIPv6: the hosts file answers first; AAAA records are
// used only when IPv6 is on, after the A records.
func TestHostsFileAndIPv6(t *testing.T) {
	srv := dnstest.Serve(t, "test", zone)
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("# comment\n127.0.0.9 pbx-local pbx-local.test # trailing\n::1 pbx-local\nnot-an-address x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, srv, nil, func(c *sipdns.Config) { c.Hosts = hosts })
	ts, err := r.Resolve(context.Background(), query(t, "sip:pbx-local.test:5060"))
	if err != nil || targets(ts) != "udp:127.0.0.9:5060" || srv.Total() != 0 {
		t.Errorf("hosts file: %s, %v (%d questions asked)", targets(ts), err, srv.Total())
	}
	r6 := newResolver(t, srv, nil, func(c *sipdns.Config) { c.IPv6 = true })
	ts, err = r6.Resolve(context.Background(), query(t, "sip:plain.test"))
	if err != nil || targets(ts) != "udp:127.0.0.4:5060 udp:[::1]:5060" {
		t.Errorf("IPv6 on: %s, %v", targets(ts), err)
	}
}

// TestBusy: past MaxInFlight queries, a lookup fails at once.
func TestBusy(t *testing.T) {
	srv := dnstest.Serve(t, "test", zone)
	srv.Drop("a1.pbx.test")
	r := newResolver(t, srv, nil, func(c *sipdns.Config) { c.MaxInFlight = 1; c.Timeout = time.Second })
	done := make(chan error, 1)
	go func() {
		_, err := r.Resolve(context.Background(), query(t, "sip:a1.pbx.test:5060"))
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Queries("A", "a1.pbx.test") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := r.Resolve(context.Background(), query(t, "sip:a2.pbx.test:5060")); !errors.Is(err, sipdns.ErrBusy) || !sipdns.Temporary(err) {
		t.Errorf("second lookup while one is in flight with MaxInFlight 1: %v; want ErrBusy", err)
	}
	if err := <-done; !errors.Is(err, sipdns.ErrTimeout) {
		t.Errorf("dropped name: %v", err)
	}
}

// TestNoServers: without a DNS server, names fail with ErrNoServers and
// IP addresses still resolve.
func TestNoServers(t *testing.T) {
	r, err := sipdns.New(sipdns.Config{ResolvConf: filepath.Join(t.TempDir(), "none"), Hosts: "-"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(context.Background(), query(t, "sip:pbx.test")); !errors.Is(err, sipdns.ErrNoServers) {
		t.Errorf("no servers: %v", err)
	}
	if ts, err := r.Resolve(context.Background(), query(t, "sip:192.0.2.1")); err != nil || targets(ts) != "udp:192.0.2.1:5060" {
		t.Errorf("IP address without servers: %s, %v", targets(ts), err)
	}
	for _, bad := range []string{"dns.example.com", "127.0.0.1:0", "1.2.3.4:x"} {
		if _, err := sipdns.New(sipdns.Config{Servers: []string{bad}}); err == nil {
			t.Errorf("server %q accepted", bad)
		}
	}
}
