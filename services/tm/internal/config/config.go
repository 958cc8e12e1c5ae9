package config

import (
	"os"
	"time"
)

// Config configures one tm instance. Default() holds the defaults named in
// each field's comment; Load overlays a YAML file and the environment;
// Validate completes, normalizes and checks the result.
type Config struct {
	// ID names this instance (in events, consumer names and logs):
	// [A-Za-z0-9_-], at most 64 characters. Default: the host name, other
	// bytes replaced by '-'.
	ID string `yaml:"id" env:"SIPBUS_TM_ID"`

	// NATS is the NATS server URL, or several separated by commas
	// (nats://, tls://, ws:// or wss://). Default nats://127.0.0.1:4222.
	NATS string `yaml:"nats" env:"SIPBUS_NATS_URL"`

	// Redis is the transaction store URL (redis://, rediss://, unix://).
	// Default "": memory://, which only a single process can use.
	Redis string `yaml:"redis" env:"REDIS_URL"`

	// Advertise is the host:port tm puts in Via and Record-Route: the
	// address its edges are reached at. Required.
	Advertise string `yaml:"advertise" env:"SIPBUS_ADVERTISE"`

	// AdvertiseTCP, AdvertiseTLS, AdvertiseWS and AdvertiseWSS are the
	// host:port of the edges' listener for each transport, put in Via and
	// Record-Route when a request leaves or arrives over it (a call from a
	// UDP phone to a WebSocket phone is record-routed on both, RFC 5658).
	// Default: TCP shares Advertise; the others are filled in by `sipbus
	// up` from its edge, and Advertise stands in for an unset one.
	AdvertiseTCP string `yaml:"advertise_tcp" env:"SIPBUS_ADVERTISE_TCP"`
	AdvertiseTLS string `yaml:"advertise_tls" env:"SIPBUS_ADVERTISE_TLS"`
	AdvertiseWS  string `yaml:"advertise_ws" env:"SIPBUS_ADVERTISE_WS"`
	AdvertiseWSS string `yaml:"advertise_wss" env:"SIPBUS_ADVERTISE_WSS"`

	// FlowSecret keys the flow tokens tm writes in Record-Route (the way
	// back to a phone over its connection); set the same value on every
	// tm replica, like SIPBUS_SL_SECRET on the edges. Default: random per
	// process (in-dialog requests to a WebSocket phone then need the
	// replica that routed the call). Never logged.
	FlowSecret string `yaml:"flow_secret" env:"SIPBUS_FLOW_SECRET"`

	// Domains are the local domains (request-URI hosts whose users are
	// ours), lower case. Default: localhost and the host of Advertise
	// (filled in by Validate).
	Domains []string `yaml:"domains" env:"SIPBUS_DOMAINS"`

	// Routes is the route table file (see package routes). Default "":
	// routes.Default().
	Routes string `yaml:"routes" env:"SIPBUS_ROUTES"`

	// T1, T2 and T4 are the RFC 3261 §17 timers: round-trip estimate
	// (default 500ms), cap of non-INVITE retransmission intervals (default
	// 4s, at least T1) and how long a message stays in the network
	// (default 5s).
	T1 time.Duration `yaml:"t1" env:"SIPBUS_T1"`
	T2 time.Duration `yaml:"t2" env:"SIPBUS_T2"`
	T4 time.Duration `yaml:"t4" env:"SIPBUS_T4"`

	// NoAnswer is how long a relayed INVITE may ring after its first
	// provisional response before tm cancels it (Kamailio's fr_inv_timer).
	// Default 60s.
	NoAnswer time.Duration `yaml:"no_answer" env:"SIPBUS_NO_ANSWER"`

	// QueueTarget and QueueInterval drive overload control: when messages
	// reach tm more than QueueTarget after the edge received them, for a
	// whole QueueInterval, tm answers new requests 503 with Retry-After
	// and its beat tells the edges to refuse new dialogs. Defaults 50ms
	// and 100ms (bus.DefaultQueueTarget, bus.DefaultQueueInterval).
	QueueTarget   time.Duration `yaml:"queue_target" env:"SIPBUS_TM_QUEUE_TARGET"`
	QueueInterval time.Duration `yaml:"queue_interval" env:"SIPBUS_TM_QUEUE_INTERVAL"`

	// Coalesce is how long a change of a transaction that SIP does not need
	// written first (a provisional response, a timer) may wait to be
	// written together with the next ones. Default 20ms; 0 writes every
	// change at once.
	Coalesce time.Duration `yaml:"coalesce" env:"SIPBUS_TM_COALESCE"`

	// Static maps an address of record "user@domain" to its contact URIs
	// (sip: or sips:), used when no location service is configured. The
	// domain must be one of Domains; Validate lower-cases it. Default none.
	// Not settable from the environment.
	Static map[string][]string `yaml:"static"`

	// Aliases are other host:port values that address this proxy: the
	// address of every edge when several edges front one tm pool (a
	// Route or Via naming any of them is ours). Default none.
	Aliases []string `yaml:"aliases" env:"SIPBUS_ALIASES"`

	// Resolver lists the DNS servers that resolve next hops with a
	// domain name (RFC 3263: NAPTR, SRV, A), "ip" or "ip:port", asked in
	// order. Default none: the nameservers of /etc/resolv.conf, with
	// /etc/hosts first.
	Resolver []string `yaml:"resolver" env:"SIPBUS_RESOLVER"`

	// ResolverTimeout bounds one resolution of a next hop, every query
	// and retry included (a lookup runs outside the partition's lock; a
	// branch waits for it). Default 2s.
	ResolverTimeout time.Duration `yaml:"resolver_timeout" env:"SIPBUS_RESOLVER_TIMEOUT"`

	// FailoverTimeout is how long an INVITE branch whose next hop has
	// another DNS target to try waits for any response (a live next hop
	// sends 100 Trying at once) before tm tries the next. RFC 3263 §4.3
	// names the transaction timeout, Timer B: 64*T1, longer than the
	// caller waits; this is Kamailio's fr_timer. A non-INVITE fails over
	// at Timer F (no 100 Trying tells a slow target from a dead one).
	// Default 5s; 0 waits for Timer B.
	FailoverTimeout time.Duration `yaml:"failover_timeout" env:"SIPBUS_FAILOVER_TIMEOUT"`
}

// Defaults.
const (
	defaultNATS          = "nats://127.0.0.1:4222"
	defaultT1            = 500 * time.Millisecond
	defaultT2            = 4 * time.Second
	defaultT4            = 5 * time.Second
	defaultNoAnswer      = 60 * time.Second
	defaultQueueTarget   = 50 * time.Millisecond
	defaultQueueInterval = 100 * time.Millisecond
	defaultCoalesce      = 20 * time.Millisecond
	defaultResolverTO    = 2 * time.Second
	defaultFailoverTO    = 5 * time.Second
)

// Default returns the configuration without file or environment. It does
// not validate: Advertise is required and has no default.
func Default() Config {
	return Config{
		ID:              hostID(),
		NATS:            defaultNATS,
		T1:              defaultT1,
		T2:              defaultT2,
		T4:              defaultT4,
		NoAnswer:        defaultNoAnswer,
		QueueTarget:     defaultQueueTarget,
		QueueInterval:   defaultQueueInterval,
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
