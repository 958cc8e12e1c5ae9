package app

import (
	"net/netip"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
)

// Transports the edge speaks (events.UDP ...).
const (
	UDP = events.UDP
	TCP = events.TCP
	TLS = events.TLS
	WS  = events.WS
	WSS = events.WSS
)

// Packet is one SIP message as it arrived: a UDP datagram, one frame of a
// TCP or TLS stream, or one WebSocket message.
type Packet struct {
	Transport string         // UDP, TCP, TLS, WS or WSS
	Local     netip.AddrPort // the address it arrived on
	Remote    netip.AddrPort // the peer's address (source of the datagram / connection)
	Flow      string         // the connection's flow id; "" for UDP
	Data      []byte         // the message bytes; valid only during Handle
	At        time.Time      // when it was read
	Queued    time.Duration  // how long it waited for a worker (UDP)
	// Low is the listener's low watermark when the message was taken up
	// (UDP): every datagram it received before Low has been handed on
	// (published, answered or dropped). Zero: not known.
	Low time.Time
}

// Dest says where a message goes: a UDP address, or a flow (connection)
// with the peer address it belongs to (events.Dest, the sipdest form).
type Dest = events.Dest

// ParseDest parses the sipdest form (events.ParseDest).
func ParseDest(s string) (Dest, error) { return events.ParseDest(s) }
