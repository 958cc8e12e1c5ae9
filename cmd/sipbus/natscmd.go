package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/sipbus/sipbus/pkg/natsembed"
)

// pageCacheUsage is the help of `sipbus nats --keep-page-cache` and `sipbus
// up --nats-keep-page-cache` (natsembed.Config.KeepPageCache).
const pageCacheUsage = "leave the JetStream log's written pages in the page cache (by default they are written back and dropped in small batches, so the next writes take warm pages)"

// cmdNATS runs the NATS server (JetStream on) as its own process: the bus
// for edge, tm and registrar processes on one machine, without installing
// a nats-server binary. In a cluster, run NATS itself (k8s/).
func cmdNATS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("nats", stderr)
	listen := fs.String("listen", "127.0.0.1:4222", "client address ip:port")
	dataDir := fs.String("data", defaultDataDir(), "folder for JetStream data")
	monitor := fs.String("monitor", "", "HTTP monitoring address ip:port (/varz, /jsz); off when empty")
	keepCache := fs.Bool("keep-page-cache", false, pageCacheUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage{fmt.Errorf("nats: unexpected argument %q", fs.Arg(0))}
	}
	if _, err := netip.ParseAddrPort(*listen); err != nil {
		return errUsage{fmt.Errorf("--listen: want ip:port: %v", err)}
	}
	if *monitor != "" {
		if _, err := netip.ParseAddrPort(*monitor); err != nil {
			return errUsage{fmt.Errorf("--monitor: want ip:port: %v", err)}
		}
	}
	if err := os.MkdirAll(*dataDir, 0o750); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	ns, err := natsembed.Start(natsembed.Config{Listen: *listen, StoreDir: filepath.Join(*dataDir, "jetstream"), Monitor: *monitor, KeepPageCache: *keepCache})
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	fmt.Fprintf(stdout, "nats %s (JetStream in %s)", ns.ClientURL(), filepath.Join(*dataDir, "jetstream"))
	if u := ns.MonitorURL(); u != "" {
		fmt.Fprintf(stdout, ", monitor %s", u)
	}
	fmt.Fprintf(stdout, "\nready\n")
	<-ctx.Done()
	ns.Shutdown()
	fmt.Fprintf(stdout, "stopped\n")
	return nil
}
