package edge_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipbus/sipbus/pkg/edgeapi"
	"github.com/sipbus/sipbus/pkg/events"
	"github.com/sipbus/sipbus/pkg/sipmsg"
	"github.com/sipbus/sipbus/pkg/testenv"
	"github.com/sipbus/sipbus/services/edge"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sipbus test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}
}

// issue makes a server certificate for 127.0.0.1 and the DNS names given,
// and returns its PEM certificate and key.
func (ca *testCA) issue(t *testing.T, serial int64, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "sipbus test server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// writePair writes a certificate and key with a modification time of at,
// so a reload sees the change whatever the file system's clock resolution.
func writePair(t *testing.T, dir string, certPEM, keyPEM []byte, at time.Time) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for f, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, at, at); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// streamPeer is a SIP peer on a TCP or TLS connection.
type streamPeer struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (p *streamPeer) write(s string) {
	p.t.Helper()
	if _, err := p.c.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// readMsg reads one Content-Length framed message, or a CRLF pong.
func (p *streamPeer) readMsg(d time.Duration) (string, error) {
	_ = p.c.SetReadDeadline(time.Now().Add(d))
	var buf []byte
	fr := sipmsg.Framer{}
	for {
		b, err := p.br.ReadByte()
		if err != nil {
			return string(buf), err
		}
		buf = append(buf, b)
		if string(buf) == "\r\n" {
			return "\r\n", nil
		}
		if skip, n, err := fr.Next(buf); err != nil {
			return string(buf), err
		} else if n > 0 {
			return string(buf[skip : skip+n]), nil
		}
	}
}

func tlsRequest(method, branch, callID string, local net.Addr, extra ...string) string {
	return strings.Replace(request(method, branch, callID, local.(*net.TCPAddr).Port, extra...), "SIP/2.0/UDP", "SIP/2.0/TLS", 1)
}

// TestTLSFlow: a TLS client (crypto/tls, verifying the edge's certificate
// from files against its CA) gets its CRLF keep-alive answered, its
// request published with transport tls and a flow, and the answer on its
// own connection.
func TestTLSFlow(t *testing.T) {
	ca := newCA(t)
	certPEM, keyPEM := ca.issue(t, 2, "sip.example.test")
	certFile, keyFile := writePair(t, t.TempDir(), certPEM, keyPEM, time.Now())
	s := newStack(t, stackOptions{cfg: edge.Config{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", TLS: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}})
	c, err := tls.Dial("tcp", s.edge.TLSAddr().String(), &tls.Config{RootCAs: ca.pool, ServerName: "sip.example.test"})
	if err != nil {
		t.Fatalf("TLS handshake with the edge: %v", err)
	}
	defer c.Close()
	p := &streamPeer{t: t, c: c, br: bufio.NewReader(c)}
	p.write("\r\n\r\n")
	if got, err := p.readMsg(3 * time.Second); got != "\r\n" {
		t.Fatalf("keep-alive ping answered %q (%v), want a CRLF pong", got, err)
	}
	p.write(tlsRequest("OPTIONS", "z9hG4bK-tls-1", "tls-1@test", c.LocalAddr()))
	ev := s.waitType(events.TypeRequestReceived, 1)[0]
	if ev.Transport != "tls" || !strings.HasPrefix(ev.Flow, "e1~") || ev.Local != s.edge.TLSAddr().String() {
		t.Fatalf("event transport %q flow %q local %q: want tls, a flow of e1, %s", ev.Transport, ev.Flow, ev.Local, s.edge.TLSAddr())
	}
	req, _ := sipmsg.Parse(ev.Raw, sipmsg.Stream)
	resp := sipmsg.Reply(req, 200, "OK", sipmsg.ReplyOptions{ToTag: "t1"})
	s.answer(ev, resp, "")
	if got, err := p.readMsg(3 * time.Second); got != string(resp) {
		t.Fatalf("read %q (%v), want the 200 on the TLS connection", got, err)
	}
	if c := s.edge.Counters(); c.Keepalives != 1 || c.Published != 1 {
		t.Errorf("counters %+v: want 1 keep-alive (not published), 1 event", c)
	}
	_ = c.Close()
	testenv.Eventually(t, 5*time.Second, func() bool { return s.edge.Flows() == 0 }, "%d flows left after the client closed", s.edge.Flows())
}

// TestTLSGarbageHandshake: bytes that are not a TLS handshake close the
// connection with a log line naming the peer and the fault; nothing is
// published, the flow table is empty again, and the edge still serves.
func TestTLSGarbageHandshake(t *testing.T) {
	s := newStack(t, stackOptions{cfg: edge.Config{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", TLS: "127.0.0.1:0"}})
	for _, junk := range []string{"OPTIONS sip:a@b SIP/2.0\r\n\r\n", "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", strings.Repeat("\x00", 4096)} {
		c, err := net.Dial("tcp", s.edge.TLSAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte(junk))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection still open 5s after a garbage handshake %q", junk[:8])
		}
		_ = c.Close()
	}
	s.waitLog("tls handshake failed", "remote=127.0.0.1:", "err=")
	testenv.Eventually(t, 5*time.Second, func() bool { return s.edge.Flows() == 0 }, "%d connections left", s.edge.Flows())
	if c := s.edge.Counters(); c.HandshakesFailed != 3 || c.Published != 0 {
		t.Errorf("counters %+v: want 3 failed handshakes, nothing published", c)
	}
	// The self-signed certificate (no files, loopback) names the listener.
	c, err := tls.Dial("tcp", s.edge.TLSAddr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("a good handshake after the garbage: %v", err)
	}
	defer c.Close()
	leaf := c.ConnectionState().PeerCertificates[0]
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("self-signed certificate does not verify for 127.0.0.1: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"}); err != nil {
		t.Errorf("self-signed certificate does not verify for localhost: %v", err)
	}
}

// TestTLSCertificateReload: a new certificate written over the files is
// served from the next handshake on; a broken pair keeps the previous one
// and says so in the log.
func TestTLSCertificateReload(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	c1, k1 := ca.issue(t, 101)
	certFile, keyFile := writePair(t, dir, c1, k1, time.Now().Add(-time.Minute))
	s := newStack(t, stackOptions{cfg: edge.Config{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", TLS: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}})
	serial := func() int64 {
		c, err := tls.Dial("tcp", s.edge.TLSAddr().String(), &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if n := serial(); n != 101 {
		t.Fatalf("serial %d, want 101", n)
	}
	c2, k2 := ca.issue(t, 102)
	writePair(t, dir, c2, k2, time.Now())
	testenv.Eventually(t, 5*time.Second, func() bool { return serial() == 102 }, "the new certificate is not served")
	s.waitLog("tls certificate reloaded", "cert="+certFile)

	_, k3 := ca.issue(t, 103)
	writePair(t, dir, c2, k3, time.Now().Add(time.Minute)) // a key that does not match
	// Handshakes look at the files: each still gets the previous pair.
	testenv.Eventually(t, 5*time.Second, func() bool {
		if n := serial(); n != 102 {
			t.Fatalf("serial %d after a broken pair, want 102 still", n)
		}
		return strings.Contains(s.logs.String(), "tls certificate not reloaded")
	}, "a broken pair was not logged")
	s.waitLog("tls certificate not reloaded", "previous one stays in use", "key="+keyFile)
}

// TestTLSDial: the edge dials TLS servers for tls destinations and
// verifies them: by IP address, or by the server name the destination
// carries, against tls_ca; a server it cannot verify gets nothing.
func TestTLSDial(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, stackOptions{cfg: edge.Config{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", TLS: "127.0.0.1:0", TLSCA: []string{caFile}}})
	good, goodKey := ca.issue(t, 7, "pbx.example.test")
	other := newCA(t) // a CA the edge does not trust
	bad, badKey := other.issue(t, 8, "pbx.example.test")
	for _, tc := range []struct {
		name           string
		certPEM, keyPE []byte
		suffix         string
		delivered      bool
	}{
		{"by IP address", good, goodKey, "", true},
		{"by server name", good, goodKey, "#pbx.example.test", true},
		{"wrong server name", good, goodKey, "#other.example.test", false},
		{"untrusted CA", bad, badKey, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair, err := tls.X509KeyPair(tc.certPEM, tc.keyPE)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan string, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				b := make([]byte, 4096)
				n, _ := c.Read(b)
				got <- string(b[:n])
			}()
			before := s.edge.Counters().Undeliverable
			msg := []byte(request("OPTIONS", "z9hG4bK-dial-"+tc.name[:3], "dial@test", 5060))
			if err := s.send.Send(testenv.Context(t, 5*time.Second), &edgeapi.Message{Raw: msg, Dest: "tls:" + ln.Addr().String() + tc.suffix}); err != nil {
				t.Fatal(err)
			}
			if tc.delivered {
				select {
				case g := <-got:
					if g != string(msg) {
						t.Fatalf("server got %q", g)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("server got nothing; counters %+v", s.edge.Counters())
				}
				return
			}
			testenv.Eventually(t, 5*time.Second, func() bool { return s.edge.Counters().Undeliverable == before+1 },
				"a server the edge cannot verify was not refused: %+v", s.edge.Counters())
			select {
			case g := <-got:
				if g != "" {
					t.Fatalf("an unverified server got %q", g)
				}
			default:
			}
		})
	}
}

// TestAliasReusesConnection: after a request with ;alias in its Via (RFC
// 5923), a message for the peer's address at the Via port goes on that
// connection; without alias the edge would dial the port (nobody listens
// there: undeliverable).
func TestAliasReusesConnection(t *testing.T) {
	s := newStack(t, stackOptions{})
	port := testenv.FreePort(t, "tcp") // the peer's "listening" port: nothing listens on it
	msg := []byte(request("OPTIONS", "z9hG4bK-out-alias", "alias-out@test", 5060))
	ctx := testenv.Context(t, 10*time.Second)
	dest := fmt.Sprintf("tcp:127.0.0.1:%d", port)
	if err := s.send.Send(ctx, &edgeapi.Message{Raw: msg, Dest: dest}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() bool { return s.edge.Counters().Undeliverable == 1 }, "nobody listens: want undeliverable")

	c, err := net.Dial("tcp", s.edge.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := &streamPeer{t: t, c: c, br: bufio.NewReader(c)}
	via := fmt.Sprintf("Via: SIP/2.0/TCP 127.0.0.1:%d;alias;branch=z9hG4bK-alias-1", port)
	req := strings.Replace(request("OPTIONS", "z9hG4bK-x", "alias-1@test", port), fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-x;rport", port), via, 1)
	p.write(req)
	s.waitType(events.TypeRequestReceived, 1)
	if err := s.send.Send(ctx, &edgeapi.Message{Raw: msg, Dest: dest}); err != nil {
		t.Fatal(err)
	}
	if got, err := p.readMsg(5 * time.Second); got != string(msg) {
		t.Fatalf("read %q (%v), want the request on the aliased connection", got, err)
	}
	if n := s.edge.Flows(); n != 1 {
		t.Errorf("%d connections, want the one aliased", n)
	}
}
