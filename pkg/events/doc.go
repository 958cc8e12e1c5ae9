// Package events holds the Go types of every sipbus CloudEvent and command, one
// per JSON Schema file in the schemas module; the schemas are the source of
// truth and the JSON tags here match them field for field.
//
// Each event data type implements bus.Typed: CEType returns its CloudEvent type
// constant (TypeRequestReceived, ...), CESchema the schema's $id (SchemaBase +
// type + ".json"). Type names are explicit constants, never derived from Go
// type names. ByType maps a type to a constructor, for consumers that decode
// whatever arrives.
//
// SIPMessage carries one SIP message the SEAS way: the raw bytes (standard
// base64 in JSON, because SIP may hold any byte), the sipmsg index (start line,
// every header's canonical name and offsets, body) and a summary (method,
// status, Call-ID, CSeq, tags, branch, transaction key, network). NewSIPMessage
// builds it from a parsed sipmsg.Msg; SIPMessage.Msg rebuilds the sipmsg.Msg
// from raw bytes and index without parsing again.
//
// Call lifecycle events (subject call.<event>.<p>, CloudEvent subject =
// Call-ID): CallStarted, CallRinging, CallAnswered, then exactly one terminal
// event, CallEnded (answered) or CallMissed (not answered; MissedReason maps
// the final status to its Reason). Caller and callee are Party values.
//
// Registrar events (subject reg.contact.<event>.<p>, CloudEvent subject =
// AOR): RegContactAdded, RegContactRefreshed, RegContactRemoved and
// RegContactExpired, four types over one RegContact. AORKey is the AOR's
// subject token and Redis hash tag, built like sipmsg.CallKey.
//
// Validate checks an event's data against the embedded schema of its type
// (schemas are compiled once, formats and base64 content asserted); services
// call it in their tests on every event they emit.
package events
