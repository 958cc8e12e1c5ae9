package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipdns"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/tm/internal/routes"
)

// harness runs the engine on the memory store with recording fakes for the
// edges, the bus and the scheduler.
type harness struct {
	t        *testing.T
	e        *Engine
	st       *store.Memory
	mu       sync.Mutex
	sent     []*edgeapi.Message
	lastDest string
	emits    []Emission
	due      map[string]time.Time // scheduled deadlines, "ck|id"
	now      time.Time
	dns      *sipdns.Resolver // newDNSHarness
	pending  []pendingLookup  // lookups the engine started
	lag      time.Duration    // the replica's input lag (Deps.Lag)
	// handled is where the replica's queue stands (Deps.Behind): every
	// input received before it has been handled; zero: the queue is empty.
	handled time.Time
}

type sender struct{ h *harness }

func (s sender) Send(_ context.Context, m *edgeapi.Message) error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.sent = append(s.h.sent, m)
	if len(m.Raw) > 6 && string(m.Raw[:6]) == "INVITE" {
		d, _ := events.ParseDest(m.Dest)
		s.h.lastDest = d.Addr.String()
	}
	return nil
}

type sched struct{ h *harness }

func (s sched) Schedule(ck, id string, at time.Time) { s.h.due[ck+"|"+id] = at }
func (s sched) Unschedule(ck, id string)             { delete(s.h.due, ck+"|"+id) }

// apply is the memory store as the engine's committer (one Apply per commit).
type apply struct{ st *store.Memory }

func (a apply) Commit(ctx context.Context, ops []store.Op) ([]store.OpResult, error) {
	return a.st.Apply(ctx, ops)
}

type emitter struct{ h *harness }

func (em emitter) Emit(_ context.Context, e Emission) error {
	em.h.mu.Lock()
	defer em.h.mu.Unlock()
	em.h.emits = append(em.h.emits, e)
	return nil
}

type locator map[string][]Target

func (l locator) Lookup(_ context.Context, aor string) ([]Target, bool, error) {
	ts, ok := l[aor]
	return ts, ok, nil
}

const proxyAddr = "192.0.2.1:5060"

func newHarness(t *testing.T, table string, loc locator) *harness {
	t.Helper()
	h := &harness{t: t, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), due: map[string]time.Time{}}
	h.st = store.NewMemory(store.MemoryOptions{Now: func() time.Time { return h.now }, JanitorInterval: -1})
	t.Cleanup(func() { _ = h.st.Close() })
	rt := routes.Default()
	if table != "" {
		var err error
		if rt, err = routes.Parse([]byte(table), "test.yaml"); err != nil {
			t.Fatal(err)
		}
	}
	h.e = NewEngine(Config{Advertise: proxyAddr, Domains: []string{"example.com"}, NoAnswer: 10 * time.Second}, Deps{
		Records: h.st, Commit: apply{h.st}, Sched: sched{h}, Send: sender{h}, Emit: emitter{h},
		Locate: loc, Routes: rt, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return h.now },
		Lag: func() time.Duration { return h.lag },
		Behind: func(_ string, t time.Time) time.Duration {
			if h.handled.IsZero() || !h.handled.Before(t) {
				return 0
			}
			return 25 * time.Millisecond
		},
	})
	return h
}

// take returns and forgets what was sent.
func (h *harness) take() []*sipmsg.Msg {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*sipmsg.Msg
	for _, s := range h.sent {
		m, err := sipmsg.Parse(s.Raw, sipmsg.Datagram)
		if err != nil {
			h.t.Fatalf("tm sent an unparseable message: %v\n%s", err, s.Raw)
		}
		out = append(out, m)
	}
	h.sent = nil
	return out
}

func (h *harness) ctx() context.Context { return context.Background() }

func (h *harness) request(raw string) *Inbound {
	h.t.Helper()
	return h.requestRaw([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
}

func (h *harness) requestRaw(raw []byte) *Inbound {
	h.t.Helper()
	m, err := sipmsg.Parse(raw, sipmsg.Datagram)
	if err != nil {
		h.t.Fatal(err)
	}
	key, err := sipmsg.ServerTxKey(m)
	if err != nil {
		h.t.Fatal(err)
	}
	in := &Inbound{Msg: m, TxKey: key, CallKey: sipmsg.CallKey(m.CallID()), Src: Source{Transport: "udp", Remote: "198.51.100.7:5060", Edge: "e1", Reply: "udp:198.51.100.7:5060"}}
	if err := h.e.Request(h.ctx(), in); err != nil {
		h.t.Fatalf("Request: %v", err)
	}
	return in
}

// respond feeds a response from a callee to the branch request req.
func (h *harness) respond(req *sipmsg.Msg, code int, tag string) {
	h.t.Helper()
	raw := sipmsg.Reply(req, code, "", sipmsg.ReplyOptions{ToTag: tag})
	m, err := sipmsg.Parse(raw, sipmsg.Datagram)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.e.Response(h.ctx(), &Inbound{Msg: m, CallKey: sipmsg.CallKey(m.CallID()), Src: Source{Transport: "udp", Remote: "203.0.113.5:5060"}}); err != nil {
		h.t.Fatalf("Response: %v", err)
	}
}

// fire advances the clock by d and runs every deadline due by then (timers
// and coalesced writes), as the scheduler would; it returns the timers
// that fired, by name.
func (h *harness) fire(d time.Duration) []string {
	h.t.Helper()
	h.now = h.now.Add(d)
	var names []string
	for {
		var ck, id string
		for k, at := range h.due {
			if !at.After(h.now) {
				ck, id, _ = strings.Cut(k, "|")
				break
			}
		}
		if ck == "" {
			return names
		}
		delete(h.due, ck+"|"+id)
		var tmr []ptimer
		if c := h.e.cache.get(cacheKey(ck, id)); c != nil {
			tmr = c.p.Tmr
		} else if rec, err := h.st.LoadRecord(h.ctx(), ck, ptxKey(id)); err == nil {
			var p ptx
			_ = json.Unmarshal(rec.Value, &p)
			tmr = p.Tmr
		}
		for _, t := range tmr {
			if t.Due <= h.now.UnixMilli() {
				names = append(names, t.T)
			}
		}
		if err := h.e.Due(h.ctx(), ck, id); err != nil {
			h.t.Fatalf("Due %s|%s: %v", ck, id, err)
		}
	}
}

func invite(n int, ruri string) string {
	return fmt.Sprintf(`INVITE %s SIP/2.0
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-t%d;rport
From: "Alice" <sip:alice@example.com>;tag=a%d
To: <%s>
Call-ID: call-%d@test
CSeq: 1 INVITE
Contact: <sip:alice@198.51.100.7>
Max-Forwards: 70
Content-Length: 0

`, ruri, n, n, ruri, n)
}

var bob = locator{"bob@example.com": {{URI: "sip:bob@203.0.113.5:5060", Q: 1}}}

func only(t *testing.T, ms []*sipmsg.Msg, what string) *sipmsg.Msg {
	t.Helper()
	if len(ms) != 1 {
		var b strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&b, "%s\n", m.Raw[:min(len(m.Raw), 60)])
		}
		t.Fatalf("%s: %d messages sent, want 1:\n%s", what, len(ms), b.String())
	}
	return ms[0]
}

func status(m *sipmsg.Msg) string {
	if m.Request {
		return m.Str(m.Method)
	}
	return fmt.Sprint(m.StatusCode)
}

func (h *harness) terminal() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, em := range h.emits {
		switch d := em.Data.(type) {
		case *events.CallMissed:
			out = append(out, "missed:"+d.Reason+":"+fmt.Sprint(d.Status))
		case *events.CallEnded:
			out = append(out, "ended:"+d.HangupBy)
		}
	}
	return out
}

// A retransmitted INVITE that reaches tm (through an edge that did not see
// the first) is answered 100 Trying upstream and never forwarded again: the
// branch has its own retransmission timer. After a takeover (the record
// read from the store, not from memory) it is the same.
func TestRetransmittedInviteIsAnsweredNotForwarded(t *testing.T) {
	h := newHarness(t, "", bob)
	in := h.request(invite(1, "sip:bob@example.com"))
	first := only(t, h.take(), "first delivery")
	for _, takeover := range []bool{false, true} {
		if takeover {
			h.e.Forget(func(string) bool { return true })
		}
		if err := h.e.Request(h.ctx(), in); err != nil {
			t.Fatal(err)
		}
		if m := only(t, h.take(), "retransmission"); m.Request || m.StatusCode != 100 {
			t.Fatalf("retransmission (takeover %v) answered %s, want 100 Trying upstream only", takeover, status(m))
		}
	}
	if v := mustTopVia(t, first); !strings.HasPrefix(v.Branch, branchPrefix) || v.SentBy() != proxyAddr {
		t.Errorf("Via %+v", v)
	}
	if rr := first.Value(sipmsg.HRecordRoute); rr != "<sip:"+proxyAddr+";lr>" {
		t.Errorf("Record-Route %q", rr)
	}
	if mf, _ := first.MaxForwards(); mf != 69 {
		t.Errorf("Max-Forwards %d, want 69", mf)
	}
}

func mustTopVia(t *testing.T, m *sipmsg.Msg) sipmsg.Via {
	t.Helper()
	v, err := m.TopVia()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Timer A retransmits the INVITE (RFC 3261 §17.1.1.2) until a provisional;
// Timer B with no answer at all gives 408 upstream and a missed call.
func TestTimersAAndB(t *testing.T) {
	h := newHarness(t, "", bob)
	h.request(invite(2, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	for i, d := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		if got := h.fire(d); strings.Join(got, ",") != "A" {
			t.Fatalf("firing %d: timers %v, want A", i, got)
		}
		if m := only(t, h.take(), "retransmission"); string(m.Raw) != string(req.Raw) {
			t.Fatalf("retransmission %d differs", i)
		}
	}
	h.fire(29 * time.Second) // B = 64*T1 = 32s from the start
	var up *sipmsg.Msg
	for _, m := range h.take() {
		if !m.Request {
			up = m
		}
	}
	if up == nil || up.StatusCode != 408 {
		t.Fatalf("after Timer B: upstream %v, want 408", up)
	}
	if got := h.terminal(); strings.Join(got, ",") != "missed:no-answer:408" {
		t.Errorf("terminal events %v", got)
	}
}

// While inputs received before a retransmission came due may still wait
// in the replica's queue (a response may stand there), the retransmission
// waits, looking again as Behind says, up to T2; it goes once the queue
// has handled what arrived before it came due. A provisional that comes
// out of the queue meanwhile stops it.
func TestRetransmissionWaitsForTheQueue(t *testing.T) {
	h := newHarness(t, "", bob)
	h.request(invite(2, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	start := h.now
	h.handled = start.Add(100 * time.Millisecond) // the queue is 400 ms behind when A comes due
	if got := h.fire(500 * time.Millisecond); strings.Join(got, ",") != "A" {
		t.Fatalf("timers %v, want A", got)
	}
	for i := 0; i < 4; i++ {
		if sent := h.take(); len(sent) != 0 {
			t.Fatalf("look %d: sent %d messages while the queue is behind", i, len(sent))
		}
		h.fire(25 * time.Millisecond)
	}
	h.handled = start.Add(501 * time.Millisecond) // caught up with A's due time: no response was in it
	h.fire(25 * time.Millisecond)
	if m := only(t, h.take(), "held retransmission"); string(m.Raw) != string(req.Raw) {
		t.Fatal("retransmission differs")
	}
	// The next comes due a second after the first retransmission (the
	// attempt counts once per retransmission, not per look); a 180 out of
	// the queue while it is held stops it.
	h.handled = h.now
	h.fire(time.Second)
	if sent := h.take(); len(sent) != 0 {
		t.Fatalf("second firing: sent %d messages, want the retransmission held", len(sent))
	}
	h.respond(req, 180, "b2")
	if m := only(t, h.take(), "180 upstream"); m.StatusCode != 180 {
		t.Fatalf("sent %s", status(m))
	}
	h.handled = time.Time{}
	h.fire(time.Second)
	for _, m := range h.take() {
		if m.Request && m.MethodID == sipmsg.INVITE {
			t.Fatal("INVITE retransmitted after the 180")
		}
	}

	// A queue that never catches up holds a retransmission T2 at most.
	h = newHarness(t, "", bob)
	h.request(invite(3, "sip:bob@example.com"))
	req = only(t, h.take(), "INVITE")
	h.handled = h.now
	h.fire(500 * time.Millisecond)
	var held time.Duration
	for ; held < 5*time.Second && len(h.take()) == 0; held += 25 * time.Millisecond {
		h.fire(25 * time.Millisecond)
	}
	if held > 4*time.Second || held < 3900*time.Millisecond {
		t.Fatalf("held %v behind a queue that never caught up, want T2 (4s)", held)
	}

	// An empty queue (or one that has caught up): at once.
	h = newHarness(t, "", bob)
	h.request(invite(4, "sip:bob@example.com"))
	req = only(t, h.take(), "INVITE")
	h.fire(500 * time.Millisecond)
	if m := only(t, h.take(), "retransmission, queue empty"); string(m.Raw) != string(req.Raw) {
		t.Fatal("retransmission differs")
	}
}

// Timer C (no answer after ringing): CANCEL downstream, 408 upstream; the
// late 487 is ACKed and goes nowhere.
func TestNoAnswerTimer(t *testing.T) {
	h := newHarness(t, "", bob)
	h.request(invite(3, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	h.respond(req, 180, "b3")
	if m := only(t, h.take(), "180 upstream"); m.StatusCode != 180 {
		t.Fatalf("sent %s", status(m))
	}
	h.fire(10 * time.Second)
	var got []string
	for _, m := range h.take() {
		got = append(got, status(m))
	}
	if strings.Join(got, ",") != "CANCEL,408" {
		t.Fatalf("after timer C sent %v, want CANCEL then 408", got)
	}
	h.respond(req, 487, "b3")
	if m := only(t, h.take(), "after 487"); status(m) != "ACK" {
		t.Errorf("sent %s for the 487, want ACK only", status(m))
	}
	if got := h.terminal(); strings.Join(got, ",") != "missed:no-answer:408" {
		t.Errorf("terminal events %v", got)
	}
}

// A CANCEL before any provisional: 200 at once, the branch is cancelled
// when its provisional arrives (RFC 3261 §9.1), 487 goes upstream.
func TestCancelBeforeProvisional(t *testing.T) {
	h := newHarness(t, "", bob)
	h.request(invite(4, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	h.request(strings.Replace(strings.Replace(invite(4, "sip:bob@example.com"), "INVITE sip", "CANCEL sip", 1), "1 INVITE", "1 CANCEL", 1))
	if m := only(t, h.take(), "answer to CANCEL"); m.StatusCode != 200 {
		t.Fatalf("CANCEL answered %s", status(m))
	}
	h.respond(req, 180, "b4")
	if m := only(t, h.take(), "on 180"); status(m) != "CANCEL" {
		t.Fatalf("on the 180 tm sent %s, want CANCEL (and no 180 upstream)", status(m))
	}
	h.respond(req, 487, "b4")
	var got []string
	for _, m := range h.take() {
		got = append(got, status(m))
	}
	if strings.Join(got, ",") != "ACK,487" {
		t.Errorf("on the 487 sent %v, want ACK, 487", got)
	}
	if got := h.terminal(); strings.Join(got, ",") != "missed:cancelled:487" {
		t.Errorf("terminal events %v", got)
	}
}

// on_failure relays to voicemail (a fixed next hop, the Request-URI stays)
// when the callee is busy; when voicemail fails too (503), the best of all
// responses goes upstream: the 486 (§16.7 step 6: lowest class).
func TestOnFailureAnd503(t *testing.T) {
	h := newHarness(t, `routes:
  - match: {method: INVITE, local_domain: true}
    location: {}
    on_failure:
      relay: sip:203.0.113.9:5070
`, bob)
	h.request(invite(5, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	h.respond(req, 486, "b5")
	var vm *sipmsg.Msg
	for _, m := range h.take() {
		if status(m) == "INVITE" {
			vm = m
		} else if status(m) != "ACK" {
			t.Errorf("sent %s upstream before on_failure", status(m))
		}
	}
	if vm == nil {
		t.Fatal("no INVITE to voicemail")
	}
	if got := vm.Str(vm.RequestURI); got != "sip:bob@example.com" {
		t.Errorf("voicemail Request-URI %q, want the original", got)
	}
	if h.sentTo() != "203.0.113.9:5070" {
		t.Errorf("voicemail INVITE went to %s", h.sentTo())
	}
	h.respond(vm, 503, "vm")
	var got []string
	for _, m := range h.take() {
		got = append(got, status(m))
	}
	if strings.Join(got, ",") != "ACK,486" {
		t.Errorf("after the voicemail's 503 sent %v, want ACK, 486", got)
	}
}

// A lone 503 becomes 500 upstream (RFC 3261 §16.7 step 6): the caller must
// not think the proxy itself is overloaded.
func Test503Becomes500(t *testing.T) {
	h := newHarness(t, "", bob)
	h.request(invite(11, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	h.respond(req, 503, "b11")
	var got []string
	for _, m := range h.take() {
		got = append(got, status(m))
	}
	if strings.Join(got, ",") != "ACK,500" {
		t.Errorf("sent %v, want ACK, 500", got)
	}
	if got := h.terminal(); strings.Join(got, ",") != "missed:error:500" {
		t.Errorf("terminal events %v", got)
	}
}

func (h *harness) sentTo() string { return h.lastDest }

// A request that comes back with our Via and the same loop hash is a loop
// (RFC 3261 §16.3 step 4): 482. A spiral (new Request-URI) is not.
func TestLoopDetection(t *testing.T) {
	h := newHarness(t, `routes:
  - match: {user: bob}
    relay: sip:`+proxyAddr+`
  - location: {}
`, locator{"carol@example.com": {{URI: "sip:bob@" + proxyAddr}}})
	h.request(invite(6, "sip:bob@example.com"))
	out := only(t, h.take(), "INVITE to ourselves")
	h.requestRaw(out.Raw)
	if r := only(t, h.take(), "looped INVITE"); r.StatusCode != 482 {
		t.Errorf("looped INVITE answered %s, want 482", status(r))
	}
	// A spiral: carol's contact sends the request back to us with a new
	// Request-URI; that pass is forwarded, not refused.
	h.request(invite(12, "sip:carol@example.com"))
	spiral := only(t, h.take(), "INVITE to carol's contact (us)")
	h.requestRaw(spiral.Raw)
	if m := only(t, h.take(), "spiral"); status(m) != "INVITE" {
		t.Errorf("spiral answered %s, want it forwarded", status(m))
	}
}

// OPTIONS to the proxy itself is answered 200 with Allow; a foreign domain
// gets 403 (no open relay); Max-Forwards 0 gets 483.
func TestLocalAnswers(t *testing.T) {
	h := newHarness(t, "", bob)
	h.request(strings.Replace(strings.Replace(invite(7, "sip:"+proxyAddr), "INVITE sip", "OPTIONS sip", 1), "1 INVITE", "1 OPTIONS", 1))
	if m := only(t, h.take(), "OPTIONS"); m.StatusCode != 200 || !strings.Contains(m.Value(sipmsg.HAllow), "INVITE") {
		t.Errorf("OPTIONS: %s Allow %q", status(m), m.Value(sipmsg.HAllow))
	}
	h.request(invite(8, "sip:bob@elsewhere.example"))
	if m := only(t, h.take(), "foreign"); m.StatusCode != 403 || !strings.Contains(string(m.Raw), "Relaying denied") {
		t.Errorf("foreign domain: %s", m.Raw)
	}
	h.request(strings.Replace(invite(9, "sip:bob@example.com"), "Max-Forwards: 70", "Max-Forwards: 0", 1))
	if m := only(t, h.take(), "MF 0"); m.StatusCode != 483 {
		t.Errorf("Max-Forwards 0: %s", status(m))
	}
	h.request(invite(10, "sip:carol@example.com"))
	if m := only(t, h.take(), "unknown"); m.StatusCode != 404 {
		t.Errorf("unknown user: %s", status(m))
	}
}

// RFC 3581 §4: the previous hop's Via in the forwarded request carries the
// address the request came from (rport filled in, received), so the
// responses tm relays back say where the UAC was seen.
func TestForwardStampsReceivedRPort(t *testing.T) {
	h := newHarness(t, "", bob)
	h.request(invite(72, "sip:bob@example.com"))
	out := only(t, h.take(), "INVITE")
	vias := out.Values(sipmsg.HVia)
	if len(vias) < 2 || !strings.Contains(vias[1], "branch=z9hG4bK-t72;rport=5060;received=198.51.100.7") {
		t.Fatalf("forwarded Vias %q: want the UAC's with rport=5060;received=198.51.100.7", vias)
	}
	h.respond(out, 486, "b72")
	for _, m := range h.take() {
		if m.StatusCode == 486 && !strings.Contains(m.Value(sipmsg.HVia), "rport=5060;received=198.51.100.7") {
			t.Errorf("486 upstream Via %q", m.Value(sipmsg.HVia))
		}
	}
}

// No open relay through routing headers: an in-dialog request whose Route
// does not name tm is answered 404, an initial request with a Route past tm
// ("preloaded") 403, and an ACK without tm's Route that matches nothing is
// dropped; none of them leaves for the host the sender named.
func TestNoRelayByRoute(t *testing.T) {
	h := newHarness(t, "", bob)
	foreign := "Route: <sip:victim.example:5060;lr>\nMax-Forwards: 70"
	bye := strings.Replace(strings.Replace(invite(70, "sip:bob@example.com"), "INVITE sip:bob@example.com", "BYE sip:bob@victim.example", 1), "1 INVITE", "2 BYE", 1)
	bye = strings.Replace(bye, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=x70", 1)
	h.request(bye)
	if m := only(t, h.take(), "in-dialog without Route"); m.StatusCode != 404 {
		t.Errorf("BYE without our Route: %s, want 404", status(m))
	}
	h.request(strings.Replace(bye, "Max-Forwards: 70", foreign, 1))
	if m := only(t, h.take(), "in-dialog, foreign Route"); m.StatusCode != 404 {
		t.Errorf("BYE with a foreign Route: %s, want 404", status(m))
	}
	h.request(strings.Replace(invite(71, "sip:bob@example.com"), "Max-Forwards: 70", foreign, 1))
	if m := only(t, h.take(), "preloaded"); m.StatusCode != 403 || !strings.Contains(string(m.Raw), "Preload Route denied") {
		t.Errorf("INVITE with a preloaded Route: %s, want 403", status(m))
	}
	ack := strings.Replace(strings.Replace(bye, "BYE sip:", "ACK sip:", 1), "2 BYE", "2 ACK", 1)
	h.request(ack)
	if got := h.take(); len(got) != 0 {
		t.Errorf("an ACK without our Route was relayed: %d messages", len(got))
	}
}

// emitted lists the types of the call events emitted so far.
func (h *harness) emitted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, em := range h.emits {
		out = append(out, em.Data.CEType())
	}
	return out
}

func (h *harness) record(ck, id string) *ptx {
	h.t.Helper()
	rec, err := h.st.LoadRecord(h.ctx(), ck, ptxKey(id))
	if err != nil {
		h.t.Fatalf("record %s: %v", id, err)
	}
	p := new(ptx)
	if err := json.Unmarshal(rec.Value, p); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// A provisional response is sent on at once and written with what follows
// within Coalesce: the 180 and the 200 of a call make one write after the
// INVITE's, and call.ringing waits for it. A transaction that ends within
// Coalesce is never filed in its partition's deadline index.
func TestCoalescedWrites(t *testing.T) {
	h := newHarness(t, "", bob)
	in := h.request(invite(50, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	id := ptxID(in.TxKey)
	h.respond(req, 180, "b50")
	if m := only(t, h.take(), "180"); m.StatusCode != 180 {
		t.Fatalf("sent %s", status(m))
	}
	if p := h.record(in.CallKey, id); p.Ringing {
		t.Error("the 180 was written at once; it should wait for Coalesce")
	}
	if got := strings.Join(h.emitted(), ","); strings.Contains(got, "ringing") {
		t.Errorf("call.ringing emitted before its state was written: %s", got)
	}
	h.respond(req, 200, "b50")
	if m := only(t, h.take(), "200"); m.StatusCode != 200 {
		t.Fatalf("sent %s", status(m))
	}
	if p := h.record(in.CallKey, id); !p.Ringing || p.Final != 200 {
		t.Errorf("after the 200: record ringing=%v final=%d, want both written", p.Ringing, p.Final)
	}
	want := "sipbus.call.started.v1,sipbus.call.ringing.v1,sipbus.call.answered.v1"
	if got := strings.Join(h.emitted(), ","); got != want {
		t.Errorf("events %s, want %s", got, want)
	}
	if es, _ := h.st.IndexRange(h.ctx(), DeadlineIndex(bus.Partition(in.CallKey)), 1<<62); len(es) != 0 {
		t.Errorf("deadline index %v: a transaction answered within Coalesce is never filed", es)
	}
}

// A replica taking a partition over reads its deadline index and runs the
// timers the dead owner left: here timer C of a ringing call, which
// cancels the branch and answers 408.
func TestTakeoverRunsIndexedTimers(t *testing.T) {
	h := newHarness(t, "", bob)
	in := h.request(invite(51, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	h.respond(req, 180, "b51")
	h.take()
	h.fire(100 * time.Millisecond) // the coalesced write and the index entry
	es, err := h.st.IndexRange(h.ctx(), DeadlineIndex(bus.Partition(in.CallKey)), 1<<62)
	if err != nil || len(es) != 1 || es[0].Member != in.CallKey+"|"+ptxID(in.TxKey) {
		t.Fatalf("deadline index %v %v, want the ringing call", es, err)
	}
	// Replica B: a new engine on the same store, with nothing in memory.
	h.due = map[string]time.Time{}
	h.e = NewEngine(Config{Advertise: proxyAddr, Domains: []string{"example.com"}, NoAnswer: 10 * time.Second}, Deps{
		Records: h.st, Commit: apply{h.st}, Sched: sched{h}, Send: sender{h}, Emit: emitter{h},
		Locate: bob, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return h.now },
	})
	for _, e := range es {
		ck, id, _ := strings.Cut(e.Member, "|")
		h.due[ck+"|"+id] = time.UnixMilli(e.Score)
	}
	if got := h.fire(10 * time.Second); strings.Join(got, ",") != "C" {
		t.Fatalf("timers fired on replica B: %v, want C", got)
	}
	var sent []string
	for _, m := range h.take() {
		sent = append(sent, status(m))
	}
	if strings.Join(sent, ",") != "CANCEL,408" {
		t.Errorf("replica B sent %v, want CANCEL, 408", sent)
	}
	if got := h.terminal(); strings.Join(got, ",") != "missed:no-answer:408" {
		t.Errorf("terminal events %v", got)
	}
}

// A non-INVITE transaction lives in memory only: a BYE is relayed, its 200
// forwarded and the call ended without a record of the BYE in the store;
// the dialog record goes. After a takeover (nothing in memory) the UAC's
// retransmission is relayed again with the same branch, which the next hop
// answers again.
func TestNonInviteInMemoryOnly(t *testing.T) {
	h := newHarness(t, "", bob)
	in := h.request(invite(60, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	h.respond(req, 200, "b60")
	h.take()
	bye := strings.Replace(strings.Replace(invite(60, "sip:bob@example.com"), "INVITE sip:bob@example.com", "BYE sip:bob@203.0.113.5:5060", 1), "1 INVITE", "2 BYE", 1)
	bye = strings.Replace(bye, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=b60", 1)
	bye = strings.Replace(bye, "branch=z9hG4bK-t60", "branch=z9hG4bK-bye60", 1)
	bye = strings.Replace(bye, "Max-Forwards: 70", "Route: <sip:"+proxyAddr+";lr>\nMax-Forwards: 70", 1) // the dialog's route set
	byeIn := h.request(bye)
	out := only(t, h.take(), "BYE downstream")
	if _, err := h.st.LoadRecord(h.ctx(), byeIn.CallKey, ptxKey(ptxID(byeIn.TxKey))); err == nil {
		t.Error("the BYE's transaction was written to the store")
	}
	h.respond(out, 200, "b60")
	if m := only(t, h.take(), "200 upstream"); m.StatusCode != 200 {
		t.Fatalf("sent %s", status(m))
	}
	if got := h.terminal(); strings.Join(got, ",") != "ended:caller" {
		t.Errorf("terminal events %v", got)
	}
	testenv.Eventually(t, 5*time.Second, func() bool {
		_, err := h.st.LoadRecord(h.ctx(), in.CallKey, dialogKey)
		return errors.Is(err, store.ErrNotFound)
	}, "the dialog record was not removed")
	h.e.Forget(func(string) bool { return true }) // a takeover
	h.requestRaw(byeIn.Msg.Raw)
	if again := only(t, h.take(), "BYE after takeover"); string(again.Raw) != string(out.Raw) {
		t.Errorf("after a takeover the BYE was relayed as\n%s\nwant the same branch request\n%s", again.Raw, out.Raw)
	}
}

// With a store.Committer (a Deferrer), the dialog record a BYE removes is
// not a round trip of its own: the delete rides with the next commit of
// any call, and a hand-over applies it at once.
func TestWriteBehindRides(t *testing.T) {
	h := newHarness(t, "", bob)
	c := store.NewCommitter(h.st, store.CommitterOptions{})
	t.Cleanup(c.Close)
	h.e = NewEngine(Config{Advertise: proxyAddr, Domains: []string{"example.com"}, NoAnswer: 10 * time.Second, Coalesce: time.Hour}, Deps{
		Records: h.st, Commit: c, Sched: sched{h}, Send: sender{h}, Emit: emitter{h},
		Locate: bob, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return h.now },
	})
	// call answers call n and ends it with a BYE from the caller; it
	// returns the call key.
	call := func(n int) string {
		in := h.request(invite(n, "sip:bob@example.com"))
		h.respond(only(t, h.take(), "INVITE"), 200, fmt.Sprintf("b%d", n))
		h.take()
		bye := strings.Replace(strings.Replace(invite(n, "sip:bob@example.com"), "INVITE sip:bob@example.com", "BYE sip:bob@203.0.113.5:5060", 1), "1 INVITE", "2 BYE", 1)
		bye = strings.Replace(bye, "To: <sip:bob@example.com>", fmt.Sprintf("To: <sip:bob@example.com>;tag=b%d", n), 1)
		bye = strings.Replace(bye, fmt.Sprintf("branch=z9hG4bK-t%d", n), fmt.Sprintf("branch=z9hG4bK-bye%d", n), 1)
		bye = strings.Replace(bye, "Max-Forwards: 70", "Route: <sip:"+proxyAddr+";lr>\nMax-Forwards: 70", 1)
		h.request(bye)
		h.respond(only(t, h.take(), "BYE downstream"), 200, fmt.Sprintf("b%d", n))
		only(t, h.take(), "200 upstream")
		return in.CallKey
	}
	dialog := func(ck string) bool {
		_, err := h.st.LoadRecord(h.ctx(), ck, dialogKey)
		return err == nil
	}
	first := call(71)
	if !dialog(first) {
		t.Fatal("the dialog record of call 71 is gone before any other commit: the delete did not wait")
	}
	h.request(invite(72, "sip:bob@example.com")) // its transaction's write carries the delete
	h.take()
	if dialog(first) {
		t.Error("the dialog record of call 71 is still there after call 72's commit")
	}
	if st := c.Stats(); st.Rode != 1 || st.Flushed != 0 {
		t.Errorf("committer stats %+v, want the delete to have ridden with another commit", st)
	}
	second := call(73)
	if !dialog(second) {
		t.Fatal("the dialog record of call 73 is gone before any other commit")
	}
	if _, err := h.e.Handover(h.ctx()); err != nil {
		t.Fatal(err)
	}
	if dialog(second) {
		t.Error("the dialog record of call 73 is still there after Handover")
	}
}

// An answered INVITE transaction (Timer M is left to the record's TTL,
// byTTL) is neither scheduled nor filed in the deadline index, it leaves
// memory Linger after its 2xx, and a 2xx retransmission after that
// loads the record from the store and is forwarded upstream as before.
func TestSettledLeavesMemory(t *testing.T) {
	h := newHarness(t, "", bob)
	in := h.request(invite(70, "sip:bob@example.com"))
	req := only(t, h.take(), "INVITE")
	id := ptxID(in.TxKey)
	h.respond(req, 200, "b70")
	if m := only(t, h.take(), "200"); m.StatusCode != 200 {
		t.Fatalf("sent %s", status(m))
	}
	h.fire(100 * time.Millisecond) // any coalesced write
	p := h.record(in.CallKey, id)
	if p.Final != 200 || len(p.Tmr) != 0 {
		t.Fatalf("record final %d timers %+v, want 200 and none", p.Final, p.Tmr)
	}
	if at, ok := h.due[in.CallKey+"|"+id]; ok {
		t.Errorf("the answered transaction is scheduled at %v", at)
	}
	if es, _ := h.st.IndexRange(h.ctx(), DeadlineIndex(bus.Partition(in.CallKey)), 1<<62); len(es) != 0 {
		t.Errorf("deadline index %v, want nothing filed", es)
	}
	if h.e.cache.get(cacheKey(in.CallKey, id)) == nil {
		t.Fatal("the answered transaction is not in memory right after its 2xx")
	}
	h.now = h.now.Add(h.e.cfg.Linger + time.Second)
	h.e.Sweep()
	if h.e.cache.get(cacheKey(in.CallKey, id)) != nil {
		t.Fatalf("the answered transaction is still in memory Linger and a second after its 2xx (Linger %v)", h.e.cfg.Linger)
	}
	h.respond(req, 200, "b70") // the callee did not get the ACK in time
	if m := only(t, h.take(), "2xx retransmission"); m.StatusCode != 200 {
		t.Fatalf("2xx retransmission: sent %s, want the 200 upstream", status(m))
	}
	h.fire(100 * time.Millisecond) // any coalesced write
	if len(h.due) != 0 {
		t.Errorf("scheduled after the reload: %v", h.due)
	}
}

// The coalescing window follows the replica's lag: a replica whose inputs
// arrive 100 ms late waits Coalesce plus twice that for the 200 before it
// writes the 180 alone (a loaded replica's queue separates the two by as
// much as it delays them), and never longer than T1.
func TestCoalesceFollowsLag(t *testing.T) {
	for _, c := range []struct {
		lag, want time.Duration
	}{
		{0, 20 * time.Millisecond},
		{100 * time.Millisecond, 220 * time.Millisecond},
		{2 * time.Second, 500 * time.Millisecond}, // T1
	} {
		h := newHarness(t, "", bob)
		h.e.d.Lag = func() time.Duration { return c.lag }
		in := h.request(invite(51, "sip:bob@example.com"))
		req := only(t, h.take(), "INVITE")
		id := ptxID(in.TxKey)
		h.respond(req, 180, "b51")
		at := h.due[in.CallKey+"|"+id]
		if got := at.Sub(h.now); got != c.want {
			t.Errorf("lag %v: the 180 is written %v after it came, want %v", c.lag, got, c.want)
		}
		h.fire(c.want - time.Millisecond)
		if p := h.record(in.CallKey, id); p.Ringing {
			t.Errorf("lag %v: the 180 was written before the window ended", c.lag)
		}
		h.respond(req, 200, "b51")
		if p := h.record(in.CallKey, id); !p.Ringing || p.Final != 200 {
			t.Errorf("lag %v: after the 200, record ringing=%v final=%d, want one write of both", c.lag, p.Ringing, p.Final)
		}
		if es, _ := h.st.IndexRange(h.ctx(), DeadlineIndex(bus.Partition(in.CallKey)), 1<<62); len(es) != 0 {
			t.Errorf("lag %v: deadline index %v: a call answered within the window is never filed", c.lag, es)
		}
		if names := h.fire(time.Second); len(names) != 0 {
			t.Errorf("lag %v: timers %v fired after the 200", c.lag, names)
		}
	}
}
