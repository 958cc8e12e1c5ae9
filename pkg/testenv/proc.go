package testenv

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildMain builds the main package at pkg (a path relative to the test's
// directory, "." for the test's own) into a temporary file and returns it.
func BuildMain(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(mustAbs(t, pkg)))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

func mustAbs(t testing.TB, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Proc is a process a test started; it is killed (by its PID) when the
// test ends.
type Proc struct {
	Cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// Output is what the process wrote to stdout and stderr so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to d for the process to end; false when it did not.
func (p *Proc) Wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// StartProc starts bin with args and env (added to a minimal environment:
// PATH and HOME only, so the caller's SIPBUS_* never leak in).
func StartProc(t testing.TB, bin string, args []string, env ...string) *Proc {
	t.Helper()
	p := &Proc{done: make(chan struct{})}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v", bin, err)
	}
	p.Cmd = cmd
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// HTTPGet returns the status and body of GET url (0 when it fails).
func HTTPGet(url string) (int, string) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// ServesHealth fails the test unless base answers /healthz and /readyz
// with 200 (within d) and /metrics holds every one of metrics; p's
// output goes into the message.
func ServesHealth(t testing.TB, p *Proc, base string, d time.Duration, metrics ...string) {
	t.Helper()
	for _, path := range []string{"/healthz", "/readyz"} {
		deadline := time.Now().Add(d)
		for {
			code, body := HTTPGet(base + path)
			if code == http.StatusOK {
				break
			}
			if p.Exited() || time.Now().After(deadline) {
				t.Fatalf("%s%s: %d %s\nprocess output:\n%s", base, path, code, body, p.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	code, body := HTTPGet(base + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("%s/metrics: %d", base, code)
	}
	for _, m := range metrics {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// Terminate sends SIGTERM and fails the test unless the process exits
// with status 0 within d; it returns the process's output.
func (p *Proc) Terminate(t testing.TB, d time.Duration) string {
	t.Helper()
	name := filepath.Base(p.Cmd.Path)
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !p.Wait(d) {
		t.Fatalf("%s did not exit within %v of SIGTERM\n%s", name, d, p.Output())
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("%s exited %d after SIGTERM\n%s", name, code, p.Output())
	}
	return p.Output()
}

// Run runs bin with args and env (the environment of StartProc) to its
// end, 20 s at most, and returns its exit status and output.
func Run(t testing.TB, bin string, args []string, env ...string) (int, string) {
	t.Helper()
	p := StartProc(t, bin, args, env...)
	if !p.Wait(20 * time.Second) {
		t.Fatalf("%s %v did not exit within 20s\n%s", filepath.Base(bin), args, p.Output())
	}
	return p.Cmd.ProcessState.ExitCode(), p.Output()
}
