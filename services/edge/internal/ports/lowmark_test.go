package ports

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// The watermark is the oldest datagram pending anywhere (the reader's
// hand, any queue), or the latest read when none is.
func TestLowMark(t *testing.T) {
	l := newLowMark(4, 2)
	want := func(w int64, what string) {
		t.Helper()
		if got := l.low(); got != w {
			t.Errorf("%s: watermark %d, want %d", what, got, w)
		}
	}
	queue := func(q int, at int64) { l.read(at); l.put(q, at) } // read, then into queue q
	want(0, "before any datagram")
	l.read(10)
	want(10, "in the reader's hand")
	l.put(1, 10)
	queue(3, 20)
	queue(1, 30)
	want(10, "10 and 30 queued in 1, 20 in 3")
	l.finished(1) // 10 handed on
	want(20, "after 10")
	l.finished(3)
	want(30, "after 20")
	l.read(40)
	l.done() // run by the reader itself
	want(30, "30 still queued after 40 ran inline")
	l.finished(1)
	want(40, "nothing pending: the latest read")
	// The ring is reused past its length: a queue's slots follow its counts.
	for n := int64(50); n < 90; n += 10 {
		queue(0, n)
		l.finished(0)
	}
	queue(0, 90)
	queue(0, 100)
	want(90, "after the ring wrapped")
}

// A message taken up by one worker carries the receive time of an older
// datagram another worker still holds as its watermark: tm must not
// think the edge published everything received before this message.
// Once nothing is pending, a message's watermark is its own time.
func TestUDPLowWatermark(t *testing.T) {
	u, err := ListenUDP("127.0.0.1:0", UDPOptions{Workers: 2, Queue: 64, MaxMessage: 4096, Counters: new(app.Counters), Log: slog.Default()})
	if err != nil {
		t.Fatal(err)
	}
	// Two calls on different workers.
	msg := func(callID string) []byte {
		return []byte("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nCall-ID: " + callID + "\r\nCSeq: 1 OPTIONS\r\n\r\n")
	}
	var from netip.AddrPort // unused: the messages have a Call-ID
	var a, b string
	for i := 0; b == ""; i++ {
		id := fmt.Sprintf("call-%d", i)
		switch {
		case a == "":
			a = id
		case callIDHash(msg(id), from)%2 != callIDHash(msg(a), from)%2:
			b = id
		}
	}
	h := &holdingHandler{got: make(chan handled, 16), hold: map[string]chan struct{}{}}
	releaseA := h.holdCall(a)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { u.Serve(ctx, h); close(served) }()
	defer func() { h.release(a); h.release(b); cancel(); u.Close(); <-served }()

	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(u.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(id string) {
		if _, err := c.Write(msg(id)); err != nil {
			t.Fatal(err)
		}
	}
	next := func(what string) handled {
		select {
		case p := <-h.got:
			return p
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: not handled in 5 s", what)
			return handled{}
		}
	}
	// The kernel stamps arrivals once a work queue turned stamping on
	// (TestRxTime); until then a datagram's time is when it was read, and
	// one that waited in the socket would not show it.
	send("warm-up")
	next("warm-up")
	time.Sleep(50 * time.Millisecond)
	// A1 runs on the reader itself (nothing pending) and holds it; A2 and
	// B wait in the socket past inlineMax, so once A1 is released both go
	// to their workers' queues: A2 is held, B is handled meanwhile.
	send(a)
	a1 := next("A1")
	send(a)
	time.Sleep(5 * time.Millisecond)
	send(b)
	time.Sleep(5 * time.Millisecond)
	releaseA()                                 // A1 returns; A2 is taken up and held
	a2, bp := next("A2 or B"), next("B or A2") // two workers: either first
	if a2.callID == b {
		a2, bp = bp, a2
	}
	if bp.callID != b || a2.callID != a {
		t.Fatalf("handled %s and %s, want A2 (%s) and B (%s)", a2.callID, bp.callID, a, b)
	}
	if !a1.Low.Equal(a1.At) {
		t.Errorf("A1, nothing else pending: watermark %v, want its own time %v", a1.Low, a1.At)
	}
	if !bp.Low.Equal(a2.At) || !bp.Low.Before(bp.At) {
		t.Errorf("B while A2 is held: watermark %v, want A2's receive time %v (B received %v)", bp.Low, a2.At, bp.At)
	}
	h.release(a)
	for deadline := time.Now().Add(5 * time.Second); u.pending[0].Load()+u.pending[1].Load() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("A2 not finished 5 s after its release")
		}
	}
	send(b)
	b2 := next("B2")
	if !b2.Low.Equal(b2.At) {
		t.Errorf("B2, nothing pending: watermark %v, want its own time %v", b2.Low, b2.At)
	}
}

// handled is what the test needs of a packet.
type handled struct {
	callID  string
	At, Low time.Time
}

// holdingHandler passes on what it handles and holds the calls it is
// told to until they are released.
type holdingHandler struct {
	got  chan handled
	mu   sync.Mutex
	hold map[string]chan struct{}
}

func (h *holdingHandler) holdCall(id string) func() {
	ch := make(chan struct{})
	h.mu.Lock()
	h.hold[id] = ch
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			// A1 is let go; A2 is held again on a fresh channel.
			h.mu.Lock()
			h.hold[id] = make(chan struct{})
			h.mu.Unlock()
			close(ch)
		})
	}
}

func (h *holdingHandler) release(id string) {
	h.mu.Lock()
	ch := h.hold[id]
	delete(h.hold, id)
	h.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

func (h *holdingHandler) Handle(_ context.Context, p *app.Packet) {
	_, rest, _ := strings.Cut(string(p.Data), "Call-ID: ")
	id, _, _ := strings.Cut(rest, "\r\n")
	h.mu.Lock()
	ch := h.hold[id]
	h.mu.Unlock()
	h.got <- handled{callID: id, At: p.At, Low: p.Low}
	if ch != nil {
		<-ch
	}
}
