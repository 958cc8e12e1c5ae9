package notifier_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/notifyapi"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/notifier"
)

// exampleScript is examples/missed-call/missed-call.sh.
func exampleScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../examples/missed-call/missed-call.sh")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// sendmailFor writes a sendmail wrapper that hands the mail to Mailpit
// (`mailpit sendmail -S`), as /usr/sbin/sendmail would hand it to the MTA.
func sendmailFor(t *testing.T, mp *testenv.Mailpit) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sendmail")
	script := "#!/bin/sh\nexec '" + testenv.MailpitBinary(t) + "' sendmail -S " + mp.SMTP + " \"$@\"\n"
	if err := os.WriteFile(p, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExecExampleScript: an exec rule runs the seed's missed-call script
// on call.missed with its variables; the mail it pipes to sendmail
// arrives. A caller name holding $(...), backquotes and ';' only appears
// as text: none of the commands in it runs.
func TestExecExampleScript(t *testing.T) {
	b := newBench(t)
	out := t.TempDir()
	cfg := b.config("n1")
	cfg.SMTP = "none" // the script sends the mail
	cfg.Exec = []notifier.ExecRule{{Name: "missed-call-script", Events: []string{events.TypeCallMissed},
		Argv: []string{exampleScript(t)}, Env: map[string]string{"SENDMAIL": sendmailFor(t, b.mp), "MAIL_FROM": "pbx@example.net"},
		Timeout: 10 * time.Second}}
	n := b.start(cfg)
	pwned := filepath.Join(out, "pwned")
	name := "$(touch " + pwned + "1); touch " + pwned + "2 `touch " + pwned + "3` && touch " + pwned + "4 | touch " + pwned + "5"
	b.missed("bob@localhost", events.Party{Display: name, URI: "sip:eve@example.com;x=$(touch " + pwned + "6)"}, events.MissedNoAnswer, 408)
	testenv.Eventually(t, 20*time.Second, func() bool { return len(b.mp.Messages(t)) == 1 }, "the script's mail; log:\n%s", b.logs)
	m := b.mp.Messages(t)[0]
	if len(m.To) != 1 || m.To[0].Address != "bob@example.com" || len(m.Bcc)+len(m.Cc) != 0 {
		t.Errorf("recipients %+v", m)
	}
	if !strings.Contains(m.Subject, "$(touch "+pwned+"1); touch") {
		t.Errorf("subject %q: the name should appear as text", m.Subject)
	}
	text := b.mp.Message(t, m.ID).Text
	for _, want := range []string{"Why: did not answer (SIP 408)", "Call-ID: call-"} {
		if !strings.Contains(text, want) {
			t.Errorf("mail text lacks %q:\n%s", want, text)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if files, _ := filepath.Glob(pwned + "*"); len(files) > 0 {
		t.Errorf("commands in the caller's name ran: %v", files)
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return n.Stats().Ran == 1 }, "the run counted: %+v", n.Stats())
	if s := n.Stats(); s.ExecFailed != 0 {
		t.Errorf("stats %+v", s)
	}
	if !strings.Contains(b.logs.String(), `msg="notifier: exec" service=notifier notifier_id=n1 rule=missed-call-script`) ||
		!strings.Contains(b.logs.String(), "exit=0") || !strings.Contains(b.logs.String(), `stdout="missed-call: mailed bob@example.com`) {
		t.Errorf("exec log line missing:\n%s", b.logs)
	}
}

// TestExecEnvAndStdin: the program gets the SIP_* variables, PATH, LANG
// and its rule's variables, nothing of the notifier's environment, and
// the event as CloudEvents JSON on stdin.
func TestExecEnvAndStdin(t *testing.T) {
	t.Setenv("SIPBUS_NOTIFIER_SMTP", "smtp://user:leaked-secret@example.com")
	b := newBench(t)
	out := t.TempDir()
	cfg := b.config("n1")
	cfg.Exec = []notifier.ExecRule{{Name: "dump", Events: []string{"sipbus.call.*"},
		Argv: []string{"/bin/sh", "-c", `env > "$OUT/env.txt"; cat > "$OUT/stdin.json"`}, Env: map[string]string{"OUT": out}}}
	b.start(cfg)
	id := b.missed("bob@localhost", events.Party{Display: "Eve\r\nX: y", URI: "sip:eve@example.com"}, events.MissedDeclined, 603)
	testenv.Eventually(t, 20*time.Second, func() bool { _, err := os.Stat(filepath.Join(out, "stdin.json")); return err == nil },
		"the program ran; log:\n%s", b.logs)
	testenv.Eventually(t, 5*time.Second, func() bool { b, _ := os.ReadFile(filepath.Join(out, "stdin.json")); return json.Valid(b) && len(b) > 0 }, "stdin written")
	envb, _ := os.ReadFile(filepath.Join(out, "env.txt"))
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(envb)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	want := map[string]string{
		"SIP_EVENT_ID": id, "SIP_EVENT_TYPE": events.TypeCallMissed, "SIP_HF_FROM": `"Eve  X: y" <sip:eve@example.com>`,
		"SIP_CALLER_DISPLAY": "Eve  X: y", "SIP_CALLER_URI": "sip:eve@example.com", "SIP_REASON": "declined",
		"SIP_REASON_TEXT": "declined", "SIP_STATUS": "603", "SIP_RURI": "sip:bob@localhost", "SIP_USER": "bob",
		"SIP_CALLEE_EMAIL": "bob@example.com", "SIP_CALLEE_TZ": "Europe/Paris", "SIP_CALLEE_AOR": "bob@localhost",
		"SIP_LOCAL_USER": "true", "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "OUT": out,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if strings.Contains(string(envb), "leaked-secret") || env["SIPBUS_NOTIFIER_SMTP"] != "" {
		t.Errorf("the notifier's environment reached the program:\n%s", envb)
	}
	var ce struct {
		SpecVersion, ID, Type, Source string
		Data                          events.CallMissed
	}
	stdin, _ := os.ReadFile(filepath.Join(out, "stdin.json"))
	if err := json.Unmarshal(stdin, &ce); err != nil || ce.SpecVersion != "1.0" || ce.ID != id || ce.Data.Status != 603 ||
		ce.Data.Caller.Display != "Eve\r\nX: y" {
		t.Errorf("stdin %s: %v", stdin, err)
	}
}

// TestExecTimeout: a program that sleeps past its timeout is killed, with
// what it started; its failure is dead-lettered and `retry` runs it again.
func TestExecTimeout(t *testing.T) {
	b := newBench(t)
	out := t.TempDir()
	cfg := b.config("n1")
	cfg.Exec = []notifier.ExecRule{{Name: "slow", Events: []string{events.TypeCallMissed}, Timeout: time.Second,
		Argv: []string{"/bin/sh", "-c", `echo $$ > "$OUT/pid"; sleep 60 & echo $! > "$OUT/child"; wait`}, Env: map[string]string{"OUT": out}}}
	n := b.start(cfg)
	b.missed("nobody@localhost", alice, events.MissedBusy, 486)
	testenv.Eventually(t, 20*time.Second, func() bool { return n.Stats().ExecFailed == 1 }, "the program killed; log:\n%s", b.logs)
	for _, f := range []string{"pid", "child"} {
		raw, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
		testenv.Eventually(t, 5*time.Second, func() bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }, "process %s (%d) still runs", f, pid)
	}
	list, err := b.api.Failed(b.ctx, notifyapi.FailedRequest{})
	if err != nil || len(list.Failed) != 1 || list.Failed[0].Kind != events.NotifyExec || list.Failed[0].Code != -1 ||
		!strings.Contains(list.Failed[0].Error, "killed at its timeout (1s)") || list.Failed[0].Rule != "slow" {
		t.Fatalf("failed: %s %v", mustJSON(list), err)
	}
	if !strings.Contains(b.logs.String(), "killed=true") {
		t.Errorf("no log line of the kill:\n%s", b.logs)
	}
	rep, err := b.api.Retry(b.ctx, notifyapi.RetryRequest{ID: list.Failed[0].ID})
	if err == nil || rep.Status != 502 || !strings.Contains(rep.Reason, "killed at its timeout") {
		t.Errorf("retry: %+v %v", rep, err)
	}
	if n.Stats().ExecFailed != 2 {
		t.Errorf("stats after retry %+v", n.Stats())
	}
}

// TestExecConcurrencyAndLoops: a rule with concurrency 1 runs one program
// at a time (the program fails if another run holds its lock); a rule on
// notify.failed events does not run on programs' dead letters.
func TestExecConcurrencyAndLoops(t *testing.T) {
	b := newBench(t)
	out := t.TempDir()
	cfg := b.config("n1")
	cfg.Exec = []notifier.ExecRule{
		{Name: "one-at-a-time", Events: []string{events.TypeCallMissed}, Concurrency: 1, Env: map[string]string{"OUT": out},
			Argv: []string{"/bin/sh", "-c", `mkdir "$OUT/lock" || exit 7; sleep 0.2; rmdir "$OUT/lock"; echo x >> "$OUT/runs"`}},
		{Name: "fails", Events: []string{events.TypeCallMissed}, Argv: []string{"/bin/false"}},
		{Name: "on-failures", Events: []string{events.TypeNotifyFailed}, Env: map[string]string{"OUT": out},
			Argv: []string{"/bin/sh", "-c", `echo "$SIP_KIND" >> "$OUT/failures"; exit 1`}},
	}
	n := b.start(cfg)
	for range 4 {
		b.missed("nobody@localhost", alice, events.MissedBusy, 486)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { runs, _ := os.ReadFile(filepath.Join(out, "runs")); return len(runs) == 8 },
		"4 serial runs; stats %+v; log:\n%s", n.Stats(), b.logs)
	testenv.Eventually(t, 10*time.Second, func() bool { return n.Stats().ExecFailed == 4 }, "the 4 failures of /bin/false: %+v", n.Stats())
	time.Sleep(time.Second)
	if s := n.Stats(); s.Ran != 4 || s.ExecFailed != 4 || s.DeadLettered != 4 {
		t.Errorf("stats %+v: want 4 runs, 4 failures (of /bin/false), no more", s)
	}
	if f, err := os.ReadFile(filepath.Join(out, "failures")); err == nil {
		t.Errorf("the rule on notify.failed ran on programs' failures:\n%s", f)
	}
}
