package service

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"
)

// StartDebug serves Go's profiles (/debug/pprof/, for `go tool pprof`) on
// addr ("" = off) and returns the function that stops the server.
// Profiles reveal internals, so only a loopback address is accepted.
func StartDebug(addr string) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("want ip:port: %v", err)
	}
	if !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("%s is not a loopback address; profiles are served on loopback only", ap.Addr())
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener is gone; nothing else depends on it
		}
	}()
	return func() { _ = srv.Close() }, nil
}
