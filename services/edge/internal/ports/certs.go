package ports

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// TLSOptions say where the edge's certificate comes from and how servers
// it dials are verified.
type TLSOptions struct {
	// CertFile and KeyFile are PEM files: the certificate chain and its
	// private key. They are read again when either file changes (checked
	// at most once a second, on a handshake); a pair that does not load
	// keeps the previous one in use and is logged. Both empty: SelfSigned.
	CertFile, KeyFile string
	// SelfSigned names the hosts (IP addresses or DNS names) of a
	// self-signed certificate made in memory when no files are given.
	SelfSigned []string
	// CAFiles are PEM files of CAs trusted, besides the system's, when the
	// edge verifies a server it dials.
	CAFiles []string
	// Insecure does not verify servers the edge dials. Tests only.
	Insecure bool
	Log      *slog.Logger
}

// TLSConfig is the edge's TLS side: the server configuration of the tls
// and wss listeners, and the client configuration of connections it dials.
type TLSConfig struct {
	source *certSource
	roots  *x509.CertPool
	opt    TLSOptions
	server *tls.Config
}

// NewTLS loads the certificate (or makes the self-signed one) and the CAs.
// Errors name the file.
func NewTLS(opt TLSOptions) (*TLSConfig, error) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	src := &certSource{certFile: opt.CertFile, keyFile: opt.KeyFile, log: opt.Log}
	switch {
	case opt.CertFile != "" || opt.KeyFile != "":
		if opt.CertFile == "" || opt.KeyFile == "" {
			return nil, errors.New("edge: tls_cert and tls_key go together")
		}
		if err := src.load(); err != nil {
			return nil, err
		}
	default:
		c, err := SelfSigned(opt.SelfSigned, 365*24*time.Hour)
		if err != nil {
			return nil, err
		}
		src.cert = c
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	for _, f := range opt.CAFiles {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("edge: tls_ca: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("edge: tls_ca: %s holds no PEM certificate", f)
		}
	}
	t := &TLSConfig{source: src, roots: roots, opt: opt}
	t.server = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return src.get() },
	}
	return t, nil
}

// Certificate is the certificate served now.
func (t *TLSConfig) Certificate() (*tls.Certificate, error) { return t.source.get() }

// client is the configuration of a connection the edge dials to addr:
// the server's certificate verified against name (the host of the
// target), or the IP address when there is none; the edge's own
// certificate offered when the server asks for one (mutual TLS between
// proxies, which RFC 5923 connection reuse asks for), unless it is the
// self-signed one.
func (t *TLSConfig) client(addr netip.AddrPort, name string) *tls.Config {
	if name == "" {
		name = addr.Addr().String()
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: t.roots, ServerName: name, InsecureSkipVerify: t.opt.Insecure}
	if t.opt.CertFile != "" {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return t.source.get() }
	}
	return c
}

// certSource serves the certificate of a pair of files, reloaded when
// they change.
type certSource struct {
	certFile, keyFile string
	log               *slog.Logger

	mu       sync.Mutex
	cert     *tls.Certificate
	certMod  time.Time
	keyMod   time.Time
	checked  time.Time
	failedAt [2]time.Time // mtimes of the last pair that failed to load
}

func (s *certSource) get() (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.certFile != "" && time.Since(s.checked) >= time.Second {
		s.checked = time.Now()
		s.reloadLocked()
	}
	if s.cert == nil {
		return nil, errors.New("edge: no certificate")
	}
	return s.cert, nil
}

// reloadLocked reads the pair again when a file's mtime changed.
func (s *certSource) reloadLocked() {
	cm, km, err := s.mtimes()
	if err != nil || (cm.Equal(s.certMod) && km.Equal(s.keyMod)) || (cm.Equal(s.failedAt[0]) && km.Equal(s.failedAt[1])) {
		return
	}
	c, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		// A certificate and key written one after the other may not match
		// for a moment: keep serving the old pair, try again on the next
		// change.
		s.failedAt = [2]time.Time{cm, km}
		s.log.Warn("edge: tls certificate not reloaded, the previous one stays in use", "cert", s.certFile, "key", s.keyFile, "err", err)
		return
	}
	s.cert, s.certMod, s.keyMod = &c, cm, km
	s.log.Info("edge: tls certificate reloaded", "cert", s.certFile, "not_after", leafNotAfter(&c))
}

func (s *certSource) load() error {
	cm, km, err := s.mtimes()
	if err != nil {
		return err
	}
	c, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("edge: tls_cert %s, tls_key %s: %w", s.certFile, s.keyFile, err)
	}
	s.cert, s.certMod, s.keyMod, s.checked = &c, cm, km, time.Now()
	return nil
}

func (s *certSource) mtimes() (cert, key time.Time, err error) {
	ci, err := os.Stat(s.certFile)
	if err != nil {
		return cert, key, fmt.Errorf("edge: tls_cert: %w", err)
	}
	ki, err := os.Stat(s.keyFile)
	if err != nil {
		return cert, key, fmt.Errorf("edge: tls_key: %w", err)
	}
	return ci.ModTime(), ki.ModTime(), nil
}

func leafNotAfter(c *tls.Certificate) time.Time {
	if len(c.Certificate) == 0 {
		return time.Time{}
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return time.Time{}
	}
	return leaf.NotAfter
}

// SelfSigned makes a self-signed ECDSA P-256 certificate for hosts (IP
// addresses and DNS names), valid for life from an hour ago.
func SelfSigned(hosts []string, life time.Duration) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"sipbus"}, CommonName: "sipbus self-signed (loopback only)"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(life),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // a client may trust it as its own CA
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
