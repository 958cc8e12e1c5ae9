package app

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Transports the edge speaks.
const (
	UDP = "udp"
	TCP = "tcp"
)

// Packet is one SIP message as it arrived: a UDP datagram or one frame of a
// TCP stream.
type Packet struct {
	Transport string         // UDP or TCP
	Local     netip.AddrPort // the address it arrived on
	Remote    netip.AddrPort // the peer's address (source of the datagram / connection)
	Flow      string         // TCP: the connection's flow id; "" for UDP
	Data      []byte         // the message bytes; valid only during Handle
	At        time.Time      // when it was read
}

// Dest says where a message goes: a UDP address, or a TCP flow (connection)
// with the peer address it belongs to.
type Dest struct {
	Transport string
	Addr      netip.AddrPort
	Flow      string
}

// String renders d the way the store keeps it: "udp:ip:port", "tcp:ip:port"
// (no connection yet) or "tcp:ip:port/flowid".
func (d Dest) String() string {
	s := d.Transport + ":" + d.Addr.String()
	if d.Flow != "" {
		s += "/" + d.Flow
	}
	return s
}

// ErrBadDest is returned by ParseDest.
var ErrBadDest = errors.New("edge: bad destination")

// ParseDest parses the String form of a Dest.
func ParseDest(s string) (Dest, error) {
	tr, rest, ok := strings.Cut(s, ":")
	if !ok || (tr != UDP && tr != TCP) {
		return Dest{}, fmt.Errorf("%w: %q: want udp:ip:port or tcp:ip:port[/flow]", ErrBadDest, s)
	}
	addr, flow, _ := strings.Cut(rest, "/")
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return Dest{}, fmt.Errorf("%w: %q: %v", ErrBadDest, s, err)
	}
	return Dest{Transport: tr, Addr: ap, Flow: flow}, nil
}
