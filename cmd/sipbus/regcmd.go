package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/regapi"
)

// parseInterleaved parses flags that may come after positional arguments
// (`sipbus ul add AOR CONTACT --expires 0`) and returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// regClient connects to NATS for a registrar command.
func regClient(natsURL string) (*regapi.Client, func(), error) {
	nc, err := nats.Connect(natsURL, nats.Name("sipbus-cli"))
	if err != nil {
		return nil, nil, fmt.Errorf("--nats %s: %w", natsURL, err)
	}
	return &regapi.Client{NC: nc}, nc.Close, nil
}

// readPassword takes --password, or a line from stdin for "-" (so the
// password stays out of the process list and the shell history).
func readPassword(p string, stdin io.Reader) (string, error) {
	if p != "-" {
		return p, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("--password -: reading stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// cmdUser is `sipbus user add|set|list|rm|passwd`: the subscriber directory.
func cmdUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage{errors.New("user: want add, set, list, rm or passwd")}
	}
	sub := args[0]
	fs := newFlags("user "+sub, stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS server URL")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	var password, email, name, missed, tz, admin *string
	if sub == "add" || sub == "passwd" {
		password = fs.String("password", "", "the password (at least 6 characters); \"-\" reads it from stdin")
	}
	if sub == "add" || sub == "set" {
		email = fs.String("email", "", "e-mail address (missed-call mail)")
		name = fs.String("name", "", "display name")
		missed = fs.String("missed-call-email", "", "on or off: mail the subscriber about missed calls (default on when an e-mail is set)")
		tz = fs.String("tz", "", "IANA time zone of the subscriber's notifications, e.g. Europe/Paris (default UTC)")
		admin = fs.String("admin", "", "on or off: the subscriber manages every subscriber on the web page (default off)")
	}
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "set": 1, "passwd": 1, "rm": 1, "list": 0}
	n, ok := want[sub]
	if !ok {
		return errUsage{fmt.Errorf("user: unknown subcommand %q: want add, set, list, rm or passwd", sub)}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var missedOn *bool
	if given["missed-call-email"] {
		switch strings.ToLower(*missed) {
		case "on", "true", "yes":
			v := true
			missedOn = &v
		case "off", "false", "no":
			v := false
			missedOn = &v
		default:
			return errUsage{fmt.Errorf("user %s: --missed-call-email: want on or off, got %q", sub, *missed)}
		}
	}
	var adminOn *bool
	if given["admin"] {
		switch strings.ToLower(*admin) {
		case "on", "true", "yes":
			v := true
			adminOn = &v
		case "off", "false", "no":
			v := false
			adminOn = &v
		default:
			return errUsage{fmt.Errorf("user %s: --admin: want on or off, got %q", sub, *admin)}
		}
	}
	if len(pos) != n {
		if n == 1 {
			return errUsage{fmt.Errorf("user %s: want one AOR (user@domain), got %d arguments", sub, len(pos))}
		}
		return errUsage{fmt.Errorf("user %s: unexpected argument %q", sub, pos[0])}
	}
	if password != nil {
		if *password == "" {
			return errUsage{fmt.Errorf("user %s: --password is required", sub)}
		}
		if *password, err = readPassword(*password, stdin); err != nil {
			return err
		}
	}
	c, closeNC, err := regClient(*natsURL)
	if err != nil {
		return err
	}
	defer closeNC()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out any
	switch sub {
	case "add":
		out, err = c.UserAdd(ctx, regapi.UserAddRequest{AOR: pos[0], Password: *password, Email: *email, Name: *name,
			MissedCallEmail: missedOn, TZ: *tz, Admin: adminOn != nil && *adminOn})
	case "set":
		req := regapi.UserSetRequest{AOR: pos[0], MissedCallEmail: missedOn, Admin: adminOn}
		if given["email"] {
			req.Email = email
		}
		if given["name"] {
			req.Name = name
		}
		if given["tz"] {
			req.TZ = tz
		}
		if req.Email == nil && req.Name == nil && req.TZ == nil && req.MissedCallEmail == nil && req.Admin == nil {
			return errUsage{errors.New("user set: nothing to change: give --email, --name, --missed-call-email, --tz or --admin")}
		}
		out, err = c.UserSet(ctx, req)
	case "passwd":
		out, err = c.UserPasswd(ctx, regapi.UserPasswdRequest{AOR: pos[0], Password: *password})
	case "rm":
		out, err = c.UserRemove(ctx, regapi.UserRemoveRequest{AOR: pos[0]})
	case "list":
		all, lerr := allPages(func(cursor string) ([]regapi.User, string, error) {
			rep, err := c.UserList(ctx, regapi.UserListRequest{Cursor: cursor, Limit: 500})
			if err != nil {
				return nil, "", err
			}
			return rep.Users, rep.Next, nil
		})
		if lerr != nil {
			return fmt.Errorf("user list: %w", lerr)
		}
		if *asJSON {
			return printJSON(stdout, all)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "AOR\tNAME\tEMAIL\tENABLED\tMISSED-CALL-EMAIL\tTZ\tADMIN")
		for _, u := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", u.AOR, u.Name, u.Email, u.Enabled, onOff(u.MissedCallEmail), orDefault(u.TZ, "UTC"), onOff(u.Admin))
		}
		return tw.Flush()
	}
	if err != nil {
		return fmt.Errorf("user %s: %w", sub, err)
	}
	if *asJSON {
		return printJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "ok: user %s %s\n", sub, pos[0])
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// cmdUL is `sipbus ul show|add|rm|dump`: the location service (the SER
// FIFO commands ul_show_contact, ul_add, ul_rm, ul_dump).
func cmdUL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage{errors.New("ul: want show, add, rm or dump")}
	}
	sub := args[0]
	fs := newFlags("ul "+sub, stderr)
	natsURL := fs.String("nats", defaultNATS(), "NATS server URL")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	var expires *int
	var q *float64
	if sub == "add" {
		expires = fs.Int("expires", 0, "seconds the binding lives; 0 = permanent (a gateway)")
		q = fs.Float64("q", 1, "preference 0..1 (higher first; lower q are tried serially)")
	}
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	bad := func(format string, a ...any) error { return errUsage{fmt.Errorf("ul "+sub+": "+format, a...)} }
	switch sub {
	case "show":
		if len(pos) != 1 {
			return bad("want one AOR (user@domain)")
		}
	case "add":
		if len(pos) != 2 {
			return bad("want AOR CONTACT, e.g. ul add bob@example.com sip:bob@192.0.2.7:5060")
		}
		if *expires < 0 {
			return bad("--expires: want >= 0, got %d", *expires)
		}
		if *q < 0 || *q > 1 {
			return bad("--q: want 0..1, got %v", *q)
		}
	case "rm":
		if len(pos) < 1 || len(pos) > 2 {
			return bad("want AOR [CONTACT]")
		}
	case "dump":
		if len(pos) != 0 {
			return bad("unexpected argument %q", pos[0])
		}
	default:
		return errUsage{fmt.Errorf("ul: unknown subcommand %q: want show, add, rm or dump", sub)}
	}
	c, closeNC, err := regClient(*natsURL)
	if err != nil {
		return err
	}
	defer closeNC()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var aors []regapi.AORBindings
	switch sub {
	case "show":
		rep, err := c.ULShow(ctx, regapi.ULShowRequest{AOR: pos[0]})
		if err != nil {
			return fmt.Errorf("ul show: %w", err)
		}
		aors = append(aors, rep.AORBindings)
	case "add":
		rep, err := c.ULAdd(ctx, regapi.ULAddRequest{AOR: pos[0], Contact: pos[1], Expires: *expires, Q: q})
		if err != nil {
			return fmt.Errorf("ul add: %w", err)
		}
		aors = append(aors, rep.AORBindings)
	case "rm":
		contact := ""
		if len(pos) == 2 {
			contact = pos[1]
		}
		rep, err := c.ULRemove(ctx, regapi.ULRemoveRequest{AOR: pos[0], Contact: contact})
		if err != nil {
			return fmt.Errorf("ul rm: %w", err)
		}
		aors = append(aors, rep.AORBindings)
	case "dump":
		all, err := allPages(func(cursor string) ([]regapi.AORBindings, string, error) {
			rep, err := c.ULDump(ctx, regapi.ULDumpRequest{Cursor: cursor, Limit: 500})
			if err != nil {
				return nil, "", err
			}
			return rep.AORs, rep.Next, nil
		})
		if err != nil {
			return fmt.Errorf("ul dump: %w", err)
		}
		aors = append(aors, all...)
	}
	if *asJSON {
		if sub == "dump" {
			return printJSON(stdout, aors)
		}
		return printJSON(stdout, aors[0])
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AOR\tCONTACT\tQ\tEXPIRES\tRECEIVED\tPATH")
	for _, a := range aors {
		for _, b := range a.Bindings {
			exp := fmt.Sprintf("%ds", b.Expires)
			if b.Permanent {
				exp = "permanent"
			}
			fmt.Fprintf(tw, "%s\t%s\t%.3g\t%s\t%s\t%s\n", a.AOR, b.Contact, b.Q, exp, b.Received, strings.Join(b.Path, ","))
		}
	}
	return tw.Flush()
}

// allPages follows a listing's cursor to the end: page returns one page's
// items and the next cursor ("" after the last).
func allPages[T any](page func(cursor string) ([]T, string, error)) ([]T, error) {
	var all []T
	cursor := ""
	for {
		items, next, err := page(cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if cursor = next; cursor == "" {
			return all, nil
		}
	}
}
