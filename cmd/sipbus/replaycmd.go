package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/cmd/sipbus/internal/replay"
	"github.com/sipbus/sipbus/pkg/bus"
)

// cmdReplay prints one call from the log: a ladder (default), the raw
// events (--json), a pcap (--pcap FILE), or re-drives a subscriber with
// its events (--to notifier, dry-run).
func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS server URL")
	stream := fs.String("stream", bus.DefaultStream, "JetStream stream")
	asJSON := fs.Bool("json", false, "print the call's events as CloudEvent JSON, one per line, in log order")
	pcap := fs.String("pcap", "", "also write the SIP messages to this pcap file (tshark -r FILE)")
	to := fs.String("to", "", "re-drive this subscriber with the call's events, side effects fenced (dry-run): notifier, or app:NAME (an SDK application)")
	since := fs.Duration("since", 0, "read from this long ago only (default: the whole stream)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage{errors.New("replay: one CALL-ID or CALLKEY is required: sipbus replay CALL-ID [--json] [--pcap FILE] [--to notifier]")}
	}
	if *since < 0 {
		return errUsage{errors.New("--since: must not be negative")}
	}
	if name, isApp := strings.CutPrefix(*to, "app:"); *to != "" && *to != "notifier" && (!isApp || name == "" || bus.SafeToken(name) != name) {
		return errUsage{fmt.Errorf("--to: unknown subscriber %q (want notifier, or app:NAME)", *to)}
	}
	js, closeNC, err := connectJS(*natsURL)
	if err != nil {
		return err
	}
	defer closeNC()
	var from time.Time
	if *since > 0 {
		from = time.Now().Add(-*since)
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	call, err := replay.Read(rctx, js, *stream, pos[0], from)
	if err != nil {
		if errors.Is(err, replay.ErrUnknownCall) {
			return fmt.Errorf("replay: no call %q in stream %s (neither a Call-ID nor a call key of a logged call; `sipbus calls --since 24h` lists them)", pos[0], *stream)
		}
		return err
	}
	if *pcap != "" {
		if err := writePcapFile(*pcap, call); err != nil {
			return err
		}
	}
	switch {
	case *to != "":
		return redrive(rctx, *natsURL, *to, call, stdout)
	case *asJSON:
		return replayJSON(stdout, call)
	}
	return replay.Ladder(stdout, call)
}

func connectJS(url string) (jetstream.JetStream, func(), error) {
	nc, err := nats.Connect(url, nats.Name("sipbus-replay"))
	if err != nil {
		return nil, nil, fmt.Errorf("--nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}

func writePcapFile(path string, call *replay.Call) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--pcap: %w", err)
	}
	if _, err := replay.WritePcap(f, call); err != nil {
		f.Close()
		return fmt.Errorf("--pcap %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--pcap %s: %w", path, err)
	}
	return nil
}

// replayJSON prints each event as tail --json does.
func replayJSON(w io.Writer, call *replay.Call) error {
	for _, it := range call.Items {
		var b []byte
		var err error
		if it.SIP != nil {
			s := *it.SIP
			if s.Time.IsZero() {
				s.Time = it.At
			}
			b, err = s.JSON()
		} else {
			b, err = json.Marshal(toCloudEvent(it.Call))
		}
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

// cmdCalls lists the calls of the log.
func cmdCalls(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("calls", stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS server URL")
	stream := fs.String("stream", bus.DefaultStream, "JetStream stream")
	since := fs.Duration("since", time.Hour, "calls whose events are younger than this")
	user := fs.String("user", "", "only calls from or to this AOR (bob@example.com)")
	missed := fs.Bool("missed", false, "only missed calls")
	asJSON := fs.Bool("json", false, "one JSON object per call")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage{fmt.Errorf("calls: unexpected argument %q", fs.Arg(0))}
	}
	if *since <= 0 {
		return errUsage{errors.New("--since: must be positive (e.g. 1h)")}
	}
	js, closeNC, err := connectJS(*natsURL)
	if err != nil {
		return err
	}
	defer closeNC()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	calls, err := replay.Calls(rctx, js, *stream, time.Now().Add(-*since), replay.Filter{User: *user, Missed: *missed})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSONLines(stdout, calls)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tCALL KEY\tCALLER\tCALLEE\tSTATE\tREASON\tDURATION\tCALL-ID")
	for _, c := range calls {
		dur := "-"
		if !c.AnsweredAt.IsZero() && !c.EndedAt.IsZero() {
			dur = c.EndedAt.Sub(c.AnsweredAt).Round(time.Second).String()
		}
		reason := c.Reason
		if c.Status != 0 {
			reason = fmt.Sprintf("%s (%d)", c.Reason, c.Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%q\n", c.StartedAt.Local().Format("2006-01-02 15:04:05"), c.CallKey,
			quoteIf(c.Caller), quoteIf(c.Callee), c.State, orDash(reason), dur, c.CallID)
	}
	return tw.Flush()
}

// quoteIf quotes s when it holds anything but printable ASCII.
func quoteIf(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return fmt.Sprintf("%q", s)
		}
	}
	return orDash(s)
}
