package ports

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/services/ctd/internal/app"
)

// memCalls is an in-memory Calls for the fuzz target (the component tests
// of package ctd drive the real service).
type memCalls struct{ calls map[string]app.State }

func (m *memCalls) Dial(_ context.Context, id, owner, from, to string) (app.State, error) {
	s := app.NewState(id, owner, from, to, app.DefaultPolicy(), time.Unix(0, 0))
	s.Phase, s.Done = app.PhaseFailed, true
	s.Progress = []app.Progress{{N: 1, Phase: app.PhaseFailed}}
	m.calls[id] = s
	return s, nil
}

func (m *memCalls) Get(_ context.Context, id string) (app.State, error) {
	s, ok := m.calls[id]
	if !ok {
		return app.State{}, ErrNotFound
	}
	return s, nil
}

func (m *memCalls) Hangup(ctx context.Context, id string) (app.State, error) { return m.Get(ctx, id) }

// FuzzAPI: any method, path, header and body gets an answer below 500
// with a JSON body (or an SSE stream), never a panic.
func FuzzAPI(f *testing.F) {
	f.Add("POST", "/v1/calls", "Bearer alice", `{"from":"sip:alice@example.com","to":"sip:bob@example.com"}`)
	f.Add("GET", "/v1/calls/c1", "Bearer alice", "")
	f.Add("GET", "/v1/calls/c1/events", "Bearer alice", "")
	f.Add("DELETE", "/v1/calls/c1", "Bearer bob", "")
	f.Add("POST", "/v1/calls", "Bearer alice", `{"from":"sip:alice@example.com","to":"sip:%00@[::1"}`)
	f.Add("POST", "/v1/calls", "bearer  ", `[1,2]`)
	f.Fuzz(func(t *testing.T, method, path, auth, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\x00#?") || strings.ContainsAny(method, " \r\n\x00") || method == "" {
			return
		}
		calls := &memCalls{calls: map[string]app.State{}}
		_, _ = calls.Dial(context.Background(), "c1", "alice@example.com", "sip:alice@example.com", "sip:bob@example.com")
		api := &API{Calls: calls, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), NewID: func() string { return "c2" },
			Auth: func(r *http.Request) (string, bool, bool) {
				u, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				return u + "@example.com", false, ok && u != ""
			}}
		mux := http.NewServeMux()
		api.Mount(mux)
		req, err := http.NewRequest(method, "http://x"+path, bytes.NewReader([]byte(body)))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); rec.Code >= 400 && strings.HasPrefix(ct, "application/json") {
			var e struct{ Error string }
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%d with body %q", rec.Code, rec.Body)
			}
		}
	})
}
