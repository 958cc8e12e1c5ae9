package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/confload"
	"github.com/sipbus/sipbus/pkg/notifyapi"
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/notifier"
)

// cmdNotifier is `sipbus notifier` (one notifier as its own process: the
// notifier's own main, notifier.Spec run by pkg/service), `sipbus notifier
// failed` and `sipbus notifier retry ID`.
func cmdNotifier(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "failed":
			return cmdNotifierFailed(ctx, args[1:], stdout, stderr)
		case "retry":
			return cmdNotifierRetry(ctx, args[1:], stdout, stderr)
		}
		return errUsage{fmt.Errorf("notifier: unknown subcommand %q: want failed or retry (or flags to run a notifier)", args[0])}
	}
	return service.Main(ctx, notifier.Spec, args, service.IO{Stdout: stdout, Stderr: stderr})
}

// notifierFileKeys are the keys of a notifier's settings file (a named
// type: the strict decoder's unknown-key errors name it).
type notifierFileKeys struct {
	service.Common `yaml:",inline"`
	Cfg            notifier.Config `yaml:",inline"`
}

// notifierFile reads `sipbus up --notifier-config`: the file `sipbus
// notifier --config` takes, strict; its common keys (nats, redis, http,
// ...) belong to the `sipbus up` process and are ignored here.
func notifierFile(path string) (notifier.Config, error) {
	v := notifierFileKeys{Cfg: notifier.DefaultConfig()}
	if path == "" {
		return v.Cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return v.Cfg, err
	}
	err = confload.Decode(data, path, &v)
	return v.Cfg, err
}

func notifyClient(natsURL string) (*notifyapi.Client, func(), error) {
	nc, err := nats.Connect(natsURL, nats.Name("sipbus-cli"))
	if err != nil {
		return nil, nil, fmt.Errorf("--nats %s: %w", natsURL, err)
	}
	return &notifyapi.Client{NC: nc}, nc.Close, nil
}

// cmdNotifierFailed is `sipbus notifier failed`: the dead-letter list.
func cmdNotifierFailed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("notifier failed", stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS server URL")
	asJSON := fs.Bool("json", false, "print the failures as JSON (sipbus.notify.failed.v1 data)")
	limit := fs.Int("limit", 100, "the most to list, newest first (1 to 1000)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage{fmt.Errorf("notifier failed: unexpected argument %q", fs.Arg(0))}
	}
	if *limit < 1 || *limit > 1000 {
		return errUsage{fmt.Errorf("--limit: want 1 to 1000, got %d", *limit)}
	}
	c, closeNC, err := notifyClient(*natsURL)
	if err != nil {
		return err
	}
	defer closeNC()
	rep, err := c.Failed(ctx, notifyapi.FailedRequest{Limit: *limit})
	if err != nil {
		return fmt.Errorf("notifier failed: %w", err)
	}
	if *asJSON {
		return printJSON(stdout, rep.Failed)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tFAILED\tATTEMPTS\tTO\tCODE\tERROR")
	for _, f := range rep.Failed {
		to := f.To
		if f.Kind == "exec" {
			to = "rule " + f.Rule
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", f.ID, f.Kind, f.FailedAt.Local().Format(time.DateTime), f.Attempts,
			to, f.Code, oneLine(f.Error, 100))
	}
	return tw.Flush()
}

// cmdNotifierRetry is `sipbus notifier retry ID`.
func cmdNotifierRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("notifier retry", stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS server URL")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage{errors.New("notifier retry: want one failure id (nf-..., as `sipbus notifier failed` lists them)")}
	}
	c, closeNC, err := notifyClient(*natsURL)
	if err != nil {
		return err
	}
	defer closeNC()
	rep, err := c.Retry(ctx, notifyapi.RetryRequest{ID: pos[0]})
	if err != nil {
		return fmt.Errorf("notifier retry %s: %w", pos[0], err)
	}
	if rep.MessageID != "" {
		fmt.Fprintf(stdout, "ok: %s sent, Message-ID <%s>\n", pos[0], rep.MessageID)
		return nil
	}
	fmt.Fprintf(stdout, "ok: %s: %s\n", pos[0], rep.Reason)
	return nil
}

// oneLine cuts s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// notifierFlags are the notifier's flags of `sipbus up`.
type notifierFlags struct {
	smtp, config *string
}

func addNotifierFlags(fs *flag.FlagSet) *notifierFlags {
	return &notifierFlags{
		smtp: fs.String("smtp", os.Getenv("SIPBUS_SMTP_URL"), "missed-call mail: dev (a local Mailpit, started and stopped with sipbus), an SMTP URL "+
			"(smtp://user:password@host:port, STARTTLS; smtps:// for TLS), or empty: no notifier (default $SIPBUS_SMTP_URL)"),
		config: fs.String("notifier-config", "", "notifier YAML config file: from, templates, rate_limit, exec rules, ..."),
	}
}
