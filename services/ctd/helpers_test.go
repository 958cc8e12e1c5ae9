package ctd_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/pkg/tmapi"
	"github.com/sipbus/sipbus/services/ctd"
)

// scriptedTM answers tm's uac command on real NATS the way tm does
// (streamed replies on the request's inbox), from a script: it stands in
// for tm in these component tests of ctd's shell (the e2e tests in
// cmd/sipbus run the real tm). script returns the replies in order, the
// last one Final; nil sends nothing (the request is lost).
type scriptedTM struct {
	mu      sync.Mutex
	reqs    []tmapi.UAC
	cancels []string
	script  func(n int, req tmapi.UAC) []tmapi.Response
	nc      *nats.Conn
	perKind map[string]int
	ringing map[string]string // uac id -> inbox of an INVITE without a final yet
}

func newScriptedTM(t *testing.T, url string, script func(n int, req tmapi.UAC) []tmapi.Response) *scriptedTM {
	nc, _ := testenv.Connect(t, url)
	s := &scriptedTM{script: script, nc: nc, perKind: map[string]int{}, ringing: map[string]string{}}
	if _, err := nc.Subscribe(tmapi.SubjectUAC, func(m *nats.Msg) {
		var req tmapi.UAC
		if err := json.Unmarshal(m.Data, &req); err != nil {
			t.Errorf("scripted tm: %v", err)
			return
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.perKind[req.Method]++
		n := s.perKind[req.Method]
		s.mu.Unlock()
		rs := s.script(n, req)
		for _, r := range rs {
			b, _ := json.Marshal(r)
			_ = nc.Publish(m.Reply, b)
		}
		if req.Method == "INVITE" && len(rs) > 0 && !rs[len(rs)-1].Final {
			s.mu.Lock()
			s.ringing[req.ID] = m.Reply
			s.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe(tmapi.SubjectUACCancel, func(m *nats.Msg) {
		var c tmapi.Cancel
		_ = json.Unmarshal(m.Data, &c)
		s.mu.Lock()
		s.cancels = append(s.cancels, c.ID)
		inbox, ok := s.ringing[c.ID]
		delete(s.ringing, c.ID)
		s.mu.Unlock()
		if ok { // RFC 3261 §9.1: the INVITE ends 487
			b, _ := json.Marshal(final(487, "Request Terminated", ""))
			_ = nc.Publish(inbox, b)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *scriptedTM) sent(method string) []tmapi.UAC {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []tmapi.UAC
	for _, r := range s.reqs {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// notify publishes an in-dialog NOTIFY as tm does for a dialog of ctd's.
func (s *scriptedTM) request(t *testing.T, dialog, method string, headers []string, body string) {
	t.Helper()
	raw := method + " sip:ctd@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK" + bus.NewID()[:10] +
		"\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>;tag=b\r\nCall-ID: " + dialog +
		"\r\nCSeq: 7 " + method + "\r\nMax-Forwards: 70\r\n"
	for _, h := range headers {
		raw += h + "\r\n"
	}
	raw += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := sipmsg.Parse([]byte(raw), sipmsg.Datagram); err != nil {
		t.Fatalf("test NOTIFY: %v", err)
	}
	ev := events.SIP{Type: events.TypeRequestReceived, ID: bus.NewID(), Source: "sipbus/tm/test", Time: time.Now(),
		CallKey: sipmsg.CallKey(dialog), Raw: []byte(raw), Transport: "udp", Local: "127.0.0.1:5060", Remote: "127.0.0.1:5070", Edge: "edge-test"}
	if err := s.nc.PublishMsg(ev.Encode(tmapi.DialogSubject(ctd.Owner, dialog))); err != nil {
		t.Fatal(err)
	}
	_ = s.nc.Flush()
}

func final(st int, reason, dialog string) tmapi.Response {
	return tmapi.Response{Status: st, Reason: reason, Final: true, DialogID: dialog}
}

// world is NATS with the stream, a Redis, and the users alice and bob.
type world struct {
	url   string
	redis string
	dir   subscriber.Directory
}

func newWorld(t *testing.T) *world {
	ns := testenv.NATS(t)
	_, js := testenv.Connect(t, ns.ClientURL())
	if _, err := bus.EnsureStream(testenv.Context(t, 10*time.Second), js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	dir := subscriber.NewMemory()
	for _, aor := range []string{"alice@example.com", "bob@example.com"} {
		if err := dir.Add(context.Background(), subscriber.Subscriber{AOR: aor}); err != nil {
			t.Fatal(err)
		}
	}
	return &world{url: ns.ClientURL(), redis: testenv.RedisURL(t), dir: dir}
}

// replica starts a ctd replica with its own NATS and Redis connections.
func (w *world) replica(t *testing.T, id string, tune func(*ctd.Config)) (*ctd.Service, ctd.State) {
	return w.replicaWith(t, id, tune, nil)
}

// replicaWith is replica with metrics exported on m (nil: none).
func (w *world) replicaWith(t *testing.T, id string, tune func(*ctd.Config), m *obs.Metrics) (*ctd.Service, ctd.State) {
	s, st, _ := w.replicaOn(t, id, tune, m, nil)
	return s, st
}

// replicaOn is replicaWith with hook on the replica's Redis client (nil:
// none); it also returns the replica's NATS connection.
func (w *world) replicaOn(t *testing.T, id string, tune func(*ctd.Config), m *obs.Metrics, hook redis.Hook) (*ctd.Service, ctd.State, *nats.Conn) {
	nc, js := testenv.Connect(t, w.url)
	c, p, err := store.OpenRedisClient(context.Background(), w.redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if hook != nil {
		c.AddHook(hook)
	}
	st := ctd.StateOn(c, p)
	cfg := ctd.DefaultConfig()
	cfg.ID, cfg.Tick = id, 50*time.Millisecond
	if tune != nil {
		tune(&cfg)
	}
	s, err := ctd.New(cfg, ctd.Deps{NC: nc, JS: js, State: st, Directory: w.dir, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, st, nc
}

func serve(t *testing.T, s *ctd.Service) *httptest.Server {
	mux := http.NewServeMux()
	s.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d, body not JSON: %q", method, url, res.StatusCode, b)
	}
	return res.StatusCode, m
}

// sse reads an SSE stream into a channel of "phase status" strings.
func sse(t *testing.T, url, token string, lastID ...string) <-chan string {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if len(lastID) > 0 {
		req.Header.Set("Last-Event-ID", lastID[0])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("SSE: %d %s", res.StatusCode, ct)
	}
	ch := make(chan string, 32)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var p events.CtdProgress
				if err := json.Unmarshal([]byte(d), &p); err != nil {
					ch <- "bad data " + d
					continue
				}
				ch <- fmt.Sprintf("%s %d", p.Phase, p.Status)
			}
		}
	}()
	return ch
}

func expectSSE(t *testing.T, ch <-chan string, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatalf("SSE ended, want %q", w)
			}
			if got != w {
				t.Fatalf("SSE %q, want %q", got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no SSE event within 10s, want %q", w)
		}
	}
}

var _ jetstream.JetStream
