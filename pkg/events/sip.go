package events

import (
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// Network says where a message came from or went to.
type Network struct {
	Transport string `json:"transport"`      // "udp", "tcp" (lower case)
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

// RequestReceived is TypeRequestReceived: the edge received a new request.
type RequestReceived struct{ SIPMessage }

// ResponseReceived is TypeResponseReceived: the edge received a response.
type ResponseReceived struct{ SIPMessage }

// MessageSent is TypeMessageSent: the edge transmitted a message for a service.
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

// MessageRejected is TypeMessageRejected: the edge answered a request
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

// EdgeSendRequest is the request of CommandEdgeSend.
type EdgeSendRequest struct {
	Transport   string `json:"transport"`
	Dest        string `json:"dest,omitempty"`
	Flow        string `json:"flow,omitempty"`
	Raw         []byte `json:"raw_b64"`
	TxKey       string `json:"tx_key,omitempty"`
	CallKey     string `json:"call_key,omitempty"`
	TxState     string `json:"tx_state,omitempty"`
	TxTTLMillis int64  `json:"tx_ttl_ms,omitempty"`
	RequestedBy string `json:"requested_by,omitempty"`
}

// EdgeSendReply is the reply of CommandEdgeSend.
type EdgeSendReply struct {
	Status int    `json:"status"` // 2xx sent, 4xx caller error, 5xx server error
	Reason string `json:"reason"`
	Edge   string `json:"edge,omitempty"`
	Flow   string `json:"flow,omitempty"`
}

func (*RequestReceived) CEType() string   { return TypeRequestReceived }
func (*RequestReceived) CESchema() string { return SchemaURL(TypeRequestReceived) }
func (*ResponseReceived) CEType() string  { return TypeResponseReceived }
func (*ResponseReceived) CESchema() string {
	return SchemaURL(TypeResponseReceived)
}
func (*MessageSent) CEType() string       { return TypeMessageSent }
func (*MessageSent) CESchema() string     { return SchemaURL(TypeMessageSent) }
func (*MessageRejected) CEType() string   { return TypeMessageRejected }
func (*MessageRejected) CESchema() string { return SchemaURL(TypeMessageRejected) }
func (*TxCreated) CEType() string         { return TypeTxCreated }
func (*TxCreated) CESchema() string       { return SchemaURL(TypeTxCreated) }
func (*TxAbsorbed) CEType() string        { return TypeTxAbsorbed }
func (*TxAbsorbed) CESchema() string      { return SchemaURL(TypeTxAbsorbed) }
func (*EdgeSendRequest) CEType() string   { return CommandEdgeSend }
func (*EdgeSendRequest) CESchema() string { return SchemaEdgeSendRequest }
func (*EdgeSendReply) CEType() string     { return CommandEdgeSend }
func (*EdgeSendReply) CESchema() string   { return SchemaEdgeSendReply }

var (
	_ bus.Typed = (*RequestReceived)(nil)
	_ bus.Typed = (*ResponseReceived)(nil)
	_ bus.Typed = (*MessageSent)(nil)
	_ bus.Typed = (*MessageRejected)(nil)
	_ bus.Typed = (*TxCreated)(nil)
	_ bus.Typed = (*TxAbsorbed)(nil)
	_ bus.Typed = (*EdgeSendRequest)(nil)
	_ bus.Typed = (*EdgeSendReply)(nil)
)
