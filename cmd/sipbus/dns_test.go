package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipdns/dnstest"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestRelayThroughDNS runs `sipbus up --resolver` against a real DNS
// server on loopback: relay routes to sip:pbx.test and sip:pbx503.test
// resolve through NAPTR and SRV (RFC 3263) to two targets each, and the
// calls fail over to the second target when the first does not answer at
// all (a port where nothing listens) or answers 503. SIPp is caller and
// callees. A next hop DNS cannot resolve gets a SIP error naming the
// problem, and a missed call.
func TestRelayThroughDNS(t *testing.T) {
	sippPath(t)
	sipPort, natsPort := testenv.FreePort(t, "udp"), testenv.FreePort(t, "tcp")
	dead := testenv.FreePort(t, "udp") // nothing listens there
	ports := map[string]int{}
	for _, n := range []string{"uas", "unavailable", "uac"} {
		ports[n] = testenv.FreePort(t, "udp")
	}
	srv := dnstest.Serve(t, "test", fmt.Sprintf(`
$TTL 300
@                 IN SOA   ns.test. hostmaster.test. 1 60 60 60 30
pbx               IN NAPTR 10 10 "s" "SIP+D2U" "" _sip._udp.pbx.test.
pbx               IN NAPTR 20 10 "s" "SIP+D2T" "" _sip._tcp.pbx.test.
_sip._udp.pbx     IN SRV   10 0 %[1]d a1.pbx.test.
_sip._udp.pbx     IN SRV   20 0 %[2]d a2.pbx.test.
a1.pbx            IN A     127.0.0.1
a2.pbx            IN A     127.0.0.1
pbx503            IN NAPTR 10 10 "s" "SIP+D2U" "" _sip._udp.pbx503.test.
_sip._udp.pbx503  IN SRV   10 0 %[3]d a1.pbx.test.
_sip._udp.pbx503  IN SRV   20 0 %[2]d a2.pbx.test.
loop1             IN CNAME loop2.test.
loop2             IN CNAME loop1.test.
silent            IN A     127.0.0.1
`, dead, ports["uas"], ports["unavailable"]))
	srv.Drop("silent.test")
	routes := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(routes, []byte(`routes:
  - match: {method: INVITE, user: pbx}
    relay: sip:pbx.test
  - match: {method: INVITE, user: pbx503}
    relay: sip:pbx503.test
  - match: {method: INVITE, user: nowhere}
    relay: sip:missing.test
  - match: {method: INVITE, user: loop}
    relay: sip:loop1.test
  - match: {method: INVITE, user: slow}
    relay: sip:silent.test
  - reply: {code: 403, reason: Relaying denied}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "up", "--sip", fmt.Sprintf("127.0.0.1:%d", sipPort), "--data", t.TempDir(),
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort), "--log-level", "warn",
		"--routes", routes, "--resolver", srv.Addr)
	if line := p.waitLine(t, "  tm ", 30*time.Second); !strings.Contains(line, "dns "+srv.Addr) {
		t.Errorf("tm line %q does not name the resolver %s", line, srv.Addr)
	}
	p.waitLine(t, "ready", 30*time.Second)
	calls := watchCalls(t, fmt.Sprintf("nats://127.0.0.1:%d", natsPort))
	invites := watchInvites(t, fmt.Sprintf("nats://127.0.0.1:%d", natsPort))
	proxy := fmt.Sprintf("127.0.0.1:%d", sipPort)
	expect := func(t *testing.T, marker string, n int, want string) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, func() bool {
			_, terms, _ := calls.terminals(marker)
			return terms[want] >= n
		}, "terminal events for %s: want %d × %s", marker, n, want)
		if got, terms, _ := calls.terminals(marker); got != n || len(terms) != 1 {
			t.Errorf("%s: %d calls, terminal events %v; want %d × %s", marker, got, terms, n, want)
		}
	}
	uac := func(t *testing.T, user string, n int) *sipp {
		return runSIPp(t, "uac "+user, "uac.xml", proxy, "-p", strconv.Itoa(ports["uac"]), "-s", user,
			"-key", "domain", "localhost", "-m", strconv.Itoa(n), "-r", "10", "-cid_str", "dns-"+user+"-%u-%p@[local_ip]")
	}

	t.Run("first SRV target does not answer: failover", func(t *testing.T) {
		uas := runSIPp(t, "uas", "uas.xml", "-p", strconv.Itoa(ports["uas"]))
		uac(t, "pbx", 2).wait(t, 60*time.Second)
		expect(t, "dns-pbx-", 2, "ended:caller")
		invites.check(t, "dns-pbx-", 2, fmt.Sprintf("udp:127.0.0.1:%d", dead), fmt.Sprintf("udp:127.0.0.1:%d", ports["uas"]), "")
		// The target that sent nothing is now passed over: the next call
		// goes to the second target at once.
		uac(t, "pbx", 1).wait(t, 30*time.Second)
		uas.stopClean(t)
		expect(t, "dns-pbx-", 3, "ended:caller")
		invites.check(t, "dns-pbx-", 3, fmt.Sprintf("udp:127.0.0.1:%d", dead), fmt.Sprintf("udp:127.0.0.1:%d", ports["uas"]),
			fmt.Sprintf("udp:127.0.0.1:%d", ports["uas"]))
	})
	t.Run("first SRV target answers 503: failover", func(t *testing.T) {
		down := runSIPp(t, "uas 503", "uas_503.xml", "-p", strconv.Itoa(ports["unavailable"]))
		uas := runSIPp(t, "uas", "uas.xml", "-p", strconv.Itoa(ports["uas"]))
		uac(t, "pbx503", 3).wait(t, 60*time.Second)
		uas.stopClean(t)
		down.stopClean(t)
		expect(t, "dns-pbx503-", 3, "ended:caller")
		invites.check(t, "dns-pbx503-", 3, fmt.Sprintf("udp:127.0.0.1:%d", ports["unavailable"]), fmt.Sprintf("udp:127.0.0.1:%d", ports["uas"]), "")
	})
	t.Run("unresolvable next hops", func(t *testing.T) {
		caller := newUA(t)
		for i, tc := range []struct{ user, want string }{
			{"nowhere", "502 DNS: no such domain missing.test"},
			{"loop", "502 DNS: CNAME loop at loop1.test"},
			{"slow", "503 DNS: timeout resolving silent.test"},
		} {
			callID := fmt.Sprintf("dns-bad-%d@test", i)
			caller.send(proxy, fmt.Sprintf(`INVITE sip:%s@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-dns-%d;rport
From: <sip:alice@localhost>;tag=a%d
To: <sip:%s@localhost>
Call-ID: %s
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, tc.user, caller.addr, i, i, tc.user, callID, caller.addr))
			m := caller.recv(10*time.Second, func(m *sipmsg.Msg) bool { return !m.Request && m.StatusCode >= 200 && m.CallID() == callID })
			if m == nil {
				t.Fatalf("%s: no final answer", tc.user)
			}
			to := m.Value(sipmsg.HTo)
			caller.send(proxy, fmt.Sprintf(`ACK sip:%s@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-dns-%d;rport
From: <sip:alice@localhost>;tag=a%d
To: %s
Call-ID: %s
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

`, tc.user, caller.addr, i, i, to, callID))
			if got := fmt.Sprintf("%d %s", m.StatusCode, m.Str(m.Reason)); got != tc.want {
				t.Errorf("%s: answered %q; want %q", tc.user, got, tc.want)
			}
			expect(t, callID, 1, "missed:error:"+tc.want[:3])
		}
	})
	// Each failure has its log line, naming the name and the fault.
	for _, want := range []string{
		`next_hop=sip:missing.test err="sipdns: no such domain for missing.test NAPTR"`,
		`next_hop=sip:loop1.test err="sipdns: CNAME loop for loop1.test NAPTR"`,
		`next_hop=sip:silent.test err="sipdns: timeout (no answer from ` + srv.Addr + `) for silent.test NAPTR"`,
	} {
		if !strings.Contains(p.stderrString(), want) {
			t.Errorf("no log line with %s; stderr:\n%s", want, p.stderrString())
		}
	}
}

// inviteLog records where tm sent INVITEs (the sip.out events), per
// Call-ID, each destination once, in order.
type inviteLog struct {
	mu    sync.Mutex
	dests map[string][]string
}

func watchInvites(t *testing.T, natsURL string) *inviteLog {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := &inviteLog{dests: map[string][]string{}}
	_, err = nc.Subscribe("sip.*.out.*.req.INVITE", func(m *nats.Msg) {
		s, err := events.DecodeSIP(m)
		if err != nil {
			t.Errorf("sent INVITE event on %s: %v", m.Subject, err)
			return
		}
		req, err := sipmsg.Parse(s.Raw, sipmsg.Datagram)
		if err != nil {
			t.Errorf("sent INVITE: %v", err)
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if ds := l.dests[req.CallID()]; len(ds) == 0 || ds[len(ds)-1] != s.Dest {
			l.dests[req.CallID()] = append(ds, s.Dest)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

// check: n calls whose Call-ID contains marker; each went to first,
// then (a new client transaction) to second, except one that went to
// direct alone (the first target passed over), when direct is set.
func (l *inviteLog) check(t *testing.T, marker string, n int, first, second, direct string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	calls, directs := 0, 0
	for id, ds := range l.dests {
		if !strings.Contains(id, marker) {
			continue
		}
		calls++
		switch got := strings.Join(ds, " "); {
		case got == first+" "+second:
		case direct != "" && got == direct && directs == 0:
			directs++
		default:
			t.Errorf("call %s: INVITEs sent to %v; want %s, then %s", id, ds, first, second)
		}
	}
	if calls != n || (direct != "" && directs != 1) {
		t.Errorf("%s: INVITEs of %d calls seen (%d straight to %s); want %d", marker, calls, directs, direct, n)
	}
}
