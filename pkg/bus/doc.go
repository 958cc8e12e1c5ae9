// Package bus carries sipbus events: CloudEvents 1.0 on NATS JetStream.
//
// # Encoding
//
// Events use the binary content mode of the CloudEvents NATS protocol
// binding: attributes in lower-case "ce-" headers (ce-specversion, ce-id,
// ce-source, ce-type, ce-subject, ce-time in RFC 3339 with nanoseconds,
// ce-dataschema, and the extensions ce-callkey and ce-traceparent),
// "content-type: application/json", and the JSON data as the payload. The
// event id is also the Nats-Msg-Id header, so a re-published event is dropped
// by the stream's duplicate window. Any CloudEvents SDK with a NATS binding
// reads these messages, and bus.Decode reads what such an SDK writes in binary
// mode (tests prove both directions against sdk-go).
//
// # Subjects
//
// Every SIP subject carries the call's partition (Partition: the first two
// hex digits of the call key, sipmsg.CallKey, 00 ... ff) as its second
// token, so a tm replica that owns a partition subscribes to sip.<p>.in.>
// and gets every message of its calls:
//
//	sip.<p>.in.req.<METHOD>         request received    (SubjectRequestIn)
//	sip.<p>.in.res.<N>xx            response received   (SubjectResponseIn)
//	sip.<p>.in.bad                  request rejected    (SubjectRejected)
//	sip.<p>.out.<edge>.req.<METHOD> request to send     (SubjectRequestOut)
//	sip.<p>.out.<edge>.res.<N>xx    response to send    (SubjectResponseOut)
//	call.<event>.<p>                call lifecycle event (SubjectCall)
//	app.<name>.<p>                  hand-over to an application (SubjectApp)
//	reg.contact.<event>.<p>    registrar events
//	ctd.<event>.<id>                click-to-dial events
//	notify.<event>.<id>             notifier events
//	edge.<event>.<edge id>          an edge's own events: edge.blocked (SubjectEdge)
//	dead.<consumer>.<subject>       dead letters        (SubjectDead)
//
// No subject names a call. The call is the event's callkey attribute
// (ce-callkey, CallKeyOf), which every SIP and call event carries; one
// call replays with CallFilter's filters (its partition: 1/256 of the
// log) and that attribute. The first design ended every subject with the
// call key, and the stream then kept an index entry for each of a call's
// 14 subjects for as long as it held the events: a million subjects for
// 70,000 calls, in the NATS server's memory (in `sipbus up`, in the heap
// the services' collector marks: bench/RESULTS.md, round 8). Subjects of
// a bounded set (256 partitions times the methods, classes and edges)
// keep that index small and fixed, whatever the stream holds; reading a
// call back costs a scan of its partition instead of an index lookup.
// Registrar subjects end with the partition of the AOR's key for the
// same reason: until round 19 they ended with the key itself, one index
// entry per subscriber (54 MB of `sipbus up`'s heap after 30 s of 8,000
// REGISTER/s from new users, and the collections over it made the edge
// shed); one AOR's events are its partition's filtered by their
// CloudEvent subject (the AOR).
//
// and, outside the stream, sipbus.ctd.ring (click-to-dial's ring-key
// announcements between its replicas, services/ctd).
//
// A sip.out subject names the edge that sends the message (its id, or
// AnyEdge: "any" edge, a queue group): the message in the log is also the
// order to send it (see pkg/edgeapi). The SIP events are the v2 types of
// package events: the data is the SIP message itself (events.SIP). The
// tx.<event>.<callkey> subjects of the first design are retired.
//
// <N>xx is the status class (1xx ... 6xx). Method names are tokens as
// written, passed through SafeToken: a method with characters outside
// [A-Za-z0-9_-] (RFC 4475 "intmeth") becomes those characters replaced by '_'
// plus "-" and 8 hex digits of its FNV-1a 32 hash, so distinct methods stay
// distinct. All of these live in one stream (DefaultStream, StreamSubjects)
// with a retention window and a size cap (EnsureStream), written in
// JetStream's async persist mode unless StreamConfig.SyncWrites. Commands
// are NATS request/reply services under "sipbus.>", outside the stream, and
// so are the instances' beats (sipbus.beat.<service>.<id>, Beat).
//
// # The hot path
//
// The SIP path does not use JetStream consumers: tm, the registrar and the
// edges subscribe to the stream's subjects with core NATS subscriptions
// (one delivery, no acknowledgements), and the stream stores the same
// messages for replay. A message a subscriber misses (it died, its
// partition moved) is repaired by SIP's retransmissions, as a lost
// datagram is. Their publishers ask the stream to acknowledge one message
// in HotAckEvery (PublisherOptions.AckEvery): a stream that stops storing
// is noticed within that many messages.
//
// In one process (`sipbus up`) the hot path skips the server for its
// deliveries: Local hands each message the edge, tm or the registrar
// publishes to the subscriptions of the others in-process, and publishes
// it on a connection without echo, lingering up to 10 ms (DefaultLinger)
// to send the messages of that moment in one burst, so the stream stores every one
// and subscribers in other processes get them as before. Subscriptions
// are made through Core (NATS(nc) or a Local) so a service reads the same
// either way. Lanes and Overload are the
// input queues of those subscribers and their CoDel-style overload
// detector; Beater publishes the load in their beats.
//
// # Publishing
//
// Publisher.Publish is asynchronous with bounded pending acks: it blocks while
// MaxPending publishes are unacknowledged (back-pressure), until its context
// ends. Failed acks are counted and logged; Flush waits for all of them.
// PublishSync waits for the ack. PublishData builds the event from an
// events.* value (type and dataschema from its CEType/CESchema). PublishMsg
// publishes an encoded message (events.SIP.Encode).
//
// # Subscribing
//
// Subscribe (for features that need every event at least once: the
// notifier, applications) runs a Handler on a durable pull consumer named
// after the handler (its stable name), with at most Concurrency handlers at once
// (MaxAckPending is the same number). A handler returns nil (ack), an error
// (nak with the delay Backoff[delivery-1], capped at the last entry) or
// Permanent(err) (term). A permanent error, a message that is not a
// CloudEvent, or a failure on the last delivery (MaxDeliver) copies the
// message with its headers, plus sipbus-dead-reason and sipbus-dead-consumer,
// to dead.<consumer>.<original subject> and terminates it. Recover (a panic is
// a permanent error, stack logged) and Timeout are always applied; Metrics
// and any other Middleware are opt-in. Handlers must be idempotent: delivery
// is at least once. Stop drains: no new fetches, buffered and in-flight
// messages finish, until its context ends. Pull requests last PullExpiry
// (5 s) with a heartbeat every PullHeartbeat (1 s): a request the server
// no longer holds is asked again after two missed heartbeats, not after
// nats.go's default 30 s.
package bus
