package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/testenv"
)

// sippPath finds SIPp (Debian package sip-tester); the test fails, saying
// so, when it is missing.
func sippPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp not found: install the Debian package sip-tester (.ci/run does)")
	}
	return p
}

// sipp is one SIPp process.
type sipp struct {
	name string
	cmd  *exec.Cmd
	dir  string
	done chan error
}

// runSIPp starts SIPp with a scenario from testdata/sipp. It stops on its
// own after -m calls; Cleanup kills it if the test ended first.
func runSIPp(t *testing.T, name, scenario string, args ...string) *sipp {
	t.Helper()
	dir := t.TempDir()
	scen, err := filepath.Abs(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	all := append([]string{"-sf", scen, "-i", "127.0.0.1", "-nostdin", "-trace_err", "-timeout", "60s", "-timeout_error"}, args...)
	cmd := exec.Command(sippPath(t), all...)
	cmd.Dir = dir
	out, _ := os.Create(filepath.Join(dir, "stdout.txt"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sipp %s: %v", name, err)
	}
	s := &sipp{name: name, cmd: cmd, dir: dir, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// wait waits for SIPp to exit and fails the test, with SIPp's error log,
// unless every call succeeded (exit status 0).
func (s *sipp) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("sipp %s: %v\n%s", s.name, err, s.logs())
		}
	case <-time.After(d):
		_ = s.cmd.Process.Kill()
		t.Errorf("sipp %s did not finish within %v\n%s", s.name, d, s.logs())
	}
}

// stopClean stops a callee SIPp (which runs until stopped) and fails the
// test when it logged an error: an unexpected or duplicated message.
func (s *sipp) stopClean(t *testing.T) {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		t.Errorf("sipp %s exited early: %v\n%s", s.name, err, s.logs())
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
	files, _ := filepath.Glob(filepath.Join(s.dir, "*_errors.log"))
	for _, f := range files {
		if data, _ := os.ReadFile(f); len(strings.TrimSpace(string(data))) > 0 {
			t.Errorf("sipp %s logged errors:\n%s", s.name, s.logs())
			return
		}
	}
}

func (s *sipp) logs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(s.dir, "*"))
	for _, f := range files {
		if strings.HasSuffix(f, "_errors.log") || strings.HasSuffix(f, "stdout.txt") || strings.HasSuffix(f, "_messages.log") {
			data, _ := os.ReadFile(f)
			if len(data) > 4000 {
				data = data[len(data)-4000:]
			}
			fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(f), data)
		}
	}
	return b.String()
}

// callLog collects call events from the bus.
type callLog struct {
	mu    sync.Mutex
	byID  map[string][]string // Call-ID -> event types in arrival order
	data  map[string][]*bus.Event
	total int
}

func watchCalls(t *testing.T, natsURL string) *callLog {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := &callLog{byID: map[string][]string{}, data: map[string][]*bus.Event{}}
	_, err = nc.Subscribe("call.>", func(m *nats.Msg) {
		ev, err := bus.Decode(m)
		if err != nil {
			t.Errorf("call event that is not a CloudEvent on %s: %v", m.Subject, err)
			return
		}
		if err := events.Validate(ev); err != nil {
			t.Errorf("call event %s does not validate: %v", ev.Type, err)
		}
		l.mu.Lock()
		l.byID[ev.Subject] = append(l.byID[ev.Subject], ev.Type)
		l.data[ev.Subject] = append(l.data[ev.Subject], ev)
		l.total++
		l.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

// terminals returns, for the calls whose Call-ID contains marker, the
// terminal events (type and missed reason / hangup side).
func (l *callLog) terminals(marker string) (calls int, terms map[string]int, perCall map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	terms, perCall = map[string]int{}, map[string]int{}
	for id, evs := range l.data {
		if !strings.Contains(id, marker) {
			continue
		}
		calls++
		for _, ev := range evs {
			switch ev.Type {
			case events.TypeCallMissed:
				var d events.CallMissed
				_ = json.Unmarshal(ev.Data, &d)
				terms["missed:"+d.Reason+":"+strconv.Itoa(d.Status)]++
				perCall[id]++
			case events.TypeCallEnded:
				var d events.CallEnded
				_ = json.Unmarshal(ev.Data, &d)
				terms["ended:"+d.HangupBy]++
				perCall[id]++
			}
		}
	}
	return calls, terms, perCall
}

// TestCallsThroughTM runs `sipbus up` with the transaction manager between
// SIPp callers and callees and checks each outcome the tm issue lists, with
// the terminal call event of every call: once on the in-memory store, once
// on a real Redis.
func TestCallsThroughTM(t *testing.T) {
	sippPath(t)
	t.Run("memory", func(t *testing.T) { testCalls(t, "") })
	t.Run("redis", func(t *testing.T) { testCalls(t, testenv.RedisURL(t)) })
}

func testCalls(t *testing.T, redisURL string) {
	sipPort := testenv.FreePort(t, "udp")
	natsPort := testenv.FreePort(t, "tcp")
	ports := map[string]int{}
	for _, n := range []string{"uas", "busy", "ring", "reinv", "uac"} {
		ports[n] = testenv.FreePort(t, "udp")
	}
	contact := func(user string) string {
		return fmt.Sprintf("%s@localhost=sip:%s@127.0.0.1:%d", user, user, ports[user])
	}
	p := start(t, "up", "--sip", fmt.Sprintf("127.0.0.1:%d", sipPort), "--data", t.TempDir(),
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort), "--no-answer", "2s", "--log-level", "warn",
		"--static", contact("uas"), "--static", contact("busy"), "--static", contact("ring"),
		"--static", contact("reinv"), "--static", "nobody@localhost=", "--redis", redisURL)
	p.waitLine(t, "ready", 30*time.Second)
	calls := watchCalls(t, fmt.Sprintf("nats://127.0.0.1:%d", natsPort))
	target := fmt.Sprintf("127.0.0.1:%d", sipPort)

	uac := func(t *testing.T, scenario, callee, domain string, n int, extra ...string) *sipp {
		args := append([]string{target, "-p", strconv.Itoa(ports["uac"]), "-s", callee, "-key", "domain", domain,
			"-m", strconv.Itoa(n), "-r", "50", "-cid_str", scenario + "-%u-%p@[local_ip]"}, extra...)
		return runSIPp(t, "uac "+scenario, scenario, args...)
	}
	uas := func(t *testing.T, scenario, user string, n int) *sipp {
		return runSIPp(t, "uas "+scenario, scenario, "-p", strconv.Itoa(ports[user]))
	}
	expect := func(t *testing.T, marker string, n int, want string) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() bool {
			_, terms, _ := calls.terminals(marker)
			return terms[want] >= n
		}, "terminal events for %s: want %d × %s", marker, n, want)
		got, terms, per := calls.terminals(marker)
		if got != n || len(terms) != 1 || terms[want] != n {
			t.Errorf("%s: %d calls with events, terminal events %v; want %d × %s", marker, got, terms, n, want)
		}
		for id, c := range per {
			if c != 1 {
				t.Errorf("call %s has %d terminal events", id, c)
			}
		}
	}

	t.Run("basic 200 calls", func(t *testing.T) {
		s := uas(t, "uas.xml", "uas", 200)
		uac(t, "uac.xml", "uas", "localhost", 200).wait(t, 60*time.Second)
		s.stopClean(t)
		expect(t, "uac.xml-", 200, "ended:caller")
	})
	t.Run("busy 486", func(t *testing.T) {
		s := uas(t, "uas_busy.xml", "busy", 5)
		uac(t, "uac_486.xml", "busy", "localhost", 5).wait(t, 30*time.Second)
		s.stopClean(t)
		expect(t, "uac_486.xml-", 5, "missed:busy:486")
	})
	t.Run("cancel while ringing", func(t *testing.T) {
		s := uas(t, "uas_cancel.xml", "ring", 5)
		uac(t, "uac_cancel.xml", "ring", "localhost", 5).wait(t, 30*time.Second)
		s.stopClean(t)
		expect(t, "uac_cancel.xml-", 5, "missed:cancelled:487")
	})
	t.Run("no answer", func(t *testing.T) {
		s := uas(t, "uas_cancel.xml", "ring", 3)
		uac(t, "uac_408.xml", "ring", "localhost", 3).wait(t, 30*time.Second)
		s.stopClean(t)
		expect(t, "uac_408.xml-", 3, "missed:no-answer:408")
	})
	t.Run("unknown user 404", func(t *testing.T) {
		uac(t, "uac_404.xml", "stranger", "localhost", 3).wait(t, 30*time.Second)
		expect(t, "uac_404.xml-", 3, "missed:rejected:404")
	})
	t.Run("no binding 480", func(t *testing.T) {
		uac(t, "uac_480.xml", "nobody", "localhost", 3).wait(t, 30*time.Second)
		expect(t, "uac_480.xml-", 3, "missed:offline:480")
	})
	t.Run("foreign domain 403", func(t *testing.T) {
		uac(t, "uac_403.xml", "someone", "example.com", 3).wait(t, 30*time.Second)
		expect(t, "uac_403.xml-", 3, "missed:rejected:403")
	})
	t.Run("max-forwards 0 483", func(t *testing.T) {
		uac(t, "uac_483.xml", "uas", "localhost", 3).wait(t, 30*time.Second)
		expect(t, "uac_483.xml-", 3, "missed:error:483")
	})
	t.Run("re-INVITE and BYE via Record-Route", func(t *testing.T) {
		s := uas(t, "uas_reinvite.xml", "reinv", 5)
		uac(t, "uac_reinvite.xml", "reinv", "localhost", 5).wait(t, 30*time.Second)
		s.stopClean(t)
		expect(t, "uac_reinvite.xml-", 5, "ended:caller")
	})

}
