//go:build !linux

package rawio

import (
	"net"
	"net/netip"
)

// Wrap returns c: raw calls are Linux only.
func Wrap(c net.Conn) net.Conn { return c }

// UDP is the standard library's UDP I/O on systems other than Linux.
type UDP struct{ c *net.UDPConn }

// NewUDP returns I/O on c.
func NewUDP(c *net.UDPConn) (*UDP, error) { return &UDP{c: c}, nil }

// WriteTo sends b to to in one datagram.
func (u *UDP) WriteTo(b []byte, to netip.AddrPort) error {
	_, err := u.c.WriteToUDPAddrPort(b, to)
	return err
}

// ReadMsg reads one datagram into b and its control data into oob.
func (u *UDP) ReadMsg(b, oob []byte) (n, oobn int, from netip.AddrPort, err error) {
	n, oobn, _, from, err = u.c.ReadMsgUDPAddrPort(b, oob)
	return n, oobn, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
}

// Conn is Linux's raw connection; elsewhere Wrap never makes one.
type Conn struct{ net.Conn }
