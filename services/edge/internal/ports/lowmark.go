package ports

import "sync/atomic"

// lowMark is a UDP listener's low watermark: the receive time of the
// oldest datagram read from the socket and not yet handed on (published,
// answered, absorbed or dropped), or, with none pending, of the latest
// read. Every datagram received before it has been handed on: one
// received earlier and still unread would have been read before the
// latest (a socket is a queue), and every one read is in the reader's
// hand or in a worker's queue until it is finished. An event carries it
// (events.SIP.Backlog), so a subscriber that handled the event knows the
// edge has published everything it received before: tm holds a request
// retransmission until the call's partition has handled what the edge
// received before the retransmission came due (bench/RESULTS.md round
// 31), where the event's own receive time says nothing of the datagrams
// another worker still holds.
//
// The reader is the only writer of last, hand and each queue's ring and
// in count; a worker advances its queue's out count once a datagram is
// finished; the watermark is read by whichever goroutine takes a
// datagram up, without locks.
type lowMark struct {
	last atomic.Int64 // receive time (unix ns) of the latest datagram read
	hand atomic.Int64 // of the datagram the reader holds; 0: none
	qs   []fifoMark   // one per worker queue, in the queues' order
}

// fifoMark follows one worker queue (a FIFO): datagram n put into it has
// its receive time at at[n%len(at)]; in counts the datagrams put in, out
// those taken out and finished. The oldest pending is number out (the
// one in the worker's hand, or the head of the queue). The ring holds
// the queue's capacity plus the one in hand plus one, so the reader
// never overwrites a pending datagram's slot.
type fifoMark struct {
	in, out atomic.Uint64
	at      []atomic.Int64
}

func newLowMark(queues, capacity int) *lowMark {
	l := &lowMark{qs: make([]fifoMark, queues)}
	for i := range l.qs {
		l.qs[i].at = make([]atomic.Int64, capacity+2)
	}
	return l
}

// read records that the reader holds a datagram received at at.
func (l *lowMark) read(at int64) {
	l.hand.Store(at)
	l.last.Store(at)
}

// put records the reader's datagram, received at at, going into queue q
// (which has room), before it is sent there; the reader's hand is free
// again.
func (l *lowMark) put(q int, at int64) {
	f := &l.qs[q]
	n := f.in.Load()
	f.at[n%uint64(len(f.at))].Store(at)
	f.in.Store(n + 1)
	l.hand.Store(0)
}

// done records that the reader's datagram was handed on by the reader
// itself (run inline, or dropped).
func (l *lowMark) done() { l.hand.Store(0) }

// finished records that queue q's oldest datagram was handed on.
func (l *lowMark) finished(q int) { l.qs[q].out.Add(1) }

// low is the watermark now (unix ns; 0 before the first datagram).
func (l *lowMark) low() int64 {
	w := l.last.Load()
	if h := l.hand.Load(); h != 0 && h < w {
		w = h
	}
	for i := range l.qs {
		f := &l.qs[i]
		for {
			out := f.out.Load()
			if out >= f.in.Load() {
				break // empty
			}
			at := f.at[out%uint64(len(f.at))].Load()
			if f.out.Load() == out { // still the oldest: its slot was not reused
				w = min(w, at)
				break
			}
		}
	}
	return w
}
