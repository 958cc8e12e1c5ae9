package tm

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// handoverRig runs tm replicas in this process on a real NATS JetStream
// and a real Redis, plays the edge (publishes what a phone and a callee
// send on the partitions' subjects) and records what the replicas send
// and the call events.
type handoverRig struct {
	t        *testing.T
	natsURL  string
	redisURL string
	nc       *nats.Conn

	mu      sync.Mutex
	out     []*events.SIP // messages the replicas sent, in order
	calls   []string      // call event subjects
	seq     int
	stopped map[string]bool
}

const (
	rigAdvertise = "127.0.0.1:5070"
	rigCallee    = "127.0.0.1:5999"
	rigCaller    = "127.0.0.1:5998"
)

func newHandoverRig(t *testing.T) *handoverRig {
	srv := testenv.NATS(t)
	r := &handoverRig{t: t, natsURL: srv.ClientURL(), redisURL: testenv.RedisURL(t), stopped: map[string]bool{}}
	nc, js := testenv.Connect(t, r.natsURL)
	r.nc = nc
	if _, err := bus.EnsureStream(testenv.Context(t, 10*time.Second), js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("sip.*.out.>", func(m *nats.Msg) {
		s, err := events.DecodeSIP(m)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.out = append(r.out, s)
		r.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("call.>", func(m *nats.Msg) {
		r.mu.Lock()
		r.calls = append(r.calls, m.Subject)
		r.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return r
}

// replica starts tm replica id. Coalesced writes wait up to a second, so
// a change tm keeps in memory is still unwritten when the test stops it.
func (r *handoverRig) replica(id string) *TM {
	t := r.t
	cfg := DefaultConfig()
	cfg.ID, cfg.Advertise, cfg.Domains, cfg.FlowSecret = id, rigAdvertise, []string{"localhost"}, "handover-test"
	cfg.Static = map[string][]string{"uas@localhost": {"sip:uas@" + rigCallee}}
	cfg.Coalesce = time.Second
	ctx := testenv.Context(t, 30*time.Second)
	st, err := store.Open(ctx, r.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	nc, js := testenv.Connect(t, r.natsURL)
	tm, err := New(cfg, Deps{NC: nc, JS: js, Store: st, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.mu.Lock()
		stopped := r.stopped[id]
		r.mu.Unlock()
		if !stopped {
			_ = tm.Shutdown(context.Background())
		}
	})
	return tm
}

// shutdown stops replica id (SIGTERM's path).
func (r *handoverRig) shutdown(ctx context.Context, id string, tm *TM) error {
	r.mu.Lock()
	r.stopped[id] = true
	r.mu.Unlock()
	return tm.Shutdown(ctx)
}

// callOwnedBy returns a Call-ID whose partition replica owner owns
// among members.
func callOwnedBy(owner string, members []string, n int) (callID, callKey string) {
	for i := 0; ; i++ {
		callID = fmt.Sprintf("handover-%d-%d@test", n, i)
		callKey = sipmsg.CallKey(callID)
		if Owner(callKey, members) == owner {
			return callID, callKey
		}
	}
}

// publishIn publishes raw as the edge e1 does when it receives it from
// remote.
func (r *handoverRig) publishIn(raw, remote string) {
	r.t.Helper()
	if !strings.Contains(raw, "\r\n") {
		raw = strings.ReplaceAll(raw, "\n", "\r\n")
	}
	m, err := sipmsg.Parse([]byte(raw), sipmsg.Datagram)
	if err != nil {
		r.t.Fatalf("test message: %v\n%s", err, raw)
	}
	r.mu.Lock()
	r.seq++
	id := fmt.Sprintf("e1-%d", r.seq)
	r.mu.Unlock()
	ck := sipmsg.CallKey(m.CallID())
	ev := &events.SIP{ID: id, Source: "sipbus/edge/e1", Time: time.Now(), CallKey: ck, Raw: []byte(raw),
		Transport: "udp", Local: rigAdvertise, Remote: remote, Edge: "e1"}
	var subject string
	if m.Request {
		ev.Type, subject = events.TypeRequestReceived, bus.SubjectRequestIn(m.Str(m.Method), ck)
	} else {
		ev.Type, subject = events.TypeResponseReceived, bus.SubjectResponseIn(m.StatusCode, ck)
	}
	if err := r.nc.PublishMsg(ev.Encode(subject)); err != nil {
		r.t.Fatal(err)
	}
}

// sent waits for a message a replica sent that match selects, and returns
// it parsed with the replica's id.
func (r *handoverRig) sent(what string, from int, match func(m *sipmsg.Msg) bool) (*sipmsg.Msg, string, int) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		out := r.out
		r.mu.Unlock()
		for i := from; i < len(out); i++ {
			m, err := sipmsg.Parse(out[i].Raw, sipmsg.Datagram)
			if err == nil && match(m) {
				return m, strings.TrimPrefix(out[i].Source, "sipbus/tm/"), i + 1
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatalf("no replica sent %s within 10s", what)
	return nil, "", 0
}

func (r *handoverRig) callEvent(subject string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.calls {
		if s == subject {
			return true
		}
	}
	return false
}

func isRequest(method, callID string) func(m *sipmsg.Msg) bool {
	return func(m *sipmsg.Msg) bool { return m.Request && m.Str(m.Method) == method && m.CallID() == callID }
}

func isResponse(code int, method, callID string) func(m *sipmsg.Msg) bool {
	return func(m *sipmsg.Msg) bool {
		if m.Request || m.StatusCode != code || m.CallID() != callID {
			return false
		}
		cs, err := m.CSeq()
		return err == nil && cs.Method == method
	}
}

// TestShutdownHandsOverInMemoryWork: SIGTERM's hand-over (Shutdown) of a
// replica that holds, in memory only, work another replica must carry on:
//   - a 180 it forwarded whose write waits to be coalesced (the record in
//     Redis still says the INVITE got no provisional, and call.ringing
//     waits for that write);
//   - a BYE it relayed (a BYE transaction is never written while its
//     replica runs: see persisted) whose 200 has not come yet.
//
// After Shutdown, the other replica owns the partitions: it must find both
// in Redis. It retransmits the BYE (Timer E, from the deadline index the
// leaving replica filled) and sends its 200 upstream, and the INVITE's
// 200 too. Before the hand-over wrote them, the BYE's 200 found no
// transaction and was dropped (SIPp's callee does not answer the BYE's
// retransmission once it answered the BYE: the caller's BYE timed out, the
// call lost), and call.ringing was never published.
func TestShutdownHandsOverInMemoryWork(t *testing.T) {
	r := newHandoverRig(t)
	a := r.replica("tm-a")
	r.replica("tm-b")
	members := []string{"tm-a", "tm-b"}
	inviteID, inviteCK := callOwnedBy("tm-a", members, 1)
	byeID, _ := callOwnedBy("tm-a", members, 2)
	testenv.Eventually(t, 10*time.Second, func() bool {
		ms, owned := a.Partitions()
		return len(ms) == 2 && len(owned) < 256 &&
			contains(owned, bus.Partition(inviteCK)) && contains(owned, bus.Partition(sipmsg.CallKey(byeID)))
	}, "tm-a and tm-b share the partitions")

	// A call rings through tm-a.
	r.publishIn(`INVITE sip:uas@localhost SIP/2.0
Via: SIP/2.0/UDP `+rigCaller+`;branch=z9hG4bKinv1;rport
From: <sip:caller@localhost>;tag=c1
To: <sip:uas@localhost>
Call-ID: `+inviteID+`
CSeq: 1 INVITE
Contact: <sip:caller@`+rigCaller+`>
Max-Forwards: 70
Content-Length: 0

`, rigCaller)
	inv, by, pos := r.sent("the INVITE to the callee", 0, isRequest("INVITE", inviteID))
	if by != "tm-a" {
		t.Fatalf("the INVITE was relayed by %s, want tm-a", by)
	}
	r.publishIn(string(sipmsg.Reply(inv, 180, "Ringing", sipmsg.ReplyOptions{ToTag: "u1"})), rigCallee)
	r.sent("the 180 to the caller", pos, isResponse(180, "INVITE", inviteID))

	// A BYE of another call through tm-a, its 200 not yet come.
	r.publishIn(`BYE sip:uas@`+rigCallee+` SIP/2.0
Via: SIP/2.0/UDP `+rigCaller+`;branch=z9hG4bKbye1;rport
Route: <sip:`+rigAdvertise+`;lr>
From: <sip:caller@localhost>;tag=c2
To: <sip:uas@localhost>;tag=u2
Call-ID: `+byeID+`
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

`, rigCaller)
	bye, by, pos := r.sent("the BYE to the callee", pos, isRequest("BYE", byeID))
	if by != "tm-a" {
		t.Fatalf("the BYE was relayed by %s, want tm-a", by)
	}
	ringing := bus.SubjectCall("ringing", inviteCK)
	if r.callEvent(ringing) {
		t.Fatalf("%s published before its coalesced write: the test does not exercise the hand-over", ringing)
	}

	ctx := testenv.Context(t, 15*time.Second)
	if err := r.shutdown(ctx, "tm-a", a); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	// The write that waited is done, and its event published.
	testenv.Eventually(t, 5*time.Second, func() bool { return r.callEvent(ringing) }, "%s after the hand-over", ringing)

	// tm-b carries the BYE on: its Timer E (from the deadline index) ...
	again, by, _ := r.sent("the BYE retransmitted", pos, isRequest("BYE", byeID))
	if by != "tm-b" {
		t.Errorf("the BYE was retransmitted by %s, want tm-b", by)
	}
	if got, want := topBranch(t, again), topBranch(t, bye); got != want {
		t.Errorf("retransmitted BYE's branch %q, want the first one's %q", got, want)
	}
	// ... and the callee's 200 to it goes upstream.
	r.publishIn(string(sipmsg.Reply(bye, 200, "OK", sipmsg.ReplyOptions{})), rigCallee)
	_, by, _ = r.sent("the BYE's 200 to the caller", pos, isResponse(200, "BYE", byeID))
	if by != "tm-b" {
		t.Errorf("the BYE's 200 was sent by %s, want tm-b", by)
	}

	// The ringing call is answered through tm-b.
	r.publishIn(string(sipmsg.Reply(inv, 200, "OK", sipmsg.ReplyOptions{ToTag: "u1"})), rigCallee)
	_, by, _ = r.sent("the INVITE's 200 to the caller", pos, isResponse(200, "INVITE", inviteID))
	if by != "tm-b" {
		t.Errorf("the INVITE's 200 was sent by %s, want tm-b", by)
	}
	answered := bus.SubjectCall("answered", inviteCK)
	testenv.Eventually(t, 5*time.Second, func() bool { return r.callEvent(answered) }, "%s", answered)
}

func topBranch(t *testing.T, m *sipmsg.Msg) string {
	t.Helper()
	v, err := m.TopVia()
	if err != nil {
		t.Fatal(err)
	}
	return v.Branch
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestShutdownWaitsForNewOwners: requests keep arriving on every partition
// while tm-a hands over to tm-b, which joined a moment ago (tm-a is stopped
// before its next heartbeat, so its own member list does not have tm-b
// yet): each gets its answer, from tm-a before the hand-over or from tm-b
// (directly, or passed on by tm-a), and tm-b owns every partition once
// Shutdown returned. That the leaving replica waits for the new owners'
// word, also when its member list is stale, is shown deterministically by
// ports.TestHandoverWaitsForTook.
func TestShutdownWaitsForNewOwners(t *testing.T) {
	r := newHandoverRig(t)
	a := r.replica("tm-a")
	b := r.replica("tm-b")
	ms, owned := a.Partitions()
	t.Logf("tm-a, when stopped, sees members %v and subscribes to %d partitions", ms, len(owned))
	stop := make(chan struct{})
	sentN := make(chan int)
	go func() {
		n := 0
		defer func() { sentN <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r.publishIn(fmt.Sprintf(`OPTIONS sip:%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bKopt%d
From: <sip:caller@localhost>;tag=o%d
To: <sip:%s>
Call-ID: opt-%d@test
CSeq: 1 OPTIONS
Max-Forwards: 70
Content-Length: 0

`, rigAdvertise, rigCaller, n, n, rigAdvertise, n), rigCaller)
			n++
			time.Sleep(time.Millisecond)
		}
	}()
	err := r.shutdown(testenv.Context(t, 15*time.Second), "tm-a", a)
	time.Sleep(50 * time.Millisecond)
	close(stop)
	n := <-sentN
	if err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, owned := b.Partitions(); len(owned) != 256 {
		t.Errorf("tm-b subscribes to %d partitions, want all 256", len(owned))
	}
	answered := func() map[string]bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		got := map[string]bool{}
		for _, s := range r.out {
			if m, err := sipmsg.Parse(s.Raw, sipmsg.Datagram); err == nil && !m.Request && m.StatusCode == 200 {
				got[m.CallID()] = true
			}
		}
		return got
	}
	var got map[string]bool
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got = answered(); len(got) >= n {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var lost []string
	for i := range n {
		if id := fmt.Sprintf("opt-%d@test", i); !got[id] {
			lost = append(lost, id)
		}
	}
	t.Logf("%d OPTIONS during the hand-over", n)
	if len(lost) > 0 {
		t.Errorf("%d of %d OPTIONS got no 200 (lost in the hand-over), first %v", len(lost), n, lost[:min(len(lost), 5)])
	}
}
