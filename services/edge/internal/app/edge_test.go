package app

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// fake is the core's ports: what it sends and publishes, and a clock.
type fake struct {
	mu   sync.Mutex
	sent []string
	pub  []*nats.Msg
	now  time.Time
	// during, when set, runs once inside the next Send, as if a datagram
	// arrived while that one was being written.
	during func()
}

func (f *fake) Send(_ context.Context, d Dest, b []byte) (Dest, error) {
	f.mu.Lock()
	f.sent = append(f.sent, string(b))
	during := f.during
	f.during = nil
	f.mu.Unlock()
	if during != nil {
		during()
	}
	return d, nil
}

func (f *fake) PublishMsg(_ context.Context, m *nats.Msg) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pub = append(f.pub, m)
	return nil
}

func (f *fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fake) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// take returns and forgets the status codes (or methods) sent.
func (f *fake) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, raw := range f.sent {
		m, _ := sipmsg.Parse([]byte(raw), sipmsg.Datagram)
		if m.Request {
			out = append(out, m.Str(m.Method))
		} else {
			out = append(out, fmt.Sprint(m.StatusCode))
		}
	}
	f.sent = nil
	return out
}

func (f *fake) published() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pub)
}

func newCore(t *testing.T, opt Options) (*Edge, *fake) {
	f := &fake{now: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	opt.ID, opt.Source, opt.Now = "e1", "sipbus/edge/e1", f.Now
	if opt.T1 == 0 {
		opt.T1 = 20 * time.Millisecond
	}
	return New(opt, f, f, bus.NewIDs(), nil), f
}

var peer = netip.MustParseAddrPort("192.0.2.1:5070")

func (e *Edge) recv(f *fake, raw string, queued time.Duration) {
	e.Handle(context.Background(), &Packet{Transport: UDP, Local: netip.MustParseAddrPort("192.0.2.10:5060"),
		Remote: peer, Data: []byte(strings.ReplaceAll(raw, "\n", "\r\n")), At: f.Now(), Queued: queued})
}

func invite(branch string) string {
	return `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5070;branch=` + branch + `;rport
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: core-1@test
CSeq: 1 INVITE
Contact: <sip:alice@192.0.2.1:5070>
Content-Length: 0

`
}

// answer plays tm: it asks the edge to send a final response to the
// INVITE's server transaction.
func (e *Edge) answer(t *testing.T, branch string, code int) []byte {
	t.Helper()
	return e.final(t, invite(branch), code)
}

// final plays the service that answered request (written with "\n" line
// ends): it asks the edge to send a final response code to its server
// transaction, and returns the response.
func (e *Edge) final(t *testing.T, request string, code int) []byte {
	t.Helper()
	req, err := sipmsg.Parse([]byte(strings.ReplaceAll(request, "\n", "\r\n")), sipmsg.Datagram)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := sipmsg.ServerTxKey(req)
	raw := sipmsg.Reply(req, code, "", sipmsg.ReplyOptions{ToTag: "b1"})
	if err := e.Transmit(context.Background(), &events.SIP{Type: events.TypeMessageSent, ID: "x", Source: "sipbus/tm/t",
		CallKey: sipmsg.CallKey(req.CallID()), Raw: raw, Dest: "udp:" + peer.String(), TxKey: key}); err != nil {
		t.Fatal(err)
	}
	return raw
}

// A retransmission of the request that arrives while the final is being
// sent is answered with that final (it is remembered before it leaves),
// not with the 100 Trying it had before.
func TestRetransmissionDuringTheFinal(t *testing.T) {
	e, f := newCore(t, Options{})
	e.recv(f, invite("z9hG4bK-rd1"), 0)
	f.take()
	f.during = func() { e.recv(f, invite("z9hG4bK-rd1"), 0) }
	e.answer(t, "z9hG4bK-rd1", 486)
	if got := f.take(); strings.Join(got, ",") != "486,486" {
		t.Fatalf("sent %v, want the 486 and the 486 again for the retransmission", got)
	}
}

// RFC 3261 §17.2.1: a non-2xx final to INVITE over UDP is retransmitted,
// T1, 2*T1, ... (Timer G), until its ACK arrives; the ACK and its
// retransmissions are absorbed; the INVITE's retransmission gets the final.
func TestTimerGUntilACK(t *testing.T) {
	e, f := newCore(t, Options{})
	e.recv(f, invite("z9hG4bK-g1"), 0)
	if got := f.take(); strings.Join(got, ",") != "100" {
		t.Fatalf("sent %v, want 100 Trying", got)
	}
	e.answer(t, "z9hG4bK-g1", 486)
	f.take()
	deadline := time.Now().Add(2 * time.Second)
	for e.C.TimerG.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := e.C.TimerG.Load(); n < 2 {
		t.Fatalf("Timer G fired %d times in 2s with T1=20ms", n)
	}
	for _, s := range f.take() {
		if s != "486" {
			t.Fatalf("Timer G sent %s, want the 486", s)
		}
	}
	e.recv(f, invite("z9hG4bK-g1"), 0)
	if got := f.take(); strings.Join(got, ",") != "486" {
		t.Fatalf("INVITE retransmission answered %v, want the 486", got)
	}
	ack := strings.Replace(strings.Replace(invite("z9hG4bK-g1"), "INVITE sip", "ACK sip", 1), "1 INVITE", "1 ACK", 1)
	ack = strings.Replace(ack, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=b1", 1)
	before := f.published()
	e.recv(f, ack, 0)
	e.recv(f, ack, 0)
	if f.published() != before {
		t.Error("the ACK of a non-2xx final was published")
	}
	fired := e.C.TimerG.Load()
	time.Sleep(200 * time.Millisecond)
	if e.C.TimerG.Load() != fired {
		t.Error("Timer G went on after the ACK")
	}
	if e.C.Absorbed.Load() != 3 {
		t.Errorf("absorbed %d, want 3 (one INVITE, two ACKs)", e.C.Absorbed.Load())
	}
}

// A 2xx to INVITE ends the edge's part: retransmissions of the INVITE are
// absorbed without an answer (RFC 6026: the UAS core retransmits its 2xx),
// and the ACK of a 2xx is its own transaction: published.
func TestAcceptedAbsorbsWithoutResending(t *testing.T) {
	e, f := newCore(t, Options{})
	e.recv(f, invite("z9hG4bK-a1"), 0)
	e.answer(t, "z9hG4bK-a1", 200)
	f.take()
	e.recv(f, invite("z9hG4bK-a1"), 0)
	if got := f.take(); len(got) != 0 {
		t.Errorf("INVITE retransmission after 200 answered %v, want nothing", got)
	}
	n := f.published()
	ack := strings.Replace(strings.Replace(invite("z9hG4bK-ack2xx"), "INVITE sip", "ACK sip", 1), "1 INVITE", "1 ACK", 1)
	e.recv(f, ack, 0)
	if f.published() != n+1 {
		t.Error("the ACK of a 2xx was not published")
	}
}

// Transactions are forgotten when their time comes: T4 after a 2xx, 64*T1
// after a non-2xx final; the cache does not grow with time.
func TestTransactionsExpire(t *testing.T) {
	e, f := newCore(t, Options{T1: 500 * time.Millisecond, T4: 5 * time.Second})
	for i := range 10 {
		e.recv(f, strings.Replace(invite(fmt.Sprintf("z9hG4bK-x%d", i)), "core-1@test", fmt.Sprintf("x%d@test", i), 1), 0)
	}
	if n := e.cache.len(); n != 10 {
		t.Fatalf("%d transactions, want 10", n)
	}
	e.answer(t, "z9hG4bK-x0", 404) // the first one's final (the key is the branch's)
	e.answer(t, "z9hG4bK-x1", 200)
	f.advance(6 * time.Second)
	e.Expire()
	if n := e.cache.len(); n != 9 {
		t.Fatalf("after 6s: %d transactions, want 9: the answered one went after T4", n)
	}
	f.advance(27 * time.Second)
	e.Expire()
	if n := e.cache.len(); n != 8 {
		t.Fatalf("after 33s: %d transactions, want 8: the refused one went after 64*T1, the others ring on", n)
	}
	f.advance(5 * time.Minute)
	e.Expire()
	if n := e.cache.len(); n != 0 {
		t.Fatalf("after 5 minutes: %d transactions, want 0", n)
	}
}

// A non-INVITE answered here is remembered T4 after its final, not Timer
// J's 64*T1 (the registrar or tm that answered keeps that): within T4 a
// retransmission gets the final again and renews the T4, so a UA that keeps
// losing the final (retransmitting at most T2 = 4 s apart) keeps getting
// it here; a retransmission after T4 of quiet goes to the bus, whose
// replica answers it from its own record. At 7,500 REGISTER/s the 64*T1
// entries held ~1 kB per REGISTER for 37 s in `sipbus up`'s heap.
func TestCompletedNonInviteLife(t *testing.T) {
	e, f := newCore(t, Options{T1: 500 * time.Millisecond, T4: 5 * time.Second})
	register := `REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK-r1
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:alice@example.com>
Call-ID: reg-1@test
CSeq: 1 REGISTER
Contact: <sip:alice@192.0.2.1:5070>
Content-Length: 0

`
	e.recv(f, register, 0)
	e.final(t, register, 200)
	f.take()
	published := f.published()
	for i := range 3 { // 12 s of retransmissions 4 s apart: each renews T4
		f.advance(4 * time.Second)
		e.Expire()
		e.recv(f, register, 0)
		if got := f.take(); strings.Join(got, ",") != "200" {
			t.Fatalf("retransmission %d (%v after the final) answered %v, want the 200 again", i+1, time.Duration(i+1)*4*time.Second, got)
		}
	}
	if f.published() != published {
		t.Fatal("a retransmission within T4 of the last went to the bus")
	}
	f.advance(6 * time.Second)
	e.Expire()
	if n := e.cache.len(); n != 0 {
		t.Fatalf("%d transactions 6 s after the last retransmission, want 0 (T4 = 5 s)", n)
	}
	e.recv(f, register, 0)
	if got := f.take(); len(got) != 0 || f.published() != published+1 {
		t.Fatalf("a retransmission after T4 of quiet: sent %v and published %d, want nothing sent and it published", got, f.published()-published)
	}
}

// Admission: a standing queue in front of the workers (two intervals
// averaging above the target) limits new dialogs (503 with Retry-After), not
// responses or in-dialog requests; one short wait changes nothing; short
// waits end the signal, and plateauHold intervals later every new dialog
// passes again. Nothing answers here, so the served rate is nil and the
// limit sits at its floor: one new dialog an interval.
func TestAdmissionLocalQueue(t *testing.T) {
	e, f := newCore(t, Options{QueueTarget: 10 * time.Millisecond, QueueInterval: 50 * time.Millisecond})
	inv := func(i int, wait time.Duration) string {
		f.advance(10 * time.Millisecond)
		e.recv(f, strings.Replace(invite(fmt.Sprintf("z9hG4bK-q%d", i)), "core-1@test", fmt.Sprintf("q%d@test", i), 1), wait)
		return strings.Join(f.take(), ",")
	}
	for i := range 10 {
		if got := inv(i, 30*time.Millisecond); got != "100" {
			t.Fatalf("INVITE %d of a 30ms queue, %d ms in: sent %v, want 100 (one interval of it is a burst)", i, 10*(i+1), got)
		}
	}
	if got := inv(10, 30*time.Millisecond); got != "503" {
		t.Fatalf("after 110ms of a 30ms queue (two intervals): sent %v, want the INVITE refused with 503", got)
	}
	bye := strings.Replace(strings.Replace(invite("z9hG4bK-bye"), "INVITE sip", "BYE sip", 1), "1 INVITE", "2 BYE", 1)
	bye = strings.Replace(bye, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=b1", 1)
	n := f.published()
	e.recv(f, bye, 30*time.Millisecond)
	if f.published() != n+1 {
		t.Error("an in-dialog BYE was shed")
	}
	if got := inv(11, time.Millisecond); got != "503" {
		t.Errorf("one INVITE that waited 1ms got %v, want 503: one fast input does not end the overload", got)
	}
	// 100 new dialogs a second, none served: the floor lets one an
	// interval (20 a second) through, a fifth of them.
	passed := 0
	for i := 12; i < 32; i++ {
		if inv(i, 30*time.Millisecond) == "100" {
			passed++
		}
	}
	if passed < 3 || passed > 5 {
		t.Errorf("%d of 20 new dialogs passed the floor, want 4 (one an interval)", passed)
	}
	if !e.Shedding(ServiceTM) || e.Load(ServiceTM).Limit != 20 {
		t.Errorf("shedding %v at %v a second, want a limit of 20", e.Shedding(ServiceTM), e.Load(ServiceTM).Limit)
	}
	// Short waits end the signal; the gate opens plateauHold intervals
	// after (the limit grows meanwhile: some pass).
	for i := 32; i < 32+(plateauHold+3)*5; i++ {
		inv(i, time.Millisecond)
	}
	for i := 200; i < 210; i++ {
		if got := inv(i, time.Millisecond); got != "100" {
			t.Fatalf("%d intervals after the signal ended, INVITE %d got %v, want 100", plateauHold+3, i, got)
		}
	}
	if e.Shedding(ServiceTM) || e.Load(ServiceTM).Limit != 0 {
		t.Errorf("still limited at %v a second after the signal ended", e.Load(ServiceTM).Limit)
	}
	if n := e.C.Shed.Load(); n < 17 {
		t.Errorf("shed counted %d, want at least 17", n)
	}
}

// The limit counts as served the first response a service sends for a
// new dialog the edge let through, once: not the edge's own 100 Trying,
// not what follows (the final after a 180, a retransmitted final), not
// the answer to an in-dialog request.
func TestAdmissionServed(t *testing.T) {
	e, f := newCore(t, Options{})
	g := e.adm.gates[ServiceTM]
	e.recv(f, invite("z9hG4bK-s1"), 0)
	if n := g.served.Load(); n != 0 {
		t.Fatalf("served %d after the edge's 100 Trying, want 0", n)
	}
	e.answer(t, "z9hG4bK-s1", 180)
	e.answer(t, "z9hG4bK-s1", 486)
	e.answer(t, "z9hG4bK-s1", 486)
	bye := strings.Replace(strings.Replace(invite("z9hG4bK-s2"), "INVITE sip", "BYE sip", 1), "1 INVITE", "2 BYE", 1)
	bye = strings.Replace(bye, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=b1", 1)
	e.recv(f, bye, 0)
	e.final(t, bye, 200)
	if n := g.served.Load(); n != 1 {
		t.Fatalf("served %d, want 1: the INVITE's 180, once", n)
	}
	if n := e.adm.gates[ServiceRegistrar].served.Load(); n != 0 {
		t.Fatalf("the registrar's gate counted %d served", n)
	}
}

// FuzzParseDest: the edge parses every sipdest a service sends without
// panicking.
func FuzzParseDest(f *testing.F) {
	for _, s := range []string{"udp:192.0.2.1:5060", "tcp:[2001:db8::1]:5061/e1~4", "tcp:/e1~4", "udp:/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDest(s); err == nil && d.Transport != UDP && d.Transport != TCP {
			t.Fatalf("ParseDest(%q) accepted transport %q", s, d.Transport)
		}
	})
}
