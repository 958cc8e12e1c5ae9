package store

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/rawio"
)

func TestParseRedisURL(t *testing.T) {
	cases := []struct {
		name      string
		url       string
		mode      string // simple, cluster, failover
		addrs     []string
		db        int
		master    string
		prefix    string
		opTimeout time.Duration
		tls       bool
	}{
		{name: "single", url: "redis://h:7000/2", mode: "simple", addrs: []string{"h:7000"}, db: 2},
		{name: "single defaults", url: "redis://", mode: "simple", addrs: []string{"localhost:6379"}},
		{name: "tls", url: "rediss://u:p@h:7000", mode: "simple", addrs: []string{"h:7000"}, tls: true},
		{name: "unix", url: "unix:///run/redis.sock?db=3", mode: "simple", addrs: []string{"/run/redis.sock"}, db: 3},
		{name: "own params", url: "redis://h:1/0?prefix=p1&op_timeout=250ms&dial_timeout=1s", mode: "simple",
			addrs: []string{"h:1"}, prefix: "p1", opTimeout: 250 * time.Millisecond},
		{name: "op_timeout bare ms", url: "redis://h:1?op_timeout=300", mode: "simple", addrs: []string{"h:1"}, opTimeout: 300 * time.Millisecond},
		{name: "op_timeout 0 disables", url: "redis://h:1?op_timeout=0", mode: "simple", addrs: []string{"h:1"}, opTimeout: -1},
		{name: "cluster list", url: "redis://u:p@h1:1,h2:2,h3:3", mode: "cluster", addrs: []string{"h1:1", "h2:2", "h3:3"}},
		{name: "cluster db 0", url: "redis://h1:1,h2:2/0", mode: "cluster", addrs: []string{"h1:1", "h2:2"}},
		{name: "cluster addr param", url: "redis://h1:1?addr=h2:2", mode: "cluster", addrs: []string{"h1:1", "h2:2"}},
		{name: "cluster one seed", url: "redis://redis-cluster:6379?cluster=true", mode: "cluster", addrs: []string{"redis-cluster:6379"}},
		{name: "sentinel", url: "redis://s1:26379,s2:26379/1?master_name=mymaster", mode: "failover",
			addrs: []string{"s1:26379", "s2:26379"}, db: 1, master: "mymaster"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseRedisURL(tc.url)
			if err != nil {
				t.Fatalf("parseRedisURL(%q): %v", tc.url, err)
			}
			var (
				mode, master      string
				addrs             []string
				db                int
				tls, ctxTO, rawIO bool
			)
			switch {
			case cfg.simple != nil:
				mode, addrs, db, tls, ctxTO = "simple", []string{cfg.simple.Addr}, cfg.simple.DB, cfg.simple.TLSConfig != nil, cfg.simple.ContextTimeoutEnabled
				rawIO = cfg.simple.Dialer != nil
			case cfg.cluster != nil:
				mode, addrs, tls, ctxTO = "cluster", cfg.cluster.Addrs, cfg.cluster.TLSConfig != nil, cfg.cluster.ContextTimeoutEnabled
				rawIO = cfg.cluster.Dialer != nil
			case cfg.failover != nil:
				mode, addrs, db, master, tls, ctxTO = "failover", cfg.failover.SentinelAddrs, cfg.failover.DB, cfg.failover.MasterName, cfg.failover.TLSConfig != nil, cfg.failover.ContextTimeoutEnabled
				rawIO = cfg.failover.Dialer != nil
			}
			if rawIO == tls {
				t.Errorf("raw dialer set: %v with TLS %v; want it on every plain connection, never with TLS (go-redis's dialer does the handshake)", rawIO, tls)
			}
			if mode != tc.mode || !slices.Equal(addrs, tc.addrs) || db != tc.db || master != tc.master || tls != tc.tls {
				t.Errorf("got %s %q db %d master %q tls %v; want %s %q db %d master %q tls %v",
					mode, addrs, db, master, tls, tc.mode, tc.addrs, tc.db, tc.master, tc.tls)
			}
			if !ctxTO {
				t.Errorf("ContextTimeoutEnabled = false; the op timeout would not bound reads")
			}
			if cfg.store.Prefix != tc.prefix || cfg.store.OpTimeout != tc.opTimeout {
				t.Errorf("store options = %+v, want prefix %q op timeout %v", cfg.store, tc.prefix, tc.opTimeout)
			}
		})
	}
}

// The dialer of a plain redis:// URL hands go-redis connections with raw
// reads and writes (package rawio).
func TestRawDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_ = c.Close()
		}
	}()
	cfg, err := parseRedisURL("redis://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := cfg.simple.Dialer(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*rawio.Conn); !ok {
		t.Fatalf("dialed a %T, want a *rawio.Conn", c)
	}
}

func TestParseRedisURLInvalid(t *testing.T) {
	for _, url := range []string{
		"http://h:1",
		"h:1",
		"redis://h:1/notadb",
		"redis://h:1/1/2",
		"redis://h1:1,h2:2/3",
		"redis://h:1?op_timeout=soon",
		"redis://h:1?prefix=",
		"redis://h:1?prefix=%7Bx%7D",
		"redis://h:1?no_such_option=1",
		"redis://h:1?%zz",
	} {
		if _, err := parseRedisURL(url); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseRedisURL(%q) = %v, want ErrInvalid", url, err)
		}
	}
}
