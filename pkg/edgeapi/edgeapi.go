// Package edgeapi is the contract of the edge's command endpoints, for every
// service that sends SIP through an edge (tm, registrar, ctd, apps in any
// language: the wire format is JSON, described by
// schemas/sipbus.edge.send.v1.json).
//
// Subjects:
//
//	sipbus.edge.send         queue group "sipbus-edge": any edge (UDP, or TCP
//	                         when the flow is unknown or the edge forwards it)
//	sipbus.edge.<id>.send    the edge named <id> (the one holding a TCP flow)
//	sipbus.edge.<id>.stats   that edge's counters
//
// A TCP flow id is "<edge id>~<n>", so a sender routes to the owning edge
// without a lookup; an edge that receives a send for another edge's flow
// forwards it there.
//
// Replies carry a status like the SER FIFO server's: 200 sent, 400 the
// request is wrong (the reason names the field), 404 the flow is gone, 502
// the network refused it, 503 the edge cannot serve it now.
package edgeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/events"
)

// Subjects and names.
const (
	ServiceName  = "sipbus-edge"
	SendSubject  = "sipbus.edge.send"
	QueueGroup   = "sipbus-edge"
	SchemaSendV1 = "https://sipbus.dev/schemas/sipbus.edge.send.v1.json"
)

// EdgeSendSubject is the send subject of one edge.
func EdgeSendSubject(edgeID string) string { return "sipbus.edge." + edgeID + ".send" }

// EdgeStatsSubject is the counters subject of one edge.
func EdgeStatsSubject(edgeID string) string { return "sipbus.edge." + edgeID + ".stats" }

// FlowEdge returns the id of the edge holding a TCP flow ("<edge>~<n>").
func FlowEdge(flow string) string {
	e, _, _ := strings.Cut(flow, "~")
	return e
}

// SendRequest asks an edge to transmit one SIP message; the wire form is
// schemas/sipbus.edge.send.v1.json. Dest is the peer "ip:port" (for TCP it
// may be empty when Flow names a live connection). TxKey and CallKey name
// the transaction the message belongs to: a response's final status is
// stored as the server transaction's last response, so the edge answers
// retransmissions itself; a request (not ACK) creates the client
// transaction, so retransmitted responses are absorbed.
type SendRequest = events.EdgeSendRequest

// SendReply is an edge's answer.
type SendReply = events.EdgeSendReply

// Error is a non-2xx SendReply as an error.
type Error struct{ SendReply }

func (e *Error) Error() string {
	return fmt.Sprintf("edge %s: %d %s", e.Edge, e.Status, e.Reason)
}

// ErrNoEdge means no edge answered in time.
var ErrNoEdge = errors.New("edgeapi: no edge answered")

// Client sends through the edges over NATS.
type Client struct {
	NC      *nats.Conn
	Timeout time.Duration // per request; default 2s
}

// Send transmits req through the right edge: the one holding req.Flow when
// set (or any edge, with a new connection, when that edge is gone and
// req.Dest is set), else any edge. A non-2xx reply is returned as *Error.
func (c *Client) Send(ctx context.Context, req *SendRequest) (*SendReply, error) {
	if req.Flow == "" {
		return c.request(ctx, SendSubject, req)
	}
	rep, err := c.request(ctx, EdgeSendSubject(FlowEdge(req.Flow)), req)
	if errors.Is(err, ErrNoEdge) && req.Dest != "" {
		// The edge holding the flow is gone; any edge can open a new
		// connection to the peer (RFC 3261 §18.2.2).
		again := *req
		again.Flow = ""
		return c.request(ctx, SendSubject, &again)
	}
	return rep, err
}

func (c *Client) request(ctx context.Context, subject string, req *SendRequest) (*SendReply, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	to := c.Timeout
	if to <= 0 {
		to = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	msg, err := c.NC.RequestWithContext(ctx, subject, b)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w on %s: %v", ErrNoEdge, subject, err)
		}
		return nil, err
	}
	var rep SendReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return nil, fmt.Errorf("edgeapi: bad reply on %s: %w", subject, err)
	}
	if rep.Status < 200 || rep.Status > 299 {
		return &rep, &Error{rep}
	}
	return &rep, nil
}

// SplitDest splits the destination form the edge stores in a transaction's
// Source and LastDest ("udp:ip:port", "tcp:ip:port" or "tcp:ip:port/flow").
func SplitDest(s string) (transport, addr, flow string, err error) {
	transport, rest, ok := strings.Cut(s, ":")
	if !ok || (transport != "udp" && transport != "tcp") || rest == "" {
		return "", "", "", fmt.Errorf("edgeapi: destination %q: want udp:ip:port or tcp:ip:port[/flow]", s)
	}
	addr, flow, _ = strings.Cut(rest, "/")
	return transport, addr, flow, nil
}
