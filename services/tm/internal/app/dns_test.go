package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipdns/dnstest"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// dnsZone is a zone on a real DNS server on loopback: pbx.test reached
// through NAPTR and SRV at two targets (a1 first by priority, then a2),
// and names that cannot be resolved.
const dnsZone = `
$TTL 300
@              IN SOA   ns.test. hostmaster.test. 1 60 60 60 30
pbx            IN NAPTR 10 10 "s" "SIP+D2U" "" _sip._udp.pbx.test.
_sip._udp.pbx  IN SRV   10 0 5070 a1.pbx.test.
_sip._udp.pbx  IN SRV   20 0 5080 a2.pbx.test.
a1.pbx         IN A     127.0.0.2
a2.pbx         IN A     127.0.0.3
loop1          IN CNAME loop2.test.
loop2          IN CNAME loop1.test.
silent         IN A     127.0.0.9
`

const relayPBX = `routes:
  - match: {method: [INVITE, MESSAGE]}
    relay: sip:pbx.test
`

// pendingLookup is a lookup the engine started, run by the test.
type pendingLookup struct {
	ck   string
	q    sipdns.Query
	done func(context.Context, []sipdns.Target, error) error
}

type lookups struct{ h *harness }

func (l lookups) Lookup(ck string, q sipdns.Query, done func(context.Context, []sipdns.Target, error) error) {
	l.h.pending = append(l.h.pending, pendingLookup{ck, q, done})
}

// newDNSHarness is a harness whose engine resolves next hops with a real
// resolver asking srv; lookups wait for h.resolve.
func newDNSHarness(t *testing.T, table string, srv *dnstest.Server) *harness {
	t.Helper()
	h := newHarness(t, table, bob)
	res, err := sipdns.New(sipdns.Config{Servers: []string{srv.Addr}, Timeout: 500 * time.Millisecond, Now: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	h.dns = res
	h.e = h.engine()
	return h
}

// engine is a new engine (a replica) on the harness's store and resolver.
func (h *harness) engine() *Engine {
	return NewEngine(Config{Advertise: proxyAddr, Domains: []string{"example.com"}, NoAnswer: 10 * time.Second}, Deps{
		Records: h.st, Commit: apply{h.st}, Sched: sched{h}, Send: sender{h}, Emit: emitter{h},
		Locate: bob, Routes: h.e.d.Routes, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return h.now },
		DNS: h.dns, Lookups: lookups{h},
	})
}

// resolve runs the lookups the engine started, as ports.Input does: the
// resolution, then the result on the call's lane. It returns how many ran.
func (h *harness) resolve() int {
	h.t.Helper()
	n := 0
	for len(h.pending) > 0 {
		p := h.pending[0]
		h.pending = h.pending[1:]
		ts, err := h.dns.Resolve(h.ctx(), p.q)
		if err := p.done(h.ctx(), ts, err); err != nil {
			h.t.Fatalf("lookup of %s: %v", p.q, err)
		}
		n++
	}
	return n
}

// sentDests lists the methods or statuses sent since the last take, each
// with its destination.
func (h *harness) sentDests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, s := range h.sent {
		m, err := sipmsg.Parse(s.Raw, sipmsg.Datagram)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, status(m)+" "+s.Dest)
	}
	return out
}

// A relay to sip:pbx.test: the first call looks the name up off the lane
// (nothing is sent before the answer), then goes to the first SRV target,
// the record keeping the other for failover; a second call finds the
// name in the resolver's cache and is sent at once.
func TestRelayResolvesNAPTRAndSRV(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	in := h.request(invite(70, "sip:bob@example.com"))
	if sent := h.take(); len(sent) != 0 || len(h.pending) != 1 {
		t.Fatalf("before the lookup: %d sent, %d lookups; want nothing sent, one lookup", len(sent), len(h.pending))
	}
	if p := h.record(in.CallKey, ptxID(in.TxKey)); len(p.Branches) != 1 || !p.Branches[0].Resolving {
		t.Fatalf("the record does not hold the resolving branch: %+v", p.Branches)
	}
	h.resolve()
	if got := strings.Join(h.sentDests(), ","); got != "INVITE udp:127.0.0.2:5070" {
		t.Fatalf("after the lookup sent %s; want the INVITE to the first SRV target", got)
	}
	req := only(t, h.take(), "INVITE")
	if v := mustTopVia(t, req); v.Transport != "UDP" || req.Str(req.RequestURI) != "sip:bob@example.com" {
		t.Errorf("INVITE via %s, Request-URI %s; want UDP and the URI unchanged (a next hop, not a target)", v.Transport, req.Str(req.RequestURI))
	}
	h.fire(50 * time.Millisecond) // the coalesced write
	p := h.record(in.CallKey, ptxID(in.TxKey))
	if b := p.Branches[0]; b.Resolving || b.Hop.dest() != "udp:127.0.0.2:5070" || len(b.Alt) != 1 || b.Alt[0].dest() != "udp:127.0.0.3:5080" {
		t.Errorf("record branch: hop %s, alternatives %v, resolving %v", b.Hop.dest(), b.Alt, b.Resolving)
	}
	for _, q := range []string{"NAPTR pbx.test", "SRV _sip._udp.pbx.test", "A a1.pbx.test", "A a2.pbx.test"} {
		typ, name, _ := strings.Cut(q, " ")
		if srv.Queries(typ, name) != 1 {
			t.Errorf("%s asked %d times, want once", q, srv.Queries(typ, name))
		}
	}

	h.request(invite(71, "sip:bob@example.com"))
	if got := strings.Join(h.sentDests(), ","); got != "INVITE udp:127.0.0.2:5070" || len(h.pending) != 0 {
		t.Errorf("second call: sent %s with %d lookups; want the INVITE at once from the cache", got, len(h.pending))
	}
}

// RFC 3263 §4.3: a 503 from the first target moves to the next, as a new
// client transaction (a new branch parameter); its 200 goes upstream.
func TestFailoverOn503(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	h.request(invite(72, "sip:bob@example.com"))
	h.resolve()
	first := only(t, h.take(), "INVITE")
	h.respond(first, 503, "pbx1")
	if got := strings.Join(h.sentDests(), ","); got != "ACK udp:127.0.0.2:5070,INVITE udp:127.0.0.3:5080" {
		t.Fatalf("after the 503 sent %s; want the ACK to the first target and the INVITE to the second", got)
	}
	var second *sipmsg.Msg
	for _, m := range h.take() {
		if status(m) == "INVITE" {
			second = m
		}
	}
	b1, b2 := mustTopVia(t, first).Branch, mustTopVia(t, second).Branch
	if b1 == b2 || !strings.HasSuffix(b1, ".0") || !strings.HasSuffix(b2, ".1") {
		t.Errorf("branches %s and %s; want a new branch for the new target", b1, b2)
	}
	h.respond(second, 200, "pbx2")
	if m := only(t, h.take(), "200 upstream"); m.StatusCode != 200 {
		t.Errorf("sent %s upstream, want 200", status(m))
	}
}

// When every target answers 503, the caller gets 500 (RFC 3261 §16.7
// step 6); a target that does not answer counts as 408.
func TestEveryTargetFails(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	h.request(invite(73, "sip:bob@example.com"))
	h.resolve()
	h.respond(only(t, h.take(), "INVITE"), 503, "pbx1")
	var second *sipmsg.Msg
	for _, m := range h.take() {
		if status(m) == "INVITE" {
			second = m
		}
	}
	h.respond(second, 503, "pbx2")
	if got := strings.Join(h.sentDests(), ","); got != "ACK udp:127.0.0.3:5080,500 udp:198.51.100.7:5060" {
		t.Errorf("after both 503s sent %s; want ACK, 500 upstream", got)
	}
	h.take()
	if got := h.terminal(); strings.Join(got, ",") != "missed:error:500" {
		t.Errorf("terminal events %v", got)
	}
}

// A target that sends nothing at all: after FailoverTimeout (5s) the
// branch stops retransmitting and the next target is tried, long before
// Timer B (32s).
func TestFailoverOnNoResponse(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	h.request(invite(74, "sip:bob@example.com"))
	h.resolve()
	h.take()
	for _, d := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		h.fire(d) // Timer A: 0.5, 1.5, 3.5 s
	}
	if got := h.sentDests(); len(got) != 3 || got[0] != "INVITE udp:127.0.0.2:5070" {
		t.Fatalf("retransmissions before failover: %v", got)
	}
	h.take()
	if got := h.fire(1500 * time.Millisecond); !strings.Contains(strings.Join(got, ","), "fr") {
		t.Fatalf("timers at 5s: %v; want the failover timer", got)
	}
	if got := strings.Join(h.sentDests(), ","); got != "INVITE udp:127.0.0.3:5080" {
		t.Fatalf("at 5s sent %s; want the INVITE to the second target only", got)
	}
	second := only(t, h.take(), "INVITE")
	h.fire(2 * time.Second)
	for _, d := range h.sentDests() {
		if d != "INVITE udp:127.0.0.3:5080" {
			t.Errorf("after failover sent %s: the first target must be left alone", d)
		}
	}
	h.take()
	h.respond(second, 180, "pbx2")
	h.respond(second, 200, "pbx2")
	var got []string
	for _, m := range h.take() {
		got = append(got, status(m))
	}
	if strings.Join(got, ",") != "180,200" {
		t.Errorf("upstream %v; want 180, 200", got)
	}
}

// Without the failover timer, Timer B (64*T1) of the first target's
// transaction moves to the next (RFC 3263 §4.3: a transaction timeout).
func TestFailoverOnTimerB(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	h.e.cfg.FailoverTimeout = -1
	h.request(invite(75, "sip:bob@example.com"))
	h.resolve()
	h.take()
	h.fire(31 * time.Second)
	h.take()
	if got := h.fire(time.Second); !strings.Contains(strings.Join(got, ","), "B") {
		t.Fatalf("timers at 32s: %v; want B", got)
	}
	if got := strings.Join(h.sentDests(), ","); got != "INVITE udp:127.0.0.3:5080" {
		t.Errorf("after Timer B sent %s; want the INVITE to the second target", got)
	}
}

// The record holds the targets not tried yet: a replica that takes the
// partition over continues the failover.
func TestTakeoverContinuesFailover(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	h.request(invite(76, "sip:bob@example.com"))
	h.resolve()
	first := only(t, h.take(), "INVITE")
	h.fire(50 * time.Millisecond)
	// Replica B: nothing in memory, and its resolver knows nothing.
	res, err := sipdns.New(sipdns.Config{Servers: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	h.dns = res
	h.e = h.engine()
	asked := srv.Total()
	h.respond(first, 503, "pbx1")
	if got := strings.Join(h.sentDests(), ","); got != "ACK udp:127.0.0.2:5070,INVITE udp:127.0.0.3:5080" {
		t.Errorf("replica B sent %s; want the failover to the second target", got)
	}
	if srv.Total() != asked || len(h.pending) != 0 {
		t.Errorf("replica B asked DNS again (%d questions, %d lookups): the record holds the targets", srv.Total()-asked, len(h.pending))
	}
}

// A lookup lost with the replica that ran it: the new owner's timer
// starts it again, and the request goes out.
func TestLookupLostIsStartedAgain(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	h.request(invite(77, "sip:bob@example.com"))
	h.pending = nil // the replica died with its lookup
	h.e = h.engine()
	if got := h.fire(3 * time.Second); strings.Join(got, ",") != "dns" {
		t.Fatalf("timers: %v; want the lookup timer", got)
	}
	if h.resolve() != 1 {
		t.Fatal("the lookup was not started again")
	}
	if got := strings.Join(h.sentDests(), ","); got != "INVITE udp:127.0.0.2:5070" {
		t.Errorf("sent %s", got)
	}
}

// A CANCEL while the next hop is still being resolved: the branch ends
// at once (nothing was sent), 487 goes upstream, and the lookup's answer
// sends nothing.
func TestCancelWhileResolving(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	h.request(invite(78, "sip:bob@example.com"))
	h.request(strings.Replace(strings.Replace(invite(78, "sip:bob@example.com"), "INVITE sip", "CANCEL sip", 1), "1 INVITE", "1 CANCEL", 1))
	var got []string
	for _, m := range h.take() {
		got = append(got, status(m))
	}
	if strings.Join(got, ",") != "487,200" && strings.Join(got, ",") != "200,487" {
		t.Errorf("on CANCEL sent %v; want 487 upstream and 200 for the CANCEL", got)
	}
	h.resolve()
	if sent := h.take(); len(sent) != 0 {
		t.Errorf("after the lookup of a cancelled branch sent %s", status(sent[0]))
	}
}

// A next hop that cannot be resolved answers the caller with a status
// whose reason names the problem, and the call is missed.
func TestUnresolvableNextHop(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	srv.Drop("silent.test")
	for _, tc := range []struct {
		host string
		want string
	}{
		{"missing.test", "502 DNS: no such domain missing.test"},
		{"loop1.test", "502 DNS: CNAME loop at loop1.test"},
		{"silent.test", "503 DNS: timeout resolving silent.test"},
		{"pbx.test;transport=sctp", "502 Bad next hop: transport not supported"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			h := newDNSHarness(t, "routes:\n  - relay: sip:"+tc.host+"\n", srv)
			h.request(invite(79, "sip:bob@example.com"))
			h.resolve()
			m := only(t, h.take(), "answer upstream")
			if got := fmt.Sprintf("%d %s", m.StatusCode, m.Str(m.Reason)); got != tc.want {
				t.Errorf("answered %q; want %q", got, tc.want)
			}
			code := tc.want[:3]
			if got := h.terminal(); strings.Join(got, ",") != "missed:error:"+code {
				t.Errorf("terminal events %v", got)
			}
			// A second call meets the cached failure: the same answer at
			// once, without a lookup.
			h.request(invite(80, "sip:bob@example.com"))
			if len(h.pending) != 0 {
				t.Errorf("the failure was not cached: %d lookups", len(h.pending))
			}
			h.resolve()
			if m := only(t, h.take(), "second answer"); fmt.Sprintf("%d %s", m.StatusCode, m.Str(m.Reason)) != tc.want {
				t.Errorf("second call answered %d %s", m.StatusCode, m.Str(m.Reason))
			}
		})
	}
}

// An ACK for 2xx is forwarded statelessly along its Route, resolved
// through DNS like any request.
func TestACKForwardedThroughDNS(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	ack := strings.NewReplacer("INVITE sip:bob@example.com", "ACK sip:bob@203.0.113.5", "1 INVITE", "1 ACK",
		"To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=x", "Max-Forwards: 70", "Route: <sip:"+proxyAddr+";lr>, <sip:pbx.test;lr>\nMax-Forwards: 70").Replace(invite(81, "sip:bob@example.com"))
	h.request(ack)
	if len(h.sent) != 0 || h.resolve() != 1 {
		t.Fatalf("ACK: %d sent before the lookup", len(h.sent))
	}
	if got := strings.Join(h.sentDests(), ","); got != "ACK udp:127.0.0.2:5070" {
		t.Errorf("ACK sent %s; want it to the first target of pbx.test", got)
	}
	h.take()
	h.request(ack) // a retransmission: from the cache, the same target
	if got := strings.Join(h.sentDests(), ","); got != "ACK udp:127.0.0.2:5070" {
		t.Errorf("retransmitted ACK sent %s", got)
	}
}

// A target that sent nothing is passed over for a minute: the next call
// goes to the second target first (the first is still tried last); after
// the minute the first is first again. A 503 with Retry-After passes its
// target over for that long.
func TestDeadTargetPassedOver(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	h.request(invite(82, "sip:bob@example.com"))
	h.resolve()
	h.take()
	h.fire(5 * time.Second) // failover timer: a1 sent nothing
	h.take()
	in := h.request(invite(83, "sip:bob@example.com"))
	if got := strings.Join(h.sentDests(), ","); got != "INVITE udp:127.0.0.3:5080" {
		t.Fatalf("next call sent %s; want the second target first", got)
	}
	p := h.e.cache.get(cacheKey(in.CallKey, ptxID(in.TxKey))).p
	if alt := p.Branches[0].Alt; len(alt) != 1 || alt[0].dest() != "udp:127.0.0.2:5070" {
		t.Errorf("alternatives %v; want the target that is down, last", alt)
	}
	h.take()
	h.now = h.now.Add(time.Minute)
	h.request(invite(84, "sip:bob@example.com"))
	if got := strings.Join(h.sentDests(), ","); got != "INVITE udp:127.0.0.2:5070" {
		t.Fatalf("a minute later sent %s; want the first target again", got)
	}
	req := only(t, h.take(), "INVITE")
	// 503 with Retry-After: 20.
	raw := sipmsg.Reply(req, 503, "", sipmsg.ReplyOptions{ToTag: "x", Headers: []string{"Retry-After: 20 (maintenance)"}})
	m, err := sipmsg.Parse(raw, sipmsg.Datagram)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.e.Response(h.ctx(), &Inbound{Msg: m, CallKey: sipmsg.CallKey(m.CallID())}); err != nil {
		t.Fatal(err)
	}
	h.take()
	h.now = h.now.Add(10 * time.Second)
	h.request(invite(85, "sip:bob@example.com"))
	if got := strings.Join(h.sentDests(), ","); got != "INVITE udp:127.0.0.3:5080" {
		t.Errorf("within Retry-After sent %s; want the second target first", got)
	}
	h.take()
	h.now = h.now.Add(11 * time.Second)
	h.request(invite(86, "sip:bob@example.com"))
	if got := strings.Join(h.sentDests(), ","); got != "INVITE udp:127.0.0.2:5070" {
		t.Errorf("after Retry-After sent %s; want the first target again", got)
	}
}

// A non-INVITE gets no 100 Trying (RFC 4320): silence does not tell a
// dead target from a slow one, so it fails over at Timer F, not after
// the failover timeout (which would deliver it twice).
func TestNonInviteFailsOverAtTimerF(t *testing.T) {
	srv := dnstest.Serve(t, "test", dnsZone)
	h := newDNSHarness(t, relayPBX, srv)
	msg := strings.NewReplacer("INVITE sip:", "MESSAGE sip:", "1 INVITE", "1 MESSAGE").Replace(invite(87, "sip:bob@example.com"))
	h.request(msg)
	h.resolve()
	h.take()
	for _, d := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second} {
		h.fire(d) // Timer E: 0.5, 1.5, 3.5, 7.5 s
	}
	for _, d := range h.sentDests() {
		if d != "MESSAGE udp:127.0.0.2:5070" {
			t.Fatalf("within 7.5s sent %s; want only retransmissions to the first target", d)
		}
	}
	h.take()
	elapsed := 7500 * time.Millisecond
	for elapsed < 40*time.Second {
		h.fire(4 * time.Second) // Timer E every T2; Timer F at 32s
		elapsed += 4 * time.Second
		for _, d := range h.sentDests() {
			if d == "MESSAGE udp:127.0.0.3:5080" {
				if elapsed < 32*time.Second {
					t.Fatalf("the MESSAGE went to the second target after %v; want Timer F (32s)", elapsed)
				}
				return
			}
		}
		h.take()
	}
	t.Error("the MESSAGE never went to the second target")
}
