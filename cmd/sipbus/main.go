// Command sipbus is the one binary for people: run everything in one process
// (`sipbus up`), or the edge and the transaction manager as separate
// processes sharing NATS and Redis (`sipbus edge`, `sipbus tm`), watch the bus (`sipbus tail`), check SIP messages
// (`sipbus msg check`), mail missed calls (`sipbus up --smtp dev`, `sipbus
// notifier`), send requests (`sipbus uac`, `sipbus im`), click-to-dial
// (`sipbus ctd`), look at what runs (`sipbus ps`) and at past calls
// (`sipbus replay`, `sipbus calls`).
//
// Every command that talks to the bus takes --nats URL (default $SIPBUS_NATS_URL,
// else nats://127.0.0.1:4222). Errors name the flag or file at fault; the
// exit status is 2 for usage errors and 1 for everything else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/service"
)

const usage = `sipbus: a SIP platform on NATS JetStream and Redis

usage:
  sipbus up [--sip 127.0.0.1:5060] [--data DIR] [--redis URL] [--nats-listen 127.0.0.1:4222] [--domain D]... [--routes FILE] [--static AOR=CONTACT]... [--resolver IP:PORT] [--smtp dev|URL] [--notifier-config FILE] [--http ADDR|off] [--ctd-* ...]
  sipbus edge [--config FILE] [--udp 127.0.0.1:5060] [--tcp ADDR] [--tls ADDR] [--nats URL] [--id ID] [--KEY VALUE]...
  sipbus tm   [--config FILE] --advertise HOST:PORT --redis URL [--KEY VALUE]...   (keys: services/tm/README.md#settings)
  sipbus nats [--listen 127.0.0.1:4222] [--data DIR] [--monitor ADDR]
  sipbus stats [--nats URL] [--nats-monitor URL] [--redis URL] [--stream NAME]
  sipbus registrar [--config FILE] --domains D --redis URL [--KEY VALUE]...   (keys: services/registrar/README.md#settings)
  sipbus user add AOR --password P|- [--email E] [--name N] [--tz ZONE] [--missed-call-email on|off] | list | rm AOR | passwd AOR --password P|-   [--json]
  sipbus user set AOR [--email E] [--name N] [--tz ZONE] [--missed-call-email on|off]
  sipbus notifier [--config FILE] [--KEY VALUE]...   (--redis URL --smtp URL|none required; services/notifier/README.md)
  sipbus notifier failed [--json] [--limit N] | retry ID
  sipbus ul show AOR | add AOR CONTACT [--expires S] [--q Q] | rm AOR [CONTACT] | dump   [--json]
  sipbus uac METHOD URI|--dialog ID [--header H]... [--body FILE] [--auth USER:PASSWORD] [--from A] [--to A] [--next-hop URI] [-v] [--nats URL]
  sipbus im URI TEXT [--auth USER:PASSWORD] [--from A] [-v] [--nats URL]
  sipbus ctd FROM TO [--json] [--nats URL] | token AOR | hangup ID
  sipbus ctd serve [--config FILE] [--KEY VALUE]...  (--redis URL required; services/ctd/README.md)
  sipbus web [--config FILE] [--KEY VALUE]...        (--redis URL, $SIPBUS_WEB_SECRET required; services/web/README.md)
  sipbus tail [--nats URL] [--json] [--type PREFIX] [--call-id ID]
  sipbus ps|uptime|which [--nats URL] [--wait 1s] [--json] [SERVICE|ID]...
  sipbus replay CALL-ID|CALLKEY [--nats URL] [--json] [--pcap FILE] [--to notifier|app:NAME] [--since D]
  sipbus calls [--since 1h] [--user AOR] [--missed] [--json]
  sipbus rebuild location --redis URL [--nats URL] [--since D] [--dry-run] [--json]
  sipbus stats --instances [--nats URL] [SERVICE|ID]...
  sipbus msg check [--role proxy|endpoint|registrar] [--transport udp|tcp] FILE...

Run 'sipbus <command> --help' for the flags of a command.
`

// errUsage marks errors that are the caller's fault (exit status 2).
type errUsage struct{ error }

func main() {
	obs.SetGCDefault() // GOGC=150 unless GOGC is set (pkg/obs)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx = obs.WithProcs(ctx, obs.AdaptProcs(ctx)) // GOMAXPROCS follows the load unless set (pkg/obs)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	fmt.Fprintln(os.Stderr, "sipbus:", err)
	var u errUsage
	var su service.UsageError
	if errors.As(err, &u) || errors.As(err, &su) {
		os.Exit(2)
	}
	os.Exit(1)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage{errors.New("a command is required")}
	}
	switch args[0] {
	case "up":
		return cmdUp(ctx, args[1:], stdout, stderr)
	case "edge":
		return cmdEdge(ctx, args[1:], stdout, stderr)
	case "tm":
		return cmdTM(ctx, args[1:], stdout, stderr)
	case "nats":
		return cmdNATS(ctx, args[1:], stdout, stderr)
	case "stats":
		return cmdStats(ctx, args[1:], stdout, stderr)
	case "registrar":
		return cmdRegistrar(ctx, args[1:], stdout, stderr)
	case "user":
		return cmdUser(ctx, args[1:], os.Stdin, stdout, stderr)
	case "notifier":
		return cmdNotifier(ctx, args[1:], stdout, stderr)
	case "ul":
		return cmdUL(ctx, args[1:], stdout, stderr)
	case "ctd":
		return cmdCtd(ctx, args[1:], stdout, stderr)
	case "web":
		return cmdWeb(ctx, args[1:], stdout, stderr)
	case "tail":
		return cmdTail(ctx, args[1:], stdout, stderr)
	case "replay":
		return cmdReplay(ctx, args[1:], stdout, stderr)
	case "calls":
		return cmdCalls(ctx, args[1:], stdout, stderr)
	case "rebuild":
		return cmdRebuild(ctx, args[1:], stdout, stderr)
	case "ps":
		return cmdPS(ctx, args[1:], stdout, stderr)
	case "uptime":
		return cmdUptime(ctx, args[1:], stdout, stderr)
	case "which":
		return cmdWhich(ctx, args[1:], stdout, stderr)
	case "uac":
		return cmdUAC(ctx, args[1:], os.Stdin, stdout, stderr)
	case "im":
		return cmdIM(ctx, args[1:], os.Stdin, stdout, stderr)
	case "msg":
		if len(args) < 2 || args[1] != "check" {
			return errUsage{errors.New("msg: the subcommand is 'check': sipbus msg check FILE...")}
		}
		return cmdMsgCheck(args[2:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return errUsage{fmt.Errorf("unknown command %q", args[0])}
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sipbus "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage{err}
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// defaultNATS is the --nats default of every bus command.
func defaultNATS() string { return envOr("SIPBUS_NATS_URL", "nats://127.0.0.1:4222") }
