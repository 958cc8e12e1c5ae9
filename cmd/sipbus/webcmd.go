package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"crypto/rand"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sipbus/sipbus/pkg/bus"
	"github.com/sipbus/sipbus/pkg/httpfront"
	"github.com/sipbus/sipbus/pkg/obs"
	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/pkg/store"
	"github.com/sipbus/sipbus/pkg/subscriber"
	"github.com/sipbus/sipbus/services/ctd"
	"github.com/sipbus/sipbus/services/web"
)

// cmdWeb is `sipbus web`: the web page as its own process (state in
// Redis, shared with every other replica), served on --http: the web's own
// main, web.Spec run by pkg/service.
func cmdWeb(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return service.Main(ctx, web.Spec, args, service.IO{Stdout: stdout, Stderr: stderr})
}

// upWeb mounts the web page (services/web) at "/" on the process's HTTP
// server and starts its consumers (nothing when srv is nil: --http off).
// The session key is $SIPBUS_WEB_SECRET (hex, at least 32 bytes, the same
// on every replica) or a random one, so sessions end with the process. It
// returns the page's authenticator for the click-to-dial API (the signed
// session, with the CSRF header on changes) and a stop function.
func upWeb(ctx context.Context, srv *httpfront.Server, nc *nats.Conn, local *bus.Local, js jetstream.JetStream, dir subscriber.Directory,
	loc web.Locations, st store.Store, domains []string, tracer *obs.Tracer, log *slog.Logger, stdout io.Writer) (ctd.Authenticate, func(), error) {
	if srv == nil {
		return nil, func() {}, nil
	}
	cfg := web.DefaultConfig()
	cfg.Domains = domains
	if v := os.Getenv("SIPBUS_WEB_SECRET"); v != "" {
		k, err := hex.DecodeString(v)
		if err != nil || len(k) < 32 {
			return nil, nil, fmt.Errorf("$SIPBUS_WEB_SECRET: want at least 32 bytes in hex (openssl rand -hex 32)")
		}
		cfg.SessionKey = k
	} else {
		cfg.SessionKey = make([]byte, 32)
		_, _ = rand.Read(cfg.SessionKey)
	}
	w, err := web.New(cfg, web.Deps{NC: nc, JS: js, Directory: dir, Locations: loc, State: web.StateFor(st, dir), Log: log, Tracer: tracer, Local: local})
	if err != nil {
		return nil, nil, err
	}
	if err := w.Start(ctx); err != nil {
		return nil, nil, err
	}
	w.Mount(srv.Mux)
	fmt.Fprintf(stdout, "  web    %s/ (sign in with a subscriber's address and password)\n", srv.URL())
	return w.Authenticate, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Shutdown(sctx)
	}, nil
}
