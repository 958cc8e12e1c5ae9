package testenv

import (
	"net"
	"sync"
	"testing"
)

// TCPServer listens on a free loopback port and runs serve, on a goroutine
// of its own, for each connection it accepts; it returns the address.
// Connections stay open after serve returns: the test's cleanup closes
// them and the listener. A server that accepts and never answers is a
// serve that does nothing.
func TCPServer(t testing.TB, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serve(c)
		}
	}()
	return ln.Addr().String()
}
