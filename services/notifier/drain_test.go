package notifier_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/notifier"
)

// slowRelay forwards SMTP connections to upstream after holding each one
// for delay: a mail server slow to greet, so that a mail is in flight for
// that long. accepted gets a value per connection.
func slowRelay(t *testing.T, upstream string, delay time.Duration) (addr string, accepted chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	accepted = make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			go func() {
				defer c.Close()
				time.Sleep(delay)
				u, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c) }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
	return ln.Addr().String(), accepted
}

// TestGracefulDrain: the notifier run as `sipbus notifier` runs it
// (service.Main, settings from flags) is stopped while a mail is in
// flight to a slow server: Main returns only after that mail was accepted
// and its event acknowledged (nothing is left for another replica to send
// again), and prints "stopped".
func TestGracefulDrain(t *testing.T) {
	b := newBench(t)
	relay, accepted := slowRelay(t, b.mp.SMTP, 2*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- service.Main(ctx, notifier.Spec, []string{"--nats", b.nc.ConnectedUrl(), "--redis", b.url, "--id", "drain-1",
			"--smtp", "smtp://" + relay + "?tls=none", "--from", "sipbus <sipbus@example.net>", "--smtp-timeout", "10s",
			"--shutdown-timeout", "20s", "--log-level", "debug"},
			service.IO{Getenv: func(string) string { return "" }, Stdout: &out, Stderr: b.logs})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "ready\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no ready line:\n%s\n%s", out.String(), b.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.missed("bob@localhost", alice, events.MissedBusy, 486)
	select {
	case <-accepted:
	case <-time.After(20 * time.Second):
		t.Fatalf("the notifier never connected to the mail server:\n%s", b.logs)
	}
	time.Sleep(300 * time.Millisecond) // the mail is in flight: the server has not greeted yet
	stopAt := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Main: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("Main did not return within 25s of the stop")
	}
	if took := time.Since(stopAt); took < time.Second {
		t.Errorf("Main returned %v after the stop, before the slow server had the mail", took)
	}
	if n := len(b.mp.Messages(t)); n != 1 {
		t.Errorf("%d mails when Main returned, want the one in flight", n)
	}
	c, err := b.js.Consumer(b.ctx, bus.DefaultStream, "notifier-missed-call-mail")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 {
		t.Errorf("consumer: %d unacknowledged, %d pending after the drain, want 0 and 0", info.NumAckPending, info.NumPending)
	}
	if !strings.HasSuffix(out.String(), "stopped\n") {
		t.Errorf("output:\n%s", out.String())
	}
}
