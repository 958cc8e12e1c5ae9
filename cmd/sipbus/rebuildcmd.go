package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sipbus/sipbus/cmd/sipbus/internal/rebuild"
	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/services/registrar"
)

// cmdRebuild rebuilds state from the log: `sipbus rebuild location`.
func cmdRebuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "location" {
		return errUsage{errors.New("rebuild: what to rebuild is required: sipbus rebuild location --redis URL")}
	}
	fs := newFlags("rebuild location", stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS server URL")
	redisURL := fs.String("redis", os.Getenv("SIPBUS_REDIS_URL"), "Redis URL of the location service to rebuild (required; default $SIPBUS_REDIS_URL)")
	stream := fs.String("stream", bus.DefaultStream, "JetStream stream")
	since := fs.Duration("since", 0, "read the events of this long ago only (default: the whole stream)")
	dryRun := fs.Bool("dry-run", false, "read and report, write nothing")
	asJSON := fs.Bool("json", false, "the report as JSON")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage{fmt.Errorf("rebuild location: unexpected argument %q", fs.Arg(0))}
	}
	if *redisURL == "" || *redisURL == "memory://" {
		return errUsage{errors.New("--redis: required: the Redis whose location service is rebuilt (`sipbus up` without --redis keeps it in its own memory)")}
	}
	if *since < 0 {
		return errUsage{errors.New("--since: must not be negative")}
	}
	js, closeNC, err := connectJS(*natsURL)
	if err != nil {
		return err
	}
	defer closeNC()
	state, closeState, err := registrar.OpenState(ctx, *redisURL)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	defer closeState()
	opt := rebuild.Options{Stream: *stream, DryRun: *dryRun}
	if *since > 0 {
		opt.Since = time.Now().Add(-*since)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	rep, err := rebuild.Rebuild(rctx, js, state.Location, opt)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	verb := "restored"
	if rep.DryRun {
		verb = "would restore"
	}
	fmt.Fprintf(stdout, "rebuild location: %d reg.contact events, %d live bindings: %s %d, %d already in the store\n",
		rep.Events, rep.Live, verb, len(rep.Restored), rep.Kept)
	for _, b := range rep.Restored {
		exp := "permanent"
		if !b.Expires.IsZero() {
			exp = "expires " + b.Expires.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "  %s %s %q (%s)\n", verb, b.AOR, b.Contact, exp)
	}
	return nil
}
