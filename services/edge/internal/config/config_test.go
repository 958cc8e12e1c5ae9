package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

func TestDefaultsValidate(t *testing.T) {
	c := Config{}.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.UDP != "127.0.0.1:5060" || c.Advertise != "" || c.Republish != 2*time.Second || c.QueueTarget != bus.DefaultQueueTarget {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestValidateNamesEveryKey(t *testing.T) {
	c := Config{ID: "bad id!", UDP: "nope", TCP: "-", Advertise: "x", Workers: -1}.Defaults()
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config validated")
	}
	for _, key := range []string{"id:", "udp:", "advertise:", "workers:"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
}

func TestFloodConfig(t *testing.T) {
	c := Config{}.Defaults()
	if c.FloodLimit != 1000 || c.FloodWindow != 2*time.Second || c.FloodBlock != time.Minute || c.FloodSources != 100_000 {
		t.Fatalf("flood defaults: %+v", c)
	}
	allow, err := c.FloodAllowPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	exempt := func(ps []netip.Prefix, s string) bool {
		for _, p := range ps {
			if p.Contains(netip.MustParseAddr(s)) {
				return true
			}
		}
		return false
	}
	for addr, want := range map[string]bool{"127.0.0.1": true, "::1": true, "127.0.0.2": false, "192.0.2.1": false} {
		if exempt(allow, addr) != want {
			t.Errorf("default allow list exempts %s: %v, want %v", addr, !want, want)
		}
	}
	c.FloodAllow = []string{"none"}
	if allow, err := c.FloodAllowPrefixes(); err != nil || len(allow) != 0 {
		t.Errorf("none: %v %v", allow, err)
	}
	c.FloodAllow = []string{"198.51.100.7", "2001:db8::/32", "10.1.2.3/8"}
	allow, err = c.FloodAllowPrefixes()
	if err != nil || len(allow) != 3 || allow[0].String() != "198.51.100.7/32" || allow[2].String() != "10.0.0.0/8" {
		t.Errorf("allow list %v %v", allow, err)
	}

	bad := Config{FloodLimit: -2, FloodWindow: time.Millisecond, FloodBlock: -time.Second, FloodAllow: []string{"10.0.0.0/33", "nope"}}.Defaults()
	err = bad.Validate()
	for _, key := range []string{"flood_limit:", "flood_window:", "flood_block:", `flood_allow: "10.0.0.0/33"`, `flood_allow: "nope"`} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
	off := Config{FloodLimit: FloodOff}.Defaults()
	if err := off.Validate(); err != nil {
		t.Errorf("flood_limit -1 (off): %v", err)
	}
}

// TestValidateTLS: a tls or wss listener off loopback needs certificate
// files, named in the error; on loopback a self-signed one is made; the
// files go together; origins are scheme://host or *.
func TestValidateTLS(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"loopback self-signed", Config{TLS: "127.0.0.1:5061", WSS: "[::1]:7443", WS: "127.0.0.1:5066"}, nil},
		{"public tls without files", Config{TLS: "0.0.0.0:5061"}, []string{"tls_cert, tls_key: required for the tls listener on 0.0.0.0:5061"}},
		{"public wss without files", Config{WSS: "192.0.2.1:7443"}, []string{"wss listener on 192.0.2.1:7443"}},
		{"public ws needs no files", Config{WS: "0.0.0.0:5066"}, nil},
		{"public tls with files", Config{TLS: "0.0.0.0:5061", TLSCert: "c.pem", TLSKey: "k.pem"}, nil},
		{"cert without key", Config{TLS: "127.0.0.1:5061", TLSCert: "c.pem"}, []string{"tls_cert, tls_key: give both or neither"}},
		{"bad address", Config{WS: "localhost:ws"}, []string{"ws: \"localhost:ws\" is not ip:port"}},
		{"origins", Config{WS: "127.0.0.1:5066", WSOrigins: []string{"https://phone.example.com", "*", "http://[::1]:8080"}}, nil},
		{"bad origin", Config{WS: "127.0.0.1:5066", WSOrigins: []string{"phone.example.com"}}, []string{`ws_origins: "phone.example.com"`}},
		{"origin with a path", Config{WS: "127.0.0.1:5066", WSOrigins: []string{"https://a.example/app"}}, []string{"ws_origins"}},
		{"every transport off", Config{UDP: "-", TCP: "-", TLS: "-"}, []string{"at least one transport"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Defaults().Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error naming %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}
