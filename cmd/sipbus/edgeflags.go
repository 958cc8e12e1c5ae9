package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/sipbus/sipbus/services/edge"
)

// edgeFlags are the listener flags of `up` (`sipbus edge` takes the edge's
// settings instead: services/edge/README.md).
//
// --sip is UDP and TCP on one address; --udp and --tcp override either.
// TLS, WS and WSS listen on the --sip host at 5061, 5066 and 7443 when
// --sip is on port 5060 (the default), else on ports the system picks
// (printed on the sip line); each takes an address or "off". A listener
// for TLS or WSS off loopback needs --tls-cert and --tls-key; without
// them a self-signed certificate is made in memory, for loopback only, so
// TLS and WSS are on by default on loopback and off elsewhere unless a
// certificate is given.
type edgeFlags struct {
	sip, udp, tcp, tls, ws, wss *string
	cert, key                   *string
	ca, origins                 listFlag
	insecure                    *bool
}

// Well-known ports of the listeners beside SIP's 5060 (wss and ws as
// FreeSWITCH and many WebRTC gateways use them).
const (
	defaultTLSPort = 5061
	defaultWSPort  = 5066
	defaultWSSPort = 7443
)

func addEdgeFlags(fs *flag.FlagSet) *edgeFlags {
	f := &edgeFlags{
		sip:      fs.String("sip", "127.0.0.1:5060", "SIP listen address, UDP and TCP (ip:port)"),
		udp:      fs.String("udp", "", "UDP listen address, or off (default: --sip)"),
		tcp:      fs.String("tcp", "", "TCP listen address, or off (default: --sip)"),
		tls:      fs.String("tls", "", "TLS listen address, or off (default: the --sip host at 5061 when --sip is on 5060, else a free port; off for a non-loopback host without --tls-cert)"),
		ws:       fs.String("ws", "", "WebSocket listen address (RFC 7118), or off (default: the --sip host at 5066, or a free port as for --tls)"),
		wss:      fs.String("wss", "", "secure WebSocket listen address, or off (default: the --sip host at 7443, or a free port, as for --tls)"),
		cert:     fs.String("tls-cert", "", "PEM certificate chain for TLS and WSS, re-read when it changes (default: self-signed in memory, loopback only)"),
		key:      fs.String("tls-key", "", "PEM private key of --tls-cert"),
		insecure: fs.Bool("tls-insecure", false, "do not verify the certificates of TLS servers sipbus connects to (tests only)"),
	}
	fs.Var(&f.ca, "tls-ca", "PEM file of CAs trusted, besides the system's, for TLS servers sipbus connects to (repeatable)")
	fs.Var(&f.origins, "ws-origin", "origin (https://host[:port]) of web pages allowed to open a WebSocket, or * (repeatable; default: the same origin only)")
	return f
}

// config builds the edge's listener configuration from the flags given
// (fs.Visit), checking each and naming the flag of any problem.
func (f *edgeFlags) config(fs *flag.FlagSet) (edge.Config, error) {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var cfg edge.Config
	sip, err := netip.ParseAddrPort(*f.sip)
	if err != nil {
		return cfg, errUsage{fmt.Errorf("--sip: want ip:port: %v", err)}
	}
	if (*f.cert == "") != (*f.key == "") {
		return cfg, errUsage{errors.New("--tls-cert, --tls-key: give both or neither")}
	}
	haveCert := *f.cert != ""
	derived := func(port uint16) string {
		if sip.Port() != 5060 {
			port = 0
		}
		return netip.AddrPortFrom(sip.Addr(), port).String()
	}
	secureDefault := func(port uint16) string {
		if !sip.Addr().IsLoopback() && !haveCert {
			return "-" // a certificate is needed off loopback: not on by default
		}
		return derived(port)
	}
	for _, l := range []struct {
		name string
		val  *string
		def  string
		dst  *string
	}{
		{"udp", f.udp, *f.sip, &cfg.UDP},
		{"tcp", f.tcp, *f.sip, &cfg.TCP},
		{"tls", f.tls, secureDefault(defaultTLSPort), &cfg.TLS},
		{"ws", f.ws, derived(defaultWSPort), &cfg.WS},
		{"wss", f.wss, secureDefault(defaultWSSPort), &cfg.WSS},
	} {
		v := strings.TrimSpace(*l.val)
		switch {
		case !set[l.name]:
			v = l.def
		case v == "off" || v == "-":
			v = "-"
		default:
			ap, err := netip.ParseAddrPort(v)
			if err != nil {
				return cfg, errUsage{fmt.Errorf("--%s: want ip:port or off: %v", l.name, err)}
			}
			if (l.name == "tls" || l.name == "wss") && !haveCert && !ap.Addr().IsLoopback() {
				return cfg, errUsage{fmt.Errorf("--%s %s: needs --tls-cert and --tls-key (a self-signed certificate is made only for loopback listeners)", l.name, v)}
			}
		}
		*l.dst = v
	}
	if cfg.UDP == "-" && cfg.TCP == "-" && cfg.TLS == "-" && cfg.WS == "-" && cfg.WSS == "-" {
		return cfg, errUsage{errors.New("--udp, --tcp, --tls, --ws, --wss: every listener is off")}
	}
	cfg.TLSCert, cfg.TLSKey, cfg.TLSCA, cfg.TLSInsecure, cfg.WSOrigins = *f.cert, *f.key, f.ca, *f.insecure, f.origins
	return cfg, nil
}

// listenError names the flag of a listener that could not be set up.
func (f *edgeFlags) listenError(fs *flag.FlagSet, err error) error {
	var le *edge.ListenError
	if errors.As(err, &le) {
		return fmt.Errorf("--%s %s: %w", le.Transport, le.Addr, err)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch {
	case strings.Contains(err.Error(), "tls_cert") || strings.Contains(err.Error(), "tls_key"):
		return fmt.Errorf("--tls-cert %s, --tls-key %s: %w", *f.cert, *f.key, err)
	case strings.Contains(err.Error(), "tls_ca"):
		return fmt.Errorf("--tls-ca: %w", err)
	case set["udp"]:
		return fmt.Errorf("--udp %s: %w", *f.udp, err)
	}
	return fmt.Errorf("--sip %s: %w", *f.sip, err)
}

// printListeners writes the edge's banner (Edge.Banner: the sip line
// "udp ADDR, tcp ADDR, tls ADDR, ws ADDR, wss ADDR", the edge id and the
// certificate in use), as `sipbus edge` prints it.
func printListeners(w io.Writer, e *edge.Edge, _ *edgeFlags) {
	fmt.Fprint(w, e.Banner())
}
