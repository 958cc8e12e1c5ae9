package obs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/httpfront"
)

// Server is the HTTP address of a standalone service main: httpfront with
// /readyz and /metrics mounted.
type Server struct {
	*httpfront.Server
	done chan error
}

// Listen binds addr ("off" or "" serves nothing: nil, nil) and serves
// /healthz, /readyz from h and /metrics from m until Shutdown.
func Listen(addr string, h *Health, m *Metrics, log *slog.Logger) (*Server, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" || addr == "off" || addr == "-" {
		return nil, nil
	}
	hs, err := httpfront.Listen(addr, log)
	if err != nil {
		return nil, fmt.Errorf("http %s: %w", addr, err)
	}
	Mount(hs.Mux, h, m)
	s := &Server{Server: hs, done: make(chan error, 1)}
	go func() { s.done <- hs.Serve() }()
	return s, nil
}

// Shutdown stops serving, waiting at most 5 s for requests in flight. A
// nil Server is a no-op.
func (s *Server) Shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := s.Server.Shutdown(ctx)
	<-s.done
	return err
}
