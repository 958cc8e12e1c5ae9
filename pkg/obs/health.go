package obs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Paths served by Mount (and /healthz by httpfront).
const (
	HealthzPath = "/healthz"
	ReadyzPath  = "/readyz"
	MetricsPath = "/metrics"
)

// CheckTimeout bounds one readiness check.
const CheckTimeout = 2 * time.Second

// ErrDraining is the readiness answer of a process that is shutting down.
var ErrDraining = errors.New("obs: draining: the process is shutting down")

// Check is one readiness condition: nil means ready.
type Check func(ctx context.Context) error

// Health holds the readiness checks of one process. The zero value is
// ready (no checks); it is safe for concurrent use.
type Health struct {
	mu       sync.Mutex
	names    []string
	checks   map[string]Check
	draining atomic.Bool
}

// Add registers a check under name (replacing one of the same name).
func (h *Health) Add(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.checks == nil {
		h.checks = make(map[string]Check)
	}
	if _, ok := h.checks[name]; !ok {
		h.names = append(h.names, name)
	}
	h.checks[name] = c
}

// Starting adds a check named name that fails until done is called: a
// process is not ready before its service has started.
func (h *Health) Starting(name string) (done func()) {
	var ok atomic.Bool
	h.Add(name, func(context.Context) error {
		if !ok.Load() {
			return errors.New("obs: " + name + ": starting")
		}
		return nil
	})
	return func() { ok.Store(true) }
}

// Drain makes the process unready for good (SIGTERM).
func (h *Health) Drain() { h.draining.Store(true) }

// Draining reports whether Drain was called.
func (h *Health) Draining() bool { return h.draining.Load() }

// Ready runs every check concurrently and returns the failures by name
// (empty when ready).
func (h *Health) Ready(ctx context.Context) map[string]error {
	fails := map[string]error{}
	if h.draining.Load() {
		fails["drain"] = ErrDraining
		return fails
	}
	h.mu.Lock()
	names := append([]string(nil), h.names...)
	checks := make([]Check, len(names))
	for i, n := range names {
		checks[i] = h.checks[n]
	}
	h.mu.Unlock()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i := range names {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			errs[i] = checks[i](cctx)
		})
	}
	wg.Wait()
	for i, n := range names {
		if errs[i] != nil {
			fails[n] = errs[i]
		}
	}
	return fails
}

// ServeReadyz answers 200 "ok" when ready, else 503 with
// {"error": "not ready: a, b", "checks": {"a": "why", ...}}.
func (h *Health) ServeReadyz(w http.ResponseWriter, r *http.Request) {
	fails := h.Ready(r.Context())
	if len(fails) == 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	names := make([]string, 0, len(fails))
	detail := make(map[string]string, len(fails))
	for n, err := range fails {
		names = append(names, n)
		detail[n] = err.Error()
	}
	sort.Strings(names)
	msg := "not ready:"
	for i, n := range names {
		if i > 0 {
			msg += ","
		}
		msg += " " + n
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(struct {
		Error  string            `json:"error"`
		Checks map[string]string `json:"checks"`
	}{msg, detail})
}
