package adapters

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Run is one run of a program.
type Run struct {
	Argv    []string
	Env     []string // the whole environment: nothing of the notifier's is added
	Dir     string
	Stdin   []byte
	Timeout time.Duration
}

// RunResult is how a run ended.
type RunResult struct {
	Exit     int  // exit status; -1 when killed or not started
	Killed   bool // killed at its timeout
	Stdout   []byte
	Stderr   []byte
	Cut      bool // output beyond MaxOutput was dropped
	Duration time.Duration
	Err      error // the program could not be started, or was killed
}

// MaxOutput is how much of each of stdout and stderr is kept.
const MaxOutput = 64 << 10

// Exec runs programs directly (os/exec, never a shell: an argument is one
// argv entry whatever it holds) in a process group of their own, killed
// whole (SIGKILL to the group) when the timeout ends, so a program that
// forks cannot leave a child behind (the group is killed after a normal
// exit too). Output past MaxOutput is read and
// dropped, so a chatty program never blocks on a full pipe.
type Exec struct{}

// Run runs r and waits for it, at most r.Timeout (and ctx).
func (Exec) Run(ctx context.Context, r Run) RunResult {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	res := RunResult{Exit: -1}
	path, err := lookPath(r.Argv[0], r.Env)
	if err != nil {
		res.Err = err
		return res
	}
	cmd := exec.CommandContext(ctx, path, r.Argv[1:]...)
	cmd.Args[0] = r.Argv[0]
	cmd.Env = r.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = r.Dir
	cmd.Stdin = bytes.NewReader(r.Stdin)
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	setGroup(cmd)
	cmd.WaitDelay = time.Second // a grandchild holding the pipes does not hold us
	err = cmd.Run()
	killGroup(cmd) // what the program left running in its group goes with it
	res.Duration = time.Since(start)
	res.Stdout, res.Stderr, res.Cut = stdout.b.Bytes(), stderr.b.Bytes(), stdout.cut || stderr.cut
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.Killed, res.Err = true, ctx.Err()
		return res
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.Exit = 0
	case errors.As(err, &ee):
		res.Exit = ee.ExitCode()
		if res.Exit < 0 {
			res.Err = err // killed by a signal
		}
	default:
		res.Err = err
	}
	return res
}

// lookPath resolves argv[0] against the PATH of the program's own
// environment (not the notifier's).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if f, err := exec.LookPath(p); err == nil {
			return f, nil
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}

// capped keeps the first MaxOutput bytes written to it.
type capped struct {
	b   bytes.Buffer
	cut bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := MaxOutput - c.b.Len(); room < len(p) {
		c.cut = true
		if room > 0 {
			c.b.Write(p[:room])
		}
		return len(p), nil
	}
	return c.b.Write(p)
}
