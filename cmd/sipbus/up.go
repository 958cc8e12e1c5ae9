package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/location"
	"github.com/sipbus/sipbus/pkg/natsembed"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/rawio"
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/services/edge"
	"github.com/sipbus/sipbus/services/registrar"
	"github.com/sipbus/sipbus/services/tm"
)

// cmdUp runs everything in one process: an embedded NATS server with
// JetStream, the in-memory store (or Redis), and the services. It prints what
// it listens on, then "ready", and stops cleanly on Ctrl-C or SIGTERM.
//
// With --nats the services use a NATS server that runs elsewhere instead
// of the embedded one (sipbus nats, or any NATS 2.11+ with JetStream): the
// stream's memory and CPU are then apart from the services', for 3–21 %
// more CPU per call below the limit (bench/RESULTS.md, round 7). Before
// subjects stopped naming calls (round 8) that was what kept the stream's
// per-subject index out of the heap the services' collector marks.
func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("up", stderr)
	ef := addEdgeFlags(fs)
	dataDir := fs.String("data", defaultDataDir(), "folder for the data of sipbus up: the JetStream log (DIR/jetstream; not used with --nats), and with --smtp dev Mailpit's database and log")
	redisURL := fs.String("redis", os.Getenv("SIPBUS_REDIS_URL"), "Redis URL for SIP state (default $SIPBUS_REDIS_URL; empty = in-memory store)")
	natsListen := fs.String("nats-listen", "127.0.0.1:4222", "where the embedded NATS server listens for other sipbus commands and subscribers")
	natsURL := fs.String("nats", "", "NATS server URL to use instead of the embedded one (JetStream on, NATS 2.11+); empty = embedded")
	edgeID := fs.String("edge-id", "", "edge id (default edge-<hostname>)")
	maxAge := fs.Duration("retention", 24*time.Hour, "how long the stream keeps events")
	maxBytes := fs.Int64("retention-bytes", 1<<30, "size cap of the stream in bytes; oldest events go first")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	tmf := addTMFlags(fs)
	regf := addRegFlags(fs)
	debugAddr := addDebugFlag(fs)
	natsMonitor := fs.String("nats-monitor", "", "HTTP monitoring address of the embedded NATS server ip:port (/varz, /jsz); off when empty")
	natsKeepCache := fs.Bool("nats-keep-page-cache", false, pageCacheUsage)
	flood := addFloodFlags(fs)
	nf := addNotifierFlags(fs)
	hf := addHTTPFlag(fs)
	ctdf := addCtdFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	stopDebug, err := startDebug(*debugAddr)
	if err != nil {
		return err
	}
	defer stopDebug()
	if fs.NArg() > 0 {
		return errUsage{fmt.Errorf("up: unexpected argument %q", fs.Arg(0))}
	}
	ecfg, err := ef.config(fs)
	if err != nil {
		return err
	}
	ecfg.ID = *edgeID
	if err := flood.apply(&ecfg); err != nil {
		return err
	}
	if *natsURL != "" {
		var embedOnly []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "nats-listen" || f.Name == "nats-monitor" {
				embedOnly = append(embedOnly, "--"+f.Name)
			}
		})
		if len(embedOnly) > 0 {
			return errUsage{fmt.Errorf("%s: set for the embedded NATS server, which --nats replaces", strings.Join(embedOnly, ", "))}
		}
	} else if _, err := netip.ParseAddrPort(*natsListen); err != nil {
		return errUsage{fmt.Errorf("--nats-listen: want ip:port: %v", err)}
	}
	if err := regf.check(tmf.domains, *ef.sip); err != nil {
		return err // before anything listens
	}
	if err := ctdf.check(); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return errUsage{fmt.Errorf("--log-level: %v", err)}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if *maxAge <= 0 {
		return errUsage{fmt.Errorf("--retention: must be positive")}
	}
	if *maxBytes <= 0 {
		return errUsage{fmt.Errorf("--retention-bytes: must be positive")}
	}
	if err := os.MkdirAll(*dataDir, 0o750); err != nil {
		return fmt.Errorf("--data: %w", err)
	}

	nc, hot, ns, err := upNATS(*natsURL, natsembed.Config{Listen: *natsListen, StoreDir: filepath.Join(*dataDir, "jetstream"), Monitor: *natsMonitor, KeepPageCache: *natsKeepCache})
	if err != nil {
		return err
	}
	defer func() {
		hot.Close()
		nc.Close()
		if ns != nil {
			ns.Shutdown()
		}
	}()
	local, err := bus.NewLocal(hot)
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{MaxAge: *maxAge, MaxBytes: *maxBytes}); err != nil {
		return fmt.Errorf("stream %s: %w", bus.DefaultStream, err)
	}

	storeURL := *redisURL
	if storeURL == "" {
		storeURL = "memory://"
	}
	st, err := store.Open(ctx, storeURL)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	defer st.Close()

	tracer, stopTracing, err := obs.TracingFromEnv(ctx, "up", ecfg.ID)
	if err != nil {
		return err
	}
	defer stopTracing(context.Background())
	e, err := edge.New(ecfg, edge.Deps{NC: nc, JS: js, Log: log, Tracer: tracer, Local: local})
	if err != nil {
		return ef.listenError(fs, err)
	}
	tcfg := tm.DefaultConfig()
	tcfg.ID = "tm-" + e.ID()
	adv := e.Advertise()
	if len(tmf.domains) == 0 {
		host, _, _ := net.SplitHostPort(adv)
		tcfg.Domains = []string{"localhost", host}
	}
	// tm names the listener of each transport in Via and Record-Route.
	tcfg.AdvertiseTCP, tcfg.AdvertiseTLS = addrOrEmpty(e.TCPAddr()), addrOrEmpty(e.TLSAddr())
	tcfg.AdvertiseWS, tcfg.AdvertiseWSS = addrOrEmpty(e.WSAddr()), addrOrEmpty(e.WSSAddr())
	tcfg.FlowSecret = os.Getenv("SIPBUS_FLOW_SECRET")
	if tcfg.FlowSecret == "" {
		tcfg.FlowSecret = rand.Text() // one tm in this process: nothing to share
	}
	if err := tmf.apply(fs, &tcfg, adv); err != nil {
		return err
	}
	rstate := registrar.StateFor(st)
	// tm's lookups from memory, kept true by Redis (location.Tracked); the
	// registrar writes through the same copy.
	loc, stopLoc := location.TrackStore(rstate.Location, log)
	defer func() { _ = stopLoc() }()
	rstate.Location = loc
	rcfg := registrar.DefaultConfig()
	rcfg.ID = "registrar-" + e.ID()
	rcfg.Domains = tcfg.Domains
	rcfg.AuthSecret = os.Getenv("SIPBUS_AUTH_SECRET")
	if rcfg.AuthSecret == "" && *redisURL == "" {
		// One registrar in one process on its own memory: no replica to
		// share nonces with, so no warning. On Redis another sipbus up may
		// share the state, and the registrar says it needs the secret.
		rcfg.AuthSecret = rand.Text()
	}
	if err := regf.apply(&rcfg); err != nil {
		return err
	}
	reg, err := registrar.New(rcfg, registrar.Deps{NC: nc, JS: js, State: rstate, Log: log, Tracer: tracer, Local: local})
	if err != nil {
		return err
	}
	metrics := obs.NewMetrics("up") // /metrics of every service in this process (upObs)
	reg.RegisterMetrics(metrics)
	if err := reg.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = reg.Shutdown(sctx)
	}()
	t, err := tm.New(tcfg, tm.Deps{NC: nc, JS: js, Store: st, Log: log, Locate: tm.NewLocationLocator(rstate.Location, rstate.Directory), Tracer: tracer, Local: local})
	if err != nil {
		return err
	}
	if err := t.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = t.Shutdown(sctx)
	}()

	// One P queues before it reads busy: the edge's shedding adds a P at
	// once (pkg/obs Procs).
	obs.ProcsFrom(ctx).Watch(e.Shedding)

	fmt.Fprintf(stdout, "sipbus up\n")
	printListeners(stdout, e, ef)
	if ns != nil {
		fmt.Fprintf(stdout, "  nats   %s (JetStream in %s, stream %s)\n", ns.ClientURL(), filepath.Join(*dataDir, "jetstream"), bus.DefaultStream)
	} else {
		fmt.Fprintf(stdout, "  nats   %s (external, stream %s)\n", service.RedactURL(*natsURL), bus.DefaultStream)
	}
	fmt.Fprintf(stdout, "  store  %s\n", redactStore(storeURL))
	fmt.Fprintf(stdout, "  tm     domains %s, routes %s, dns %s\n", strings.Join(tcfg.Domains, ","), orDefault(tcfg.Routes, "default"), t.Resolver())
	fmt.Fprintf(stdout, "  registrar  auth %s\n", rcfg.Auth)
	stopNotifier, err := upNotifier(ctx, nf, *dataDir, nc, js, rstate.Directory, st, metrics, tracer, log, stdout)
	if err != nil {
		return err
	}
	defer stopNotifier()
	web, err := hf.listen(*ef.sip, log)
	if err != nil {
		return err
	}
	webAuth, stopWeb, err := upWeb(ctx, web, nc, local, js, rstate.Directory, rstate.Location, st, tcfg.Domains, tracer, log, stdout)
	if err != nil {
		return err
	}
	defer stopWeb()
	stopCtd, err := upCtd(ctx, ctdf, "ctd-"+e.ID(), nc, local, js, st, rstate.Directory, web, webAuth, metrics, tracer, log, stdout)
	if err != nil {
		return err
	}
	defer stopCtd()
	if web != nil {
		upObs(ctx, web.Mux, metrics, nc, js, st, e, t)
		go func() {
			if err := web.Serve(); err != nil {
				log.Error("http: stopped serving", "err", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = web.Shutdown(sctx)
		}()
		fmt.Fprintf(stdout, "  http   %s\n", web.URL())
	} else {
		fmt.Fprintf(stdout, "  http   off\n")
	}
	fmt.Fprintf(stdout, "ready\n")

	err = e.Run(ctx)
	fmt.Fprintf(stdout, "stopped\n")
	return err
}

// addrOrEmpty is a bound address, or "" for a listener that is off.
func addrOrEmpty(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// defaultDataDir is $XDG_DATA_HOME/sipbus, else ~/.local/share/sipbus, else
// ./sipbus-data.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "sipbus")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "sipbus")
	}
	return "sipbus-data"
}

// redactStore prints a store URL without its password.
func redactStore(s string) string {
	if s == "memory://" {
		return "memory (in this process; state is lost on exit)"
	}
	return store.RedactURL(s)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// upNATS connects sipbus up to its NATS server: the embedded one, started
// here (ns), or the one at url. nc serves the services; hot is the hot
// path's own connection, without echo: the edge, tm and the registrar
// hand each other their messages in-process (bus.Local), and the server
// stores them and serves everyone else.
func upNATS(url string, embed natsembed.Config) (nc, hot *nats.Conn, ns *natsembed.Server, err error) {
	var opts []nats.Option
	if url == "" {
		if ns, err = natsembed.Start(embed); err != nil {
			return nil, nil, nil, fmt.Errorf("--nats-listen %s: %w", embed.Listen, err)
		}
		url = ns.ClientURL()
		opts = append(opts, ns.InProcess())
	} else {
		opts = append(opts, nats.MaxReconnects(-1), nats.SetCustomDialer(rawio.NewDialer(nats.DefaultTimeout)))
	}
	fail := func(err error) (*nats.Conn, *nats.Conn, *natsembed.Server, error) {
		if nc != nil {
			nc.Close()
		}
		if ns != nil {
			ns.Shutdown()
			return nil, nil, nil, fmt.Errorf("connect to embedded NATS: %w", err)
		}
		return nil, nil, nil, fmt.Errorf("--nats %s: %w", service.RedactURL(url), err)
	}
	if nc, err = nats.Connect(url, slices.Concat(opts, []nats.Option{nats.Name("sipbus-up")})...); err != nil {
		return fail(err)
	}
	if hot, err = nats.Connect(url, slices.Concat(opts, []nats.Option{nats.Name("sipbus-up-hot"), nats.NoEcho()})...); err != nil {
		return fail(err)
	}
	return nc, hot, ns, nil
}
