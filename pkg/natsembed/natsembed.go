// Package natsembed runs a NATS server with JetStream inside the process, for
// `sipbus up` and for tests. It is the nats-server Go module (2.11 or newer),
// not a stand-in: clients talk to it over TCP exactly as to a cluster.
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Config of an embedded server.
type Config struct {
	// Listen is host:port for clients; default 127.0.0.1:4222. Port 0 picks a free port.
	Listen string
	// StoreDir holds JetStream data; required.
	StoreDir string
	// ServerName names the server in logs and monitoring; default "sipbus".
	ServerName string
	// MaxMemory and MaxStore cap JetStream (bytes); 0 = server defaults.
	MaxMemory, MaxStore int64
	// Monitor is host:port of the server's HTTP monitoring endpoints
	// (/varz, /connz, /jsz); empty = off.
	Monitor string
	// KeepPageCache leaves the stream files' pages in the page cache until
	// the kernel needs the memory. By default (Linux) the server writes
	// them back and drops them in batches of 256 kB, within two seconds of
	// their writing. The log is written once and read rarely (replay, a
	// consumer far behind: those read it from disk; a consumer that keeps
	// up reads the file store's own cache of the block being written), and
	// at 2,500 calls/s it grows the page cache by 30 MB a second, every
	// page taken fresh from free memory. On a virtual machine whose host
	// takes the guest's free memory back (free page reporting: this
	// project's benchmark machine), such a page costs ~20 us the first
	// time against ~1.5 us for one just freed: the file store's writes
	// were 14 % of `sipbus up`'s CPU at 2,500 calls/s, and the file
	// store holds its block's lock through them, so each stalls the
	// stream. Dropped in small batches the pages come back warm: 3-10 %
	// less CPU a call at 300 and at 2,500 calls/s, p99 at 2,500 calls/s
	// 32-103 ms against 152-241 (bench/RESULTS.md, round 21).
	KeepPageCache bool
}

// dropEvery is how often the dropper looks at the newest blocks (see
// dropWritten).
const dropEvery = 20 * time.Millisecond

// ErrNoStoreDir is returned when Config.StoreDir is empty.
var ErrNoStoreDir = errors.New("natsembed: StoreDir is required")

// Server is a running embedded NATS server.
type Server struct {
	ns   *server.Server
	stop chan struct{}
}

// Start starts the server and waits until it accepts clients.
func Start(cfg Config) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, ErrNoStoreDir
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:4222"
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "sipbus"
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("natsembed: listen %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("natsembed: listen %q: bad port", cfg.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:         cfg.ServerName,
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
		NoSigs:             true,
		NoLog:              true,
		MaxPayload:         4 << 20,
	}
	if cfg.Monitor != "" {
		mh, mp, err := net.SplitHostPort(cfg.Monitor)
		if err != nil {
			return nil, fmt.Errorf("natsembed: monitor %q: %w", cfg.Monitor, err)
		}
		if opts.HTTPPort, err = strconv.Atoi(mp); err != nil {
			return nil, fmt.Errorf("natsembed: monitor %q: bad port", cfg.Monitor)
		}
		opts.HTTPHost = mh
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("natsembed: server on %s not ready within 10s", cfg.Listen)
	}
	s := &Server{ns: ns, stop: make(chan struct{})}
	if !cfg.KeepPageCache {
		go dropWritten(cfg.StoreDir, dropEvery, s.stop)
	}
	return s, nil
}

// ClientURL is the nats:// URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// InProcess is the client option that reaches this server in memory
// instead of over TCP: for the services running in the server's own
// process (`sipbus up`), it saves a loopback socket write and read per
// message on both sides. Other processes connect to ClientURL as usual.
//
// It also sets the client's flush threshold to InProcessWriteBuffer.
func (s *Server) InProcess() nats.Option {
	return func(o *nats.Options) error {
		if err := nats.InProcessServer(s.ns)(o); err != nil {
			return err
		}
		o.WriteBufferSize = InProcessWriteBuffer
		return nil
	}
}

// InProcessWriteBuffer is the flush threshold of an in-process client:
// the largest read buffer of the server's read loop (64 kB).
//
// Why: the in-process connection is a pipe, and on a pipe each of the
// server's reads returns at most what one client write holds. The read
// loop sizes its buffer from its reads: it doubles the buffer when a read
// fills it and halves it after three reads under half of it, each time
// into a new buffer. With the client's default threshold (32 kB), a burst
// of the hot path's publishes a little over 32 kB (`sipbus up` at 300
// calls/s lingers 10 ms and sends ~43 kB) went out as a 32 kB write and a
// short one: every third burst halved the buffer to 32 kB, the next
// filled it and doubled it again, two new buffers per cycle: 11-14 %
// of the process's allocation at 300 calls/s (bench/RESULTS.md round
// 23). At 64 kB a burst under 64 kB is one write that reads at least half
// of the buffer, and a larger burst goes out in 64 kB writes that fill
// it: the buffer stays at 64 kB (BenchmarkInProcessBurst: 112 kB
// allocated a burst of 43 kB at 32 kB, 63 kB at 64 kB).
const InProcessWriteBuffer = 64 << 10

// MonitorURL is the http:// URL of the monitoring endpoints ("" when off).
func (s *Server) MonitorURL() string {
	a := s.ns.MonitorAddr()
	if a == nil {
		return ""
	}
	return "http://" + a.String()
}

// Shutdown stops the server and waits for it to finish.
func (s *Server) Shutdown() {
	close(s.stop)
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
