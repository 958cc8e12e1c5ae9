package adapters_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/notifier/internal/adapters"
)

func TestExecRun(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	dir := t.TempDir()
	tests := []struct {
		name   string
		run    adapters.Run
		exit   int
		killed bool
		stdout string
	}{
		{"exit 0 with stdin and env", adapters.Run{Argv: []string{"/bin/sh", "-c", `cat; printf ' %s' "$X"`}, Env: []string{"X=$(id); y"},
			Stdin: []byte("in"), Timeout: 5 * time.Second}, 0, false, "in $(id); y"},
		{"exit 3", adapters.Run{Argv: []string{"/bin/sh", "-c", "exit 3"}, Timeout: 5 * time.Second}, 3, false, ""},
		{"argv is not a shell line", adapters.Run{Argv: []string{"/bin/echo", "a; touch " + filepath.Join(dir, "x"), "$(id)"}, Timeout: 5 * time.Second},
			0, false, "a; touch " + filepath.Join(dir, "x") + " $(id)\n"},
		{"PATH of the program's environment", adapters.Run{Argv: []string{"echo", "hi"}, Env: []string{"PATH=/usr/bin:/bin"}, Timeout: 5 * time.Second}, 0, false, "hi\n"},
		{"timeout", adapters.Run{Argv: []string{"/bin/sleep", "30"}, Timeout: 300 * time.Millisecond}, -1, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := adapters.Exec{}.Run(ctx, tc.run)
			if res.Exit != tc.exit || res.Killed != tc.killed || string(res.Stdout) != tc.stdout {
				t.Errorf("run = exit %d killed %v stdout %q err %v; want %d %v %q", res.Exit, res.Killed, res.Stdout, res.Err, tc.exit, tc.killed, tc.stdout)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("an argument ran as a command")
	}
	res := adapters.Exec{}.Run(ctx, adapters.Run{Argv: []string{"no-such-program-here"}, Timeout: time.Second})
	var ee *exec.Error
	if res.Exit != -1 || !errors.As(res.Err, &ee) {
		t.Errorf("missing program: exit %d err %v", res.Exit, res.Err)
	}
}

// A program killed at its timeout takes its children with it (its process
// group), and one that exits leaves none behind either.
func TestExecKillsTheGroup(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	for _, tc := range []struct {
		name    string
		script  string
		timeout time.Duration
	}{
		{"killed at timeout", `sleep 60 & echo $! > "$OUT"; wait`, 500 * time.Millisecond},
		{"left behind at exit", `sleep 60 & echo $! > "$OUT"; exit 0`, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pid")
			adapters.Exec{}.Run(ctx, adapters.Run{Argv: []string{"/bin/sh", "-c", tc.script}, Env: []string{"OUT=" + out}, Timeout: tc.timeout})
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
			testenv.Eventually(t, 5*time.Second, func() bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }, "child %d still runs", pid)
		})
	}
}

func TestExecOutputCap(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	res := adapters.Exec{}.Run(ctx, adapters.Run{Argv: []string{"/bin/sh", "-c", "head -c 200000 /dev/zero; head -c 70000 /dev/zero >&2"}, Timeout: 10 * time.Second})
	if res.Exit != 0 || len(res.Stdout) != adapters.MaxOutput || len(res.Stderr) != adapters.MaxOutput || !res.Cut || !bytes.Equal(res.Stdout[:4], []byte{0, 0, 0, 0}) {
		t.Errorf("exit %d stdout %d stderr %d cut %v", res.Exit, len(res.Stdout), len(res.Stderr), res.Cut)
	}
}
