package app

import "sync/atomic"

// Counters are the edge's traffic counters. They are updated on the hot path
// with atomics and read by the stats endpoint; nothing is logged per message.
type Counters struct {
	Received    atomic.Uint64 // messages read from a socket (datagrams and frames)
	Sent        atomic.Uint64 // messages written to a socket
	Absorbed    atomic.Uint64 // retransmissions and ACKs answered or swallowed by the edge
	Rejected    atomic.Uint64 // requests answered statelessly with an error (4xx/5xx)
	Dropped     atomic.Uint64 // unparseable input, bad responses, full queues: counted, not answered
	Published   atomic.Uint64 // events handed to the bus
	Unavailable atomic.Uint64 // requests answered 503 because the store or bus failed
}

// Snapshot is a copy of the counters, as served by the stats endpoint.
type Snapshot struct {
	Received    uint64 `json:"received"`
	Sent        uint64 `json:"sent"`
	Absorbed    uint64 `json:"absorbed"`
	Rejected    uint64 `json:"rejected"`
	Dropped     uint64 `json:"dropped"`
	Published   uint64 `json:"published"`
	Unavailable uint64 `json:"unavailable"`
}

// Snapshot reads every counter.
func (c *Counters) Snapshot() Snapshot {
	return Snapshot{
		Received: c.Received.Load(), Sent: c.Sent.Load(), Absorbed: c.Absorbed.Load(),
		Rejected: c.Rejected.Load(), Dropped: c.Dropped.Load(), Published: c.Published.Load(),
		Unavailable: c.Unavailable.Load(),
	}
}
