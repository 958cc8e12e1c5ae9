// Package edgeapi is how a service sends SIP through the edges: tm, the
// registrar, ctd, applications in any language.
//
// A service sends a message by publishing it to the stream as a v2 SIP
// event of type sipbus.sip.message.sent (events.SIP: the raw bytes as data,
// the destination in the sipdest attribute) on
//
//	sip.<partition>.out.<edge>.req.<METHOD>.<callkey>
//	sip.<partition>.out.<edge>.res.<N>xx.<callkey>
//
// That one message is both the log's record of what was sent and the order
// to send it: every edge subscribes to the messages named for it
// (sip.*.out.<edge id>.>) and, as one queue group, to those any edge may
// send (sip.*.out.any.>). There is no reply: SIP's own retransmissions
// cover a message lost on the way, as they cover a datagram lost on the
// wire, and a request/reply round trip per message was the largest cost of
// the first design. A flow ("<edge id>~<n>": a TCP, TLS or WebSocket
// connection) belongs to one edge, so a message for a flow is always named
// for that edge (Send does it); a
// response should leave from the edge its request came in on (RFC 3581
// symmetric response routing), so services name that edge while it is
// alive (its beats say so; see pkg/bus).
//
// A response carries the server transaction it answers (siptxkey): the
// edge keeps it as the transaction's last response and answers a
// retransmitted request itself, and retransmits a non-2xx final to INVITE
// over UDP until the ACK (Timer G).
//
// The edge's counters are served by the NATS micro service "sipbus-edge"
// on sipbus.edge.<id>.stats.
package edgeapi

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// Names.
const (
	ServiceName = "sipbus-edge" // NATS micro service of every edge
	QueueGroup  = "sipbus-edge" // queue group of sip.*.out.any.>
)

// EdgeStatsSubject is the counters subject of one edge.
func EdgeStatsSubject(edgeID string) string { return "sipbus.edge." + edgeID + ".stats" }

// FlowEdge returns the id of the edge holding a flow ("<edge>~<n>").
func FlowEdge(flow string) string { return events.FlowEdge(flow) }

// Message is one SIP message to send.
type Message struct {
	Raw  []byte // the message, exactly as it goes on the wire
	Dest string // "udp:ip:port", "tcp:ip:port", "tls:ip:port/flow", "ws:/flow" ... (events.ParseDest)
	// Edge is the edge that sends it; "" or bus.AnyEdge lets any edge send
	// it. A Dest with a flow is sent by the flow's edge whatever Edge says.
	Edge        string
	TxKey       string // a response: the server transaction it answers
	CallID      string // "" = read from Raw
	CallKey     string // "" = sipmsg.CallKey(CallID)
	TraceParent string
}

// Publisher publishes encoded events asynchronously (*bus.Publisher).
type Publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg) error
}

// Sender publishes messages for the edges under one CloudEvent source.
type Sender struct {
	pub    Publisher
	source string
	ids    *bus.IDs
}

// NewSender returns a sender whose events carry source
// ("sipbus/<service>/<instance>").
func NewSender(pub Publisher, source string) *Sender {
	return &Sender{pub: pub, source: source, ids: bus.NewIDs()}
}

// ErrBadMessage is returned by Send for a message it cannot send; the text
// names the field.
var ErrBadMessage = errors.New("edgeapi: bad message")

// Send publishes m for the edges. It returns once the message is handed to
// the bus (the stream's acknowledgement is collected in the background).
func (s *Sender) Send(ctx context.Context, m *Message) error {
	d, err := events.ParseDest(m.Dest)
	if err != nil {
		return fmt.Errorf("%w: dest: %v", ErrBadMessage, err)
	}
	req, token, err := startLine(m.Raw)
	if err != nil {
		return err
	}
	callID := m.CallID
	if callID == "" {
		pm, err := sipmsg.Parse(m.Raw, sipmsg.Datagram)
		if err != nil {
			return fmt.Errorf("%w: raw: %v", ErrBadMessage, err)
		}
		callID = pm.CallID()
	}
	ck := m.CallKey
	if ck == "" {
		ck = sipmsg.CallKey(callID)
	}
	edge := m.Edge
	if d.Flow != "" {
		edge = events.FlowEdge(d.Flow)
	}
	if edge == "" {
		edge = bus.AnyEdge
	}
	var subject string
	if req {
		subject = bus.SubjectRequestOut(edge, token, ck)
	} else {
		subject = bus.SubjectResponseOut(edge, statusOf(token), ck)
	}
	tp := m.TraceParent
	if tp == "" {
		tp = bus.TraceParent(ctx) // the span of the decision that sends it
	}
	ev := &events.SIP{
		Type: events.TypeMessageSent, ID: s.ids.Next(), Source: s.source,
		CallKey: ck, TraceParent: tp, Raw: m.Raw,
		Dest: m.Dest, TxKey: m.TxKey,
	}
	return s.pub.PublishMsg(ctx, ev.Encode(subject))
}

// startLine reads the first token of a message: the method of a request,
// or "SIP/2.0" and the status code of a response.
func startLine(raw []byte) (request bool, token string, err error) {
	sp := -1
	for i := 0; i < len(raw) && i < 256; i++ {
		if raw[i] == ' ' {
			sp = i
			break
		}
		if raw[i] == '\r' || raw[i] == '\n' {
			break
		}
	}
	if sp <= 0 {
		return false, "", fmt.Errorf("%w: raw: no start line", ErrBadMessage)
	}
	if string(raw[:sp]) != "SIP/2.0" {
		return true, string(raw[:sp]), nil
	}
	if len(raw) < sp+4 {
		return false, "", fmt.Errorf("%w: raw: no status code", ErrBadMessage)
	}
	code := raw[sp+1 : sp+4]
	for _, c := range code {
		if c < '0' || c > '9' {
			return false, "", fmt.Errorf("%w: raw: status %q is not a number", ErrBadMessage, code)
		}
	}
	return false, string(code), nil
}

func statusOf(code string) int {
	return int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
}

// ReplyDest is where the responses to request m go, in sipdest form: over
// a connection that connection (with the peer address, for a new one
// should it be gone); over UDP sipmsg.ReplyAddr (RFC 3261 §18.2.2, RFC 3581).
func ReplyDest(m *sipmsg.Msg, transport, remote, flow string) string {
	if transport != "udp" {
		d := transport + ":" + remote
		if flow != "" {
			d += "/" + flow
		}
		return d
	}
	src, err := netip.ParseAddrPort(remote)
	if err != nil {
		return "udp:" + remote
	}
	return "udp:" + sipmsg.ReplyAddr(m, src).String()
}
