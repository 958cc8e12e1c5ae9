package edge

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sipbus/sipbus/services/edge/internal/app"
	"github.com/sipbus/sipbus/services/edge/internal/config"
	"github.com/sipbus/sipbus/services/edge/internal/ports"
)

// transports in the order the edge lists them.
var transports = []string{app.UDP, app.TCP, app.TLS, app.WS, app.WSS}

// listen binds the listeners the config asks for; on failure none stays bound.
func (e *Edge) listen(cfg Config, log *slog.Logger) (err error) {
	e.udp, e.streams = nil, map[string]*ports.Listener{}
	defer func() {
		if err != nil {
			e.closeListeners()
		}
	}()
	if !config.Off(cfg.UDP) {
		e.udp, err = ports.ListenUDP(cfg.UDP, ports.UDPOptions{
			Workers: cfg.Workers, Queue: cfg.Queue, MaxMessage: cfg.MaxMessage, Gate: e.gate(), Counters: e.counters, Log: log,
		})
		if err != nil {
			return err
		}
	}
	for _, l := range []struct{ transport, addr string }{
		{app.TCP, cfg.TCP}, {app.TLS, cfg.TLS}, {app.WS, cfg.WS}, {app.WSS, cfg.WSS},
	} {
		if config.Off(l.addr) {
			continue
		}
		addr := l.addr
		// With both on port 0, put TCP on the port UDP got, as SIP expects.
		if l.transport == app.TCP && e.udp != nil && cfg.UDP == cfg.TCP {
			if ap, _ := netip.ParseAddrPort(addr); ap.Port() == 0 {
				addr = e.udp.Addr().String()
			}
		}
		ln, err := ports.Listen(l.transport, addr, e.flows)
		if err != nil {
			return err
		}
		e.streams[l.transport] = ln
	}
	return nil
}

func bothEphemeral(cfg Config) bool {
	ap, err := netip.ParseAddrPort(cfg.UDP)
	return err == nil && cfg.UDP == cfg.TCP && ap.Port() == 0
}

func (e *Edge) closeListeners() {
	if e.udp != nil {
		_ = e.udp.Close()
	}
	for _, l := range e.streams {
		_ = l.Close()
	}
}

// selfSignedHosts are the names of the self-signed certificate: localhost
// and the addresses of the tls and wss listeners (loopback: Validate made
// sure).
func selfSignedHosts(cfg Config) []string {
	hosts := []string{"localhost"}
	for _, a := range []string{cfg.TLS, cfg.WSS} {
		if ap, err := netip.ParseAddrPort(a); err == nil && !slices.Contains(hosts, ap.Addr().String()) {
			hosts = append(hosts, ap.Addr().String())
		}
	}
	return hosts
}

// firstAddr is the address of the first listener (udp first).
func (e *Edge) firstAddr() string {
	for _, tr := range transports {
		if a := e.Addr(tr); a.IsValid() {
			return a.String()
		}
	}
	return ""
}

// UDPAddr is the bound UDP listen address (invalid when disabled).
func (e *Edge) UDPAddr() netip.AddrPort {
	if e.udp == nil {
		return netip.AddrPort{}
	}
	return e.udp.Addr()
}

// TCPAddr is the bound TCP listen address (invalid when disabled).
func (e *Edge) TCPAddr() netip.AddrPort { return e.Addr(app.TCP) }

// TLSAddr is the bound TLS listen address (invalid when disabled).
func (e *Edge) TLSAddr() netip.AddrPort { return e.Addr(app.TLS) }

// WSAddr is the bound WebSocket listen address (invalid when disabled).
func (e *Edge) WSAddr() netip.AddrPort { return e.Addr(app.WS) }

// WSSAddr is the bound secure WebSocket listen address (invalid when disabled).
func (e *Edge) WSSAddr() netip.AddrPort { return e.Addr(app.WSS) }

// Addr is the bound listen address of transport ("udp", "tcp", "tls",
// "ws", "wss"); invalid when it is disabled.
func (e *Edge) Addr(transport string) netip.AddrPort {
	if transport == app.UDP {
		return e.UDPAddr()
	}
	if l := e.streams[transport]; l != nil {
		return l.Addr()
	}
	return netip.AddrPort{}
}

// Listeners lists every listener the way `sipbus up` prints it: "udp ADDR,
// tcp ADDR, tls ADDR, ws ADDR, wss ADDR", "off" for a disabled one.
func (e *Edge) Listeners() string {
	var b strings.Builder
	for i, tr := range transports {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tr + " ")
		if a := e.Addr(tr); a.IsValid() {
			b.WriteString(a.String())
		} else {
			b.WriteString("off")
		}
	}
	return b.String()
}

// SelfSignedTLS reports whether tls or wss serve a self-signed certificate
// made in memory (no tls_cert / tls_key), and the names it is for.
func (e *Edge) SelfSignedTLS() (bool, []string) {
	if !e.cfg.SelfSignedTLS() || (!e.TLSAddr().IsValid() && !e.WSSAddr().IsValid()) {
		return false, nil
	}
	return true, selfSignedHosts(e.cfg)
}

// Flows is the number of open connections over tcp, tls, ws and wss,
// handshakes in progress included.
func (e *Edge) Flows() int { return e.flows.Conns() }

// Banner is what `sipbus edge`, the edge's own main and `sipbus up` print
// before "ready": the sip line (every listener as Listeners prints them),
// the edge id, and the certificate the tls and wss listeners serve.
func (e *Edge) Banner() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  sip    %s\n", e.Listeners())
	fmt.Fprintf(&b, "  edge   %s\n", e.ID())
	if self, hosts := e.SelfSignedTLS(); self {
		fmt.Fprintf(&b, "  tls    self-signed certificate for %s (made now, in memory; --tls-cert and --tls-key for a real one)\n", strings.Join(hosts, ", "))
	} else if e.cfg.TLSCert != "" && (e.TLSAddr().IsValid() || e.WSSAddr().IsValid()) {
		fmt.Fprintf(&b, "  tls    certificate %s (re-read when it changes)\n", strconv.Quote(e.cfg.TLSCert))
	}
	return b.String()
}
