// Package notifyapi is the contract of the notifier's commands, for the
// sipbus CLI and any other client (JSON on NATS request/reply, described
// by schemas/sipbus.notifier.*.v1.json: the request at the top level, the
// reply under #/$defs/response).
//
// Subjects (queue group QueueGroup: any notifier replica answers;
// nats.go/micro service ServiceName):
//
//	sipbus.notifier.failed  FailedRequest -> FailedReply
//	sipbus.notifier.retry   RetryRequest  -> RetryReply
//	sipbus.notifier.replay  ReplayRequest -> ReplayReply (dry-run)
//
// Replies carry a status: 200 done; 400 the request is wrong; 404 no such
// failure; 409 it was sent since, or is being sent; 500 a server bug; 502
// the mail server (or the program) failed again; 503 the notifier's state
// or the stream cannot answer now.
package notifyapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/internal/natsrpc"
)

// Service, queue group and subjects.
const (
	ServiceName   = "sipbus-notifier"
	QueueGroup    = "sipbus-notifier"
	SubjectFailed = "sipbus.notifier.failed"
	SubjectRetry  = "sipbus.notifier.retry"
	SubjectReplay = "sipbus.notifier.replay"
)

// Requests.
type (
	// FailedRequest asks for the failed notifications, newest first.
	FailedRequest = events.NotifierFailed
	// RetryRequest sends (or runs) a failed notification again.
	RetryRequest = events.NotifierRetry
	// ReplayRequest runs events through the notifier, dry-run.
	ReplayRequest = events.NotifierReplay
)

// ReplayReply answers replay: what the notifier would have done.
type ReplayReply struct {
	Reply
	Actions []events.NotifierReplayAction `json:"actions,omitempty"`
}

// Replay runs events through the notifier with its side effects fenced.
func (c *Client) Replay(ctx context.Context, req ReplayRequest) (*ReplayReply, error) {
	return call(ctx, c, SubjectReplay, req, new(ReplayReply))
}

// Reply is the status every reply carries.
type Reply struct {
	Status int    `json:"status"`
	Reason string `json:"reason"`
	// Field names the request's field at fault when Status is 400.
	Field string `json:"field,omitempty"`
}

func (r *Reply) reply() *Reply { return r }

// FailedReply answers failed.
type FailedReply struct {
	Reply
	Failed []events.NotifyFailed `json:"failed,omitempty"`
}

// RetryReply answers retry; MessageID is the mail's (mail and digest).
type RetryReply struct {
	Reply
	MessageID string `json:"message_id,omitempty"`
}

// Error is a reply whose status is 300 or more, as an error.
type Error struct{ Reply }

func (e *Error) Error() string { return fmt.Sprintf("notifier: %d %s", e.Status, e.Reason) }

// ErrNoNotifier means no notifier answered in time.
var ErrNoNotifier = errors.New("notifyapi: no notifier answered")

// DefaultTimeout bounds a request when Client.Timeout is zero; a retry
// sends a mail, which may take the SMTP timeout.
const DefaultTimeout = 60 * time.Second

// Client calls the notifier's commands. Every method returns the reply
// and, when its status is 300 or more, an *Error as well.
type Client struct {
	NC      *nats.Conn
	Timeout time.Duration
}

// Failed lists the failed notifications.
func (c *Client) Failed(ctx context.Context, req FailedRequest) (*FailedReply, error) {
	return call(ctx, c, SubjectFailed, req, new(FailedReply))
}

// Retry sends (or runs) a failed notification again.
func (c *Client) Retry(ctx context.Context, req RetryRequest) (*RetryReply, error) {
	return call(ctx, c, SubjectRetry, req, new(RetryReply))
}

func call[R interface{ reply() *Reply }](ctx context.Context, c *Client, subject string, req any, rep R) (R, error) {
	to := c.Timeout
	if to <= 0 {
		to = DefaultTimeout
	}
	if err := natsrpc.Call(ctx, c.NC, to, subject, req, rep); err != nil {
		var zero R
		if errors.Is(err, natsrpc.ErrNoService) {
			return zero, fmt.Errorf("%w (is `sipbus notifier` or `sipbus up --smtp` running?): %v", ErrNoNotifier, err)
		}
		return zero, fmt.Errorf("notifyapi: %w", err)
	}
	if r := rep.reply(); r.Status >= 300 || r.Status < 200 {
		return rep, &Error{*r}
	}
	return rep, nil
}
