package sipmsg

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// mustParse indexes a message; one written with bare "\n" line ends is
// converted to CRLF first.
func mustParse(t testing.TB, s string) *Msg {
	t.Helper()
	if !strings.Contains(s, "\r\n") {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	raw := []byte(s)
	m, err := Parse(raw, Datagram)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func TestParseNameAddr(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		display string
		uri     string // canonical URI
		params  Params
		tag     string
	}{
		{"bare addr-spec params are header params", "sip:user@example.com;tag=81x2",
			"", "sip:user@example.com", Params{{"tag", "81x2"}}, "81x2"},
		{"bracketed lr is a URI param", "<sip:user@host;lr>;tag=x",
			"", "sip:user@host;lr", Params{{"tag", "x"}}, "x"},
		{"quoted display", `"Alice Liddell" <sip:alice@atlanta.com>;tag=1928301774`,
			"Alice Liddell", "sip:alice@atlanta.com", Params{{"tag", "1928301774"}}, "1928301774"},
		{"escaped quotes in display", `"\"Bob\" \\ the builder" <sip:bob@biloxi.com>`,
			`"Bob" \ the builder`, "sip:bob@biloxi.com", nil, ""},
		{"token display", `Bob Smith <sip:bob@biloxi.com> ; tag = a6c85cf`,
			"Bob Smith", "sip:bob@biloxi.com", Params{{"tag", "a6c85cf"}}, "a6c85cf"},
		{"no space before <", `"caller"<sip:caller@example.com>;tag=323`,
			"caller", "sip:caller@example.com", Params{{"tag", "323"}}, "323"},
		{"IPv6 To (RFC 5118 4.10)", "sip:user@[2001:db8::192.0.2.1]",
			"", "sip:user@[2001:db8::192.0.2.1]", nil, ""},
		{"upper-case param name", "<sip:a@b>;TAG=Xy", "", "sip:a@b", Params{{"tag", "Xy"}}, "Xy"},
		{"UTF-8 display", `"Jürgen" <sip:j@example.de>`, "Jürgen", "sip:j@example.de", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseNameAddr(tt.in)
			if err != nil {
				t.Fatalf("ParseNameAddr(%q): %v", tt.in, err)
			}
			if n.Display != tt.display {
				t.Errorf("Display = %q, want %q", n.Display, tt.display)
			}
			if u := n.URI.String(); u != tt.uri {
				t.Errorf("URI = %q, want %q", u, tt.uri)
			}
			if !reflect.DeepEqual(n.Params, tt.params) {
				t.Errorf("Params = %v, want %v", n.Params, tt.params)
			}
			if n.Tag() != tt.tag {
				t.Errorf("Tag = %q, want %q", n.Tag(), tt.tag)
			}
		})
	}
}

func TestParseNameAddrErrors(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"empty", ""},
		{"unterminated quote", `"Bob <sip:bob@x>`},
		{"quoted display without <", `"Bob" sip:bob@x`},
		{"missing >", `<sip:bob@x`},
		{"bad uri", `<sip:2001:db8::1>`},
		{"bad header param", `<sip:a@b>;=x`},
		{"junk after >", `<sip:a@b> junk`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseNameAddr(tt.in); err == nil {
				t.Errorf("ParseNameAddr(%q) succeeded", tt.in)
			}
		})
	}
}

func TestNameAddrString(t *testing.T) {
	n, err := ParseNameAddr(`"a \"b\"" <sip:x@[::1]:5060;lr>;tag=1`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.String(), `"a \"b\"" <sip:x@[::1]:5060;lr>;tag=1`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

func TestParseVia(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Via // Params not compared
		by   string
	}{
		{"plain", "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
			Via{Transport: "UDP", Host: "pc33.atlanta.com", Branch: "z9hG4bK776asdhds", RPort: -1},
			"pc33.atlanta.com"},
		{"LWS in sent-protocol", "SIP / 2.0 / tcp host.example.com:5061 ; branch = z9hG4bKx",
			Via{Transport: "TCP", Host: "host.example.com", Port: 5061, Branch: "z9hG4bKx", RPort: -1},
			"host.example.com:5061"},
		{"IPv6 with port", "SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19",
			Via{Transport: "UDP", Host: "::ffff:192.0.2.10", Port: 19823, Branch: "z9hG4bKbh19", RPort: -1},
			"[::ffff:192.0.2.10]:19823"},
		{"received with brackets (RFC 5118 4.5)",
			"SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
			Via{Transport: "UDP", Host: "2001:db8::9:1", Branch: "z9hG4bKas3-111", Received: "2001:db8::9:255", RPort: -1},
			"[2001:db8::9:1]"},
		{"received without brackets (RFC 5118 4.6)",
			"SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
			Via{Transport: "UDP", Host: "2001:db8::9:1", Branch: "z9hG4bKas3", Received: "2001:db8::9:255", RPort: -1},
			"[2001:db8::9:1]"},
		{"rport flag", "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff",
			Via{Transport: "UDP", Host: "10.1.1.1", Port: 4540, Branch: "z9hG4bKkjshdyff", RPort: 0},
			"10.1.1.1:4540"},
		{"rport value", "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKk",
			Via{Transport: "UDP", Host: "10.1.1.1", Port: 4540, Branch: "z9hG4bKk", Received: "192.0.2.1", RPort: 9988},
			"10.1.1.1:4540"},
		{"space around colon", "SIP/2.0/UDP host : 5060;branch=z9hG4bK1",
			Via{Transport: "UDP", Host: "host", Port: 5060, Branch: "z9hG4bK1", RPort: -1}, "host:5060"},
		{"upper-case host and param name", "SIP/2.0/UDP HOST.Example.COM;BRANCH=z9hG4bKAbC",
			Via{Transport: "UDP", Host: "host.example.com", Branch: "z9hG4bKAbC", RPort: -1}, "host.example.com"},
		{"no params", "SIP/2.0/SCTP 192.0.2.1",
			Via{Transport: "SCTP", Host: "192.0.2.1", RPort: -1}, "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseVia(tt.in)
			if err != nil {
				t.Fatalf("ParseVia(%q): %v", tt.in, err)
			}
			v.Params = nil
			if !reflect.DeepEqual(v, tt.want) {
				t.Errorf("ParseVia(%q)\n got %+v\nwant %+v", tt.in, v, tt.want)
			}
			if by := v.SentBy(); by != tt.by {
				t.Errorf("SentBy = %q, want %q", by, tt.by)
			}
		})
	}
}

func TestParseViaErrors(t *testing.T) {
	for _, tt := range []struct{ name, in, fault string }{
		{"no protocol", "pc33.atlanta.com", "malformed sent-protocol"},
		{"not SIP", "HTTP/1.1/TCP host", "protocol is not SIP"},
		{"missing transport", "SIP/2.0 host", "malformed sent-protocol"},
		{"missing sent-by", "SIP/2.0/UDP", "missing sent-by"},
		{"IPv6 without brackets", "SIP/2.0/UDP 2001:db8::9:1;branch=z9hG4bK1", "IPv6 address without brackets"},
		{"bad port", "SIP/2.0/UDP host:99999", "port out of range"},
		{"bad rport", "SIP/2.0/UDP host;rport=x", "bad rport"},
		{"unterminated quoted param", `SIP/2.0/UDP host;x="abc`, "unterminated quoted string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseVia(tt.in)
			if err == nil {
				t.Fatalf("ParseVia(%q) succeeded", tt.in)
			}
			if !errors.Is(err, ErrBadVia) || !strings.Contains(err.Error(), tt.fault) {
				t.Errorf("error %q: want ErrBadVia naming %q", err, tt.fault)
			}
		})
	}
}

func TestParseCSeq(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want CSeq
		ok   bool
	}{
		{"4711 INVITE", CSeq{4711, "INVITE"}, true},
		{"  1\t  ACK ", CSeq{1, "ACK"}, true},
		{"0 REGISTER", CSeq{0, "REGISTER"}, true},
		{"2147483647 BYE", CSeq{2147483647, "BYE"}, true},
		{"2147483648 BYE", CSeq{}, false},
		{"99999999999999999999 BYE", CSeq{}, false},
		{"INVITE", CSeq{}, false},
		{"12", CSeq{}, false},
		{"12INVITE", CSeq{}, false},
		{"12 INVITE extra", CSeq{}, false},
		{"-1 INVITE", CSeq{}, false},
	} {
		got, err := ParseCSeq(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseCSeq(%q) = %+v, %v; want %+v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadCSeq) {
			t.Errorf("ParseCSeq(%q) error %v is not ErrBadCSeq", tt.in, err)
		}
	}
}

const torture = `INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111,
 SIP/2.0/TCP proxy.example.com;branch=z9hG4bKprx;x="a,b"
v: SIP / 2.0 / UDP 192.0.2.1;rport;branch=z9hG4bKjhja
Max-Forwards: 70
From: "Alice \"A\" Liddell" <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
i:   a84b4c76e66710@pc33.atlanta.example.com  
CSeq:
  314159
  INVITE
Contact: <sip:alice@[2001:db8::1]:5070;transport=tcp>;expires=3600;q=0.7,
 "Desk" <sip:alice@desk.example.com>
m: sip:alice@mobile.example.com;expires=60
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>
Route: <sip:[2001:db8::2];lr>
Record-Route: <sip:rr.example.com;lr>
Require: 100rel, timer
Require: replaces
k: path,  gruu
Proxy-Require: foo
Expires: 120
Content-Type: Application / SDP ; charset=utf-8
Content-Length: 0

`

func TestViewsThroughMsg(t *testing.T) {
	m := mustParse(t, torture)

	vias, err := m.Vias()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vias {
		got = append(got, v.Transport+" "+v.SentBy()+" "+v.Branch)
	}
	want := []string{
		"UDP [2001:db8::9:1]:6050 z9hG4bKas3-111",
		"TCP proxy.example.com z9hG4bKprx",
		"UDP 192.0.2.1 z9hG4bKjhja",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Vias = %q, want %q", got, want)
	}
	if x, _ := vias[1].Params.Get("x"); x != `"a,b"` {
		t.Errorf("quoted param with comma = %q", x)
	}
	if vias[2].RPort != 0 || vias[0].RPort != -1 {
		t.Errorf("rport = %d, %d", vias[2].RPort, vias[0].RPort)
	}
	top, err := m.TopVia()
	if err != nil || top.Branch != "z9hG4bKas3-111" || top.Port != 6050 {
		t.Errorf("TopVia = %+v, %v", top, err)
	}

	from, err := m.From()
	if err != nil || from.Display != `Alice "A" Liddell` || from.Tag() != "9fxced76sl" ||
		from.URI.User != "alice" {
		t.Errorf("From = %+v, %v", from, err)
	}
	to, err := m.To()
	if err != nil || to.Display != "Bob" || to.Tag() != "" || to.URI.Host != "biloxi.example.com" {
		t.Errorf("To = %+v, %v", to, err)
	}
	if id := m.CallID(); id != "a84b4c76e66710@pc33.atlanta.example.com" {
		t.Errorf("CallID = %q", id)
	}
	if cs, err := m.CSeq(); err != nil || cs != (CSeq{314159, "INVITE"}) {
		t.Errorf("CSeq = %+v, %v", cs, err)
	}

	cs, err := m.Contacts()
	if err != nil {
		t.Fatal(err)
	}
	type c struct {
		uri     string
		exp     int
		q       float64
		display string
	}
	var gotC []c
	for _, x := range cs {
		gotC = append(gotC, c{x.URI.String(), x.Expires, x.Q, x.Display})
	}
	wantC := []c{
		{"sip:alice@[2001:db8::1]:5070;transport=tcp", 3600, 0.7, ""},
		{"sip:alice@desk.example.com", -1, -1, "Desk"},
		{"sip:alice@mobile.example.com", 60, -1, ""},
	}
	if !reflect.DeepEqual(gotC, wantC) {
		t.Errorf("Contacts = %+v\nwant %+v", gotC, wantC)
	}

	routes, err := m.Routes()
	if err != nil || len(routes) != 3 || routes[2].URI.Host != "2001:db8::2" || !routes[0].URI.Params.Has("lr") {
		t.Errorf("Routes = %+v, %v", routes, err)
	}
	rr, err := m.RecordRoutes()
	if err != nil || len(rr) != 1 || rr[0].URI.Host != "rr.example.com" {
		t.Errorf("RecordRoutes = %+v, %v", rr, err)
	}
	if mf, err := m.MaxForwards(); mf != 70 || err != nil {
		t.Errorf("MaxForwards = %d, %v", mf, err)
	}
	if e, err := m.Expires(); e != 120 || err != nil {
		t.Errorf("Expires = %d, %v", e, err)
	}
	if r := m.Require(); !reflect.DeepEqual(r, []string{"100rel", "timer", "replaces"}) {
		t.Errorf("Require = %q", r)
	}
	if r := m.Supported(); !reflect.DeepEqual(r, []string{"path", "gruu"}) {
		t.Errorf("Supported = %q", r)
	}
	if r := m.ProxyRequire(); !reflect.DeepEqual(r, []string{"foo"}) {
		t.Errorf("ProxyRequire = %q", r)
	}
	if ct := m.ContentType(); ct != "application/sdp" {
		t.Errorf("ContentType = %q", ct)
	}
	u, err := m.RequestURIParsed()
	if err != nil || u.String() != "sip:bob@biloxi.example.com" {
		t.Errorf("RequestURIParsed = %v, %v", u.String(), err)
	}
}

func TestViewsAbsentAndBad(t *testing.T) {
	m := mustParse(t, "OPTIONS sip:a@b SIP/2.0\nContent-Length: 0\n\n")
	if _, err := m.Vias(); !errors.Is(err, ErrMissingHeader) {
		t.Errorf("Vias on no Via: %v", err)
	}
	if _, err := m.TopVia(); !errors.Is(err, ErrMissingHeader) {
		t.Errorf("TopVia on no Via: %v", err)
	}
	if _, err := m.From(); !errors.Is(err, ErrMissingHeader) {
		t.Errorf("From: %v", err)
	}
	if _, err := m.CSeq(); !errors.Is(err, ErrMissingHeader) {
		t.Errorf("CSeq: %v", err)
	}
	if m.CallID() != "" || m.ContentType() != "" || m.Require() != nil {
		t.Error("absent headers not empty")
	}
	if n, err := m.MaxForwards(); n != -1 || err != nil {
		t.Errorf("MaxForwards = %d, %v", n, err)
	}
	if n, err := mustParse(t, "OPTIONS sip:a@b SIP/2.0\nMax-Forwards: 0068\n\n").MaxForwards(); n != 68 || err != nil {
		t.Errorf("MaxForwards 0068 = %d, %v", n, err)
	}
	if n, err := m.Expires(); n != -1 || err != nil {
		t.Errorf("Expires = %d, %v", n, err)
	}
	if cs, err := m.Contacts(); cs != nil || err != nil {
		t.Errorf("Contacts = %v, %v", cs, err)
	}
	if rs, err := m.Routes(); rs != nil || err != nil {
		t.Errorf("Routes = %v, %v", rs, err)
	}

	for _, tt := range []struct {
		name, hdr string
		call      func(*Msg) error
		kind      error
	}{
		{"Max-Forwards not a number", "Max-Forwards: seventy", func(m *Msg) error { _, err := m.MaxForwards(); return err }, ErrBadMaxForwards},
		{"Max-Forwards above 255 with zeros", "Max-Forwards: 000256", func(m *Msg) error { _, err := m.MaxForwards(); return err }, ErrBadMaxForwards},
		{"Expires a date", "Expires: Thu, 01 Dec 1994 16:00:00 GMT", func(m *Msg) error { _, err := m.Expires(); return err }, ErrBadExpires},
		{"star mixed", "Contact: *, <sip:a@b>", func(m *Msg) error { _, err := m.Contacts(); return err }, ErrBadContact},
		{"bad q", "Contact: <sip:a@b>;q=1.5", func(m *Msg) error { _, err := m.Contacts(); return err }, ErrBadContact},
		{"bad contact expires", "Contact: <sip:a@b>;expires=soon", func(m *Msg) error { _, err := m.Contacts(); return err }, ErrBadContact},
		{"empty Via", "Via: ,", func(m *Msg) error { _, err := m.Vias(); return err }, ErrBadVia},
		{"not a request", "", func(m *Msg) error { _, err := m.RequestURIParsed(); return err }, ErrNotRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := "OPTIONS sip:a@b SIP/2.0\n"
			if tt.kind == ErrNotRequest {
				start = "SIP/2.0 200 OK\n"
			}
			m := mustParse(t, start+tt.hdr+"\nContent-Length: 0\n\n")
			if err := tt.call(m); !errors.Is(err, tt.kind) {
				t.Errorf("error = %v, want %v", err, tt.kind)
			}
		})
	}
}

func TestContactStarAndExpiresClamp(t *testing.T) {
	m := mustParse(t, "REGISTER sip:r SIP/2.0\nContact: *\nExpires: 0\nContent-Length: 0\n\n")
	cs, err := m.Contacts()
	if err != nil || len(cs) != 1 || !cs[0].Star || cs[0].Expires != -1 {
		t.Errorf("Contacts = %+v, %v", cs, err)
	}
	if e, err := m.Expires(); e != 0 || err != nil {
		t.Errorf("Expires = %d, %v", e, err)
	}
	m = mustParse(t, "REGISTER sip:r SIP/2.0\nExpires: 99999999999999\nContent-Length: 0\n\n")
	if e, err := m.Expires(); e != 1<<32-1 || err != nil {
		t.Errorf("Expires clamp = %d, %v", e, err)
	}
}

// TestRFC5118Views reads the shared RFC 5118 messages and checks the views.
func TestRFC5118Views(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "rfc5118")
	if _, err := os.Stat(dir); err != nil {
		dir = filepath.Join("testdata", "rfc5118")
	}
	load := func(name string) *Msg {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(dir, name+".dat"))
		if err != nil {
			t.Fatalf("RFC 5118 corpus missing: %v", err)
		}
		// The archive uses bare LF; make it wire format (see its README).
		s := strings.ReplaceAll(string(raw), "\n", "\r\n")
		if !strings.Contains(s, "\r\n\r\n") {
			s += "\r\n"
		}
		m, err := Parse([]byte(s), Datagram)
		if err != nil {
			t.Fatalf("%s: Parse: %v", name, err)
		}
		return m
	}
	t.Run("ipv6-bad", func(t *testing.T) {
		_, err := load("ipv6-bad").RequestURIParsed()
		if err == nil || !strings.Contains(err.Error(), "IPv6 address without brackets") {
			t.Errorf("Request-URI error = %v", err)
		}
	})
	t.Run("port-unambiguous", func(t *testing.T) {
		m := load("port-unambiguous")
		u, err := m.RequestURIParsed()
		if err != nil || u.Host != "2001:db8::10" || u.Port != 5070 {
			t.Errorf("Request-URI = %+v, %v", u, err)
		}
		cs, err := m.Contacts()
		if err != nil || len(cs) != 1 || cs[0].URI.Host != "2001:db8::1" || cs[0].Display != "Caller" {
			t.Errorf("Contacts = %+v, %v", cs, err)
		}
	})
	t.Run("via-received-param-with-delim", func(t *testing.T) {
		v, err := load("via-received-param-with-delim").TopVia()
		if err != nil || v.Received != "2001:db8::9:255" || v.SentBy() != "[2001:db8::9:1]" {
			t.Errorf("TopVia = %+v, %v", v, err)
		}
	})
	t.Run("mult-ip-in-header", func(t *testing.T) {
		vs, err := load("mult-ip-in-header").Vias()
		if err != nil || len(vs) != 3 {
			t.Fatalf("Vias = %+v, %v", vs, err)
		}
		if vs[0].SentBy() != "[2001:db8::9:1]:6050" || vs[1].SentBy() != "192.0.2.1" ||
			vs[2].SentBy() != "[2001:db8::9:255]" || vs[2].Received != "192.0.2.200" || vs[2].Transport != "TCP" {
			t.Errorf("Vias = %+v", vs)
		}
	})
	t.Run("ipv4-mapped-ipv6", func(t *testing.T) {
		m := load("ipv4-mapped-ipv6")
		v, err := m.TopVia()
		if err != nil || v.SentBy() != "[::ffff:192.0.2.10]:19823" {
			t.Errorf("TopVia = %+v, %v", v, err)
		}
		cs, err := m.Contacts()
		if err != nil || cs[0].URI.String() != "sip:ted@[::ffff:192.0.2.2]" || cs[0].Display != "T. desk phone" {
			t.Errorf("Contacts = %+v, %v", cs, err)
		}
	})
	t.Run("ipv6-correct-abnf-2-colons", func(t *testing.T) {
		m := load("ipv6-correct-abnf-2-colons")
		u, err := m.RequestURIParsed()
		if err != nil || u.Host != "2001:db8::192.0.2.1" {
			t.Errorf("Request-URI = %+v, %v", u, err)
		}
		to, err := m.To()
		if err != nil || to.URI.Host != "2001:db8::192.0.2.1" {
			t.Errorf("To = %+v, %v", to, err)
		}
	})
}

func TestSipgo(t *testing.T) {
	// sipgo rejects LWS inside the Via sent-protocol, so not the torture message.
	m := mustParse(t, inviteMsg)
	sm, err := m.Sipgo()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sm.String(), "a84b4c76e66710@pc33.atlanta.example.com") {
		t.Errorf("sipgo message lost the Call-ID:\n%s", sm.String())
	}
}
