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
	"time"

	"github.com/sipbus/sipbus/services/edge/internal/app"
)

// Handler processes one received message; p.Data is valid only during the call.
type Handler interface {
	Handle(ctx context.Context, p *app.Packet)
}

// UDP is a SIP UDP listener: one reader goroutine feeding a bounded queue
// served by a pool of workers. A full queue drops (and counts) datagrams, the
// way a kernel socket buffer would, instead of growing without bound.
type UDP struct {
	conn     *net.UDPConn
	local    netip.AddrPort
	workers  int
	queue    chan *datagram
	pool     sync.Pool
	counters *app.Counters
	log      *slog.Logger
	maxSize  int
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
	u := &UDP{
		conn: conn, local: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		workers: opt.Workers, queue: make(chan *datagram, opt.Queue),
		counters: opt.Counters, log: opt.Log, maxSize: opt.MaxMessage,
	}
	u.pool.New = func() any { return &datagram{buf: make([]byte, u.maxSize+1)} }
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
			for d := range u.queue {
				p := app.Packet{Transport: app.UDP, Local: u.local, Remote: d.from, Data: d.buf[:d.n], At: d.at}
				h.Handle(ctx, &p)
				u.pool.Put(d)
			}
		}()
	}
	defer func() {
		close(u.queue)
		u.wg.Wait()
	}()
	for {
		d := u.pool.Get().(*datagram)
		n, from, err := u.conn.ReadFromUDPAddrPort(d.buf)
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
			u.pool.Put(d)
			continue
		}
		d.n, d.from, d.at = n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), time.Now()
		select {
		case u.queue <- d:
		default:
			u.counters.Dropped.Add(1)
			u.pool.Put(d)
		}
	}
}

// Send writes one datagram from the listening socket, so replies leave from
// the address the peer sent to.
func (u *UDP) Send(to netip.AddrPort, b []byte) error {
	_, err := u.conn.WriteToUDPAddrPort(b, to)
	if err != nil {
		return fmt.Errorf("edge: udp send to %s: %w", to, err)
	}
	u.counters.Sent.Add(1)
	return nil
}

// Close stops reading; Serve returns once in-flight datagrams are handled.
func (u *UDP) Close() error { return u.conn.Close() }
