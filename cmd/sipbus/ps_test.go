package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/mgmt"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// psJSON runs `sipbus ps --json` and decodes its lines.
func psJSON(t *testing.T, natsURL string, args ...string) []mgmt.Found {
	t.Helper()
	out := cli(t, natsURL, append([]string{"ps", "--json"}, args...)...)
	var found []mgmt.Found
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var f mgmt.Found
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("ps --json line %q: %v", l, err)
		}
		found = append(found, f)
	}
	return found
}

func byService(found []mgmt.Found) map[string][]mgmt.Found {
	m := map[string][]mgmt.Found{}
	for _, f := range found {
		m[f.Service] = append(m[f.Service], f)
	}
	return m
}

// TestPSUp: `sipbus ps` of `sipbus up` (with the notifier) lists edge, tm,
// registrar, notifier and ctd with id, version, host and uptime; `which` lists
// the command endpoints with their subject and schema; `uptime` and
// `stats --instances` answer; an unknown service is an error naming it.
func TestPSUp(t *testing.T) {
	mp := testenv.StartMailpit(t)
	s := startUp(t, "--smtp", "smtp://"+mp.SMTP+"?tls=none")
	svc := byService(psJSON(t, s.nats))
	for _, name := range []string{"edge", "tm", "registrar", "notifier", "ctd"} {
		fs := svc[name]
		if len(fs) != 1 {
			t.Errorf("ps shows %d %s instances, want 1: %+v", len(fs), name, svc)
			continue
		}
		f := fs[0]
		if f.ID == "" || f.Version != mgmt.Version || f.Host == "" || f.PID == "" || f.Started.IsZero() || time.Since(f.Started) > time.Minute {
			t.Errorf("%s: %+v", name, f)
		}
	}
	table := cli(t, s.nats, "ps")
	for _, w := range []string{"SERVICE", "IN-FLIGHT", "LAST ERROR", "edge", "tm", "registrar", "notifier", "ctd", mgmt.Version} {
		if !strings.Contains(table, w) {
			t.Errorf("ps table lacks %q:\n%s", w, table)
		}
	}
	which := cli(t, s.nats, "which")
	for _, w := range []string{
		"sipbus.tm.command", "sipbus.tm.command.v1.json",
		"sipbus.registrar.ul.show", "sipbus.registrar.ul.show.v1.json",
		"sipbus.notifier.failed.v1.json",
	} {
		if !strings.Contains(which, w) {
			t.Errorf("which lacks %q:\n%s", w, which)
		}
	}
	if up := cli(t, s.nats, "uptime"); !strings.Contains(up, "STARTED") || !strings.Contains(up, "registrar") {
		t.Errorf("uptime:\n%s", up)
	}
	st := cli(t, s.nats, "stats", "--instances", "edge")
	var f mgmt.Found
	if err := json.Unmarshal([]byte(strings.TrimSpace(st)), &f); err != nil || f.Service != "edge" || !strings.Contains(string(f.Counters), `"received"`) {
		t.Errorf("stats --instances edge: %v\n%s", err, st)
	}
	_, stderr, code := cliExit(t, s.nats, "ps", "nosuch")
	if code == 0 || !strings.Contains(stderr, "no instance of nosuch") {
		t.Errorf("ps nosuch: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = cliExit(t, s.nats, "ps", "--wait", "0s")
	if code != 2 || !strings.Contains(stderr, "--wait") {
		t.Errorf("ps --wait 0s: exit %d, stderr %q", code, stderr)
	}
}

// TestPSSplit: a split deployment (an edge, two tm replicas, a
// registrar, each its own process on one NATS and one Redis) shows both
// tm replicas; a SIGKILLed replica is gone from the next `ps`, which
// waits --wait (1s, the heartbeat interval of ps) for answers.
func TestPSSplit(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	ns := testenv.NATS(t)
	natsURL := ns.ClientURL()
	edgeAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	start(t, "edge", "--id", "e1", "--udp", edgeAddr, "--tcp", edgeAddr, "--nats", natsURL, "--log-level", "warn").waitLine(t, "ready", 30*time.Second)
	start(t, "registrar", "--id", "reg-1", "--domains", "localhost", "--nats", natsURL, "--redis", redisURL, "--log-level", "warn").waitLine(t, "ready", 30*time.Second)
	tms := map[string]*proc{}
	for _, id := range []string{"tm-a", "tm-b"} {
		p := start(t, "tm", "--id", id, "--advertise", edgeAddr, "--domains", "localhost", "--nats", natsURL, "--redis", redisURL, "--log-level", "warn")
		p.waitLine(t, "ready", 30*time.Second)
		tms[id] = p
	}
	svc := byService(psJSON(t, natsURL))
	ids := func(fs []mgmt.Found) string {
		var s []string
		for _, f := range fs {
			s = append(s, f.ID)
		}
		return strings.Join(s, ",")
	}
	if got := ids(svc["tm"]); got != "tm-a,tm-b" {
		t.Fatalf("ps shows tm %q, want tm-a,tm-b", got)
	}
	if ids(svc["edge"]) != "e1" || ids(svc["registrar"]) != "reg-1" {
		t.Fatalf("ps shows edge %q, registrar %q", ids(svc["edge"]), ids(svc["registrar"]))
	}
	if err := tms["tm-b"].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	got := ids(psJSON(t, natsURL, "tm"))
	if got != "tm-a" {
		t.Fatalf("ps tm after killing tm-b: %q, want tm-a", got)
	}
	if d := time.Since(killed); d > 3*time.Second {
		t.Errorf("ps took %v to drop the killed replica", d)
	}
	if which := cli(t, natsURL, "which", "tm"); !strings.Contains(which, "sipbus.tm.command") {
		t.Errorf("which tm:\n%s", which)
	}
}

// TestPSLastError: a notifier whose mail server refuses connections shows
// the failure as its last error in `sipbus ps` (and the others none).
func TestPSLastError(t *testing.T) {
	dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp")) // nothing listens
	s := startUp(t, "--smtp", "smtp://"+dead+"?tls=none", "--notifier-config", notifierConfig(t, ""))
	cli(t, s.nats, "user", "add", "bob@localhost", "--password", "bob-secret", "--email", "bob@example.com")
	uac := newUA(t)
	uac.send(s.sip, fmt.Sprintf(`INVITE sip:bob@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-ps-err-1;rport
From: <sip:alice@localhost>;tag=p1
To: <sip:bob@localhost>
Call-ID: ps-last-error@test
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, uac.addr, uac.addr))
	if uac.recv(5*time.Second, isResponse(480, "INVITE")) == nil {
		t.Fatal("no 480 for bob, who is offline")
	}
	testenv.Eventually(t, 15*time.Second, func() bool {
		n := byService(psJSON(t, s.nats, "notifier"))["notifier"]
		return len(n) == 1 && strings.Contains(n[0].Status.LastError, "mail not sent")
	}, "the notifier's last error in ps; stderr:\n%s", s.p.stderrString())
	table := cli(t, s.nats, "ps")
	if !strings.Contains(table, "ago \"notifier: mail not sent") {
		t.Errorf("ps table:\n%s", table)
	}
	for _, f := range psJSON(t, s.nats, "tm", "edge") {
		if f.Status.LastError != "" {
			t.Errorf("%s has a last error: %q", f.Service, f.Status.LastError)
		}
	}
}
