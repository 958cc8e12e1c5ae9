//go:build linux

package rawio

import (
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Conn is a stream connection (TCP, Unix) whose Read and Write are raw
// system calls; everything else is the wrapped connection's.
//
// It does not expose its descriptor (no SyscallConn), on purpose: go-redis
// peeks at a pooled connection's socket before every command through it
// (a recvfrom through package syscall), and that peek was what still woke
// sysmon after each idle moment. A connection the server closed then shows
// at its first use instead, as with most Redis clients: the read ends in
// EOF, which go-redis retries on a fresh connection.
type Conn struct {
	c  net.Conn
	rc syscall.RawConn
}

// Wrap returns c with raw reads and writes, or c itself when it does not
// expose its file descriptor (a TLS connection, a pipe).
func Wrap(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &Conn{c: c, rc: rc}
}

func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		r, e, ok := retry(func() (uintptr, syscall.Errno) {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			return r, e
		})
		n, errno = int(r), e
		return ok
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, c.opErr("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *Conn) Write(b []byte) (int, error) {
	done := 0
	var errno syscall.Errno
	for done < len(b) {
		err := c.rc.Write(func(fd uintptr) bool {
			p := b[done:]
			r, e, ok := retry(func() (uintptr, syscall.Errno) {
				r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
				return r, e
			})
			if ok && e == 0 {
				done += int(r)
			}
			errno = e
			return ok
		})
		if err != nil {
			return done, err
		}
		if errno != 0 {
			return done, c.opErr("write", errno)
		}
	}
	return done, nil
}

func (c *Conn) opErr(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: c.c.LocalAddr().Network(), Source: c.c.LocalAddr(), Addr: c.c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}

func (c *Conn) Close() error                       { return c.c.Close() }
func (c *Conn) LocalAddr() net.Addr                { return c.c.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr               { return c.c.RemoteAddr() }
func (c *Conn) SetDeadline(t time.Time) error      { return c.c.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.c.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.c.SetWriteDeadline(t) }

// UDP sends and receives datagrams on a UDP socket with raw calls.
type UDP struct {
	c  *net.UDPConn
	rc syscall.RawConn
	v6 bool // an AF_INET6 socket: IPv4 peers are written v4-mapped
}

// NewUDP returns raw I/O on c.
func NewUDP(c *net.UDPConn) (*UDP, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	u := &UDP{c: c, rc: rc}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		var sa syscall.Sockaddr
		if sa, serr = syscall.Getsockname(int(fd)); serr == nil {
			_, u.v6 = sa.(*syscall.SockaddrInet6)
		}
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, os.NewSyscallError("getsockname", serr)
	}
	return u, nil
}

// WriteTo sends b to to in one datagram.
func (u *UDP) WriteTo(b []byte, to netip.AddrPort) error {
	var sa4 syscall.RawSockaddrInet4
	var sa6 syscall.RawSockaddrInet6
	var sa unsafe.Pointer
	var salen uintptr
	a := to.Addr()
	port := to.Port()
	if u.v6 {
		sa6.Family = syscall.AF_INET6
		putPort(&sa6.Port, port)
		sa6.Addr = a.As16()
		if a.Is6() {
			sa6.Scope_id = scopeID(a.Zone())
		}
		sa, salen = unsafe.Pointer(&sa6), unsafe.Sizeof(sa6)
	} else {
		a4 := a.Unmap()
		if !a4.Is4() {
			return &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: syscall.EAFNOSUPPORT}
		}
		sa4.Family = syscall.AF_INET
		putPort(&sa4.Port, port)
		sa4.Addr = a4.As4()
		sa, salen = unsafe.Pointer(&sa4), unsafe.Sizeof(sa4)
	}
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	var errno syscall.Errno
	err := u.rc.Write(func(fd uintptr) bool {
		var ok bool
		_, errno, ok = retry(func() (uintptr, syscall.Errno) {
			r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(p), uintptr(len(b)), 0, uintptr(sa), salen)
			return r, e
		})
		return ok
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return &net.OpError{Op: "write", Net: "udp", Source: u.c.LocalAddr(), Addr: net.UDPAddrFromAddrPort(to), Err: os.NewSyscallError("sendto", errno)}
	}
	return nil
}

// ReadMsg reads one datagram into b and its control data into oob; from
// is the sender (an IPv4 sender of an AF_INET6 socket unmapped).
func (u *UDP) ReadMsg(b, oob []byte) (n, oobn int, from netip.AddrPort, err error) {
	var rsa syscall.RawSockaddrAny
	var iov syscall.Iovec
	if len(b) > 0 {
		iov.Base = &b[0]
		iov.SetLen(len(b))
	}
	var msg syscall.Msghdr
	msg.Name = (*byte)(unsafe.Pointer(&rsa))
	msg.Iov = &iov
	msg.Iovlen = 1
	if len(oob) > 0 {
		msg.Control = &oob[0]
	}
	var errno syscall.Errno
	err = u.rc.Read(func(fd uintptr) bool {
		r, e, ok := retry(func() (uintptr, syscall.Errno) {
			msg.Namelen = uint32(syscall.SizeofSockaddrAny) // the lengths are in-out: set before every call
			if len(oob) > 0 {
				msg.SetControllen(len(oob))
			}
			r, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), 0)
			return r, e
		})
		n, errno = int(r), e
		return ok
	})
	if err != nil {
		return 0, 0, from, err
	}
	if errno != 0 {
		return 0, 0, from, &net.OpError{Op: "read", Net: "udp", Source: u.c.LocalAddr(), Err: os.NewSyscallError("recvmsg", errno)}
	}
	oobn = int(msg.Controllen)
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), getPort(&sa.Port))
	case syscall.AF_INET6:
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(zoneName(sa.Scope_id))
		}
		from = netip.AddrPortFrom(a.Unmap(), getPort(&sa.Port))
	}
	return n, oobn, from, nil
}

// A sockaddr's port is in network byte order whatever the machine's.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// retry makes one raw system call (call: the conversions of pointers to
// uintptr stay in the call's own argument list, as package unsafe
// requires), again while a signal interrupts it; ok is false on EAGAIN:
// the socket is not ready, and the RawConn callback returns false to
// wait on the poller.
func retry(call func() (uintptr, syscall.Errno)) (r uintptr, errno syscall.Errno, ok bool) {
	for {
		r, e := call()
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, 0, false
		}
		return r, e, true
	}
}

func scopeID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}

func zoneName(id uint32) string {
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		return ifi.Name
	}
	return ""
}
