package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// TestMalformedCommands: every command endpoint of `sipbus up` (every
// endpoint `sipbus which` lists but the edge's stats: tm, registrar,
// notifier, ctd) answers a request with an unknown field, bytes that are
// not JSON and JSON that is not an object with status 400, a reason, and — where there
// is a field to name — the field, and nothing crashes: the same endpoints
// answer again afterwards.
func TestMalformedCommands(t *testing.T) {
	mp := testenv.StartMailpit(t)
	s := startUp(t, "--smtp", "smtp://"+mp.SMTP+"?tls=none")
	nc, err := nats.Connect(s.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := testenv.Context(t, time.Minute)
	found, err := mgmt.Discover(ctx, nc, "", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	type reply struct {
		Status int    `json:"status"`
		Reason string `json:"reason"`
		Error  string `json:"error"`
		Field  string `json:"field"`
	}
	ask := func(subject, body string) reply {
		t.Helper()
		m, err := nc.RequestWithContext(ctx, subject, []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		var r reply
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("%s answered %q: not JSON: %v", subject, m.Data, err)
		}
		return r
	}
	seen := map[string]bool{}
	for _, f := range found {
		for _, ep := range f.Endpoints {
			if ep.Name == "stats" || seen[ep.Subject] {
				continue // the edge's stats endpoint takes no request
			}
			seen[ep.Subject] = true
			for _, c := range []struct{ name, body, field string }{
				{"unknown field", `{"zz_unknown": 1}`, "zz_unknown"},
				{"not JSON", `{"aor": `, ""},
				{"not an object", `[1, 2]`, ""},
			} {
				r := ask(ep.Subject, c.body)
				msg := r.Reason + r.Error
				if r.Status != 400 || r.Field != c.field || msg == "" {
					t.Errorf("%s (%s) %s: %+v, want 400 naming field %q", f.Service, ep.Subject, c.name, r, c.field)
				}
				if c.field != "" && !strings.Contains(msg, c.field) {
					t.Errorf("%s %s: the reason %q does not name %s", ep.Subject, c.name, msg, c.field)
				}
			}
		}
	}
	for _, want := range []string{"sipbus.tm.command", "sipbus.tm.uac", "sipbus.registrar.user.add", "sipbus.notifier.retry", "sipbus.ctd.call"} {
		if !seen[want] {
			t.Errorf("no endpoint %s among %v", want, seen)
		}
	}
	// Still serving: a well-formed command gets its ordinary answer.
	if r := ask("sipbus.registrar.user.list", `{}`); r.Status != 200 {
		t.Errorf("user.list after the bad requests: %+v", r)
	}
}
