package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// checkResult is one line of `sipbus msg check`.
type checkResult struct {
	File   string `json:"file"`
	Valid  bool   `json:"valid"`
	Status int    `json:"status"`
	Reason string `json:"reason"`
}

// cmdMsgCheck indexes and sanity-checks each file as the given role would
// and prints one JSON line per file. Invalid messages are results, not
// errors; only a file that cannot be read makes the exit status non-zero.
func cmdMsgCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("msg check", stderr)
	role := fs.String("role", "proxy", "check as: proxy (what sipbus up does), endpoint (a UAS) or registrar")
	transport := fs.String("transport", "udp", "framing: udp (the file is one datagram) or tcp (Content-Length frames)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opt := sipmsg.CheckOptions{Supported: []string{"path"}}
	switch *role {
	case "proxy":
		opt.Role = sipmsg.RoleProxy
	case "endpoint":
		opt.Role = sipmsg.RoleEndpoint
	case "registrar":
		opt.Role = sipmsg.RoleRegistrar
	default:
		return errUsage{fmt.Errorf("--role: want proxy, endpoint or registrar, got %q", *role)}
	}
	switch *transport {
	case "udp":
		opt.Framing = sipmsg.Datagram
	case "tcp":
		opt.Framing = sipmsg.Stream
	default:
		return errUsage{fmt.Errorf("--transport: want udp or tcp, got %q", *transport)}
	}
	if fs.NArg() == 0 {
		return errUsage{fmt.Errorf("msg check: at least one FILE is required")}
	}
	enc := json.NewEncoder(stdout)
	var unreadable []string
	for _, f := range fs.Args() {
		raw, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "sipbus: msg check: %v\n", err)
			unreadable = append(unreadable, f)
			continue
		}
		_ = enc.Encode(checkFile(f, raw, opt))
	}
	if len(unreadable) > 0 {
		return fmt.Errorf("msg check: %d file(s) could not be read: %q", len(unreadable), unreadable)
	}
	return nil
}

func checkFile(name string, raw []byte, opt sipmsg.CheckOptions) checkResult {
	r := checkResult{File: name}
	m, err := sipmsg.Parse(raw, opt.Framing)
	if err != nil {
		// Nothing a server could answer: the edge drops and counts it.
		r.Reason = "unparseable, dropped: " + err.Error()
		return r
	}
	if f := sipmsg.Check(m, opt); f != nil {
		r.Status, r.Reason = f.Status, f.Reason
		if f.Status == 0 {
			r.Reason = "dropped: " + f.Reason
		}
		return r
	}
	r.Valid = true
	return r
}
