package bus

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// Transaction event names of tx.<event>.<callkey> subjects. Retired: the
// edge no longer stores a transaction or an event per retransmission (it
// counts them); the names stay reserved.
const (
	TxEventCreated  = "created"
	TxEventAbsorbed = "absorbed"
)

// Call lifecycle event names used in call.<event>.<callkey> subjects (one
// per sipbus.call.<event>.v1 type).
const (
	CallEventStarted  = "started"
	CallEventRinging  = "ringing"
	CallEventAnswered = "answered"
	CallEventEnded    = "ended"
	CallEventMissed   = "missed"
)

// Registrar binding event names used in reg.contact.<event>.<p> subjects
// (one per sipbus.reg.contact.<event>.v1 type).
const (
	RegEventAdded     = "added"
	RegEventRefreshed = "refreshed"
	RegEventRemoved   = "removed"
	RegEventExpired   = "expired"
)

// Notifier event names used in notify.<event>.<id> subjects.
const (
	// NotifyEventFailed: a notification the notifier gave up on (a mail
	// the SMTP server refused for good, a program that failed), the
	// notifier's dead letter (sipbus.notify.failed.v1).
	NotifyEventFailed = "failed"
)

// maxToken caps the length of a token made by SafeToken.
const maxToken = 64

// Partitions is the number of call-key partitions: every SIP subject
// carries its call's partition as its second token, so a tm replica that
// owns a partition subscribes to "sip.<partition>.in.>" and sees every
// message of its calls, in order, and nothing else. A partition is the
// first two hex digits of the call key (00 ... ff), so any language computes
// it without hashing again; changing the count is a change of the subject
// contract.
const Partitions = 256

// AnyEdge is the edge token of a message any edge may transmit (a queue
// group of every edge); a message for one edge names it instead.
const AnyEdge = "any"

// Partition is the partition token of a call key: its first two lower-case
// hex digits. A key that is not hex (never made by sipmsg.CallKey) gets the
// partition of its FNV-1a hash, so every key has one.
func Partition(callKey string) string {
	if len(callKey) >= 2 && isHexLower(callKey[0]) && isHexLower(callKey[1]) {
		return callKey[:2]
	}
	h := fnv.New32a()
	h.Write([]byte(callKey))
	const hexdig = "0123456789abcdef"
	v := h.Sum32() & 0xff
	return string([]byte{hexdig[v>>4], hexdig[v&15]})
}

// callPartition is the partition token of the call key a subject is made
// for (the key as SafeToken makes it a token, as subjects always took it).
func callPartition(callKey string) string { return Partition(SafeToken(callKey)) }

// PartitionIndex is the number 0..Partitions-1 of a partition token.
func PartitionIndex(p string) int {
	if len(p) != 2 || !isHexLower(p[0]) || !isHexLower(p[1]) {
		return -1
	}
	return hexVal(p[0])<<4 | hexVal(p[1])
}

// PartitionToken is the token of partition number i (0..Partitions-1).
func PartitionToken(i int) string {
	const hexdig = "0123456789abcdef"
	return string([]byte{hexdig[(i>>4)&15], hexdig[i&15]})
}

func isHexLower(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func hexVal(c byte) int {
	if c <= '9' {
		return int(c - '0')
	}
	return int(c-'a') + 10
}

// SubjectRequestIn is the subject of a request the edge received:
// sip.<partition>.in.req.<METHOD>. No subject carries the call key (see
// the package doc, "Subjects"): the event's callkey attribute names the call.
func SubjectRequestIn(method, callKey string) string {
	return "sip." + callPartition(callKey) + ".in.req." + SafeToken(method)
}

// SubjectResponseIn is the subject of a response the edge received:
// sip.<partition>.in.res.<N>xx.
func SubjectResponseIn(status int, callKey string) string {
	return "sip." + callPartition(callKey) + ".in.res." + StatusClass(status)
}

// SubjectRejected is the subject of a request the edge rejected
// statelessly: sip.<partition>.in.bad.
func SubjectRejected(callKey string) string {
	return "sip." + callPartition(callKey) + ".in.bad"
}

// SubjectRequestOut is the subject of a request a service asks an edge to
// send: sip.<partition>.out.<edge>.req.<METHOD>. The message is the log's
// record of it and, at once, the order to the edge: edge is the id of the
// edge that transmits it (SafeToken'ed), or AnyEdge.
func SubjectRequestOut(edge, method, callKey string) string {
	return "sip." + callPartition(callKey) + ".out." + SafeToken(edge) + ".req." + SafeToken(method)
}

// SubjectResponseOut is the subject of a response to send:
// sip.<partition>.out.<edge>.res.<N>xx.
func SubjectResponseOut(edge string, status int, callKey string) string {
	return "sip." + callPartition(callKey) + ".out." + SafeToken(edge) + ".res." + StatusClass(status)
}

// PartitionInFilter selects every message received for the calls of one
// partition (requests, responses, rejected requests): sip.<p>.in.>.
func PartitionInFilter(p string) string { return "sip." + p + ".in.>" }

// EdgeOutFilter selects the messages edge must transmit: sip.*.out.<edge>.>
// (AnyEdge: those any edge may transmit, consumed as a queue group).
func EdgeOutFilter(edge string) string { return "sip.*.out." + SafeToken(edge) + ".>" }

// RequestInFilter selects received requests of one method in every
// partition: sip.*.in.req.<METHOD> (the registrar's REGISTER).
func RequestInFilter(method string) string { return "sip.*.in.req." + SafeToken(method) }

// CallKeyOf is the call key of a message on the bus: its callkey attribute
// (the ce-callkey header), which every SIP and call event carries; "" for a
// message without one. Subjects name a call's partition, not the call.
func CallKeyOf(h nats.Header) string { return h.Get(HeaderCallKey) }

// SubjectTx is the subject of a transaction event: tx.<event>.<callkey>.
// No service emits these any more (see TxEventCreated); the name stays
// reserved so old logs keep their meaning.
func SubjectTx(event, callKey string) string {
	return "tx." + SafeToken(event) + "." + SafeToken(callKey)
}

// SubjectCall is the subject of a call lifecycle event:
// call.<event>.<partition>.
func SubjectCall(event, callKey string) string {
	return "call." + SafeToken(event) + "." + callPartition(callKey)
}

// SubjectReg is the subject of a registrar binding event:
// reg.contact.<event>.<p> (RegEventAdded, ...), <p> the partition of
// aorKey (events.AORKey); the AOR is the event's CloudEvent subject.
func SubjectReg(event, aorKey string) string {
	return "reg.contact." + SafeToken(event) + "." + callPartition(aorKey)
}

// SubjectEdge is the subject of an edge's own event: edge.<event>.<edge id>
// (EdgeEventBlocked).
func SubjectEdge(event, edgeID string) string {
	return "edge." + SafeToken(event) + "." + SafeToken(edgeID)
}

// EdgeEventBlocked names the event of flood control starting to block a
// source (sipbus.edge.blocked.v1).
const EdgeEventBlocked = "blocked"

// SubjectNotify is the subject of a notifier event: notify.<event>.<id>.
func SubjectNotify(event, id string) string {
	return "notify." + SafeToken(event) + "." + SafeToken(id)
}

// SubjectCtd is the subject of a click-to-dial progress event
// (sipbus.ctd.progress.v1): ctd.<phase>.<id>.
func SubjectCtd(phase, id string) string {
	return "ctd." + SafeToken(phase) + "." + SafeToken(id)
}

// SubjectDead is the dead-letter subject of an event that consumer gave up
// on: dead.<consumer>.<original subject>.
func SubjectDead(consumer, subject string) string {
	return "dead." + SafeToken(consumer) + "." + subject
}

// CallFilter returns the subject filters that together select the events
// of one call's partition (they do not overlap, so they can be a
// consumer's FilterSubjects): every SIP message and call event of the call,
// and those of the other calls of its partition (1/Partitions of the log),
// which a reader drops by their callkey attribute (CallKeyOf, Event.CallKey).
func CallFilter(callKey string) []string {
	p := callPartition(callKey)
	return []string{"sip." + p + ".>", "call.*." + p}
}

// StatusClass is the code class token of a status: "1xx" ... "6xx"; "xxx"
// for a status outside 100-699.
func StatusClass(status int) string {
	if status < 100 || status > 699 {
		return "xxx"
	}
	return strconv.Itoa(status/100) + "xx"
}

// SafeToken maps s to a NATS subject token. Characters outside
// [A-Za-z0-9_-] become '_'; when anything was replaced, or s was longer than
// 64 bytes (it is cut), "-" and 8 hex digits of FNV-1a 32 of the original are
// appended, so distinct methods stay distinct (RFC 4475 "intmeth" has methods
// like "!interesting-Method0123456789_*+`.%indeed'~"). "" maps to "_". A
// token that is already safe is returned as is, without allocating.
func SafeToken(s string) string {
	if s == "" {
		return "_"
	}
	if len(s) <= maxToken && isSafe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(maxToken)
	keep := min(len(s), maxToken-9)
	for i := 0; i < keep; i++ {
		if safeByte(s[i]) {
			b.WriteByte(s[i])
		} else {
			b.WriteByte('_')
		}
	}
	h := fnv.New32a()
	h.Write([]byte(s))
	b.WriteByte('-')
	const hexdig = "0123456789abcdef"
	sum := h.Sum32()
	for shift := 28; shift >= 0; shift -= 4 {
		b.WriteByte(hexdig[(sum>>uint(shift))&0xf])
	}
	return b.String()
}

func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if !safeByte(s[i]) {
			return false
		}
	}
	return true
}

func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// SubjectApp is where tm hands a transaction to application app (route
// action `app: NAME`): app.<name>.<partition>.
func SubjectApp(app, callKey string) string {
	return "app." + SafeToken(app) + "." + callPartition(callKey)
}
