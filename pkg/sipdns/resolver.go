package sipdns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Config configures a Resolver. Zero values take the defaults named.
type Config struct {
	// Servers are the DNS servers asked, "ip:port" or "ip" (port 53), in
	// order. Default: the nameservers of ResolvConf.
	Servers []string
	// ResolvConf is read when Servers is empty, once by New; default
	// "/etc/resolv.conf". Only its nameserver lines are used: names are
	// absolute (no search list), as SIP URIs carry full names.
	ResolvConf string
	// Hosts is a hosts(5) file consulted for A and AAAA before DNS, read
	// once by New. Default "/etc/hosts" when Servers is empty (the
	// system's resolver), none when Servers are given; "-" is none.
	Hosts string
	// Timeout bounds one resolution, every query and retry included.
	// Default 2s.
	Timeout time.Duration
	// IPv6 also asks AAAA records (after the A records). Default false:
	// a proxy whose edges listen on IPv4 cannot use them.
	IPv6 bool
	// Transports are those a Target may have; NAPTR services and SRV
	// names of others are skipped (RFC 3263 §4.1). Default udp, tcp, tls.
	Transports []string
	// MaxTargets bounds the targets one resolution returns. Default 16.
	MaxTargets int
	// MaxTTL caps how long a record is cached (default 1h); MinTTL
	// raises shorter TTLs (default 0: a TTL of 0 is not cached).
	MaxTTL, MinTTL time.Duration
	// NegativeTTL is how long "no such domain" and "no records" are
	// cached when the answer has no SOA (RFC 2308 §5); with a SOA its
	// TTL or MINIMUM, the smaller, at most MaxNegativeTTL. Defaults 30s
	// and 5m.
	NegativeTTL, MaxNegativeTTL time.Duration
	// ErrorTTL is how long a failed lookup (timeout, SERVFAIL) is
	// remembered, so that a dead server is not asked for every call
	// (RFC 2308 §7 allows up to 5 minutes). Default 5s.
	ErrorTTL time.Duration
	// CacheSize bounds the cached answers. Default 10000.
	CacheSize int
	// MaxInFlight bounds the queries in progress; past it a lookup fails
	// at once with ErrBusy. Default 256.
	MaxInFlight int
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
	// Rand returns a number in [0, n) for RFC 2782's weighted draw
	// (tests). Default math/rand/v2.
	Rand func(n uint64) uint64
}

// maxCNAME bounds a CNAME chain (answers and follow-up queries).
const maxCNAME = 8

// Resolver resolves SIP URIs (RFC 3263) through a DNS cache. It is safe
// for concurrent use.
type Resolver struct {
	cfg       Config
	servers   []string
	hosts     map[string][]netip.Addr
	supported map[string]bool
	cache     *cache
	attempt   time.Duration
	udp, tcp  *dns.Client
	slots     chan struct{}

	mu      sync.Mutex
	flights map[string]*flight

	Stats Stats
}

// Stats count what the resolver did.
type Stats struct {
	Queries, Failures, Hits, Misses atomic.Uint64
}

type flight struct {
	done chan struct{}
	ans  answer
	err  error
}

// New returns a resolver. A missing or empty ResolvConf is not an error:
// every lookup then fails with ErrNoServers, and IP addresses still
// resolve; ConfigErr tells why.
func New(cfg Config) (*Resolver, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MaxTargets <= 0 {
		cfg.MaxTargets = 16
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = time.Hour
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 30 * time.Second
	}
	if cfg.MaxNegativeTTL <= 0 {
		cfg.MaxNegativeTTL = 5 * time.Minute
	}
	if cfg.ErrorTTL <= 0 {
		cfg.ErrorTTL = 5 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Uint64N
	}
	if len(cfg.Transports) == 0 {
		cfg.Transports = []string{UDP, TCP, TLS}
	}
	r := &Resolver{
		cfg: cfg, supported: map[string]bool{}, cache: newCache(cfg.CacheSize),
		slots: make(chan struct{}, cfg.MaxInFlight), flights: map[string]*flight{},
	}
	for _, t := range cfg.Transports {
		switch t {
		case UDP, TCP, TLS:
			r.supported[t] = true
		default:
			return nil, fmt.Errorf("sipdns: transports: %q: want udp, tcp or tls", t)
		}
	}
	hosts := cfg.Hosts
	if len(cfg.Servers) > 0 {
		for _, s := range cfg.Servers {
			addr, err := ServerAddr(s)
			if err != nil {
				return nil, err
			}
			r.servers = append(r.servers, addr)
		}
	} else {
		path := cfg.ResolvConf
		if path == "" {
			path = "/etc/resolv.conf"
		}
		if cc, err := dns.ClientConfigFromFile(path); err == nil {
			for _, s := range cc.Servers {
				if addr, err := ServerAddr(net.JoinHostPort(s, cc.Port)); err == nil {
					r.servers = append(r.servers, addr)
				}
			}
		}
		if hosts == "" {
			hosts = "/etc/hosts"
		}
	}
	if hosts != "" && hosts != "-" {
		r.hosts = readHosts(hosts)
	}
	r.attempt = max(cfg.Timeout/time.Duration(2*max(len(r.servers), 1)), 100*time.Millisecond)
	r.udp = &dns.Client{Net: "udp", Timeout: r.attempt, UDPSize: dns.DefaultMsgSize}
	r.tcp = &dns.Client{Net: "tcp", Timeout: r.attempt}
	return r, nil
}

// ServerAddr checks a DNS server address, "ip" or "ip:port", and returns
// it as ip:port (port 53 by default). A name is refused: it could not be
// resolved without a resolver.
func ServerAddr(s string) (string, error) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return "", fmt.Errorf("sipdns: server %q: want an IP address or ip:port", s)
	}
	return ap.String(), nil
}

// Servers are the DNS servers asked, ip:port, in order.
func (r *Resolver) Servers() []string { return append([]string(nil), r.servers...) }

// Timeout is the bound of one resolution.
func (r *Resolver) Timeout() time.Duration { return r.cfg.Timeout }

// Resolve returns the targets of q in the order to try them (RFC 3263
// §4; see the package documentation), asking DNS for what the cache does
// not hold. It takes at most Config.Timeout. An error is an *Error.
func (r *Resolver) Resolve(ctx context.Context, q Query) ([]Target, error) {
	if ts, err, ok := r.Cached(q); ok {
		return ts, err
	}
	r.Stats.Misses.Add(1)
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	ts, err := r.resolve(ctx, q, false)
	if err != nil {
		r.Stats.Failures.Add(1)
	}
	return ts, err
}

// Cached answers q from the cache alone, without I/O: ok is false when a
// record it needs is not cached (or expired). An IP address is always
// answered. A cached failure is answered too (negative caching). Each
// call draws the SRV order anew.
func (r *Resolver) Cached(q Query) (ts []Target, err error, ok bool) {
	if ts, ok := Literal(q); ok {
		if err := q.check(); err != nil {
			return nil, err, true
		}
		return ts, nil, true
	}
	ts, err = r.resolve(context.Background(), q, true)
	if errors.Is(err, errCacheMiss) {
		return nil, nil, false
	}
	r.Stats.Hits.Add(1)
	return ts, err, true
}

// lookup returns the records of one name and type: cached, or asked
// (one query in flight per name and type; callers arriving meanwhile
// share its answer).
func (r *Resolver) lookup(ctx context.Context, only bool, name string, qtype uint16) (answer, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	key := dns.TypeToString[qtype] + "|" + name
	if e, ok := r.cache.get(key, r.cfg.Now()); ok {
		return e.ans, e.err
	}
	if only {
		return answer{}, errCacheMiss
	}
	r.mu.Lock()
	if f, ok := r.flights[key]; ok {
		r.mu.Unlock()
		select {
		case <-f.done:
			return f.ans, f.err
		case <-ctx.Done():
			return answer{}, fail(name, dns.TypeToString[qtype], ErrTimeout)
		}
	}
	f := &flight{done: make(chan struct{})}
	r.flights[key] = f
	r.mu.Unlock()
	var ttl time.Duration
	select {
	case r.slots <- struct{}{}:
		f.ans, ttl, f.err = r.query(ctx, name, qtype)
		<-r.slots
		now := r.cfg.Now()
		r.cache.put(key, entry{ans: f.ans, err: f.err}, now.Add(r.ttl(ttl, f.err)), now)
	default:
		f.err = fail(name, dns.TypeToString[qtype], ErrBusy)
	}
	r.mu.Lock()
	delete(r.flights, key)
	r.mu.Unlock()
	close(f.done)
	return f.ans, f.err
}

// ttl is how long an answer is cached: its TTL within MinTTL..MaxTTL; a
// negative answer's (from its SOA) at most MaxNegativeTTL; a failure's
// ErrorTTL.
func (r *Resolver) ttl(ttl time.Duration, err error) time.Duration {
	switch {
	case err == nil:
		return min(max(ttl, r.cfg.MinTTL), r.cfg.MaxTTL)
	case Temporary(err):
		return r.cfg.ErrorTTL
	case ttl < 0:
		return r.cfg.NegativeTTL
	}
	return min(ttl, r.cfg.MaxNegativeTTL)
}

// String describes the resolver for a start-up line: its servers, or
// that it has none.
func (r *Resolver) String() string {
	if len(r.servers) == 0 {
		return "none (only IP addresses resolve)"
	}
	s := strings.Join(r.servers, ",")
	if r.hosts != nil {
		s += " (and the hosts file)"
	}
	return s
}
