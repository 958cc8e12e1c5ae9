// Package replay turns one call's events from the JetStream log into what
// a person reads afterwards (Homer's and sngrep's job, from the log sipbus
// keeps anyway): a ladder, a pcap, the raw events, and a list of calls.
//
// Read selects the call's partition with the filters of bus.CallFilter
// (SIP messages received and sent, rejected requests, call.* events) on an
// ordered consumer from the start of the stream (or --since), keeps the
// events whose callkey attribute is the call's, and reads until it has
// seen what the stream held when it started. A Call-ID argument
// is hashed to its call key and the messages of other Call-IDs that share
// the key are dropped; an argument of 16 lower-case hex digits is a call
// key. A call with no event in the stream is ErrUnknownCall.
//
// Items are in time order (the stream's order where times tie): a
// received message at the edge's receive time, a sent one at the time the
// stream stored it (the order to send and the record of sending are the
// same message), a call event at the time tm decided it. tm publishes
// call events in batches after the messages, so stream order alone would
// put call.ringing after the final response; a cause is always stamped
// before its effect (on one clock; across hosts, as well as their clocks
// agree). Addresses: a received message goes from its
// Remote to its Local address (the edge's listener); a sent message goes
// from the listener of the edge that sent it (known from the messages it
// received, else the first edge listener of the call) to its destination.
//
// Ladder draws one column per address and one arrow per message, with the
// time since the previous item and since the first, and the call.* events
// as lines between the arrows. Text from the network (reason phrases,
// methods) is printed through strconv.Quote's rules, so it cannot move
// the cursor or forge a line.
//
// WritePcap writes every SIP message as a UDP datagram in an IPv4 or IPv6
// packet (the addresses above; messages that went over TCP, TLS or
// WebSocket are written as UDP too, so Wireshark's SIP dissector shows
// them without a TCP stream to reassemble) with Linux "cooked" framing
// avoided: link type raw IP. tshark -r FILE shows the same SIP messages.
package replay
