package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sipbus/sipbus/pkg/rawio"
)

// OpenPingTimeout bounds the PING that Open sends before it returns; the
// caller's context may shorten it.
const OpenPingTimeout = 5 * time.Second

// Query parameters of Open's URL that are ours, not go-redis's; they are
// removed before the URL is parsed by go-redis.
const (
	paramPrefix    = "prefix"     // RedisOptions.Prefix
	paramOpTimeout = "op_timeout" // RedisOptions.OpTimeout (Go duration)
	paramCluster   = "cluster"    // "true": Cluster mode with one seed host
	paramMaster    = "master_name"
)

// Open returns the engine named by rawURL (see the package doc for the URL
// forms): "" or memory:// is the in-memory engine; redis://, rediss:// and
// unix:// connect a go-redis client (single node, Cluster for several
// comma-separated hosts or addr= parameters, Sentinel when master_name is
// set), ping it and return the Redis engine, which closes the client on
// Close. Errors name the URL with its password redacted; a server that does
// not answer is ErrUnavailable, a malformed URL ErrInvalid.
func Open(ctx context.Context, rawURL string) (Store, error) {
	rawURL = strings.TrimSpace(rawURL)
	if rawURL == "" || rawURL == "memory:" || strings.HasPrefix(rawURL, "memory://") {
		return NewMemory(MemoryOptions{}), nil
	}
	client, opt, err := newRedisClient(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", RedactURL(rawURL), err)
	}
	opt.CloseClient = true
	s := NewRedis(client, opt)
	pctx, cancel := context.WithTimeout(ctx, OpenPingTimeout)
	defer cancel()
	if err := s.Ping(pctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: open %s: %w", RedactURL(rawURL), err)
	}
	return s, nil
}

// redisConfig is a parsed redis://, rediss:// or unix:// URL: exactly one
// of simple, cluster and failover is set.
type redisConfig struct {
	simple   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
	store    RedisOptions
}

func (c redisConfig) client() redis.UniversalClient {
	switch {
	case c.cluster != nil:
		return redis.NewClusterClient(c.cluster)
	case c.failover != nil:
		return redis.NewFailoverClient(c.failover)
	default:
		return redis.NewClient(c.simple)
	}
}

// newRedisClient builds the go-redis client and the engine options for a
// redis://, rediss:// or unix:// URL without connecting.
func newRedisClient(rawURL string) (redis.UniversalClient, RedisOptions, error) {
	cfg, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, RedisOptions{}, err
	}
	return cfg.client(), cfg.store, nil
}

// parseRedisURL parses a redis://, rediss:// or unix:// URL; see the package
// doc. Every client honours context deadlines (ContextTimeoutEnabled), so
// OpTimeout bounds each operation.
func parseRedisURL(rawURL string) (redisConfig, error) {
	var cfg redisConfig
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return cfg, fmt.Errorf("%w: no scheme: want memory://, redis://, rediss:// or unix://", ErrInvalid)
	}
	scheme = strings.ToLower(scheme)
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	tail, _, _ = strings.Cut(tail, "#")
	path, rawQuery, _ := strings.Cut(tail, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return cfg, fmt.Errorf("%w: query: %w", ErrInvalid, urlErr(err))
	}
	if cfg.store, err = takeOwnParams(q); err != nil {
		return cfg, err
	}
	cluster := q.Get(paramCluster)
	q.Del(paramCluster)

	switch scheme {
	case "unix":
		o, err := redis.ParseURL(rebuild(scheme, authority, path, q))
		if err != nil {
			return cfg, fmt.Errorf("%w: %w", ErrInvalid, urlErr(err))
		}
		o.ContextTimeoutEnabled = true
		o.Dialer = rawDialer(o.DialTimeout)
		cfg.simple = o
		return cfg, nil
	case "redis", "rediss":
	default:
		return cfg, fmt.Errorf("%w: scheme %q: want memory://, redis://, rediss:// or unix://", ErrInvalid, scheme)
	}

	userinfo, hostlist := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hostlist = authority[:i+1], authority[i+1:]
	}
	var hosts []string
	for h := range strings.SplitSeq(hostlist, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		hosts = []string{""} // go-redis defaults to localhost:6379
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}

	switch {
	case q.Get(paramMaster) != "":
		o, err := redis.ParseFailoverURL(rebuild(scheme, userinfo+hosts[0], path, q))
		if err != nil {
			return cfg, fmt.Errorf("%w: sentinel: %w", ErrInvalid, urlErr(err))
		}
		o.ContextTimeoutEnabled = true
		if o.TLSConfig == nil {
			o.Dialer = rawDialer(o.DialTimeout)
		}
		cfg.failover = o
	case len(q["addr"]) > 0 || cluster == "true" || cluster == "1":
		if p := strings.Trim(path, "/"); p != "" && p != "0" {
			return cfg, fmt.Errorf("%w: cluster: database %q: Redis Cluster has only database 0", ErrInvalid, p)
		}
		o, err := redis.ParseClusterURL(rebuild(scheme, userinfo+hosts[0], "", q))
		if err != nil {
			return cfg, fmt.Errorf("%w: cluster: %w", ErrInvalid, urlErr(err))
		}
		o.ContextTimeoutEnabled = true
		if o.TLSConfig == nil {
			o.Dialer = rawDialer(o.DialTimeout)
		}
		cfg.cluster = o
	default:
		o, err := redis.ParseURL(rebuild(scheme, userinfo+hosts[0], path, q))
		if err != nil {
			return cfg, fmt.Errorf("%w: %w", ErrInvalid, urlErr(err))
		}
		o.ContextTimeoutEnabled = true
		if o.TLSConfig == nil {
			o.Dialer = rawDialer(o.DialTimeout)
		}
		cfg.simple = o
	}
	return cfg, nil
}

// rawDialer is go-redis's own dialer for plain connections (TLS hides
// the socket; go-redis's default dialer then stays) whose connections
// read and write with raw system calls (package rawio): every commit is a
// write and a read on one, and at light load each woke the runtime's
// monitor thread. timeout 0 is go-redis's default, 5 s.
func rawDialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := redis.NewDialer(&redis.Options{DialTimeout: cmp.Or(timeout, 5*time.Second)})
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return rawio.Wrap(c), nil
	}
}

// takeOwnParams removes prefix and op_timeout from q into RedisOptions.
func takeOwnParams(q url.Values) (RedisOptions, error) {
	var opt RedisOptions
	if q.Has(paramPrefix) {
		opt.Prefix = q.Get(paramPrefix)
		q.Del(paramPrefix)
		if opt.Prefix == "" || strings.ContainsAny(opt.Prefix, "{}") {
			return opt, fmt.Errorf("%w: %s=%q: must be non-empty without '{' or '}'", ErrInvalid, paramPrefix, opt.Prefix)
		}
	}
	if q.Has(paramOpTimeout) {
		v := q.Get(paramOpTimeout)
		q.Del(paramOpTimeout)
		d, err := time.ParseDuration(v)
		if err != nil {
			n, nerr := strconv.Atoi(v) // a bare number is milliseconds
			if nerr != nil {
				return opt, fmt.Errorf("%w: %s=%q: want a duration such as 500ms", ErrInvalid, paramOpTimeout, v)
			}
			d = time.Duration(n) * time.Millisecond
		}
		if d <= 0 {
			d = -1 // only the caller's context bounds operations
		}
		opt.OpTimeout = d
	}
	return opt, nil
}

func rebuild(scheme, authority, path string, q url.Values) string {
	s := scheme + "://" + authority + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// urlErr drops the URL from a *url.Error, which would otherwise carry the
// password into the message.
func urlErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// secretParams are query parameters whose values RedactURL hides.
var secretParams = map[string]bool{"password": true, "sentinel_password": true}

// RedactURL returns rawURL with the password of its userinfo and the values
// of password query parameters replaced by "xxxxx", for logs and errors. It
// works on malformed URLs too (comma-separated host lists included).
func RedactURL(rawURL string) string {
	rest, scheme := rawURL, ""
	if i := strings.Index(rawURL, "://"); i >= 0 {
		scheme, rest = rawURL[:i+3], rawURL[i+3:]
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		if user, _, hasPass := strings.Cut(authority[:at], ":"); hasPass {
			authority = user + ":xxxxx" + authority[at:]
		}
	}
	if before, query, ok := strings.Cut(tail, "?"); ok {
		query, frag, hasFrag := strings.Cut(query, "#")
		parts := strings.Split(query, "&")
		for i, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			if uk, err := url.QueryUnescape(k); err == nil && secretParams[strings.ToLower(uk)] {
				parts[i] = k + "=xxxxx"
			}
		}
		tail = before + "?" + strings.Join(parts, "&")
		if hasFrag {
			tail += "#" + frag
		}
	}
	return scheme + authority + tail
}
