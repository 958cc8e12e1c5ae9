// Package sipmsg is the SIP wire model every sipbus service shares.
//
// A Msg is the raw bytes of one SIP message plus an Index: the start-line
// parts, every header's name (with its long form when written compact), the
// offsets and lengths of header names and values, and the body. This is the
// SEAS idea: the edge indexes a message once, the index travels with the raw
// bytes in every event, and no subscriber parses the message again. Building
// the index allocates nothing for a typical message (up to InlineHeaders
// header lines) when the Msg is reused.
//
// Typed views (Via, From/To, CSeq, Contact, ...) are built on demand from the
// index. Check applies the sanity checks of RFC 3261 §16.3 and the RFC 4475 /
// RFC 5118 torture tests and returns a *Fault that names what is wrong and the
// response a server should send (400 with a reason, 505, 416, 420, ...).
//
// Transaction keys follow RFC 3261 §17.1.3 and §17.2.3 with the RFC 2543
// fallback; CallKey is the short hash of a Call-ID used in NATS subjects and
// Redis hash tags.
package sipmsg
