// Package config is the configuration of the SIP edge: what it listens on,
// what it advertises, and the limits that keep bad peers from hurting it.
// It is the edge's settings struct in the one service shape (pkg/service):
// every field is a YAML key, a flag (--tcp-idle) and a variable
// (SIPBUS_EDGE_TCP_IDLE); where NATS is, the HTTP address and logging are
// the common settings of pkg/service.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// Config configures one edge instance. Zero values take the defaults of
// Defaults (listed in the Settings table of services/edge/README.md).
type Config struct {
	// ID names this edge instance in events, flow ids and the subjects of
	// the messages it sends (sip.*.out.<id>.>). Default: "edge-" + host
	// name.
	ID string `yaml:"id" help:"edge id, unique per process: [A-Za-z0-9_-], at most 32 characters, not any (default edge-HOSTNAME)"`

	// UDP and TCP are the listen addresses (ip:port). "off" (or "-")
	// disables a transport.
	UDP string `yaml:"udp" help:"UDP listen address ip:port, or off"`
	TCP string `yaml:"tcp" help:"TCP listen address ip:port, or off"`

	// TLS, WS and WSS are the listen addresses (ip:port) of SIP over TLS
	// (RFC 3261 §26, RFC 5630), over WebSocket and over secure WebSocket
	// (RFC 7118). Default off ("", "off" or "-").
	TLS string `yaml:"tls" help:"TLS listen address ip:port (5061 by convention), or off"`
	WS  string `yaml:"ws" help:"WebSocket listen address ip:port (RFC 7118), or off"`
	WSS string `yaml:"wss" help:"secure WebSocket listen address ip:port, or off"`

	// TLSCert and TLSKey are PEM files, the certificate chain and its key,
	// of the tls and wss listeners; they are read again when they change.
	// Without them a self-signed certificate is made in memory, and only
	// when every tls and wss listener is on a loopback address.
	TLSCert string `yaml:"tls_cert" help:"PEM certificate chain of the tls and wss listeners, re-read when it changes (none: self-signed in memory, loopback listeners only)"`
	TLSKey  string `yaml:"tls_key" help:"PEM private key of tls_cert"`

	// TLSCA are PEM files of CAs trusted, besides the system's, when the
	// edge verifies the certificate of a server it connects to.
	TLSCA []string `yaml:"tls_ca" help:"PEM files of CAs trusted, besides the system's, for TLS servers the edge connects to"`

	// TLSInsecure connects to TLS servers without verifying their
	// certificate. For tests only.
	TLSInsecure bool `yaml:"tls_insecure" help:"do not verify the certificates of TLS servers the edge connects to (tests only)"`

	// WSOrigins are the origins of web pages allowed to open a WebSocket
	// beyond the same origin; a client without Origin (not a browser) is
	// always accepted.
	WSOrigins []string `yaml:"ws_origins" help:"origins (https://host[:port]) of web pages allowed to open a WebSocket, or * (default: the same origin only)"`

	// Advertise is the host:port put in Via and Record-Route by services
	// that send through this edge (a NAT or load-balancer address).
	// Default: the bound UDP (else TCP) listen address.
	Advertise string `yaml:"advertise" help:"host:port other services put in Via and Record-Route for this edge, e.g. a load balancer's (default: the first bound listener)"`

	// Workers is the number of goroutines processing UDP datagrams.
	Workers int `yaml:"workers" help:"goroutines processing UDP datagrams (parse, check, publish)"`

	// Queue is how many datagrams may wait for a worker before new ones are
	// dropped (and counted).
	Queue int `yaml:"queue" help:"datagrams that may wait for a worker before new ones are dropped"`

	// MaxMessage is the largest message accepted, in bytes, on any
	// transport (at most 1 MiB).
	MaxMessage int `yaml:"max_message" help:"largest message accepted on any transport, in bytes (at most 1048576)"`

	// TCPIdle closes a connection (tcp, tls, ws, wss) that received
	// nothing, keep-alives included, for this long; an idle WebSocket is
	// pinged first. TCPMaxConns bounds the open connections of every
	// transport together, handshakes included.
	TCPIdle     time.Duration `yaml:"tcp_idle" help:"close a connection (tcp, tls, ws, wss) that received nothing for this long"`
	TCPMaxConns int           `yaml:"tcp_max_conns" help:"open connections of every transport together, handshakes included"`

	// CacheMax bounds the server transactions the edge remembers to answer
	// retransmissions itself; past it they are answered by tm.
	CacheMax int `yaml:"cache_max" help:"server transactions remembered to answer retransmissions (past it tm answers them)"`

	// Republish: a request still unanswered this long is handed to the bus
	// again when it is retransmitted (the replica that had it may have
	// died).
	Republish time.Duration `yaml:"republish" help:"hand a retransmitted request to the bus again when it is unanswered this long"`

	// QueueTarget and QueueInterval drive overload control (bus.Overload):
	// once datagrams waited QueueTarget or longer for a worker, on
	// average, over two QueueIntervals in a row, or while a tm or
	// registrar replica reports the same of its own queue, new dialogs get
	// 503 with Retry-After (RetryAfter seconds), until an interval
	// averages under half the target.
	QueueTarget   time.Duration `yaml:"queue_target" help:"overload control: the average queue delay (over two intervals in a row) from which new dialogs get 503"`
	QueueInterval time.Duration `yaml:"queue_interval" help:"overload control: the window the queue delay is averaged over"`
	RetryAfter    int           `yaml:"retry_after" help:"seconds in the Retry-After of the edge's 503s"`

	// SLSecret keys the to-tags of stateless replies so that any edge with
	// the same secret recognises the ACK to them. Set the same value on
	// every edge of a deployment. Default: random per process. Never logged.
	SLSecret string `yaml:"sl_secret" env:"SIPBUS_SL_SECRET" secret:"true" help:"key of the to-tags of stateless replies, the same on every edge (default: random per process)"`

	// Server is the Server header of replies the edge sends itself.
	Server string `yaml:"server" help:"Server header of the replies the edge sends itself"`

	// Supported option tags; a Proxy-Require outside this list gets 420.
	Supported []string `yaml:"supported" help:"option tags supported; a Proxy-Require of another gets 420"`

	// Drain bounds the graceful stop (SIGTERM): the edge answers new
	// dialogs and registrations 503 (reason "Shutting Down", with
	// Retry-After) and goes on with every transaction and dialog that had
	// started, until none awaits a final response and none of their
	// messages came for DrainQuiet (1s), or none came for DrainStalled
	// (3s), or Drain passed. Keep it below shutdown_timeout.
	Drain time.Duration `yaml:"drain" help:"graceful stop: the longest the edge answers new dialogs 503 while what had started finishes (keep it below shutdown_timeout)"`

	// Flood control (the heir of Kamailio's pike; see app.Flood): a source
	// (an IPv4 address, an IPv6 /64) sending more than FloodLimit requests
	// in a sliding FloodWindow is blocked for FloodBlock: its datagrams are
	// dropped unread, its TCP connections closed and new ones refused, and
	// a sipbus.edge.blocked event is published. Responses never count.
	// Defaults: 1000 requests per 2s (500/s: a PBX with a hundred calls a
	// second passes; a phone sends a few a minute), blocked for 60s;
	// FloodLimit -1 turns flood control off.
	FloodLimit  int           `yaml:"flood_limit" help:"flood control: requests one source (an IPv4 address, an IPv6 /64) may send per flood_window; -1 turns flood control off"`
	FloodWindow time.Duration `yaml:"flood_window" help:"flood control: the sliding window of flood_limit (10ms to 1h)"`
	FloodBlock  time.Duration `yaml:"flood_block" help:"flood control: how long a source past its limit is blocked (datagrams dropped, connections closed)"`

	// FloodAllow lists the sources never limited, as CIDR prefixes or
	// addresses: trunks, an SBC in front, monitoring. The default is this
	// host's own loopback addresses (no packet from the network carries
	// them: RFC 1122 §3.2.1.3); the rest of 127.0.0.0/8 is limited like
	// any source. ["none"] exempts nothing.
	FloodAllow []string `yaml:"flood_allow" help:"flood control: sources never limited, CIDR prefixes or addresses (trunks, an SBC); none exempts nothing"`

	// FloodSources bounds the sources tracked at once (about 100 bytes
	// each); past it a new source replaces the least active one that is
	// not blocked (see app.Flood).
	FloodSources int `yaml:"flood_sources" help:"flood control: sources tracked at most (about 100 bytes each)"`
}

// DrainQuiet is how long a draining edge waits for no started work
// before it stops, DrainStalled how long when transactions still await
// their final response (see Drain and app.Edge.Idle).
const (
	DrainQuiet   = time.Second
	DrainStalled = 3 * time.Second
)

// DefaultFloodAllow is the default FloodAllow.
var DefaultFloodAllow = []string{"127.0.0.1/32", "::1/128"}

// FloodOff is the FloodLimit that turns flood control off.
const FloodOff = -1

// Defaults returns cfg with every zero field set to its default.
func (c Config) Defaults() Config {
	if c.ID == "" {
		h, _ := os.Hostname()
		c.ID = "edge-" + sanitizeID(h)
	}
	if c.UDP == "" {
		c.UDP = "127.0.0.1:5060"
	}
	if c.TCP == "" {
		c.TCP = "127.0.0.1:5060"
	}
	if c.Workers == 0 {
		c.Workers = 16
	}
	if c.Queue == 0 {
		c.Queue = 4096
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = 65535
	}
	if c.TCPIdle == 0 {
		c.TCPIdle = 5 * time.Minute
	}
	if c.TCPMaxConns == 0 {
		c.TCPMaxConns = 10000
	}
	if c.CacheMax == 0 {
		c.CacheMax = 500_000
	}
	if c.Republish == 0 {
		c.Republish = 2 * time.Second
	}
	if c.QueueTarget == 0 {
		c.QueueTarget = bus.DefaultQueueTarget
	}
	if c.QueueInterval == 0 {
		c.QueueInterval = bus.DefaultQueueInterval
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = 5
	}
	if c.Server == "" {
		c.Server = "sipbus"
	}
	if c.Supported == nil {
		c.Supported = []string{"path"}
	}
	if c.Drain == 0 {
		c.Drain = 30 * time.Second
	}
	if c.FloodLimit == 0 {
		c.FloodLimit = 1000
	}
	if c.FloodWindow == 0 {
		c.FloodWindow = 2 * time.Second
	}
	if c.FloodBlock == 0 {
		c.FloodBlock = time.Minute
	}
	if c.FloodAllow == nil {
		c.FloodAllow = append([]string(nil), DefaultFloodAllow...)
	}
	if c.FloodSources == 0 {
		c.FloodSources = 100_000
	}
	return c
}

// FloodAllowPrefixes parses FloodAllow: CIDR prefixes, or addresses (a /32
// or /128); "none" alone is the empty list.
func (c Config) FloodAllowPrefixes() ([]netip.Prefix, error) {
	if len(c.FloodAllow) == 1 && c.FloodAllow[0] == "none" {
		return nil, nil
	}
	var out []netip.Prefix
	var errs []error
	for _, s := range c.FloodAllow {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		} else {
			errs = append(errs, fmt.Errorf("flood_allow: %q is not a CIDR prefix or an IP address (\"none\" alone exempts nothing)", s))
		}
	}
	return out, errors.Join(errs...)
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Validate reports every problem of c, each naming its key.
func (c Config) Validate() error {
	var errs []error
	if !idRE.MatchString(c.ID) {
		errs = append(errs, fmt.Errorf("id: %q must be 1-32 characters of [A-Za-z0-9_-]", c.ID))
	} else if c.ID == "any" {
		errs = append(errs, fmt.Errorf("id: %q is reserved (the subject token of messages any edge may send)", c.ID))
	}
	if Off(c.UDP) && Off(c.TCP) && Off(c.TLS) && Off(c.WS) && Off(c.WSS) {
		errs = append(errs, errors.New("udp, tcp, tls, ws, wss: every listener is off; at least one transport must be enabled"))
	}
	for _, a := range []struct{ key, v string }{{"udp", c.UDP}, {"tcp", c.TCP}, {"tls", c.TLS}, {"ws", c.WS}, {"wss", c.WSS}} {
		if Off(a.v) {
			continue
		}
		if _, err := netip.ParseAddrPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not ip:port: %v", a.key, a.v, err))
		}
	}
	errs = append(errs, c.validateTLS()...)
	if c.Advertise == "" {
		// filled in from the bound address
	} else if _, p, err := net.SplitHostPort(c.Advertise); err != nil {
		errs = append(errs, fmt.Errorf("advertise: %q is not host:port: %v", c.Advertise, err))
	} else if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("advertise: %q needs a port 1-65535", c.Advertise))
	}
	positive := []struct {
		key string
		v   int64
	}{
		{"workers", int64(c.Workers)}, {"queue", int64(c.Queue)}, {"max_message", int64(c.MaxMessage)},
		{"tcp_idle", int64(c.TCPIdle)}, {"tcp_max_conns", int64(c.TCPMaxConns)},
		{"cache_max", int64(c.CacheMax)}, {"republish", int64(c.Republish)},
		{"queue_target", int64(c.QueueTarget)}, {"queue_interval", int64(c.QueueInterval)},
		{"retry_after", int64(c.RetryAfter)}, {"drain", int64(c.Drain)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", p.key))
		}
	}
	if c.FloodLimit <= 0 && c.FloodLimit != FloodOff {
		errs = append(errs, fmt.Errorf("flood_limit: %d must be positive, or -1 (off)", c.FloodLimit))
	}
	if c.FloodWindow < 10*time.Millisecond || c.FloodWindow > time.Hour {
		errs = append(errs, fmt.Errorf("flood_window: %v must be within 10ms..1h", c.FloodWindow))
	}
	if c.FloodBlock <= 0 || c.FloodBlock > 24*time.Hour {
		errs = append(errs, fmt.Errorf("flood_block: %v must be positive and at most 24h", c.FloodBlock))
	}
	if c.FloodSources <= 0 {
		errs = append(errs, errors.New("flood_sources: must be positive"))
	}
	if _, err := c.FloodAllowPrefixes(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxMessage > 1<<20 {
		errs = append(errs, fmt.Errorf("max_message: %d is over the 1 MiB limit", c.MaxMessage))
	}
	return errors.Join(errs...)
}

// Off reports a listen address that disables its transport: "", "-" or
// "off". (UDP and TCP are on by default: Defaults fills an empty one.)
func Off(addr string) bool { return addr == "" || addr == "-" || addr == "off" }

// SelfSignedTLS reports whether the tls and wss listeners use a
// self-signed certificate made in memory: no files are configured.
func (c Config) SelfSignedTLS() bool { return c.TLSCert == "" && c.TLSKey == "" }

// validateTLS checks the certificate settings: both files or neither; a
// listener off loopback needs them; origins are scheme://host or "*".
func (c Config) validateTLS() []error {
	var errs []error
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls_cert, tls_key: give both or neither"))
	}
	if c.SelfSignedTLS() {
		for _, a := range []struct{ key, v string }{{"tls", c.TLS}, {"wss", c.WSS}} {
			if Off(a.v) {
				continue
			}
			if ap, err := netip.ParseAddrPort(a.v); err == nil && !ap.Addr().IsLoopback() {
				errs = append(errs, fmt.Errorf("tls_cert, tls_key: required for the %s listener on %s (a self-signed certificate is made only for loopback listeners)", a.key, a.v))
			}
		}
	}
	for _, o := range c.WSOrigins {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("ws_origins: %q is not an origin (scheme://host[:port], http or https) or *", o))
		}
	}
	return errs
}

func sanitizeID(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(out) < 26; i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '-', ch == '_':
			out = append(out, ch)
		default:
			out = append(out, '-')
		}
	}
	if len(out) == 0 {
		return "local"
	}
	return string(out)
}
