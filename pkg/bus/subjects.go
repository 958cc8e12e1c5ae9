package bus

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// Transaction event names used in tx.<event>.<callkey> subjects.
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

// Registrar binding event names used in reg.contact.<event>.<aorkey> subjects
// (one per sipbus.reg.contact.<event>.v1 type).
const (
	RegEventAdded     = "added"
	RegEventRefreshed = "refreshed"
	RegEventRemoved   = "removed"
	RegEventExpired   = "expired"
)

// maxToken caps the length of a token made by SafeToken.
const maxToken = 64

// SubjectRequestIn is the subject of a request the edge received:
// sip.in.req.<METHOD>.<callkey>.
func SubjectRequestIn(method, callKey string) string {
	return "sip.in.req." + SafeToken(method) + "." + SafeToken(callKey)
}

// SubjectResponseIn is the subject of a response the edge received:
// sip.in.res.<N>xx.<callkey>.
func SubjectResponseIn(status int, callKey string) string {
	return "sip.in.res." + StatusClass(status) + "." + SafeToken(callKey)
}

// SubjectRequestOut is the subject of a request the edge sent: sip.out.req.<METHOD>.<callkey>.
func SubjectRequestOut(method, callKey string) string {
	return "sip.out.req." + SafeToken(method) + "." + SafeToken(callKey)
}

// SubjectResponseOut is the subject of a response the edge sent: sip.out.res.<N>xx.<callkey>.
func SubjectResponseOut(status int, callKey string) string {
	return "sip.out.res." + StatusClass(status) + "." + SafeToken(callKey)
}

// SubjectRejected is the subject of a request the edge rejected statelessly: sip.in.bad.<callkey>.
func SubjectRejected(callKey string) string { return "sip.in.bad." + SafeToken(callKey) }

// SubjectTx is the subject of a transaction event: tx.<event>.<callkey>
// (TxEventCreated, TxEventAbsorbed).
func SubjectTx(event, callKey string) string {
	return "tx." + SafeToken(event) + "." + SafeToken(callKey)
}

// SubjectCall is the subject of a call lifecycle event: call.<event>.<callkey>.
func SubjectCall(event, callKey string) string {
	return "call." + SafeToken(event) + "." + SafeToken(callKey)
}

// SubjectReg is the subject of a registrar binding event:
// reg.contact.<event>.<aorkey> (RegEventAdded, ...; aorKey = events.AORKey).
func SubjectReg(event, aorKey string) string {
	return "reg.contact." + SafeToken(event) + "." + SafeToken(aorKey)
}

// SubjectDead is the dead-letter subject of an event that consumer gave up
// on: dead.<consumer>.<original subject>.
func SubjectDead(consumer, subject string) string {
	return "dead." + SafeToken(consumer) + "." + subject
}

// CallFilter returns the subject filters that together select every event of
// one call (they do not overlap, so they can be a consumer's FilterSubjects).
// Subjects of a call have different token counts, hence one filter per shape.
func CallFilter(callKey string) []string {
	ck := SafeToken(callKey)
	return []string{
		"sip.*.*.*." + ck, // sip.in.req.X, sip.in.res.Nxx, sip.out.req.X, sip.out.res.Nxx
		"sip.*.*." + ck,   // sip.in.bad
		"tx.*." + ck,
		"call.*." + ck,
	}
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
// action `app: NAME`): app.<name>.<callkey>.
func SubjectApp(app, callKey string) string {
	return "app." + SafeToken(app) + "." + SafeToken(callKey)
}
