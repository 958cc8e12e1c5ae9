package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sipbus/sipbus/pkg/digest"
	"github.com/sipbus/sipbus/pkg/sipmsg"
)

// phone is a SIP user agent for these tests over TLS (crypto/tls) or
// WebSocket (github.com/coder/websocket, the way a browser phone speaks
// RFC 7118): it registers with digest authentication, makes and takes
// calls and follows the dialog's route set, as SIP.js or a TLS softphone
// would.
type phone struct {
	t         *testing.T
	transport string // "tls", "ws" or "wss"
	user      string
	host      string // sent-by and Contact host[:port]
	write     func([]byte) error
	in        chan *sipmsg.Msg
	seq       atomic.Int64
	closeFn   func()
}

// trustServed returns a pool that trusts the certificate the TLS listener
// at addr serves, once checked to be valid for 127.0.0.1 (the self-signed
// one sipbus up makes on loopback).
func trustServed(t *testing.T, addr string) *x509.CertPool {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS probe of %s: %v", addr, err)
	}
	defer c.Close()
	leaf := c.ConnectionState().PeerCertificates[0]
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Fatalf("the certificate of %s is not one for 127.0.0.1: %v", addr, err)
	}
	return pool
}

// tlsPhone connects to the TLS listener at addr, verifying its certificate.
func tlsPhone(t *testing.T, user, addr string, roots *x509.CertPool) *phone {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("%s: TLS connect to %s: %v", user, addr, err)
	}
	p := &phone{t: t, transport: "tls", user: user, host: c.LocalAddr().String(), in: make(chan *sipmsg.Msg, 64)}
	p.write = func(b []byte) error { _, err := c.Write(b); return err }
	p.closeFn = func() { _ = c.Close() }
	go func() {
		defer close(p.in)
		br := bufio.NewReader(c)
		var buf []byte
		fr := sipmsg.Framer{}
		for {
			b, err := br.ReadByte()
			if err != nil {
				return
			}
			buf = append(buf, b)
			skip, n, err := fr.Next(buf)
			if err != nil {
				return
			}
			if n > 0 {
				if m, err := sipmsg.Parse(append([]byte(nil), buf[skip:skip+n]...), sipmsg.Stream); err == nil {
					p.in <- m
				}
				buf = buf[:0]
			}
		}
	}()
	t.Cleanup(p.close)
	return p
}

// wsPhone connects to a WebSocket listener (url ws:// or wss://) with the
// subprotocol sip; its Via and Contact host is a .invalid name, as RFC
// 7118 §5.2 has browsers use.
func wsPhone(t *testing.T, user, url string, roots *x509.CertPool) *phone {
	t.Helper()
	opt := &websocket.DialOptions{Subprotocols: []string{"sip"}}
	transport := "ws"
	if strings.HasPrefix(url, "wss:") {
		transport = "wss"
	}
	if roots != nil {
		opt.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}}
	}
	c, _, err := websocket.Dial(context.Background(), url, opt)
	if err != nil {
		t.Fatalf("%s: websocket connect to %s: %v", user, url, err)
	}
	p := &phone{t: t, transport: transport, user: user, host: user + "-" + sipmsg.NewTag()[:6] + ".invalid", in: make(chan *sipmsg.Msg, 64)}
	p.write = func(b []byte) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return c.Write(ctx, websocket.MessageText, b)
	}
	p.closeFn = func() { _ = c.Close(websocket.StatusNormalClosure, "") }
	go func() {
		defer close(p.in)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if m, err := sipmsg.Parse(b, sipmsg.Datagram); err == nil {
				p.in <- m
			}
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *phone) close() {
	if p.closeFn != nil {
		p.closeFn()
		p.closeFn = nil
	}
}

func (p *phone) send(raw string) {
	p.t.Helper()
	if err := p.write([]byte(strings.ReplaceAll(raw, "\n", "\r\n"))); err != nil {
		p.t.Fatalf("%s: send: %v", p.user, err)
	}
}

// recv returns the next message accepted by match; other messages are
// dropped (a 100 Trying, a retransmission).
func (p *phone) recv(what string, match func(*sipmsg.Msg) bool) *sipmsg.Msg {
	p.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m, ok := <-p.in:
			if !ok {
				p.t.Fatalf("%s: connection closed while waiting for %s", p.user, what)
			}
			if match(m) {
				return m
			}
		case <-deadline:
			p.t.Fatalf("%s: no %s within 15s", p.user, what)
		}
	}
}

func (p *phone) via() string {
	return fmt.Sprintf("SIP/2.0/%s %s;branch=z9hG4bK-%s;rport", strings.ToUpper(p.transport), p.host, sipmsg.NewTag())
}

func (p *phone) contact() string {
	t := p.transport
	if t == "wss" {
		t = "ws" // RFC 7118 §5.2: one URI parameter for ws and wss
	}
	return fmt.Sprintf("<sip:%s@%s;transport=%s>", p.user, p.host, t)
}

// register registers the phone, answering the digest challenge (MD5 or
// SHA-256, the first the registrar offers).
func (p *phone) register(password string) {
	p.t.Helper()
	callID := "reg-" + sipmsg.NewTag()
	req := func(cseq int64, auth string) string {
		return fmt.Sprintf("REGISTER sip:localhost SIP/2.0\nVia: %s\nMax-Forwards: 70\nFrom: <sip:%s@localhost>;tag=r%s\nTo: <sip:%s@localhost>\nCall-ID: %s\nCSeq: %d REGISTER\nContact: %s\nExpires: 600\n%sContent-Length: 0\n\n",
			p.via(), p.user, callID, p.user, callID, cseq, p.contact(), auth)
	}
	isReg := func(m *sipmsg.Msg) bool {
		cs, _ := m.CSeq()
		return !m.Request && cs.Method == "REGISTER" && m.StatusCode >= 200
	}
	p.send(req(p.seq.Add(1), ""))
	r := p.recv("answer to REGISTER", isReg)
	if r.StatusCode == 401 {
		auth := answerChallenge(p.t, r.Values(sipmsg.HWWWAuthenticate), p.user, password, "REGISTER", "sip:localhost")
		p.send(req(p.seq.Add(1), auth))
		r = p.recv("answer to the authenticated REGISTER", isReg)
	}
	if r.StatusCode != 200 {
		p.t.Fatalf("%s: REGISTER over %s answered %d %s", p.user, p.transport, r.StatusCode, r.Str(r.Reason))
	}
}

// answerChallenge builds the Authorization header for the first challenge
// with an algorithm it can compute.
func answerChallenge(t *testing.T, challenges []string, user, password, method, uri string) string {
	t.Helper()
	for _, ch := range challenges {
		alg := digest.MD5
		h := func(s string) string { s2 := md5.Sum([]byte(s)); return hex.EncodeToString(s2[:]) }
		switch a := strings.ToUpper(unquotedParam(ch, "algorithm")); a {
		case "", "MD5":
		case "SHA-256":
			alg, h = digest.SHA256, sha256hex
		default:
			continue
		}
		realm, nonce := param(ch, "realm"), param(ch, "nonce")
		ha1 := digest.HA1(alg, user, realm, password)
		resp := h(ha1 + ":" + nonce + ":00000001:c0ffee:auth:" + h(method+":"+uri))
		return fmt.Sprintf("Authorization: Digest username=%q, realm=%q, nonce=%q, uri=%q, response=%q, algorithm=%s, qop=auth, nc=00000001, cnonce=\"c0ffee\"\n",
			user, realm, nonce, uri, resp, alg)
	}
	t.Fatalf("no challenge the test phone can answer: %q", challenges)
	return ""
}

// unquotedParam reads a parameter that may be unquoted (algorithm=MD5).
func unquotedParam(v, name string) string {
	if q := param(v, name); q != "" {
		return q
	}
	i := strings.Index(strings.ToLower(v), name+"=")
	if i < 0 {
		return ""
	}
	rest := v[i+len(name)+1:]
	if j := strings.IndexAny(rest, ", "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// dialog is one call of a phone.
type dialog struct {
	p                           *phone
	callID, localTag, remoteTag string
	localURI, remoteURI, target string
	routes                      []string // Route values, in the order they are sent
	cseq                        int
	callee                      bool
}

const sdp = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 40000 RTP/AVP 0\n"

// call calls user@localhost, with a Call-ID starting with marker, and
// returns the dialog once the 200 is ACKed; the route set is the 200's
// Record-Route reversed (RFC 3261 §12.1.2).
func (p *phone) call(user, marker string) *dialog {
	p.t.Helper()
	d := &dialog{p: p, callID: marker + sipmsg.NewTag(), localTag: sipmsg.NewTag(), cseq: 1,
		localURI: "<sip:" + p.user + "@localhost>", remoteURI: "<sip:" + user + "@localhost>"}
	p.send(fmt.Sprintf("INVITE sip:%s@localhost SIP/2.0\nVia: %s\nMax-Forwards: 70\nFrom: %s;tag=%s\nTo: %s\nCall-ID: %s\nCSeq: 1 INVITE\nContact: %s\nContent-Type: application/sdp\nContent-Length: %d\n\n%s",
		user, p.via(), d.localURI, d.localTag, d.remoteURI, d.callID, p.contact(), len(sdp)+strings.Count(sdp, "\n"), sdp))
	r := p.recv("final answer to INVITE", func(m *sipmsg.Msg) bool {
		cs, _ := m.CSeq()
		return !m.Request && m.CallID() == d.callID && cs.Method == "INVITE" && m.StatusCode >= 200
	})
	if r.StatusCode != 200 {
		p.t.Fatalf("%s: INVITE %s answered %d %s", p.user, user, r.StatusCode, r.Str(r.Reason))
	}
	to, _ := r.To()
	d.remoteTag = to.Tag()
	cs, _ := r.Contacts()
	if len(cs) == 0 {
		p.t.Fatalf("%s: 200 without Contact", p.user)
	}
	d.target = cs[0].URI.String()
	d.routes = reverseWithinRows(r.Values(sipmsg.HRecordRoute))
	p.send(d.request("ACK", 1))
	return d
}

// splitRoutes splits a Record-Route row into its values.
func splitRoutes(row string) []string {
	var out []string
	for _, v := range strings.Split(row, ">,") {
		v = strings.TrimSpace(v)
		if !strings.HasSuffix(v, ">") {
			v += ">"
		}
		out = append(out, v)
	}
	return out
}

// reverseWithinRows is every Record-Route value of rows, last first.
func reverseWithinRows(rows []string) []string {
	var all []string
	for _, r := range rows {
		all = append(all, splitRoutes(r)...)
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all
}

// answer waits for an INVITE, answers 180 and 200 (Record-Route copied)
// and returns the dialog once the ACK came; the route set is Record-Route
// in order.
func (p *phone) answer() *dialog {
	p.t.Helper()
	inv := p.recv("INVITE", func(m *sipmsg.Msg) bool { return m.Request && m.MethodID == sipmsg.INVITE })
	from, _ := inv.From()
	d := &dialog{p: p, callID: inv.CallID(), localTag: sipmsg.NewTag(), remoteTag: from.Tag(), callee: true, cseq: 0,
		localURI: strings.Split(inv.Value(sipmsg.HTo), ";tag")[0], remoteURI: strings.Split(inv.Value(sipmsg.HFrom), ";tag")[0]}
	cs, _ := inv.Contacts()
	if len(cs) == 0 {
		p.t.Fatalf("%s: INVITE without Contact", p.user)
	}
	d.target = cs[0].URI.String()
	for _, r := range inv.Values(sipmsg.HRecordRoute) {
		d.routes = append(d.routes, splitRoutes(r)...)
	}
	var rrLines string
	for _, r := range inv.Values(sipmsg.HRecordRoute) {
		rrLines += "Record-Route: " + r + "\n"
	}
	reply := func(code int, reason, body string) string {
		var vias string
		for _, v := range inv.Values(sipmsg.HVia) {
			vias += "Via: " + v + "\n"
		}
		ct := ""
		if body != "" {
			ct = "Content-Type: application/sdp\n"
		}
		return fmt.Sprintf("SIP/2.0 %d %s\n%sFrom: %s\nTo: %s;tag=%s\nCall-ID: %s\nCSeq: %s\n%sContact: %s\n%sContent-Length: %d\n\n%s",
			code, reason, vias, inv.Value(sipmsg.HFrom), d.localURI, d.localTag, d.callID, inv.Value(sipmsg.HCSeq), rrLines, p.contact(), ct,
			len(body)+strings.Count(body, "\n"), body)
	}
	p.send(reply(180, "Ringing", ""))
	p.send(reply(200, "OK", sdp))
	p.recv("ACK", func(m *sipmsg.Msg) bool { return m.Request && m.MethodID == sipmsg.ACK && m.CallID() == d.callID })
	return d
}

// request builds an in-dialog request (RFC 3261 §12.2.1.1).
func (d *dialog) request(method string, cseq int) string {
	from, to := d.localURI+";tag="+d.localTag, d.remoteURI+";tag="+d.remoteTag
	var routes string
	for _, r := range d.routes {
		routes += "Route: " + r + "\n"
	}
	return fmt.Sprintf("%s %s SIP/2.0\nVia: %s\nMax-Forwards: 70\n%sFrom: %s\nTo: %s\nCall-ID: %s\nCSeq: %d %s\nContent-Length: 0\n\n",
		method, d.target, d.p.via(), routes, from, to, d.callID, cseq, method)
}

// hangUp sends BYE along the route set and waits for its 200.
func (d *dialog) hangUp() {
	d.p.t.Helper()
	d.cseq++
	if d.callee {
		d.cseq += 100
	}
	d.p.send(d.request("BYE", d.cseq))
	r := d.p.recv("answer to BYE", func(m *sipmsg.Msg) bool {
		cs, _ := m.CSeq()
		return !m.Request && m.CallID() == d.callID && cs.Method == "BYE" && m.StatusCode >= 200
	})
	if r.StatusCode != 200 {
		d.p.t.Fatalf("%s: BYE answered %d %s", d.p.user, r.StatusCode, r.Str(r.Reason))
	}
}

// awaitHangUp waits for the other side's BYE and answers 200.
func (d *dialog) awaitHangUp() {
	d.p.t.Helper()
	bye := d.p.recv("BYE", func(m *sipmsg.Msg) bool { return m.Request && m.MethodID == sipmsg.BYE && m.CallID() == d.callID })
	var vias string
	for _, v := range bye.Values(sipmsg.HVia) {
		vias += "Via: " + v + "\n"
	}
	d.p.send(fmt.Sprintf("SIP/2.0 200 OK\n%sFrom: %s\nTo: %s\nCall-ID: %s\nCSeq: %s\nContent-Length: 0\n\n",
		vias, bye.Value(sipmsg.HFrom), bye.Value(sipmsg.HTo), d.callID, bye.Value(sipmsg.HCSeq)))
}
