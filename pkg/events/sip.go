package events

import (
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// Network says where a message came from or went to.
type Network struct {
	Transport string `json:"transport"`      // "udp", "tcp", "tls", "ws", "wss" (lower case)
	Local     string `json:"local"`          // local ip:port
	Remote    string `json:"remote"`         // remote ip:port
	Flow      string `json:"flow,omitempty"` // connection id (TCP); "" for UDP
	Edge      string `json:"edge"`           // edge instance id
}

// CSeq is the CSeq summary.
type CSeq struct {
	Seq    uint32 `json:"seq"`
	Method string `json:"method"`
}

// SIPMessage is one SIP message: raw bytes, index and summary. It is the data
// of RequestReceived and ResponseReceived and part of MessageRejected.
type SIPMessage struct {
	Raw        []byte    `json:"raw_b64"` // exact bytes; standard base64 in JSON
	Index      Index     `json:"index"`
	Method     string    `json:"method,omitempty"`      // request method, or the CSeq method of a response
	RequestURI string    `json:"request_uri,omitempty"` // request only
	Status     int       `json:"status,omitempty"`      // response only
	Reason     string    `json:"reason,omitempty"`      // response only
	CallID     string    `json:"call_id"`
	CSeq       *CSeq     `json:"cseq,omitempty"`
	FromTag    string    `json:"from_tag,omitempty"`
	ToTag      string    `json:"to_tag,omitempty"`
	Branch     string    `json:"branch,omitempty"` // top Via branch
	TxKey      string    `json:"tx_key,omitempty"` // server tx key (request) / client tx key (response)
	Network    Network   `json:"network"`
	ReceivedAt time.Time `json:"received_at"`
}

// Event wraps s in the event type that matches it: *RequestReceived for a
// request, *ResponseReceived for a response.
func (s SIPMessage) Event() bus.Typed {
	if s.Index.Request {
		return &RequestReceived{SIPMessage: s}
	}
	return &ResponseReceived{SIPMessage: s}
}

// RequestReceived is TypeRequestReceivedV1 (retired; see SIP for v2).
type RequestReceived struct{ SIPMessage }

// ResponseReceived is TypeResponseReceivedV1 (retired; see SIP for v2).
type ResponseReceived struct{ SIPMessage }

// MessageSent is TypeMessageSentV1 (retired; see SIP for v2).
type MessageSent struct {
	Raw         []byte    `json:"raw_b64"`
	Transport   string    `json:"transport"`
	Dest        string    `json:"dest"`
	Local       string    `json:"local,omitempty"`
	Flow        string    `json:"flow,omitempty"`
	Edge        string    `json:"edge"`
	Method      string    `json:"method,omitempty"`
	Status      int       `json:"status,omitempty"` // response only
	TxKey       string    `json:"tx_key,omitempty"`
	RequestedBy string    `json:"requested_by,omitempty"`
	CallID      string    `json:"call_id"`
	SentAt      time.Time `json:"sent_at"`
}

// MessageRejected is TypeMessageRejectedV1 (retired; see SIP for v2): the edge answered a request
// statelessly because it failed the sanity checks.
type MessageRejected struct {
	Request     SIPMessage `json:"request"`
	Status      int        `json:"status"`
	Reason      string     `json:"reason"`
	Header      string     `json:"header,omitempty"`           // canonical name of the header at fault
	ResponseRaw []byte     `json:"response_raw_b64,omitempty"` // the reply sent
}

// TxCreated is TypeTxCreated: a server transaction was created.
type TxCreated struct {
	TxKey     string    `json:"tx_key"`
	Method    string    `json:"method"`
	Edge      string    `json:"edge"`
	Source    string    `json:"source"` // remote ip:port
	Transport string    `json:"transport,omitempty"`
	CallID    string    `json:"call_id"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// TxAbsorbed is TypeTxAbsorbed: a retransmitted request was absorbed.
type TxAbsorbed struct {
	TxKey        string `json:"tx_key"`
	Method       string `json:"method"`
	Retransmits  int    `json:"retransmits"`   // absorbed so far, this one included
	ResentStatus int    `json:"resent_status"` // status resent; 0 = nothing resent
	Edge         string `json:"edge"`
	CallID       string `json:"call_id"`
}

func (*RequestReceived) CEType() string   { return TypeRequestReceivedV1 }
func (*RequestReceived) CESchema() string { return SchemaURL(TypeRequestReceivedV1) }
func (*ResponseReceived) CEType() string  { return TypeResponseReceivedV1 }
func (*ResponseReceived) CESchema() string {
	return SchemaURL(TypeResponseReceivedV1)
}
func (*MessageSent) CEType() string       { return TypeMessageSentV1 }
func (*MessageSent) CESchema() string     { return SchemaURL(TypeMessageSentV1) }
func (*MessageRejected) CEType() string   { return TypeMessageRejectedV1 }
func (*MessageRejected) CESchema() string { return SchemaURL(TypeMessageRejectedV1) }
func (*TxCreated) CEType() string         { return TypeTxCreated }
func (*TxCreated) CESchema() string       { return SchemaURL(TypeTxCreated) }
func (*TxAbsorbed) CEType() string        { return TypeTxAbsorbed }
func (*TxAbsorbed) CESchema() string      { return SchemaURL(TypeTxAbsorbed) }

var (
	_ bus.Typed = (*RequestReceived)(nil)
	_ bus.Typed = (*ResponseReceived)(nil)
	_ bus.Typed = (*MessageSent)(nil)
	_ bus.Typed = (*MessageRejected)(nil)
	_ bus.Typed = (*TxCreated)(nil)
	_ bus.Typed = (*TxAbsorbed)(nil)
)
