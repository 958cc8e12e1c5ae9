// Package ports holds the edge's ways in and out: the UDP and TCP SIP
// listeners (with the TCP flow table) and the NATS `send` command endpoint.
package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipbus/sipbus/pkg/rawio"
	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// Handler processes one received message; p.Data is valid only during the call.
type Handler interface {
	Handle(ctx context.Context, p *app.Packet)
}

// UDP is a SIP UDP listener: one reader goroutine feeding bounded queues,
// two per worker. A datagram goes to the worker chosen by its Call-ID, so
// the messages of one call are handled and published in the order they
// arrived (an ACK is never overtaken by the re-INVITE sent right after it).
// Each worker serves its priority queue first: responses and the requests
// that end or continue what was already admitted (ACK, BYE, CANCEL, PRACK,
// UPDATE, INFO, NOTIFY), so calls in progress finish under overload while
// new ones wait, and are shed (see app.admission) when they wait too long.
// A full queue drops (and counts) datagrams, the way a kernel socket buffer
// would, instead of growing without bound. When a datagram's worker has
// nothing queued or in hand, and it did not wait in the socket (inlineMax),
// the reader handles it itself, to completion (run-to-completion while the
// edge keeps up; queues once it does not): at light load a message costs
// no hand-off between goroutines. Each message taken up carries the
// listener's low watermark (Packet.Low, lowmark.go): the workers run
// calls side by side, so a message may be published while an older one
// still waits in another worker's queue.
type UDP struct {
	conn     *net.UDPConn
	raw      *rawio.UDP // reads and writes conn without the runtime's syscall bookkeeping (package rawio)
	local    netip.AddrPort
	workers  int
	queues   []chan *datagram // new work
	prio     []chan *datagram // responses and in-progress work
	pending  []atomic.Int32   // datagrams queued for a worker and not finished
	mark     *lowMark         // the low watermark each message carries (lowmark.go)
	rxTime   bool             // the kernel timestamps datagrams (SO_TIMESTAMPNS)
	pool     sync.Pool
	counters *app.Counters
	log      *slog.Logger
	maxSize  int
	gate     Gate // flood control; nil: none
	wg       sync.WaitGroup
}

type datagram struct {
	buf  []byte
	n    int
	from netip.AddrPort
	at   time.Time
}

// UDPOptions tune a UDP listener.
type UDPOptions struct {
	Workers, Queue, MaxMessage int
	Gate                       Gate // flood control (app.Flood); nil: none
	Counters                   *app.Counters
	Log                        *slog.Logger
}

// ListenUDP binds addr ("ip:port"; port 0 picks one).
func ListenUDP(addr string, opt UDPOptions) (*UDP, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("edge: udp listen %q: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, fmt.Errorf("edge: udp listen %s: %w", addr, err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	raw, err := rawio.NewUDP(conn)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("edge: udp listen %s: %w", addr, err)
	}
	u := &UDP{
		conn: conn, raw: raw, local: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		workers: opt.Workers, counters: opt.Counters, log: opt.Log, maxSize: opt.MaxMessage, gate: opt.Gate,
	}
	if u.workers < 1 {
		u.workers = 1
	}
	per := max(opt.Queue/u.workers, 16)
	for range u.workers {
		u.queues = append(u.queues, make(chan *datagram, per))
		u.prio = append(u.prio, make(chan *datagram, prioQueues*per))
	}
	u.pending = make([]atomic.Int32, u.workers)
	u.mark = newLowMark(2*u.workers, prioQueues*per)
	u.rxTime = enableRxTime(conn)
	u.pool.New = func() any { return &datagram{buf: make([]byte, 0, queuedBuf)} }
	return u, nil
}

// Addr is the bound address.
func (u *UDP) Addr() netip.AddrPort { return u.local }

// Serve reads datagrams and hands them to h until Close; it returns after
// every worker has finished its datagram.
func (u *UDP) Serve(ctx context.Context, h Handler) {
	for i := 0; i < u.workers; i++ {
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			u.work(ctx, h, i)
		}()
	}
	defer func() {
		for i := range u.queues {
			close(u.queues[i])
			close(u.prio[i])
		}
		u.wg.Wait()
	}()
	var oob [oobSize]byte
	d := &datagram{buf: make([]byte, u.maxSize+1)} // the reader's own; what is queued is copied out
	for {
		n, oobn, from, err := u.raw.ReadMsg(d.buf, oob[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			u.log.Warn("udp read", "err", err)
			continue
		}
		u.counters.Received.Add(1)
		if n > u.maxSize || n == 0 {
			u.counters.Dropped.Add(1) // larger than max_message (or empty): never indexed
			continue
		}
		now := time.Now()
		d.n, d.from, d.at = n, from, now
		if !u.admit(d, now) {
			continue
		}
		if u.rxTime {
			if t, ok := rxTime(oob[:oobn]); ok && t.Before(now) {
				d.at = t // when the kernel got it: the socket buffer is a queue too
			}
		}
		u.mark.read(d.at.UnixNano())
		i := callIDHash(d.buf[:n], d.from) % uint32(len(u.queues))
		if waited := now.Sub(d.at); u.pending[i].Load() == 0 && waited < inlineMax {
			// The worker of this Call-ID has nothing queued or in hand, and
			// the socket holds no backlog: run the datagram here, to
			// completion. Only this goroutine adds work, so nothing of the
			// call can be overtaken, and a lightly loaded edge saves a
			// goroutine hand-off per message.
			p := app.Packet{Transport: app.UDP, Local: u.local, Remote: d.from, Data: d.buf[:d.n], At: d.at, Queued: waited, Low: u.low()}
			h.Handle(ctx, &p)
			u.mark.done()
			continue
		}
		q, k := u.queues[i], fifoNormal(int(i))
		if priority(d.buf[:n]) {
			q, k = u.prio[i], fifoPrio(int(i))
		}
		if len(q) == cap(q) { // only this goroutine sends: not full now, the send does not block
			u.mark.done()
			u.counters.Dropped.Add(1)
			continue
		}
		c := u.pool.Get().(*datagram)
		c.buf = append(c.buf[:0], d.buf[:n]...)
		c.n, c.from, c.at = n, d.from, d.at
		u.pending[i].Add(1)
		u.mark.put(k, c.at.UnixNano())
		q <- c
	}
}

// A queued datagram is copied out of the reader's buffer (max_message
// long) into one of queuedBuf bytes (longer ones grow it): a full queue
// holds its datagrams' bytes, not 64 KB each (the edge's RSS grew by
// ~400 MB in an overload step when each queued datagram held a read
// buffer, bench/RESULTS.md round 31).
const queuedBuf = 2048

// prioQueues is how many times a worker's queue for new work its
// priority queue holds: responses and in-progress requests are dropped
// last. Dropped at the same depth, an overload step lost 200s (the
// callee then took tm's retransmitted INVITE for a new one) and the 200s
// of BYEs; four times as deep, the step at the max rate after the
// overload inherited the backlog and failed in 4 of 5 runs; twice as
// deep, neither (bench/RESULTS.md round 31).
const prioQueues = 2

// The low watermark's queue numbers (lowMark.qs) of worker i's queues.
func fifoNormal(i int) int { return 2 * i }
func fifoPrio(i int) int   { return 2*i + 1 }

// low is the listener's low watermark now (lowMark).
func (u *UDP) low() time.Time { return time.Unix(0, u.mark.low()) }

// work handles worker i's datagrams, its priority queue first, until
// both queues are closed and empty.
func (u *UDP) work(ctx context.Context, h Handler, i int) {
	prio, normal := u.prio[i], u.queues[i]
	for prio != nil || normal != nil {
		var d *datagram
		var ok bool
		k := fifoPrio(i)
		select {
		case d, ok = <-prio:
			if !ok {
				prio = nil
				continue
			}
		default:
			select {
			case d, ok = <-prio:
				if !ok {
					prio = nil
					continue
				}
			case d, ok = <-normal:
				if !ok {
					normal = nil
					continue
				}
				k = fifoNormal(i)
			}
		}
		now := time.Now()
		p := app.Packet{Transport: app.UDP, Local: u.local, Remote: d.from, Data: d.buf[:d.n], At: d.at, Queued: now.Sub(d.at), Low: u.low()}
		h.Handle(ctx, &p)
		u.mark.finished(k)
		u.pool.Put(d)
		u.pending[i].Add(-1)
	}
}

// inlineMax is how long a datagram may have waited in the socket for the
// reader to still run it itself: longer, the socket holds a backlog, and
// the reader only hands datagrams to the workers until it is read. A
// reader that ran them itself then (each a parse, a publish, a 100 Trying
// or a 503 whose send waits for the socket's write lock with every other
// sender's) left the socket's buffer to fill at twice the max rate: the
// kernel dropped 186-5,282 datagrams of an overload step in 4 of 7 runs,
// responses as well as new INVITEs, and 11-429 calls broke on a lost 200
// (bench/RESULTS.md round 30); dropped in the workers' queues, new work
// goes first.
const inlineMax = 2 * time.Millisecond

// priority reports a datagram that belongs to work already admitted: a
// response, or a request that acknowledges, cancels, ends or continues a
// dialog (by method; an in-dialog INVITE or MESSAGE waits with new work).
func priority(b []byte) bool {
	sp := 0
	for sp < len(b) && sp < 16 && b[sp] != ' ' {
		sp++
	}
	switch string(b[:sp]) {
	case "SIP/2.0", "ACK", "BYE", "CANCEL", "PRACK", "UPDATE", "INFO", "NOTIFY":
		return true
	}
	return false
}

// Send writes one datagram from the listening socket, so replies leave from
// the address the peer sent to.
func (u *UDP) Send(to netip.AddrPort, b []byte) error {
	if err := u.raw.WriteTo(b, to); err != nil {
		return fmt.Errorf("edge: udp send to %s: %w", to, err)
	}
	u.counters.Sent.Add(1)
	u.counters.SIP.Count(app.DirOut, b)
	return nil
}

// Close stops reading; Serve returns once in-flight datagrams are handled.
func (u *UDP) Close() error { return u.conn.Close() }

// callIDHash hashes the Call-ID value of a raw message (long or compact
// form, any case) without indexing it; a message without one hashes by its
// source address. FNV-1a.
func callIDHash(b []byte, from netip.AddrPort) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(b); {
		end := i
		for end < len(b) && b[end] != '\n' {
			end++
		}
		line := b[i:end]
		i = end + 1
		if len(line) <= 1 { // the empty line ends the headers
			if i > 2 {
				break
			}
			continue
		}
		c := line[0] | 0x20
		if c != 'c' && c != 'i' {
			continue
		}
		name, rest := line, []byte(nil)
		if k := indexColon(line); k > 0 {
			name, rest = line[:k], line[k+1:]
		} else {
			continue
		}
		for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
			name = name[:len(name)-1]
		}
		if !(len(name) == 1 && c == 'i') && !equalFold(name, "call-id") {
			continue
		}
		for _, x := range rest {
			if x == ' ' || x == '\t' || x == '\r' {
				continue
			}
			h = (h ^ uint32(x)) * 16777619
		}
		return h
	}
	for _, x := range from.Addr().AsSlice() {
		h = (h ^ uint32(x)) * 16777619
	}
	return (h ^ uint32(from.Port())) * 16777619
}

func indexColon(b []byte) int {
	for i, c := range b {
		if c == ':' {
			return i
		}
	}
	return -1
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != s[i]|0x20 {
			return false
		}
	}
	return true
}
