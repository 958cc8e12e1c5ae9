package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/mgmt"
)

// mgmtFlags are the flags of ps, uptime, which and stats --instances.
type mgmtFlags struct {
	nats   *string
	wait   *time.Duration
	asJSON *bool
}

func addMgmtFlags(fs *flag.FlagSet) *mgmtFlags {
	return &mgmtFlags{
		nats:   fs.String("nats", defaultNATS(), "NATS server URL"),
		wait:   fs.Duration("wait", mgmt.DefaultWait, "how long to wait for instances to answer; one that does not is not listed"),
		asJSON: fs.Bool("json", false, "one JSON object per line"),
	}
}

// discover asks every instance (micro $SRV.STATS and $SRV.INFO) and keeps
// those matching one of names (a service: edge, tm, sipbus-tm; or an
// instance id), all when names is empty.
func (f *mgmtFlags) discover(ctx context.Context, names []string) ([]mgmt.Found, error) {
	if *f.wait <= 0 || *f.wait > time.Minute {
		return nil, errUsage{errors.New("--wait: want a duration between 1ms and 1m")}
	}
	nc, err := nats.Connect(*f.nats, nats.Name("sipbus-ps"))
	if err != nil {
		return nil, fmt.Errorf("--nats %s: %w", *f.nats, err)
	}
	defer nc.Close()
	all, err := mgmt.Discover(ctx, nc, "", *f.wait)
	if errors.Is(err, mgmt.ErrNoInstances) {
		return nil, fmt.Errorf("no sipbus instance answered on %s within %v (--wait)", *f.nats, *f.wait)
	}
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return all, nil
	}
	var out []mgmt.Found
	for _, x := range all {
		for _, n := range names {
			if n == x.Service || n == x.Name || n == x.ID || n == x.MicroID {
				out = append(out, x)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no instance of %s answered (running: %s)", strings.Join(names, ", "), serviceList(all))
	}
	return out, nil
}

func serviceList(fs []mgmt.Found) string {
	seen := map[string]bool{}
	var s []string
	for _, f := range fs {
		if !seen[f.Service] {
			seen[f.Service] = true
			s = append(s, f.Service)
		}
	}
	return strings.Join(s, ", ")
}

// cmdPS lists every running instance (serctl ps).
func cmdPS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ps", stderr)
	mf := addMgmtFlags(fs)
	names, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	found, err := mf.discover(ctx, names)
	if err != nil {
		return err
	}
	if *mf.asJSON {
		return writeJSONLines(stdout, found)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tID\tVERSION\tUPTIME\tHOST\tPID\tIN-FLIGHT\tLAST ERROR")
	for _, f := range found {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", f.Service, f.ID, f.Version, fmtUptime(f.Uptime(now)),
			f.Host, orDash(f.PID), f.Status.InFlight, lastError(f.Status))
	}
	return tw.Flush()
}

// lastError is the last error with its age, quoted (network input may be
// in it), or "-".
func lastError(s mgmt.Status) string {
	if s.LastError == "" {
		return "-"
	}
	e := strconv.Quote(clip(s.LastError, 120))
	if !s.LastErrorAt.IsZero() {
		e = fmtUptime(time.Since(s.LastErrorAt)) + " ago " + e
	}
	return e
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtUptime is 3d4h, 5h12m, 7m3s or 12s.
func fmtUptime(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%ds", d/time.Minute, (d%time.Minute)/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// cmdUptime prints when each instance started and how long it has run
// (serctl uptime).
func cmdUptime(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("uptime", stderr)
	mf := addMgmtFlags(fs)
	names, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	found, err := mf.discover(ctx, names)
	if err != nil {
		return err
	}
	now := time.Now()
	if *mf.asJSON {
		type row struct {
			Service string    `json:"service"`
			ID      string    `json:"id"`
			Started time.Time `json:"started"`
			Seconds int64     `json:"uptime_seconds"`
		}
		rows := make([]row, 0, len(found))
		for _, f := range found {
			rows = append(rows, row{f.Service, f.ID, f.Started, int64(f.Uptime(now) / time.Second)})
		}
		return writeJSONLines(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tID\tSTARTED\tUPTIME")
	for _, f := range found {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Service, f.ID, f.Started.UTC().Format(time.RFC3339), fmtUptime(f.Uptime(now)))
	}
	return tw.Flush()
}

// whichRow is one endpoint of `sipbus which`: the same endpoint of every
// replica (a queue group) is one row.
type whichRow struct {
	Service    string   `json:"service"`
	Endpoint   string   `json:"endpoint"`
	Subject    string   `json:"subject"`
	QueueGroup string   `json:"queue_group,omitempty"`
	Schema     string   `json:"schema,omitempty"`
	Instances  []string `json:"instances"`
}

// cmdWhich lists every command endpoint with its subject and schema
// (serctl which).
func cmdWhich(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("which", stderr)
	mf := addMgmtFlags(fs)
	names, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	found, err := mf.discover(ctx, names)
	if err != nil {
		return err
	}
	rows := whichRows(found)
	if *mf.asJSON {
		return writeJSONLines(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tENDPOINT\tSUBJECT\tSCHEMA\tINSTANCES")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", r.Service, r.Endpoint, r.Subject, orDash(r.Schema), len(r.Instances))
	}
	return tw.Flush()
}

func whichRows(found []mgmt.Found) []whichRow {
	idx := map[string]int{}
	var rows []whichRow
	for _, f := range found {
		for _, e := range f.Endpoints {
			k := f.Service + "\x00" + e.Name + "\x00" + e.Subject
			i, ok := idx[k]
			if !ok {
				i = len(rows)
				idx[k] = i
				rows = append(rows, whichRow{Service: f.Service, Endpoint: e.Name, Subject: e.Subject, QueueGroup: e.QueueGroup, Schema: e.Schema})
			}
			rows[i].Instances = append(rows[i].Instances, f.ID)
		}
	}
	sort.SliceStable(rows, func(a, b int) bool {
		if rows[a].Service != rows[b].Service {
			return rows[a].Service < rows[b].Service
		}
		return rows[a].Subject < rows[b].Subject
	})
	return rows
}

// instanceStats prints the stats of instances: one JSON line each
// (`sipbus stats --instances [SERVICE|ID]...`).
func instanceStats(ctx context.Context, mf *mgmtFlags, names []string, stdout io.Writer) error {
	found, err := mf.discover(ctx, names)
	if err != nil {
		return err
	}
	return writeJSONLines(stdout, found)
}

func writeJSONLines[T any](w io.Writer, rows []T) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
