package httpfront_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/httpfront"
)

type call struct {
	From string `json:"from"`
	N    int    `json:"n"`
}

func decode(t *testing.T, ct, body string) (*httptest.ResponseRecorder, call, bool) {
	t.Helper()
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	w := httptest.NewRecorder()
	var c call
	ok := httpfront.DecodeJSON(w, r, 64, &c)
	return w, c, ok
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) httpfront.ErrorBody {
	t.Helper()
	var e httpfront.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	return e
}

func TestDecodeJSON(t *testing.T) {
	if _, c, ok := decode(t, "application/json; charset=utf-8", `{"from":"sip:a@b","n":2}`); !ok || c.From != "sip:a@b" || c.N != 2 {
		t.Errorf("good body: %v %+v", ok, c)
	}
	for _, tc := range []struct {
		name, ct, body string
		status         int
		field, msg     string
	}{
		{"wrong type", "", `{"n":"x"}`, 400, "n", "n: want int"},
		{"unknown field", "", `{"to":"x"}`, 400, "", "unknown field"},
		{"trailing data", "", `{"n":1} {}`, 400, "", "data after the object"},
		{"not JSON", "", `from=x`, 400, "", "bad JSON body"},
		{"too large", "", `{"from":"` + strings.Repeat("x", 100) + `"}`, 413, "", "over 64 bytes"},
		{"content type", "text/plain", `{}`, 415, "", "application/json"},
	} {
		w, _, ok := decode(t, tc.ct, tc.body)
		if ok || w.Code != tc.status {
			t.Errorf("%s: ok=%v status %d, want %d", tc.name, ok, w.Code, tc.status)
			continue
		}
		if e := errorOf(t, w); e.Field != tc.field || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("%s: %+v, want field %q and %q", tc.name, e, tc.field, tc.msg)
		}
	}
}

func TestServer(t *testing.T) {
	s, err := httpfront.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Mux.HandleFunc("GET /v1/x", func(w http.ResponseWriter, _ *http.Request) {
		httpfront.Error(w, http.StatusForbidden, "from", "not yours")
	})
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	resp, err := http.Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, b)
	}
	resp, err = http.Get(s.URL() + "/v1/x")
	if err != nil {
		t.Fatal(err)
	}
	var e httpfront.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&e)
	_ = resp.Body.Close()
	if resp.StatusCode != 403 || e.Field != "from" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("error answer: %d %+v %q", resp.StatusCode, e, resp.Header.Get("Content-Type"))
	}
	if _, err := httpfront.Listen("localhost:http", nil); err == nil {
		t.Error("Listen accepted a name for an address")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add("application/json", `{"from":"sip:a@b","n":1}`)
	f.Add("", `{"n":1e999}`)
	f.Fuzz(func(t *testing.T, ct, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		var c call
		if !httpfront.DecodeJSON(w, r, 256, &c) && (w.Code < 400 || w.Code > 499) {
			t.Fatalf("refused with status %d", w.Code)
		}
	})
}
