package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// headerLines returns the header lines of a reply (without the status line).
func headerLines(t *testing.T, raw []byte) (string, []string) {
	t.Helper()
	if _, err := sipmsg.Parse(raw, sipmsg.Stream); err != nil {
		t.Fatalf("reply does not parse: %v\n%s", err, raw)
	}
	head, _, ok := strings.Cut(string(raw), "\r\n\r\n")
	if !ok {
		t.Fatalf("reply without end of headers:\n%s", raw)
	}
	lines := strings.Split(head, "\r\n")
	return lines[0], lines[1:]
}

func withPrefix(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func TestOK(t *testing.T) {
	bindings := []location.Binding{
		{Contact: "sip:alice@192.0.2.4:5060;transport=udp", Q: 1, Expires: now.Add(3600 * time.Second)},
		{Contact: "sip:alice@198.51.100.7;ob", Q: 0.5, Expires: now.Add(1799*time.Second + 300*time.Millisecond),
			InstanceID: "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>", RegID: 1},
		{Contact: "sip:gw@203.0.113.1", Q: 0.25},                                        // permanent
		{Contact: "sip:gone@192.0.2.9", Q: 1, Expires: now},                             // expired: left out
		{Contact: "sip:zero@192.0.2.10", Q: 0, Expires: now.Add(10 * time.Second)},      // q=0
		{Contact: "sip:later@192.0.2.11", Q: 0.125, Expires: now.Add(time.Millisecond)}, // rounds up to 1s
	}
	for _, tc := range []struct {
		name     string
		mods     []string
		opt      sipmsg.ReplyOptions
		wantPath []string
		extra    []string
	}{
		{name: "plain", mods: []string{"Contact: <sip:alice@192.0.2.4:5060;transport=udp>"}},
		{name: "Path echoed with Supported: path",
			mods:     []string{"Supported: path, outbound", "Path: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>", "Path: <sip:p3.example.com;lr>"},
			wantPath: []string{"Path: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>", "Path: <sip:p3.example.com;lr>"}},
		{name: "Path not echoed without Supported: path",
			mods: []string{"Supported: outbound", "Path: <sip:p1.example.com;lr>"}},
		{name: "caller's headers and To tag",
			mods:  []string{"Contact: <sip:alice@192.0.2.4>"},
			opt:   sipmsg.ReplyOptions{ToTag: "abc123", Headers: []string{"Require: outbound"}, Server: "sipbus"},
			extra: []string{"Require: outbound", "Server: sipbus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := register(t, tc.mods...)
			status, lines := headerLines(t, OK(m, bindings, now, tc.opt))
			if status != "SIP/2.0 200 OK" {
				t.Errorf("status line %q", status)
			}
			wantContacts := []string{
				"Contact: <sip:alice@192.0.2.4:5060;transport=udp>;expires=3600",
				`Contact: <sip:alice@198.51.100.7;ob>;expires=1800;q=0.5;+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";reg-id=1`,
				"Contact: <sip:gw@203.0.113.1>;expires=4294967295;q=0.25",
				"Contact: <sip:zero@192.0.2.10>;expires=10;q=0",
				"Contact: <sip:later@192.0.2.11>;expires=1;q=0.125",
			}
			if got := withPrefix(lines, "Contact:"); !slices.Equal(got, wantContacts) {
				t.Errorf("Contacts:\n got %q\nwant %q", got, wantContacts)
			}
			if got := withPrefix(lines, "Date:"); !slices.Equal(got, []string{"Date: Thu, 02 Jan 2025 03:04:05 GMT"}) {
				t.Errorf("Date = %q", got)
			}
			if got := withPrefix(lines, "Path:"); !slices.Equal(got, tc.wantPath) {
				t.Errorf("Path = %q, want %q", got, tc.wantPath)
			}
			to := withPrefix(lines, "To:")
			if len(to) != 1 || !strings.Contains(to[0], ";tag=") || (tc.opt.ToTag != "" && !strings.HasSuffix(to[0], ";tag="+tc.opt.ToTag)) {
				t.Errorf("To = %q, want one with a tag", to)
			}
			for _, h := range []string{"Via:", "From:", "Call-ID: 843817637684230@998sdasdh09", "CSeq: 1826 REGISTER"} {
				if len(withPrefix(lines, h)) != 1 {
					t.Errorf("no %s line in %q", h, lines)
				}
			}
			for _, h := range tc.extra {
				if len(withPrefix(lines, h)) != 1 {
					t.Errorf("no %q line in %q", h, lines)
				}
			}
			// The Contacts read back as sipmsg sees them.
			reply, _ := sipmsg.Parse(OK(m, bindings, now, tc.opt), sipmsg.Stream)
			cs, err := reply.Contacts()
			if err != nil || len(cs) != 5 || cs[1].Expires != 1800 || cs[1].Q != 0.5 {
				t.Errorf("Contacts of the reply = %+v, %v", cs, err)
			}
		})
	}
}

func TestOKNoBindings(t *testing.T) {
	_, lines := headerLines(t, OK(register(t), nil, now, sipmsg.ReplyOptions{}))
	if got := withPrefix(lines, "Contact:"); len(got) != 0 {
		t.Errorf("Contacts = %q, want none", got)
	}
	if len(withPrefix(lines, "Date:")) != 1 {
		t.Errorf("no Date in %q", lines)
	}
}

func TestReject(t *testing.T) {
	m := register(t, "Contact: <sip:alice@192.0.2.4>;expires=10")
	d := Decide(m, Source{}, now, Options{})
	status, lines := headerLines(t, Reject(m, d, sipmsg.ReplyOptions{Headers: []string{"Server: sipbus"}}))
	if status != "SIP/2.0 423 Interval Too Brief" {
		t.Errorf("status line %q", status)
	}
	if got := withPrefix(lines, "Min-Expires:"); !slices.Equal(got, []string{"Min-Expires: 60"}) {
		t.Errorf("Min-Expires = %q", got)
	}
	if len(withPrefix(lines, "Server: sipbus")) != 1 || len(withPrefix(lines, "To:")) != 1 {
		t.Errorf("lines = %q", lines)
	}
	if d.Headers[0] != "Min-Expires: 60" || len(d.Headers) != 1 {
		t.Errorf("Reject changed the decision's headers: %q", d.Headers)
	}
}

func TestFromStoreError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		reply   int
		fetch   bool
		headers []string
	}{
		{"out of order answers with the bindings", fmt.Errorf("apply: %w", location.ErrOutOfOrder), 200, true, nil},
		{"too many", fmt.Errorf("apply: %w", location.ErrTooMany), 403, false, nil},
		{"unavailable", fmt.Errorf("apply: %w", location.ErrUnavailable), 503, false, []string{"Retry-After: 5"}},
		{"deadline", context.DeadlineExceeded, 503, false, []string{"Retry-After: 5"}},
		{"invalid is a bug", location.ErrInvalid, 500, false, nil},
		{"anything else", errors.New("boom"), 500, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := FromStoreError("alice@example.com", tc.err)
			if d.Reply != tc.reply || d.Fetch != tc.fetch || !slices.Equal(d.Headers, tc.headers) || d.AOR != "alice@example.com" || d.Update != nil {
				t.Errorf("FromStoreError = %+v, want %d fetch=%v headers %q", d, tc.reply, tc.fetch, tc.headers)
			}
		})
	}
}

func TestFormatQ(t *testing.T) {
	for milli, want := range map[int]string{0: "0", 1: "0.001", 10: "0.01", 125: "0.125", 500: "0.5", 999: "0.999", 1000: "1"} {
		if got := formatQ(milli); got != want {
			t.Errorf("formatQ(%d) = %q, want %q", milli, got, want)
		}
	}
}
