package natsembed

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// burst publishes n copies of data on subject, as the hot path's linger
// does (bus.Local: one burst every 10 ms).
func burst(tb testing.TB, nc *nats.Conn, subject string, n int, data []byte) {
	tb.Helper()
	for range n {
		if err := nc.Publish(subject, data); err != nil {
			tb.Fatal(err)
		}
	}
}

// inProcessPair starts a server and returns an in-process publisher
// (with the options given after InProcess) and a counter of what a
// subscriber on another in-process connection received on "hot.>".
func inProcessPair(tb testing.TB, opts ...nats.Option) (*nats.Conn, *atomic.Int64) {
	tb.Helper()
	s, err := Start(Config{Listen: "127.0.0.1:0", StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Shutdown)
	sub, err := nats.Connect(s.ClientURL(), s.InProcess())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sub.Close)
	var got atomic.Int64
	if _, err := sub.Subscribe("hot.>", func(*nats.Msg) { got.Add(1) }); err != nil {
		tb.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		tb.Fatal(err)
	}
	pub, err := nats.Connect(s.ClientURL(), append([]nats.Option{s.InProcess()}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pub.Close)
	return pub, &got
}

func waitCount(tb testing.TB, got *atomic.Int64, want int64) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); got.Load() < want; {
		if time.Now().After(deadline) {
			tb.Fatalf("received %d of %d messages within 10 s", got.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestInProcessWriteBuffer: InProcess reaches the server in memory (the
// connection has no TCP address) with the flush threshold at the
// server's largest read buffer, and bursts under, at and over it arrive
// whole and in order of count.
func TestInProcessWriteBuffer(t *testing.T) {
	pub, got := inProcessPair(t)
	if w := pub.Opts.WriteBufferSize; w != InProcessWriteBuffer {
		t.Fatalf("WriteBufferSize = %d, want %d", w, InProcessWriteBuffer)
	}
	if a := pub.ConnectedAddr(); a != "pipe" && a != "" {
		t.Fatalf("connected to %q: want the in-process pipe", a)
	}
	want := int64(0)
	for _, b := range []struct{ n, size int }{{48, 900}, {72, 900}, {240, 900}, {1, 200 << 10}} {
		burst(t, pub, "hot.p0", b.n, bytes.Repeat([]byte("x"), b.size))
		want += int64(b.n)
		waitCount(t, got, want)
	}
}

// BenchmarkInProcessBurst: one burst of the hot path's publishes at 300
// calls/s (48 messages of ~900 bytes, ~43 kB) through an in-process
// connection, delivered to an in-process subscriber; B/op is the whole
// process's allocation, the server's read buffers included. The default
// flush threshold (32 kB) against InProcessWriteBuffer.
func BenchmarkInProcessBurst(b *testing.B) {
	for _, c := range []struct {
		name string
		opt  nats.Option
	}{
		{"threshold=32kB", func(o *nats.Options) error { o.WriteBufferSize = nats.DefaultWriteBufSize; return nil }},
		{fmt.Sprintf("threshold=%dkB", InProcessWriteBuffer>>10), func(*nats.Options) error { return nil }},
	} {
		b.Run(c.name, func(b *testing.B) {
			pub, got := inProcessPair(b, c.opt)
			msg := bytes.Repeat([]byte("x"), 900)
			b.ReportAllocs()
			want := int64(0)
			for b.Loop() {
				burst(b, pub, "hot.p0", 48, msg)
				want += 48
				waitCount(b, got, want)
			}
		})
	}
}
