package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/httpfront"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/ctd"
)

// ctdFlags are the click-to-dial flags of `sipbus up`.
type ctdFlags struct {
	ring, refer, notify, callee *time.Duration
	fallback                    *string
	noNotify                    *bool
}

func addCtdFlags(fs *flag.FlagSet) ctdFlags {
	d := ctd.DefaultConfig()
	return ctdFlags{
		ring:     fs.Duration("ctd-ring-timeout", d.RingTimeout, "click-to-dial: how long the caller's phones ring"),
		refer:    fs.Duration("ctd-refer-timeout", d.ReferTimeout, "click-to-dial: how long the answer to REFER may take (also the takeover delay after a replica died)"),
		notify:   fs.Duration("ctd-notify-timeout", d.NotifyTimeout, "click-to-dial: how long after the 202 the first NOTIFY may take"),
		callee:   fs.Duration("ctd-callee-timeout", d.CalleeTimeout, "click-to-dial: how long the callee may ring"),
		fallback: fs.String("ctd-fallback", "405,408,489,501,603", "click-to-dial: REFER answers that start RFC 3725 third-party call control (408 = no answer), or off"),
		noNotify: fs.Bool("ctd-fallback-no-notify", false, "click-to-dial: also start third-party call control when no NOTIFY came within --ctd-notify-timeout after the 202 (off: BYE; the phone may be calling already)"),
	}
}

func (f ctdFlags) config(id string) (ctd.Config, error) {
	c := ctd.DefaultConfig()
	c.ID = id
	c.RingTimeout, c.ReferTimeout, c.NotifyTimeout, c.CalleeTimeout = *f.ring, *f.refer, *f.notify, *f.callee
	c.Fallback = nil
	if v := strings.TrimSpace(*f.fallback); v != "off" && v != "" {
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return c, errUsage{fmt.Errorf("--ctd-fallback: %q is not a status code", s)}
			}
			c.Fallback = append(c.Fallback, n)
		}
	}
	c.FallbackNoNotify = *f.noNotify
	c.AdminToken = envOr("SIPBUS_CTD_ADMIN_TOKEN", "")
	if err := c.Validate(); err != nil {
		return c, errUsage{fmt.Errorf("--ctd-*: %w", err)}
	}
	return c, nil
}

// check validates the flags before anything listens.
func (f ctdFlags) check() error {
	_, err := f.config("check")
	return err
}

// upCtd runs click-to-dial in `sipbus up`: its API on the process's HTTP
// server (when --http is not off), its commands on NATS. auth, when not
// nil (the web page's signed session), is tried before the API tokens.
func upCtd(ctx context.Context, f ctdFlags, id string, nc *nats.Conn, local *bus.Local, js jetstream.JetStream, st store.Store,
	dir subscriber.Directory, web *httpfront.Server, auth ctd.Authenticate, metrics *obs.Metrics, tracer *obs.Tracer, log *slog.Logger, stdout io.Writer) (func(), error) {
	cfg, err := f.config(id)
	if err != nil {
		return nil, err
	}
	s, err := ctd.New(cfg, ctd.Deps{NC: nc, JS: js, State: ctd.StateFor(st), Directory: dir, Auth: auth, Log: log, Metrics: metrics, Tracer: tracer, Local: local})
	if err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	if web != nil {
		s.Mount(web.Mux)
		fmt.Fprintf(stdout, "  ctd    %s/v1/calls (tokens: sipbus ctd token AOR)\n", web.URL())
	} else {
		fmt.Fprintf(stdout, "  ctd    no API (--http off); sipbus ctd FROM TO\n")
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(sctx)
	}, nil
}

// cmdCtd is `sipbus ctd FROM TO`, `sipbus ctd token AOR` and `sipbus ctd
// hangup ID`: operator commands over NATS.
func cmdCtd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "token":
			return cmdCtdToken(ctx, args[1:], stdout, stderr)
		case "hangup":
			return cmdCtdHangup(ctx, args[1:], stdout, stderr)
		case "serve":
			return cmdCtdServe(ctx, args[1:], stdout, stderr)
		}
	}
	fs := newFlags("ctd", stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS URL")
	asJSON := fs.Bool("json", false, "print each step as the JSON of its ctd event")
	wait := fs.Duration("wait", 5*time.Minute, "give up watching after this long")
	if err := parseFlags(fs, interleave(args)); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errUsage{errors.New("ctd: want FROM and TO: sipbus ctd sip:alice@D sip:bob@D")}
	}
	nc, err := nats.Connect(*natsURL, nats.Name("sipbus-ctd-cli"))
	if err != nil {
		return fmt.Errorf("--nats %s: %w", *natsURL, err)
	}
	defer nc.Close()
	id := ctd.NewID()
	steps := make(chan *nats.Msg, 32)
	sub, err := nc.ChanSubscribe("ctd.*."+id, steps)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	rep, err := ctdRequest(ctx, nc, ctd.SubjectCall, ctd.CallCommand{ID: id, From: fs.Arg(0), To: fs.Arg(1)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "call %s\n", rep.Call.ID)
	deadline := time.After(*wait)
	for {
		select {
		case <-ctx.Done():
			_, _ = ctdRequest(context.Background(), nc, ctd.SubjectHang, ctd.CallCommand{ID: id})
			fmt.Fprintf(stdout, "hung up\n")
			return nil
		case <-deadline:
			return fmt.Errorf("ctd: call %s still going after --wait %s", id, *wait)
		case m := <-steps:
			var p events.CtdProgress
			if err := json.Unmarshal(m.Data, &p); err != nil {
				continue
			}
			if *asJSON {
				fmt.Fprintf(stdout, "%s\n", m.Data)
			} else {
				line := fmt.Sprintf("%-16s", p.Phase)
				if p.Status != 0 {
					line += " " + strconv.Itoa(p.Status)
				}
				if p.Reason != "" {
					line += " " + p.Reason
				}
				fmt.Fprintln(stdout, strings.TrimRight(line, " "))
			}
			switch p.Phase {
			case events.CtdConnected, events.CtdCancelled, events.CtdEnded:
				return nil
			case events.CtdFailed:
				return fmt.Errorf("ctd: call %s failed: %s", id, p.Reason)
			}
		}
	}
}

// interleave moves flags before the positional arguments (FROM TO --json).
func interleave(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && (a == "--nats" || a == "-nats" || a == "--wait" || a == "-wait") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func ctdRequest(ctx context.Context, nc *nats.Conn, subj string, req any) (ctd.CommandReply, error) {
	b, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, subj, b)
	if errors.Is(err, nats.ErrNoResponders) {
		return ctd.CommandReply{}, fmt.Errorf("ctd: no click-to-dial service on %s (is `sipbus up` running?)", subj)
	}
	if err != nil {
		return ctd.CommandReply{}, fmt.Errorf("ctd: %s: %w", subj, err)
	}
	var r ctd.CommandReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return r, fmt.Errorf("ctd: bad reply: %w", err)
	}
	if r.Status != 200 {
		if r.Field != "" {
			return r, errUsage{fmt.Errorf("ctd: %s (%s)", r.Error, r.Field)}
		}
		return r, fmt.Errorf("ctd: %d %s", r.Status, r.Error)
	}
	return r, nil
}

func cmdCtdToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ctd token", stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS URL")
	if err := parseFlags(fs, interleave(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errUsage{errors.New("ctd token: want one AOR: sipbus ctd token alice@D")}
	}
	nc, err := nats.Connect(*natsURL, nats.Name("sipbus-ctd-cli"))
	if err != nil {
		return fmt.Errorf("--nats %s: %w", *natsURL, err)
	}
	defer nc.Close()
	r, err := ctdRequest(ctx, nc, ctd.SubjectToken, ctd.TokenRequest{AOR: fs.Arg(0)})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, r.Token)
	return nil
}

func cmdCtdHangup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ctd hangup", stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS URL")
	if err := parseFlags(fs, interleave(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errUsage{errors.New("ctd hangup: want one call id")}
	}
	nc, err := nats.Connect(*natsURL, nats.Name("sipbus-ctd-cli"))
	if err != nil {
		return fmt.Errorf("--nats %s: %w", *natsURL, err)
	}
	defer nc.Close()
	r, err := ctdRequest(ctx, nc, ctd.SubjectHang, ctd.CallCommand{ID: fs.Arg(0)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s\n", r.Call.ID, r.Call.Phase)
	return nil
}

// cmdCtdServe is `sipbus ctd serve`: one click-to-dial replica as its own
// process (state in Redis, shared with every other replica), its API on
// --http: the ctd's own main, ctd.Spec run by pkg/service.
func cmdCtdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return service.Main(ctx, ctd.Spec, args, service.IO{Stdout: stdout, Stderr: stderr})
}
