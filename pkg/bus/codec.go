package bus

import (
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// SpecVersion is the CloudEvents version of every event.
const SpecVersion = "1.0"

// NATS header names of the binary content mode (CloudEvents NATS protocol
// binding: attributes as "ce-" headers, lower case) and sipbus' own headers.
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderID          = "ce-id"
	HeaderSource      = "ce-source"
	HeaderType        = "ce-type"
	HeaderSubject     = "ce-subject"
	HeaderTime        = "ce-time"
	HeaderDataSchema  = "ce-dataschema"
	HeaderCallKey     = "ce-callkey"
	HeaderTraceParent = "ce-traceparent"
	HeaderContentType = "content-type"
	// HeaderMsgID is JetStream's dedupe header; it carries the event id.
	HeaderMsgID = nats.MsgIdHdr
	// Dead-letter headers added to a copy of an event a consumer gave up on.
	HeaderDeadReason   = "sipbus-dead-reason"
	HeaderDeadConsumer = "sipbus-dead-consumer"
)

// ContentTypeJSON is the datacontenttype of every sipbus event.
const ContentTypeJSON = "application/json"

// Event is one CloudEvent as sipbus carries it: binary content mode, the
// attributes in ce-* NATS headers and Data (JSON) as the message payload.
type Event struct {
	ID          string    // unique, stable across redelivery and re-publish; also Nats-Msg-Id
	Source      string    // sipbus/<service>/<instance>
	Type        string    // sipbus.<area>.<name>.v1
	Subject     string    // CloudEvent subject: Call-ID or AOR
	Time        time.Time // when it happened
	DataSchema  string    // URI of the JSON Schema (schemas/)
	CallKey     string    // extension "callkey"
	TraceParent string    // extension "traceparent" (W3C), optional
	Data        json.RawMessage

	// Set on received events only.
	NATSSubject string
	Delivery    int // JetStream delivery count (1 = first)
}

// Typed is implemented by every event data type in package events.
type Typed interface {
	CEType() string   // CloudEvent type constant
	CESchema() string // dataschema URI
}

// Encode renders ev as a NATS message on subject (binary content mode).
// Empty optional attributes are left out; Nats-Msg-Id is the event id.
func Encode(subject string, ev *Event) *nats.Msg {
	h := make(nats.Header, 12)
	// Direct map writes: nats.Header keys are case-sensitive and the binding
	// wants lower-case names.
	h[HeaderSpecVersion] = []string{SpecVersion}
	h[HeaderID] = []string{ev.ID}
	h[HeaderSource] = []string{ev.Source}
	h[HeaderType] = []string{ev.Type}
	h[HeaderMsgID] = []string{ev.ID}
	setOpt(h, HeaderSubject, ev.Subject)
	if !ev.Time.IsZero() {
		h[HeaderTime] = []string{ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	setOpt(h, HeaderDataSchema, ev.DataSchema)
	setOpt(h, HeaderCallKey, ev.CallKey)
	setOpt(h, HeaderTraceParent, ev.TraceParent)
	if len(ev.Data) > 0 {
		h[HeaderContentType] = []string{ContentTypeJSON}
	}
	return &nats.Msg{Subject: subject, Header: h, Data: ev.Data}
}

func setOpt(h nats.Header, k, v string) {
	if v != "" {
		h[k] = []string{v}
	}
}

// Decode reads a binary-mode CloudEvent from a NATS message, checking the
// required attributes (specversion 1.0, id, source, type), the time format and
// that the content type, when present, is JSON. Errors wrap ErrBadEvent.
// Data shares m.Data.
func Decode(m *nats.Msg) (*Event, error) {
	if m.Header == nil {
		return nil, fmt.Errorf("%w: no headers (binary content mode required)", ErrBadEvent)
	}
	h := m.Header
	if v := get(h, HeaderSpecVersion); v != SpecVersion {
		return nil, fmt.Errorf("%w: specversion %q, want %q", ErrBadEvent, v, SpecVersion)
	}
	ev := &Event{
		ID:          get(h, HeaderID),
		Source:      get(h, HeaderSource),
		Type:        get(h, HeaderType),
		Subject:     get(h, HeaderSubject),
		DataSchema:  get(h, HeaderDataSchema),
		CallKey:     get(h, HeaderCallKey),
		TraceParent: get(h, HeaderTraceParent),
		Data:        m.Data,
		NATSSubject: m.Subject,
	}
	switch {
	case ev.ID == "":
		return nil, fmt.Errorf("%w: missing id", ErrBadEvent)
	case ev.Source == "":
		return nil, fmt.Errorf("%w: missing source", ErrBadEvent)
	case ev.Type == "":
		return nil, fmt.Errorf("%w: missing type", ErrBadEvent)
	}
	if t := get(h, HeaderTime); t != "" {
		tm, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return nil, fmt.Errorf("%w: time %q is not RFC 3339", ErrBadEvent, t)
		}
		ev.Time = tm
	}
	if ct := get(h, HeaderContentType); ct != "" && !isJSON(ct) {
		return nil, fmt.Errorf("%w: content-type %q is not JSON", ErrBadEvent, ct)
	}
	return ev, nil
}

// get reads a header: the lower-case name the binding prescribes first, then
// any other case (some producers canonicalise header names).
func get(h nats.Header, k string) string {
	if v, ok := h[k]; ok && len(v) > 0 {
		return v[0]
	}
	for hk, v := range h {
		if len(v) > 0 && len(hk) == len(k) && strings.EqualFold(hk, k) {
			return v[0]
		}
	}
	return ""
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == ContentTypeJSON || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}
