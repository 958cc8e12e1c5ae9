package app

import "sync/atomic"

// Counters are the edge's traffic counters. They are updated on the hot path
// with atomics and read by the stats endpoint; nothing is logged per message.
type Counters struct {
	Received      atomic.Uint64 // messages read from a socket (datagrams and frames)
	Sent          atomic.Uint64 // messages written to a socket
	Absorbed      atomic.Uint64 // retransmissions and ACKs answered or swallowed by the edge
	Republished   atomic.Uint64 // retransmissions handed to the bus again (no answer after Republish)
	Rejected      atomic.Uint64 // requests answered statelessly with an error (4xx/5xx)
	Shed          atomic.Uint64 // new dialogs answered 503 because of overload
	Dropped       atomic.Uint64 // unparseable input, bad responses, full queues: counted, not answered
	Published     atomic.Uint64 // events handed to the bus
	Transmitted   atomic.Uint64 // messages sent for other services (sip.out)
	Undeliverable atomic.Uint64 // sip.out messages that could not be sent (bad, flow gone)
	Unavailable   atomic.Uint64 // requests answered 503 because the bus failed
	TimerG        atomic.Uint64 // non-2xx finals retransmitted (Timer G)

	// Flood control (Flood) and keepalives.
	Flooded        atomic.Uint64 // messages and connections from blocked sources: dropped unread / closed
	Blocks         atomic.Uint64 // blocks started (one sipbus.edge.blocked event each)
	FloodUntracked atomic.Uint64 // requests passed untracked: the source table was full of blocked sources
	// Keepalives: CRLF keepalives, never published: dropped silently on
	// UDP, answered with a CRLF pong on a connection (RFC 5626 §4.4.1).
	Keepalives atomic.Uint64
	STUN       atomic.Uint64 // STUN binding requests answered on the SIP port (RFC 5626 §4.4.2)
	// HandshakeFailed: TLS handshakes that failed and WebSocket upgrades
	// refused (the connection is closed).
	HandshakeFailed atomic.Uint64

	// SIP counts messages in and out by method and status (metrics).
	SIP SIPCounts
}

// Snapshot is a copy of the counters, as served by the stats endpoint.
type Snapshot struct {
	Received      uint64 `json:"received"`
	Sent          uint64 `json:"sent"`
	Absorbed      uint64 `json:"absorbed"`
	Republished   uint64 `json:"republished"`
	Rejected      uint64 `json:"rejected"`
	Shed          uint64 `json:"shed"`
	Dropped       uint64 `json:"dropped"`
	Published     uint64 `json:"published"`
	Transmitted   uint64 `json:"transmitted"`
	Undeliverable uint64 `json:"undeliverable"`
	Unavailable   uint64 `json:"unavailable"`
	TimerG        uint64 `json:"timer_g"`
	Transactions  int    `json:"transactions"` // server transactions this edge remembers now
	Flows         int    `json:"flows"`        // open connections (tcp, tls, ws, wss), handshakes included

	Flooded          uint64 `json:"flooded"`
	Blocks           uint64 `json:"blocks"`
	FloodUntracked   uint64 `json:"flood_untracked"`
	FloodSources     int    `json:"flood_sources"` // sources flood control tracks now
	Keepalives       uint64 `json:"keepalives"`
	STUN             uint64 `json:"stun"`
	HandshakesFailed uint64 `json:"handshakes_failed"`
}

// Snapshot reads every counter.
func (c *Counters) Snapshot() Snapshot {
	return Snapshot{
		Received: c.Received.Load(), Sent: c.Sent.Load(), Absorbed: c.Absorbed.Load(),
		Republished: c.Republished.Load(), Rejected: c.Rejected.Load(), Shed: c.Shed.Load(),
		Dropped: c.Dropped.Load(), Published: c.Published.Load(), Transmitted: c.Transmitted.Load(),
		Undeliverable: c.Undeliverable.Load(), Unavailable: c.Unavailable.Load(), TimerG: c.TimerG.Load(),
		Flooded: c.Flooded.Load(), Blocks: c.Blocks.Load(), FloodUntracked: c.FloodUntracked.Load(),
		Keepalives: c.Keepalives.Load(), STUN: c.STUN.Load(), HandshakesFailed: c.HandshakeFailed.Load(),
	}
}
