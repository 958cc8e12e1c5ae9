package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// MailpitVersion is the Mailpit the tests run (`go install
// github.com/axllent/mailpit@v1.33.1`; .ci/run installs it).
const MailpitVersion = "v1.33.1"

// MailpitBinary finds the mailpit binary: $SIPBUS_MAILPIT, then PATH,
// then $(go env GOPATH)/bin. The test fails, saying how to install it,
// when there is none.
func MailpitBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SIPBUS_MAILPIT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "mailpit")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("testenv: mailpit not found on PATH nor in $(go env GOPATH)/bin: install it with `go install github.com/axllent/mailpit@%s` (or run .ci/run)", MailpitVersion)
	return ""
}

// Mailpit is a running Mailpit: an SMTP server that keeps every mail and
// a REST API to read them back. Started by StartMailpit, bound to
// 127.0.0.1, stopped by PID when the test ends.
type Mailpit struct {
	SMTP string // 127.0.0.1:port
	HTTP string // http://127.0.0.1:port

	t        testing.TB
	bin, db  string
	smtpPort int
	httpPort int
	args     []string
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	log      *os.File
}

// MailpitOptions are the TLS settings of StartMailpitWith: a certificate
// and key (PEM files, see SelfSigned) and whether the SMTP server requires
// STARTTLS or speaks TLS from the first byte (implicit TLS).
type MailpitOptions struct {
	TLSCert, TLSKey string
	RequireSTARTTLS bool
	ImplicitTLS     bool
}

// StartMailpit starts Mailpit on free loopback ports with its database in
// a temporary folder (kept across Stop and Start, so a restart keeps the
// mails), chaos enabled (SetChaos), any SMTP user and password accepted,
// and no version check.
func StartMailpit(t testing.TB) *Mailpit {
	t.Helper()
	return StartMailpitWith(t, MailpitOptions{})
}

// StartMailpitWith is StartMailpit with TLS options.
//
// FreePort's ports are free when chosen, not when Mailpit binds them:
// another test's process may take one in between (or a client still
// reconnecting to a port a stopped server held may talk to it). When
// Mailpit exits at start because a port is in use, it starts again on
// two fresh ports, up to five times.
func StartMailpitWith(t testing.TB, o MailpitOptions) *Mailpit {
	t.Helper()
	m := &Mailpit{t: t, bin: MailpitBinary(t), db: filepath.Join(t.TempDir(), "mailpit.db")}
	if o.TLSCert != "" {
		m.args = append(m.args, "--smtp-tls-cert", o.TLSCert, "--smtp-tls-key", o.TLSKey)
	}
	if o.RequireSTARTTLS {
		m.args = append(m.args, "--smtp-require-starttls")
	}
	if o.ImplicitTLS {
		m.args = append(m.args, "--smtp-require-tls")
	}
	t.Cleanup(m.Stop) // also stops a Mailpit that never became ready
	for try := 1; ; try++ {
		m.smtpPort, m.httpPort = FreePort(t, "tcp"), FreePort(t, "tcp")
		m.SMTP = "127.0.0.1:" + strconv.Itoa(m.smtpPort)
		m.HTTP = "http://127.0.0.1:" + strconv.Itoa(m.httpPort)
		err := m.start()
		if err == nil {
			break
		}
		if !errors.Is(err, errPortInUse) || try == 5 {
			t.Fatalf("testenv: %v", err)
		}
		t.Logf("testenv: %v; again on other ports", err)
	}
	return m
}

// errPortInUse: Mailpit exited at start because one of its ports was taken.
var errPortInUse = errors.New("mailpit: a port is in use")

// Start (re)starts Mailpit on its ports; it waits until the API answers.
func (m *Mailpit) Start() {
	m.t.Helper()
	if err := m.start(); err != nil {
		m.t.Fatalf("testenv: %v", err)
	}
}

func (m *Mailpit) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return nil
	}
	log, err := os.OpenFile(m.db+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := append([]string{"--disable-version-check", "--database", m.db,
		"--smtp", m.SMTP, "--listen", "127.0.0.1:" + strconv.Itoa(m.httpPort),
		"--smtp-auth-accept-any", "--enable-chaos", "--max", "5000", "--quiet"}, m.args...)
	if !slices.Contains(m.args, "--smtp-require-starttls") && !slices.Contains(m.args, "--smtp-require-tls") {
		args = append(args, "--smtp-auth-allow-insecure") // AUTH without TLS (Mailpit refuses the pair)
	}
	start, _ := log.Seek(0, io.SeekEnd)
	cmd := exec.Command(m.bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", m.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	m.cmd, m.done, m.log = cmd, done, log
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := readyClient.Get(m.HTTP + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 && smtpUp(m.SMTP) {
				return nil
			}
		}
		select {
		case <-done:
			_ = log.Close()
			m.cmd = nil
			b, _ := os.ReadFile(m.db + ".log")
			b = b[min(int(start), len(b)):]
			if bytes.Contains(b, []byte("address already in use")) {
				return fmt.Errorf("%w (%s / %s)", errPortInUse, m.SMTP, m.HTTP)
			}
			return fmt.Errorf("mailpit exited at start; log:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(m.db + ".log")
			return fmt.Errorf("mailpit on %s / %s not ready within 20s; log:\n%s", m.SMTP, m.HTTP, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readyClient asks /readyz with a timeout: whatever else holds a taken
// port may accept and never answer.
var readyClient = &http.Client{Timeout: time.Second}

func smtpUp(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Stop kills Mailpit (by its PID) and waits for it; its mails stay in the
// database for the next Start.
func (m *Mailpit) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
	_ = m.log.Close()
	m.cmd = nil
}

// Message is a mail as Mailpit's API summarises it.
type Message struct {
	ID        string
	MessageID string
	From      *Addr
	To        []Addr
	Cc        []Addr
	Bcc       []Addr // envelope recipients that are in no header
	ReplyTo   []Addr
	Subject   string
	Created   time.Time
}

// Addr is a mailbox.
type Addr struct{ Name, Address string }

// Messages returns every mail Mailpit holds, newest first.
func (m *Mailpit) Messages(t testing.TB) []Message {
	t.Helper()
	var out struct {
		Total    int
		Messages []Message
	}
	m.getJSON(t, "/api/v1/messages?limit=5000", &out)
	return out.Messages
}

// ByMessageID returns the mails whose Message-ID is id (without <>): a
// search (message-id:ID, which matches substrings), then the exact ones.
func (m *Mailpit) ByMessageID(t testing.TB, id string) []Message {
	t.Helper()
	var res struct{ Messages []Message }
	m.getJSON(t, "/api/v1/search?limit=5000&query="+url.QueryEscape("message-id:"+id), &res)
	var out []Message
	for _, msg := range res.Messages {
		if msg.MessageID == id {
			out = append(out, msg)
		}
	}
	return out
}

// Full is a mail with its parts, as GET /api/v1/message/{ID} returns it.
type Full struct {
	Message
	Text, HTML string
}

// Message returns one mail with its text and HTML parts.
func (m *Mailpit) Message(t testing.TB, id string) Full {
	t.Helper()
	var f Full
	m.getJSON(t, "/api/v1/message/"+url.PathEscape(id), &f)
	return f
}

// Raw returns a mail's source as Mailpit received it.
func (m *Mailpit) Raw(t testing.TB, id string) []byte {
	t.Helper()
	resp, err := http.Get(m.HTTP + "/api/v1/message/" + url.PathEscape(id) + "/raw")
	if err != nil {
		t.Fatalf("mailpit: raw %s: %v", id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("mailpit: raw %s: %s: %s", id, resp.Status, b)
	}
	return b
}

// DeleteAll removes every mail.
func (m *Mailpit) DeleteAll(t testing.TB) {
	t.Helper()
	m.do(t, http.MethodDelete, "/api/v1/messages", nil)
}

// Chaos is Mailpit's chaos configuration: the SMTP reply code (400-599)
// and the probability in percent of failing MAIL FROM (Sender), RCPT TO
// (Recipient) and AUTH (Authentication).
type Chaos struct {
	Sender, Recipient, Authentication ChaosTrigger
}

// ChaosTrigger is one trigger of Chaos.
type ChaosTrigger struct{ ErrorCode, Probability int }

// SetChaos sets the chaos triggers (all zero: no chaos).
func (m *Mailpit) SetChaos(t testing.TB, c Chaos) {
	t.Helper()
	b, _ := json.Marshal(c)
	m.do(t, http.MethodPut, "/api/v1/chaos", b)
}

func (m *Mailpit) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	b := m.do(t, http.MethodGet, path, nil)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("mailpit: %s: %v: %s", path, err, b)
	}
}

func (m *Mailpit) do(t testing.TB, method, path string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequest(method, m.HTTP+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("mailpit: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("mailpit: %s %s: %s: %s", method, path, resp.Status, b)
	}
	return b
}

// String names the servers.
func (m *Mailpit) String() string { return fmt.Sprintf("mailpit smtp %s api %s", m.SMTP, m.HTTP) }

// SelfSigned writes a self-signed certificate for 127.0.0.1 and localhost
// (ECDSA P-256, valid for a day) and its key as PEM files, and returns
// their paths; the certificate is also its own CA.
func SelfSigned(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "sipbus test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
