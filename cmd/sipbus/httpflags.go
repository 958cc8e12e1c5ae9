package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/sipbus/sipbus/pkg/httpfront"
)

// defaultHTTPPort is where `sipbus up` serves HTTP (the click-to-dial API,
// the web page, health) when --sip is on 5060.
const defaultHTTPPort = 8080

// httpFlag is --http: the process's HTTP address (pkg/httpfront). Like the
// TLS and WebSocket listeners it defaults to the --sip host, at 8080 when
// --sip is on 5060 and else on a port the system picks (printed on the http
// line), so that several test instances do not collide; "off" serves none.
type httpFlag struct{ addr *string }

func addHTTPFlag(fs *flag.FlagSet) httpFlag {
	return httpFlag{fs.String("http", "", "HTTP address ip:port for the click-to-dial API, the web page and /healthz, or off (default: the --sip host at 8080 when --sip is on 5060, else a free port)")}
}

// listen binds the address (nil, nil when off). sip is the --sip value.
func (f httpFlag) listen(sip string, log *slog.Logger) (*httpfront.Server, error) {
	v := strings.TrimSpace(*f.addr)
	switch v {
	case "off", "-":
		return nil, nil
	case "":
		ap, err := netip.ParseAddrPort(sip)
		if err != nil {
			return nil, errUsage{fmt.Errorf("--sip: want ip:port: %v", err)}
		}
		port := uint16(defaultHTTPPort)
		if ap.Port() != 5060 {
			port = 0
		}
		v = netip.AddrPortFrom(ap.Addr(), port).String()
	default:
		if _, err := netip.ParseAddrPort(v); err != nil {
			return nil, errUsage{fmt.Errorf("--http: want ip:port or off: %v", err)}
		}
	}
	s, err := httpfront.Listen(v, log)
	if err != nil {
		return nil, fmt.Errorf("--http %s: %w", v, err)
	}
	return s, nil
}
