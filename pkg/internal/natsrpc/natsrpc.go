// Package natsrpc is the request/reply of the JSON command endpoints
// (regapi, notifyapi): a JSON request on a subject, a JSON reply.
package natsrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrNoService: nobody answered the request (no responders, or none
// within the timeout while the caller's context lives).
var ErrNoService = errors.New("no answer")

// Call sends req as JSON on subject and decodes the reply into rep,
// waiting at most timeout. Its errors name the subject; one that wraps
// ErrNoService means nobody answered.
func Call(ctx context.Context, nc *nats.Conn, timeout time.Duration, subject string, req, rep any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, err := nc.RequestWithContext(rctx, subject, b)
	if err != nil {
		if ctx.Err() == nil && (errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
			return fmt.Errorf("%w on %s: %v", ErrNoService, subject, err)
		}
		return fmt.Errorf("%s: %w", subject, err)
	}
	if err := json.Unmarshal(msg.Data, rep); err != nil {
		return fmt.Errorf("bad reply on %s: %w", subject, err)
	}
	return nil
}
