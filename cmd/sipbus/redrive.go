package main

import (
	"context"
	"errors"
	"io"

	"github.com/sipbus/sipbus/cmd/sipbus/internal/replay"
)

// redrive re-drives a subscriber with the call's events (dry-run).
func redrive(ctx context.Context, natsURL, to string, call *replay.Call, stdout io.Writer) error {
	return errors.New("--to: not yet")
}
