package config

import (
	"os"
	"time"

	"github.com/sipbus/sipbus/pkg/bus"
)

// Config is tm's settings (pkg/service: each field is a YAML key, the
// flag --key and the variable SIPBUS_TM_KEY unless its env tag names a
// shared one). Default() holds the defaults; Validate completes,
// normalizes and checks them. Where NATS and Redis are, the HTTP address
// and logging are the settings every service shares (service.Common).
type Config struct {
	// ID names this instance in events, consumer names and logs. Default
	// (filled in by Validate): the host name, other bytes replaced by '-'.
	ID string `yaml:"id" help:"instance name in events, consumer names and logs: [A-Za-z0-9_-], at most 64 (default: the host name)"`

	// Advertise is the host:port tm puts in Via and Record-Route: the
	// address its edges are reached at. Required.
	Advertise string `yaml:"advertise" help:"host:port of the edges that tm puts in Via and Record-Route (UDP, and TCP unless advertise_tcp); required"`

	// AdvertiseTCP, AdvertiseTLS, AdvertiseWS and AdvertiseWSS are the
	// host:port of the edges' listener for each transport, put in Via and
	// Record-Route when a request leaves or arrives over it (a call from a
	// UDP phone to a WebSocket phone is record-routed on both, RFC 5658).
	// Default: Advertise stands in for an unset one; `sipbus up` fills
	// them from its edge.
	AdvertiseTCP string `yaml:"advertise_tcp" help:"host:port of the edges' TCP listener in Via and Record-Route (default: advertise)"`
	AdvertiseTLS string `yaml:"advertise_tls" help:"host:port of the edges' TLS listener (default: advertise)"`
	AdvertiseWS  string `yaml:"advertise_ws" help:"host:port of the edges' WebSocket listener (default: advertise)"`
	AdvertiseWSS string `yaml:"advertise_wss" help:"host:port of the edges' secure WebSocket listener (default: advertise)"`

	// FlowSecret keys the flow tokens tm writes in Record-Route (the way
	// back to a phone over its connection); the same on every tm replica.
	// Default: random per process (in-dialog requests to a WebSocket phone
	// then need the replica that routed the call). Never logged.
	FlowSecret string `yaml:"flow_secret" env:"SIPBUS_FLOW_SECRET" secret:"true" help:"key of the flow tokens in Record-Route, the same on every tm replica (default: random per process)"`

	// Domains are the local domains (request-URI hosts whose users are
	// ours), lower case. Default: localhost and the host of Advertise
	// (filled in by Validate).
	Domains []string `yaml:"domains" env:"SIPBUS_DOMAINS" help:"local SIP domains (default: localhost and the host of advertise); the registrar reads the same variable"`

	// Routes is the route table file (see package routes). Default "":
	// routes.Default().
	Routes string `yaml:"routes" help:"route table YAML file (default: the built-in table: REGISTER to the registrar, local domains to location, anything else 403)"`

	// T1, T2 and T4 are the RFC 3261 §17 timers: round-trip estimate,
	// cap of non-INVITE retransmission intervals (at least T1) and how
	// long a message stays in the network.
	T1 time.Duration `yaml:"t1" help:"RFC 3261 timer T1, the round-trip estimate"`
	T2 time.Duration `yaml:"t2" help:"RFC 3261 timer T2, the cap of non-INVITE retransmission intervals (at least t1)"`
	T4 time.Duration `yaml:"t4" help:"RFC 3261 timer T4, how long a message stays in the network"`

	// NoAnswer is how long a relayed INVITE may ring after its first
	// provisional response before tm cancels it (Kamailio's fr_inv_timer).
	NoAnswer time.Duration `yaml:"no_answer" help:"timer C (fr_inv_timer): how long an INVITE may ring before tm CANCELs it and answers 408"`

	// QueueTarget and QueueInterval drive overload control (bus.Overload):
	// when the messages of a QueueInterval reached tm QueueTarget or more
	// after the edge received them, on average, tm answers new requests
	// 503 with Retry-After and its beat tells the edges to refuse new
	// dialogs, until an interval averages under half the target (defaults
	// bus.DefaultQueueTarget, bus.DefaultQueueInterval).
	QueueTarget   time.Duration `yaml:"queue_target" help:"overload: messages reaching tm this long after the edge got them, on average over two queue_intervals in a row, ..."`
	QueueInterval time.Duration `yaml:"queue_interval" help:"... make tm answer new requests 503 and tell the edges to refuse new dialogs (until an interval averages under half the target)"`

	// Coalesce is how long a change of a transaction that SIP does not need
	// written first (a provisional response, a timer) may wait to be
	// written together with the next ones; 0 writes every change at once.
	// The engine stretches it by twice the replica's queue delay, up to T1.
	Coalesce time.Duration `yaml:"coalesce" help:"how long a change SIP does not need written first may wait to be written with the next ones (0: at once; at most 1s; a loaded replica adds twice its queue delay, up to T1)"`

	// Static maps an address of record "user@domain" to its contact URIs
	// (sip: or sips:), used besides the registrar's location service. The
	// domain must be one of Domains; Validate lower-cases it. File only.
	Static map[string][]string `yaml:"static" help:"address of record user@domain to its contact URIs (sip: or sips:; a name-addr with ;q=0.5 sets its preference), besides the location service"`

	// Aliases are other host:port values that address this proxy: the
	// address of every edge when several edges front one tm pool (a
	// Route or Via naming any of them is ours).
	Aliases []string `yaml:"aliases" help:"other host:port that address this proxy (every other edge)"`

	// Resolver lists the DNS servers that resolve next hops with a
	// domain name (RFC 3263: NAPTR, SRV, A), "ip" or "ip:port", asked in
	// order. Default none: the nameservers of /etc/resolv.conf, with
	// /etc/hosts first.
	Resolver []string `yaml:"resolver" help:"DNS servers ip[:port] for next hops with a domain name, asked in order (default: /etc/resolv.conf, /etc/hosts first)"`

	// ResolverTimeout bounds one resolution of a next hop, every query
	// and retry included (a lookup runs outside the partition's lock; a
	// branch waits for it).
	ResolverTimeout time.Duration `yaml:"resolver_timeout" help:"bound of one resolution of a next hop, every query and retry included (100ms to 30s)"`

	// FailoverTimeout is how long an INVITE branch whose next hop has
	// another DNS target to try waits for any response (a live next hop
	// sends 100 Trying at once) before tm tries the next. RFC 3263 §4.3
	// names the transaction timeout, Timer B: 64*T1, longer than the
	// caller waits; this is Kamailio's fr_timer. A non-INVITE fails over
	// at Timer F (no 100 Trying tells a slow target from a dead one).
	// 0 waits for Timer B.
	FailoverTimeout time.Duration `yaml:"failover_timeout" help:"an INVITE branch with another DNS target that got no response within this tries the next (0: only Timer B)"`
}

// Defaults.
const (
	defaultT1         = 500 * time.Millisecond
	defaultT2         = 4 * time.Second
	defaultT4         = 5 * time.Second
	defaultNoAnswer   = 60 * time.Second
	defaultCoalesce   = 20 * time.Millisecond
	defaultResolverTO = 2 * time.Second
	defaultFailoverTO = 5 * time.Second
)

// Default returns the defaults. It does not validate: Advertise is
// required and has no default.
func Default() Config {
	return Config{
		T1:              defaultT1,
		T2:              defaultT2,
		T4:              defaultT4,
		NoAnswer:        defaultNoAnswer,
		QueueTarget:     bus.DefaultQueueTarget,
		QueueInterval:   bus.DefaultQueueInterval,
		Coalesce:        defaultCoalesce,
		ResolverTimeout: defaultResolverTO,
		FailoverTimeout: defaultFailoverTO,
	}
}

// hostID is the host name made a valid ID.
func hostID() string {
	h, _ := os.Hostname()
	out := make([]byte, 0, len(h))
	for i := 0; i < len(h) && len(out) < maxIDLen; i++ {
		switch c := h[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			out = append(out, c)
		default:
			out = append(out, '-')
		}
	}
	if len(out) == 0 {
		return "tm"
	}
	return string(out)
}
