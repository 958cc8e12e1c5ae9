package rawio_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/rawio"
)

// A wrapped TCP connection carries bytes both ways, a write larger than
// the socket buffers arrives whole, a read deadline is a timeout error
// and the peer's close is io.EOF.
func TestConnTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = d.(*net.TCPConn).SetWriteBuffer(4096)
	c := rawio.Wrap(d)
	if _, ok := c.(*net.TCPConn); ok {
		t.Fatal("Wrap returned the TCP connection itself")
	}
	if _, ok := c.(syscall.Conn); ok && runtime.GOOS == "linux" {
		t.Fatal("the wrapped connection exposes its descriptor: go-redis would peek at it (a syscall) before every command")
	}
	defer c.Close()
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	defer peer.Close()

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB through a 4 KiB send buffer: EAGAIN, partial writes
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		got <- b
	}()
	if n, err := c.Write(big); err != nil || n != len(big) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(big))
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("the peer read %d bytes, not the %d written", len(b), len(big))
	}

	if _, err := peer.Write([]byte("+PONG\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "+PONG\r\n" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}

	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline = %v; want a timeout", err)
	}
	_ = c.SetReadDeadline(time.Time{})

	_ = peer.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("Read after the peer closed = %v; want io.EOF", err)
	}
	_ = c.Close()
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v; want net.ErrClosed", err)
	}
}

// The Dialer's connections are wrapped, and a refused one is an error.
func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if c, err := ln.Accept(); err == nil {
			_ = c.Close()
		}
	}()
	c, err := rawio.NewDialer(time.Second).Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*rawio.Conn); !ok && runtime.GOOS == "linux" {
		t.Fatalf("dialed a %T, want a *rawio.Conn", c)
	}
	_ = c.Close()
	addr := ln.Addr().String()
	_ = ln.Close()
	if _, err := rawio.NewDialer(time.Second).Dial("tcp", addr); err == nil {
		t.Fatalf("dialing the closed listener %s succeeded", addr)
	}
}

// Wrap leaves a connection without a file descriptor as it is.
func TestWrapPipe(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if rawio.Wrap(a) != a {
		t.Fatal("Wrap changed a pipe")
	}
}

// Datagrams go both ways between an IPv4 socket and a dual-stack one,
// the sender's address reads unmapped, and a read deadline is a timeout.
func TestUDP(t *testing.T) {
	for _, tc := range []struct{ name, a, b string }{
		{"v4", "127.0.0.1:0", "127.0.0.1:0"},
		{"dual-stack", "127.0.0.1:0", "[::]:0"},
		{"v6", "[::1]:0", "[::1]:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.a)))
			if err != nil {
				t.Fatalf("%s: %v", tc.a, err)
			}
			defer ca.Close()
			cb, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.b)))
			if err != nil {
				t.Fatalf("%s: %v", tc.b, err)
			}
			defer cb.Close()
			ua, err := rawio.NewUDP(ca)
			if err != nil {
				t.Fatal(err)
			}
			ub, err := rawio.NewUDP(cb)
			if err != nil {
				t.Fatal(err)
			}
			addrA := ca.LocalAddr().(*net.UDPAddr).AddrPort()
			addrB := cb.LocalAddr().(*net.UDPAddr).AddrPort()
			if !addrB.Addr().IsLoopback() {
				addrB = netip.AddrPortFrom(addrA.Addr(), addrB.Port()) // the wildcard socket, reached on A's loopback
			}

			msg := []byte("OPTIONS sip:a@b SIP/2.0\r\n\r\n")
			if err := ua.WriteTo(msg, addrB); err != nil {
				t.Fatalf("WriteTo %s: %v", addrB, err)
			}
			buf := make([]byte, 1500)
			var oob [64]byte
			_ = cb.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _, from, err := ub.ReadMsg(buf, oob[:])
			if err != nil || !bytes.Equal(buf[:n], msg) {
				t.Fatalf("ReadMsg = %q, %v", buf[:n], err)
			}
			if from != addrA {
				t.Fatalf("sender %s, want %s", from, addrA)
			}
			if err := ub.WriteTo([]byte("SIP/2.0 200 OK\r\n\r\n"), from); err != nil {
				t.Fatalf("reply to %s: %v", from, err)
			}
			_ = ca.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, _, _, err := ua.ReadMsg(buf, nil); err != nil || string(buf[:n]) != "SIP/2.0 200 OK\r\n\r\n" {
				t.Fatalf("reply read = %q, %v", buf[:n], err)
			}

			_ = ca.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
			if _, _, _, err := ua.ReadMsg(buf, nil); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("ReadMsg past the deadline = %v; want a timeout", err)
			}
		})
	}
}

// An IPv4 socket cannot send to an IPv6 address: an error, not a crash.
func TestUDPWrongFamily(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u, err := rawio.NewUDP(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.WriteTo([]byte("x"), netip.MustParseAddrPort("[::1]:5060")); err == nil {
		t.Fatal("an IPv4 socket sent to [::1]")
	}
}
