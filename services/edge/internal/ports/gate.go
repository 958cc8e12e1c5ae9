package ports

import (
	"net/netip"
	"time"

	"github.com/sipbus/sipbus/services/edge/internal/app"
	"github.com/sipbus/sipbus/services/edge/internal/stun"
)

// Gate is flood control as the listeners see it (app.Flood): every request,
// datagram or connection from a source is counted, and refused while the
// source is blocked. It is asked before anything is parsed.
type Gate interface {
	Admit(transport string, from netip.Addr, now time.Time) bool
}

var _ Gate = (*app.Flood)(nil)

// admit decides, before anything is parsed, what becomes of a datagram. A
// SIP response goes on: responses are never limited. Anything else counts
// against its source's limit and is dropped unread while the source is
// blocked; then a keepalive is dropped silently (counted, never published,
// never answered) and a STUN Binding request is answered (RFC 5626 §4.4.2).
// It reports whether the datagram goes on to the handler.
func (u *UDP) admit(d *datagram, now time.Time) bool {
	b := d.buf[:d.n]
	if isResponse(b) {
		return true
	}
	if u.gate != nil && !u.gate.Admit(app.UDP, d.from.Addr(), now) {
		return false // counted by the gate (flooded)
	}
	switch {
	case keepalive(b):
		u.counters.Keepalives.Add(1)
		return false
	case stun.Is(b):
		u.answerSTUN(b, d.from)
		return false
	}
	return true
}

// answerSTUN answers a STUN message on the SIP socket, or drops it.
func (u *UDP) answerSTUN(b []byte, from netip.AddrPort) {
	out, err := stun.Reply(b, from)
	if err != nil {
		u.counters.Dropped.Add(1)
		u.log.Debug("drop STUN message", "from", from, "err", err)
		return
	}
	if _, err := u.conn.WriteToUDPAddrPort(out, from); err != nil {
		u.log.Debug("send STUN answer", "to", from, "err", err)
		return
	}
	u.counters.STUN.Add(1)
}

// keepalive reports a datagram of nothing but line ends and blanks: the
// CRLF and double-CRLF keepalives phones send over UDP to keep their NAT
// binding open (RFC 5626 §3.5.1 defines them for streams; many UAs send
// them on UDP too), and the NUL-filled ones of some others.
func keepalive(b []byte) bool {
	for _, c := range b {
		switch c {
		case '\r', '\n', ' ', '\t', 0:
		default:
			return false
		}
	}
	return true
}

// isResponse reports a message that starts like a SIP response ("SIP/2.0 ",
// any case: RFC 3261 §7.1).
func isResponse(b []byte) bool {
	return len(b) >= 8 && equalFold(b[:8], "sip/2.0 ")
}
