package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// forkStack starts `sipbus up` where bob@localhost forks to two phones,
// a and b.
func forkStack(t *testing.T, extra ...string) (s *upStack, uac, a, b *ua) {
	t.Helper()
	uac, a, b = newUA(t), newUA(t), newUA(t)
	s = startUp(t, append([]string{"--static", "bob@localhost=sip:bob@" + a.addr + ",sip:bob@" + b.addr}, extra...)...)
	return s, uac, a, b
}

// forkedCancelledCall makes one call to bob, forked to a and b (both
// ring), that the caller cancels: tm cancels both branches. It returns
// the Call-ID.
func forkedCancelledCall(t *testing.T, s *upStack, uac, a, b *ua) string {
	t.Helper()
	callID := fmt.Sprintf("replay-fork-%d@test", time.Now().UnixNano())
	uac.send(s.sip, fmt.Sprintf(`INVITE sip:bob@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-replay-1;rport
From: <sip:alice@localhost>;tag=r1
To: <sip:bob@localhost>
Call-ID: %s
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Max-Forwards: 70
Content-Length: 0

`, uac.addr, callID, uac.addr))
	must := func(u *ua, what string, match func(*sipmsg.Msg) bool) *sipmsg.Msg {
		t.Helper()
		m := u.recv(5*time.Second, match)
		if m == nil {
			t.Fatalf("%s: not received; sipbus stderr:\n%s", what, s.p.stderrString())
		}
		return m
	}
	reply := func(u *ua, req *sipmsg.Msg, code int, tag string) {
		v, _ := req.TopVia()
		u.sendRaw(v.SentBy(), sipmsg.Reply(req, code, "", sipmsg.ReplyOptions{ToTag: tag, Headers: []string{"Contact: <sip:bob@" + u.addr + ">"}}))
	}
	ia := must(a, "INVITE at a", isRequest("INVITE"))
	ib := must(b, "INVITE at b", isRequest("INVITE"))
	reply(a, ia, 180, "ta")
	must(uac, "180 from a", isResponse(180, "INVITE"))
	reply(b, ib, 180, "tb")
	uac.send(s.sip, fmt.Sprintf(`CANCEL sip:bob@localhost SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-replay-1;rport
From: <sip:alice@localhost>;tag=r1
To: <sip:bob@localhost>
Call-ID: %s
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

`, uac.addr, callID))
	must(uac, "200 to CANCEL", isResponse(200, "CANCEL"))
	for _, p := range []struct {
		u   *ua
		inv *sipmsg.Msg
		tag string
	}{{a, ia, "ta"}, {b, ib, "tb"}} {
		c := must(p.u, "CANCEL at a branch", isRequest("CANCEL"))
		reply(p.u, c, 200, p.tag)
		reply(p.u, p.inv, 487, p.tag)
		must(p.u, "ACK for a 487", isRequest("ACK"))
	}
	must(uac, "487 to the caller", isResponse(487, "INVITE"))
	return callID
}

// TestReplayForkedCancelled: `sipbus replay` of a forked call the caller
// cancels shows every message in log order with both branches, and the
// call events between; --json gives the raw events; --pcap writes a file
// tshark decodes as the same SIP messages; an unknown call is an error
// that says so.
func TestReplayForkedCancelled(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatal("tshark is required: apt-get install -y tshark (or run .ci/run)")
	}
	s, uac, a, b := forkStack(t)
	callID := forkedCancelledCall(t, s, uac, a, b)
	// The log holds the call once its call.missed is in.
	testenv.Eventually(t, 10*time.Second, func() bool {
		out, _, code := cliExit(t, s.nats, "replay", callID)
		return code == 0 && strings.Contains(out, "call.missed")
	}, "the call's call.missed never reached the log")
	pcap := filepath.Join(t.TempDir(), "call.pcap")
	ladder := cli(t, s.nats, "replay", callID, "--pcap", pcap)
	t.Logf("ladder:\n%s", ladder)

	// The arrows in order: label lines and arrow lines alternate.
	var arrows []string // "LABEL from->to"
	lines := strings.Split(ladder, "\n")
	cols := columnsOf(t, lines[1], []string{uac.addr, s.sip, a.addr, b.addr})
	for i := 2; i+1 < len(lines); i++ {
		l := lines[i+1]
		if !strings.Contains(l, ">") && !strings.Contains(l, "<") || !strings.Contains(l, "-") {
			continue
		}
		from, to := arrowEnds(l, cols)
		if from == "" {
			continue
		}
		arrows = append(arrows, strings.Join(strings.Fields(strings.ReplaceAll(lines[i], "|", " ")), " ")+" "+from+"->"+to)
	}
	t.Logf("arrows: %q", arrows)
	want := []string{
		"INVITE uac->proxy",
		"INVITE proxy->a", "INVITE proxy->b",
		"180 Ringing a->proxy", "180 Ringing proxy->uac",
		"180 Ringing b->proxy", "180 Ringing proxy->uac",
		"CANCEL uac->proxy", "200 OK proxy->uac",
		"CANCEL proxy->a", "CANCEL proxy->b",
		"200 OK a->proxy", "487 Request Terminated a->proxy", "ACK proxy->a",
		"200 OK b->proxy", "487 Request Terminated b->proxy", "ACK proxy->b",
		"487 Request Terminated proxy->uac",
	}
	if err := inOrder(arrows, want); err != nil {
		t.Errorf("ladder: %v\narrows: %q", err, arrows)
	}
	for _, ev := range []string{"== call.started", "== call.ringing status=180", "== call.missed", "reason=cancelled"} {
		if !strings.Contains(ladder, ev) {
			t.Errorf("ladder lacks %q", ev)
		}
	}
	if !regexp.MustCompile(`\d\d:\d\d:\d\d\.\d{3} +[+-]\d+\.\d{3}s`).MatchString(ladder) {
		t.Error("ladder has no time deltas")
	}

	// --json: every event, CloudEvent JSON, in the same order.
	js := strings.Split(strings.TrimSpace(cli(t, s.nats, "replay", callID, "--json")), "\n")
	var sipEvents int
	for _, l := range js {
		var ce struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if err := json.Unmarshal([]byte(l), &ce); err != nil || ce.ID == "" {
			t.Fatalf("--json line %q: %v", l, err)
		}
		if strings.HasPrefix(ce.Type, "sipbus.sip.") {
			sipEvents++
		}
	}
	if sipEvents != len(arrows) {
		t.Errorf("--json has %d SIP events, the ladder %d arrows", sipEvents, len(arrows))
	}

	// The pcap: tshark decodes the same SIP messages, in the same order.
	out, err := exec.Command(tshark, "-r", pcap, "-Y", "sip", "-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.Call-ID").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s", err, out)
	}
	var decoded []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 || f[2] != callID {
			t.Fatalf("tshark line %q: want method, status, Call-ID %s", l, callID)
		}
		decoded = append(decoded, f[0]+f[1])
	}
	var fromLadder []string
	for _, a := range arrows {
		lbl := strings.Fields(a)[0]
		fromLadder = append(fromLadder, lbl)
	}
	if strings.Join(decoded, ",") != strings.Join(fromLadder, ",") {
		t.Errorf("tshark shows %q, the ladder %q", decoded, fromLadder)
	}

	// By call key too; an unknown call says so.
	if byKey := cli(t, s.nats, "replay", sipmsg.CallKey(callID)); !strings.Contains(byKey, "Call-ID "+callID) {
		t.Errorf("replay by call key:\n%s", byKey)
	}
	_, stderr, code := cliExit(t, s.nats, "replay", "no-such-call@test")
	if code != 1 || !strings.Contains(stderr, `no call "no-such-call@test"`) {
		t.Errorf("unknown call: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = cliExit(t, s.nats, "replay")
	if code != 2 || !strings.Contains(stderr, "CALL-ID") {
		t.Errorf("no argument: exit %d, stderr %q", code, stderr)
	}

	// sipbus calls lists it as missed (cancelled), for bob and for --missed.
	calls := cli(t, s.nats, "calls", "--since", "10m", "--user", "bob@localhost", "--missed")
	if !strings.Contains(calls, callID) || !strings.Contains(calls, "missed") || !strings.Contains(calls, "cancelled (487)") {
		t.Errorf("calls --user bob@localhost --missed:\n%s", calls)
	}
	if calls := cli(t, s.nats, "calls", "--since", "10m", "--user", "carol@localhost"); strings.Contains(calls, callID) {
		t.Errorf("calls --user carol lists bob's call:\n%s", calls)
	}
}

// columnsOf maps the column centre of each named address in the ladder's
// header line.
func columnsOf(t *testing.T, header string, addrs []string) map[int]string {
	t.Helper()
	names := []string{"uac", "proxy", "a", "b"}
	cols := map[int]string{}
	for i, a := range addrs {
		x := strings.Index(header, a)
		if x < 0 {
			t.Fatalf("ladder header %q lacks %s (%s)", header, a, names[i])
		}
		cols[x+len(a)/2] = names[i]
	}
	return cols
}

// arrowEnds names the columns an arrow line joins: the tail and the head.
func arrowEnds(l string, cols map[int]string) (from, to string) {
	near := func(x int) string {
		best, bd := "", 1<<30
		for c, n := range cols {
			if d := abs(c - x); d < bd {
				best, bd = n, d
			}
		}
		return best
	}
	if h := strings.IndexByte(l, '>'); h >= 0 {
		s := strings.IndexByte(l, '-')
		return near(s - 1), near(h + 1)
	}
	if h := strings.IndexByte(l, '<'); h >= 0 {
		e := strings.LastIndexByte(l, '-')
		return near(e + 1), near(h - 1)
	}
	return "", ""
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// inOrder checks that got holds exactly want's elements (no message is
// missing or extra; the two branches may interleave) and that each cause
// comes before its effect.
func inOrder(got, want []string) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d arrows, want %d", len(got), len(want))
	}
	pos, n := map[string]int{}, map[string]int{}
	for i, g := range got {
		if _, seen := pos[g]; !seen {
			pos[g] = i
		}
		n[g]++
	}
	for _, w := range want {
		n[w]--
	}
	for k, v := range n {
		if v != 0 {
			return fmt.Errorf("%q: %+d against the expected", k, v)
		}
	}
	// Causal order within each branch and on the caller's side.
	for _, pair := range [][2]string{
		{"INVITE uac->proxy", "INVITE proxy->a"}, {"INVITE uac->proxy", "INVITE proxy->b"},
		{"180 Ringing a->proxy", "180 Ringing proxy->uac"},
		{"INVITE proxy->a", "180 Ringing a->proxy"}, {"INVITE proxy->b", "180 Ringing b->proxy"},
		{"CANCEL uac->proxy", "CANCEL proxy->a"}, {"CANCEL uac->proxy", "CANCEL proxy->b"},
		{"CANCEL proxy->a", "487 Request Terminated a->proxy"}, {"CANCEL proxy->b", "487 Request Terminated b->proxy"},
		{"487 Request Terminated a->proxy", "ACK proxy->a"}, {"487 Request Terminated b->proxy", "ACK proxy->b"},
		{"487 Request Terminated a->proxy", "487 Request Terminated proxy->uac"},
		{"487 Request Terminated b->proxy", "487 Request Terminated proxy->uac"},
	} {
		if pos[pair[0]] > pos[pair[1]] {
			return fmt.Errorf("%q after %q", pair[0], pair[1])
		}
	}
	return nil
}

// TestReplayToNotifier: `sipbus replay --to notifier` re-drives the
// running notifier with a forked, cancelled call's events in dry-run: it
// reports the mail and the exec rule's program it would send and run,
// and sends no mail and runs nothing. The real notifier mailed the call
// once, before.
func TestReplayToNotifier(t *testing.T) {
	mp := testenv.StartMailpit(t)
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	cfg := notifierConfig(t, fmt.Sprintf(`exec:
  - name: touch-on-missed
    events: [sipbus.call.missed.v1]
    argv: [/bin/sh, -c, 'echo x >> "$OUT"']
    env: {OUT: %q}
    timeout: 5s
`, ran))
	s, uac, a, b := forkStack(t, "--smtp", "smtp://"+mp.SMTP+"?tls=none", "--notifier-config", cfg)
	cli(t, s.nats, "user", "add", "bob@localhost", "--password", "bob-secret", "--email", "bob@example.com")
	// A subscriber is called at the bindings of the location service.
	cli(t, s.nats, "ul", "add", "bob@localhost", "sip:bob@"+a.addr, "--expires", "0")
	cli(t, s.nats, "ul", "add", "bob@localhost", "sip:bob@"+b.addr, "--expires", "0")
	callID := forkedCancelledCall(t, s, uac, a, b)
	testenv.Eventually(t, 20*time.Second, func() bool { return len(mailsTo(t, mp, "bob@example.com")) == 1 }, "the real missed-call mail; stderr:\n%s", s.p.stderrString())
	testenv.Eventually(t, 10*time.Second, func() bool { b, _ := os.ReadFile(ran); return string(b) == "x\n" }, "the exec rule's real run")
	mp.DeleteAll(t)

	out := cli(t, s.nats, "replay", callID, "--to", "notifier")
	t.Logf("replay --to notifier:\n%s", out)
	for _, w := range []string{"dry-run", "sipbus.call.missed.v1", "mail", "bob@example.com", "Missed call", "exec", "touch-on-missed", "/bin/sh"} {
		if !strings.Contains(out, w) {
			t.Errorf("replay --to notifier lacks %q", w)
		}
	}
	// Nothing was sent or run: poll a while for a mail or a second run.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(mp.Messages(t)); n != 0 {
			t.Fatalf("the dry-run sent %d mails", n)
		}
		if b, _ := os.ReadFile(ran); string(b) != "x\n" {
			t.Fatalf("the dry-run ran the program: %q", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, stderr, code := cliExit(t, s.nats, "replay", callID, "--to", "mailer")
	if code != 2 || !strings.Contains(stderr, "--to") {
		t.Errorf("--to mailer: exit %d, stderr %q", code, stderr)
	}
	// The command itself refuses a replay that is not a dry run, naming the field.
	nc, _ := testenv.Connect(t, s.nats)
	msg, err := nc.Request("sipbus.notifier.replay", []byte(`{"dry_run":false,"events":[]}`), 5*time.Second)
	if err != nil || !strings.Contains(string(msg.Data), `"status":400`) || !strings.Contains(string(msg.Data), "dry_run") {
		t.Errorf("replay without dry_run: %v %+v", err, msg)
	}
}
