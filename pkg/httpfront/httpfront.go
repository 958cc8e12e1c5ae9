// Package httpfront is the HTTP address of a sipbus process: one listener
// and one mux on which the services mount what they serve over HTTP (the
// click-to-dial API under /v1/, the web page, health and metrics), with the
// limits every network-facing server needs and the JSON error shape every
// handler answers bad input with.
//
// Errors are `{"error": "...", "field": "..."}` with a 4xx status: the
// message says what is wrong, field (when there is one) names the JSON
// field or parameter at fault. Handlers write them with Error.
package httpfront

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Limits of every request (net/http defaults are unbounded or generous).
const (
	ReadHeaderTimeout = 5 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 16 << 10
)

// Server is one HTTP listener with a mux.
type Server struct {
	Mux *http.ServeMux
	ln  net.Listener
	srv *http.Server
}

// Listen binds addr (ip:port; port 0 picks a free one). It does not serve
// until Serve.
func Listen(addr string, log *slog.Logger) (*Server, error) {
	if _, err := netip.ParseAddrPort(addr); err != nil {
		return nil, fmt.Errorf("want ip:port: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	s := &Server{Mux: mux, ln: ln}
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	if log != nil {
		s.srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() netip.AddrPort { return s.ln.Addr().(*net.TCPAddr).AddrPort() }

// URL is http://addr.
func (s *Server) URL() string { return "http://" + s.Addr().String() }

// Serve serves until Shutdown; it returns nil then.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops taking connections and waits for the requests in flight
// (long-lived streams end with ctx).
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// ErrorBody is the JSON body of an error answer.
type ErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// Error answers status with {"error": msg, "field": field}.
func Error(w http.ResponseWriter, status int, field, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: msg, Field: field})
}

// JSON answers status with v as JSON.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads a JSON request body of at most max bytes into v,
// refusing unknown fields and trailing data. On failure it has answered
// (413 for a body over max, 415 for another content type, 400 naming the
// field otherwise) and returns false.
func DecodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			Error(w, http.StatusUnsupportedMediaType, "", "Content-Type must be application/json")
			return false
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mb):
			Error(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("body over %d bytes", max))
		case errors.As(err, &te):
			Error(w, http.StatusBadRequest, te.Field, fmt.Sprintf("%s: want %s", te.Field, te.Type))
		default:
			Error(w, http.StatusBadRequest, "", "bad JSON body: "+err.Error())
		}
		return false
	}
	if dec.More() {
		Error(w, http.StatusBadRequest, "", "bad JSON body: data after the object")
		return false
	}
	return true
}
