package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/tmapi"
)

// headerFlags is a repeatable --header "Name: value".
type headerFlags []string

func (h *headerFlags) String() string { return strings.Join(*h, ", ") }

func (h *headerFlags) Set(v string) error {
	name, _, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%q is not one \"Name: value\" header line", v)
	}
	*h = append(*h, v)
	return nil
}

// uacFlags are the flags of `sipbus uac` and `sipbus im`.
type uacFlags struct {
	nats, from, to, contact, nextHop, auth, realm, ctype *string
	headers                                              headerFlags
	verbose                                              *bool
	timeout                                              *int
}

func addUACFlags(name string, stderr io.Writer) (*uacFlagSet, *uacFlags) {
	fs := newFlags(name, stderr)
	f := &uacFlags{
		nats:    fs.String("nats", defaultNATS(), "NATS server URL"),
		from:    fs.String("from", "", "From address (name-addr or URI); default sip:sipbus@<tm's first domain>"),
		to:      fs.String("to", "", "To address; default the request URI"),
		contact: fs.String("contact", "", "Contact of a dialog-creating request; default tm's address"),
		nextHop: fs.String("next-hop", "", "send through this proxy (sip: URI; ;lr makes it a Route)"),
		auth:    fs.String("auth", "", "USER:PASSWORD answering one 401/407 (\"USER:-\" reads the password from stdin)"),
		realm:   fs.String("realm", "", "answer only a challenge of this realm"),
		ctype:   fs.String("content-type", "", "Content-Type of --body; default application/sdp for INVITE, text/plain otherwise"),
		verbose: fs.Bool("v", false, "print every response whole (headers and body), not only its status line"),
		timeout: fs.Int("timeout", 0, "INVITE: seconds it may ring before tm CANCELs it (default 60)"),
	}
	fs.Var(&f.headers, "header", "extra header \"Name: value\" (repeatable)")
	return &uacFlagSet{fs}, f
}

type uacFlagSet struct{ *flag.FlagSet }

// cmdUAC is `sipbus uac METHOD URI`: a request sent by tm (sipbus.tm.uac).
func cmdUAC(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, f := addUACFlags("uac", stderr)
	body := fs.String("body", "", "file whose content is the body (- reads stdin)")
	dialog := fs.String("dialog", "", "send inside this dialog (the id a 2xx printed with -v): sipbus uac BYE --dialog ID")
	pos, err := parseInterleaved(fs.FlagSet, args)
	if err != nil {
		return err
	}
	var req *tmapi.UAC
	switch {
	case *dialog != "" && len(pos) == 1:
		req = &tmapi.UAC{Method: strings.ToUpper(pos[0]), DialogID: *dialog}
	case *dialog != "":
		return errUsage{errors.New("uac --dialog: want METHOD only (the dialog gives the URI)")}
	case len(pos) != 2:
		return errUsage{errors.New("uac: want METHOD URI (e.g. sipbus uac OPTIONS sip:bob@example.com)")}
	default:
		req = &tmapi.UAC{Method: strings.ToUpper(pos[0]), RequestURI: pos[1]}
	}
	if *body != "" {
		var b []byte
		if *body == "-" {
			b, err = io.ReadAll(io.LimitReader(stdin, 64<<10+1))
		} else {
			b, err = os.ReadFile(*body)
		}
		if err != nil {
			return errUsage{fmt.Errorf("--body: %w", err)}
		}
		if len(b) > 64<<10 {
			return errUsage{fmt.Errorf("--body %s: over 64 KiB", *body)}
		}
		req.Body = string(b)
		req.ContentType = "text/plain"
		if req.Method == "INVITE" {
			req.ContentType = "application/sdp"
		}
	}
	return runUAC(ctx, req, f, stdin, stdout)
}

// cmdIM is `sipbus im URI TEXT`: a MESSAGE with a text/plain body.
func cmdIM(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, f := addUACFlags("im", stderr)
	pos, err := parseInterleaved(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return errUsage{errors.New("im: want URI TEXT (e.g. sipbus im sip:bob@example.com hello)")}
	}
	req := &tmapi.UAC{Method: "MESSAGE", RequestURI: pos[0], Body: strings.Join(pos[1:], " "), ContentType: "text/plain;charset=utf-8"}
	return runUAC(ctx, req, f, stdin, stdout)
}

func runUAC(ctx context.Context, req *tmapi.UAC, f *uacFlags, stdin io.Reader, stdout io.Writer) error {
	req.From, req.To, req.Contact, req.NextHop = *f.from, *f.to, *f.contact, *f.nextHop
	req.Headers = f.headers
	req.Timeout = *f.timeout
	if *f.ctype != "" {
		if req.Body == "" {
			return errUsage{errors.New("--content-type: needs a body (--body)")}
		}
		req.ContentType = *f.ctype
	}
	if *f.timeout < 0 || *f.timeout > 3600 {
		return errUsage{fmt.Errorf("--timeout: want 0 to 3600 seconds, got %d", *f.timeout)}
	}
	if *f.auth != "" {
		user, pass, ok := strings.Cut(*f.auth, ":")
		if !ok || user == "" {
			return errUsage{errors.New("--auth: want USER:PASSWORD")}
		}
		if pass == "-" {
			p, err := readPassword("-", stdin)
			if err != nil {
				return errUsage{fmt.Errorf("--auth: %w", err)}
			}
			pass = p
		}
		if pass == "" {
			return errUsage{errors.New("--auth: empty password")}
		}
		req.Auth = &tmapi.Auth{User: user, Password: pass, Realm: *f.realm}
	} else if *f.realm != "" {
		return errUsage{errors.New("--realm: needs --auth")}
	}
	nc, err := nats.Connect(*f.nats, nats.Name("sipbus-cli"))
	if err != nil {
		return fmt.Errorf("--nats %s: %w", *f.nats, err)
	}
	defer nc.Close()
	c := &tmapi.Client{NC: nc}
	show := func(r *tmapi.Response) {
		switch {
		case *f.verbose && r.Message != "":
			fmt.Fprint(stdout, strings.ReplaceAll(r.Message, "\r\n", "\n"))
			if !strings.HasSuffix(r.Message, "\n") {
				fmt.Fprintln(stdout)
			}
			fmt.Fprintln(stdout)
		case r.Local:
			fmt.Fprintf(stdout, "%d %s (tm)\n", r.Status, oneLine(r.Reason, 200))
		default:
			fmt.Fprintf(stdout, "SIP/2.0 %d %s\n", r.Status, oneLine(r.Reason, 200))
		}
	}
	r, err := c.UAC(ctx, req, show)
	var e *tmapi.Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return errUsage{fmt.Errorf("%s: %s", req.Method, e.Response.Error)}
		}
		return fmt.Errorf("%s: %w", req.Method, err)
	}
	if r != nil {
		show(r)
		if r.DialogID != "" && *f.verbose {
			fmt.Fprintf(stdout, "dialog %s\n", r.DialogID)
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.RequestURI, err)
	}
	if r.Status >= 300 {
		return fmt.Errorf("%s %s: final response %d %s", req.Method, req.RequestURI, r.Status, oneLine(r.Reason, 200))
	}
	return nil
}
