// Package config is the configuration of the SIP edge: what it listens on,
// what it advertises, and the limits that keep bad peers from hurting it.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sipbus/sipbus/pkg/bus"
)

// Config configures one edge instance. Zero values take the defaults named
// in each field's comment (see Defaults).
type Config struct {
	// ID names this edge instance in events, flow ids and the subjects of
	// the messages it sends (sip.*.out.<id>.>). [A-Za-z0-9_-], at most 32
	// chars, not "any".
	// Default: "edge-" + host name.
	ID string `yaml:"id" env:"SIPBUS_EDGE_ID"`

	// NATS is the NATS server URL (or several, comma-separated) of the
	// edge's own main (services/edge/cmd/edge); `sipbus up` and `sipbus
	// edge` take --nats instead. Default: $NATS_URL, else
	// nats://127.0.0.1:4222. The variable is the one every service reads.
	NATS string `yaml:"nats" env:"SIPBUS_NATS_URL"`

	// StreamReplicas is the replica count the edge creates the event
	// stream with when it does not exist yet: 3 on a three-node NATS
	// cluster (k8s/overlays/prod), 1 on a single server. Default 1.
	StreamReplicas int `yaml:"stream_replicas" env:"SIPBUS_STREAM_REPLICAS"`

	// UDP and TCP are the listen addresses (host:port). Default
	// 127.0.0.1:5060 for both. "-" disables a transport.
	UDP string `yaml:"udp" env:"SIPBUS_EDGE_UDP"`
	TCP string `yaml:"tcp" env:"SIPBUS_EDGE_TCP"`

	// TLS, WS and WSS are the listen addresses (ip:port) of SIP over TLS
	// (RFC 3261 §26, RFC 5630), over WebSocket and over secure WebSocket
	// (RFC 7118). Default "": off (`sipbus up` and `sipbus edge` turn them
	// on, at 5061, 5066 and 7443 on loopback). "-" is off too.
	TLS string `yaml:"tls" env:"SIPBUS_EDGE_TLS"`
	WS  string `yaml:"ws" env:"SIPBUS_EDGE_WS"`
	WSS string `yaml:"wss" env:"SIPBUS_EDGE_WSS"`

	// TLSCert and TLSKey are PEM files, the certificate chain and its key,
	// of the tls and wss listeners; they are read again when they change.
	// Default none: then a self-signed certificate is made in memory, and
	// only when every tls and wss listener is on a loopback address (a
	// listener others can reach needs a real certificate: the edge refuses
	// to start without one).
	TLSCert string `yaml:"tls_cert" env:"SIPBUS_EDGE_TLS_CERT"`
	TLSKey  string `yaml:"tls_key" env:"SIPBUS_EDGE_TLS_KEY"`

	// TLSCA are PEM files of CAs trusted, besides the system's, when the
	// edge verifies the certificate of a server it connects to (a sips: or
	// transport=tls target). Default none.
	TLSCA []string `yaml:"tls_ca" env:"SIPBUS_EDGE_TLS_CA"`

	// TLSInsecure connects to TLS servers without verifying their
	// certificate. For tests only: anybody on the path can then pose as
	// the server. Default false.
	TLSInsecure bool `yaml:"tls_insecure" env:"SIPBUS_EDGE_TLS_INSECURE"`

	// WSOrigins are the origins (scheme://host[:port]) of web pages
	// allowed to open a WebSocket to the edge, or "*" for any. A page may
	// always connect to the host that served it (same origin), and a
	// client that sends no Origin (not a browser) is always accepted.
	// Default none beyond that.
	WSOrigins []string `yaml:"ws_origins" env:"SIPBUS_EDGE_WS_ORIGINS"`

	// Advertise is the host:port put in Via and Record-Route by services
	// that send through this edge (for example a NAT or load-balancer
	// address). Default: the bound UDP (else TCP) listen address.
	Advertise string `yaml:"advertise" env:"SIPBUS_EDGE_ADVERTISE"`

	// Workers is the number of goroutines processing UDP datagrams (parse,
	// check, publish: CPU work, nothing waits for Redis). Default 16.
	Workers int `yaml:"workers" env:"SIPBUS_EDGE_WORKERS"`

	// Queue is how many datagrams may wait for a worker before new ones are
	// dropped (and counted). Default 4096.
	Queue int `yaml:"queue" env:"SIPBUS_EDGE_QUEUE"`

	// MaxMessage is the largest message accepted, in bytes, on any
	// transport. Default 65535.
	MaxMessage int `yaml:"max_message" env:"SIPBUS_EDGE_MAX_MESSAGE"`

	// TCPIdle closes a connection (tcp, tls, ws, wss) that received
	// nothing, keep-alives included, for this long; an idle WebSocket is
	// pinged first and closed when it does not answer. Default 5m.
	// TCPMaxConns bounds the open connections of every transport
	// together, handshakes included; default 10000.
	TCPIdle     time.Duration `yaml:"tcp_idle" env:"SIPBUS_EDGE_TCP_IDLE"`
	TCPMaxConns int           `yaml:"tcp_max_conns" env:"SIPBUS_EDGE_TCP_MAX_CONNS"`

	// CacheMax bounds the server transactions the edge remembers to answer
	// retransmissions itself; past it they are answered by tm. Default
	// 500000.
	CacheMax int `yaml:"cache_max" env:"SIPBUS_EDGE_CACHE_MAX"`

	// Republish: a request still unanswered this long is handed to the bus
	// again when it is retransmitted (the replica that had it may have
	// died). Default 2s.
	Republish time.Duration `yaml:"republish" env:"SIPBUS_EDGE_REPUBLISH"`

	// QueueTarget and QueueInterval drive overload control: while
	// datagrams wait longer than QueueTarget for a worker for a whole
	// QueueInterval, or a tm or registrar replica reports the same of its
	// own queue, new dialogs get 503 with Retry-After. Defaults 50ms,
	// 100ms. RetryAfter is the seconds in those replies; default 5.
	QueueTarget   time.Duration `yaml:"queue_target" env:"SIPBUS_EDGE_QUEUE_TARGET"`
	QueueInterval time.Duration `yaml:"queue_interval" env:"SIPBUS_EDGE_QUEUE_INTERVAL"`
	RetryAfter    int           `yaml:"retry_after" env:"SIPBUS_EDGE_RETRY_AFTER"`

	// SLSecret keys the to-tags of stateless replies so that any edge with
	// the same secret recognises the ACK to them. Set the same value on
	// every edge of a deployment. Default: random per process. Never logged.
	SLSecret string `yaml:"sl_secret" env:"SIPBUS_SL_SECRET"`

	// Server is the Server header of replies the edge sends itself.
	// Default "sipbus".
	Server string `yaml:"server" env:"SIPBUS_EDGE_SERVER"`

	// Supported option tags; a Proxy-Require outside this list gets 420.
	// Default: ["path"].
	Supported []string `yaml:"supported" env:"SIPBUS_EDGE_SUPPORTED"`

	// Drain bounds the graceful stop (SIGTERM): the edge answers new
	// dialogs and registrations 503 (reason "Shutting Down", with
	// Retry-After) and goes on with every transaction and dialog that had
	// started, until none awaits a final response and none of their
	// messages came for DrainQuiet (1s), or none came for DrainStalled
	// (3s), or Drain passed. Set the pod's
	// terminationGracePeriodSeconds above it. Default 30s.
	Drain time.Duration `yaml:"drain" env:"SIPBUS_EDGE_DRAIN"`

	// Flood control (the heir of Kamailio's pike; see app.Flood): a source
	// (an IPv4 address, an IPv6 /64) sending more than FloodLimit requests
	// in a sliding FloodWindow is blocked for FloodBlock: its datagrams are
	// dropped unread, its TCP connections closed and new ones refused, and
	// a sipbus.edge.blocked event is published. Responses never count.
	// Defaults: 1000 requests per 2s (500/s: a PBX with a hundred calls a
	// second passes; a phone sends a few a minute), blocked for 60s;
	// FloodLimit -1 turns flood control off.
	FloodLimit  int           `yaml:"flood_limit" env:"SIPBUS_EDGE_FLOOD_LIMIT"`
	FloodWindow time.Duration `yaml:"flood_window" env:"SIPBUS_EDGE_FLOOD_WINDOW"`
	FloodBlock  time.Duration `yaml:"flood_block" env:"SIPBUS_EDGE_FLOOD_BLOCK"`

	// FloodAllow lists the sources never limited, as CIDR prefixes or
	// addresses: trunks, an SBC in front, monitoring. Default
	// ["127.0.0.1/32", "::1/128"], this host's own loopback addresses (no
	// packet from the network carries them: RFC 1122 §3.2.1.3); the rest
	// of 127.0.0.0/8 is limited like any source. ["none"] exempts nothing.
	FloodAllow []string `yaml:"flood_allow" env:"SIPBUS_EDGE_FLOOD_ALLOW"`

	// FloodSources bounds the sources tracked at once (about 100 bytes
	// each); past it a new source replaces the least active one that is
	// not blocked (see app.Flood). Default 100000.
	FloodSources int `yaml:"flood_sources" env:"SIPBUS_EDGE_FLOOD_SOURCES"`
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
	if c.UDP == "-" && c.TCP == "-" && Off(c.TLS) && Off(c.WS) && Off(c.WSS) {
		errs = append(errs, errors.New("udp, tcp, tls, ws, wss: at least one transport must be enabled"))
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
	if c.StreamReplicas < 0 || c.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("stream_replicas: %d must be 1-5 (JetStream's limit)", c.StreamReplicas))
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

// Off reports a listen address that disables its transport: "" or "-".
func Off(addr string) bool { return addr == "" || addr == "-" }

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

// Load decodes a YAML file strictly: an unknown key is an error with its line.
func Load(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
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
