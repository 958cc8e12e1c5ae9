package sipmsg

import (
	"strings"
	"testing"
)

// mkReq builds a request from basicReq with header lines replaced or added.
func mkReq(replace map[string]string, startLine string) []byte {
	s := basicReq
	if startLine != "" {
		s = startLine + s[strings.IndexByte(s, '\n'):]
	}
	for old, nw := range replace {
		if strings.Contains(s, old) {
			s = strings.Replace(s, old, nw, 1)
		} else {
			s = strings.Replace(s, "Content-Length: 0\n", nw+"Content-Length: 0\n", 1)
		}
	}
	return pcrlf(s)
}

func TestCheckRequest(t *testing.T) {
	ep := CheckOptions{Role: RoleEndpoint, Methods: []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"},
		Accept: []string{"application/sdp"}, Supported: []string{"timer"}}
	px := CheckOptions{Role: RoleProxy}
	tests := []struct {
		name   string
		raw    []byte
		f      Framing
		opt    CheckOptions
		status int
		reason string
	}{
		{name: "ok", raw: mkReq(nil, ""), opt: ep},
		{name: "ok proxy", raw: mkReq(nil, ""), opt: px},
		{name: "missing call-id", raw: mkReq(map[string]string{"Call-ID: c1@example.com\n": ""}, ""), status: 400, reason: "Missing Call-ID"},
		{name: "missing via", raw: mkReq(map[string]string{"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1\n": ""}, ""), status: 400, reason: "Missing Via"},
		{name: "no max-forwards is fine", raw: mkReq(map[string]string{"Max-Forwards: 70\n": ""}, ""), opt: px},
		{name: "bad max-forwards", raw: mkReq(map[string]string{"Max-Forwards: 70": "Max-Forwards: 256"}, ""), status: 400, reason: "Bad Max-Forwards: must be 0 to 255"},
		{name: "max-forwards 0 at proxy", raw: mkReq(map[string]string{"Max-Forwards: 70": "Max-Forwards: 0"}, ""), opt: px, status: 483, reason: "Too Many Hops"},
		{name: "max-forwards 0 at endpoint", raw: mkReq(map[string]string{"Max-Forwards: 70": "Max-Forwards: 0"}, ""), opt: ep},
		{name: "cseq method mismatch", raw: mkReq(map[string]string{"CSeq: 1 INVITE": "CSeq: 1 BYE"}, ""), status: 400, reason: "Bad CSeq: method does not match request method"},
		{name: "cseq overflow", raw: mkReq(map[string]string{"CSeq: 1 INVITE": "CSeq: 4294967296 INVITE"}, ""), status: 400, reason: "Bad CSeq: sequence number out of range"},
		{name: "version", raw: mkReq(nil, "INVITE sip:bob@example.com SIP/3.0"), status: 505, reason: "Version Not Supported: SIP/3.0"},
		{name: "scheme", raw: mkReq(nil, "INVITE mailto:bob@example.com SIP/2.0"), status: 416},
		{name: "ipv6 without brackets", raw: mkReq(nil, "INVITE sip:2001:db8::10 SIP/2.0"), status: 400},
		{name: "ipv6 with brackets", raw: mkReq(nil, "INVITE sip:[2001:db8::10]:5070 SIP/2.0"), opt: ep},
		{name: "ipv6 three colons (RFC 5118 4.10)", raw: mkReq(nil, "INVITE sip:user@[2001:db8:::192.0.2.1] SIP/2.0"), opt: ep},
		{name: "ipv6 port inside brackets (RFC 5118 4.3)", raw: mkReq(nil, "INVITE sip:[2001:db8::10:5070] SIP/2.0"), opt: ep},
		{name: "received without brackets (RFC 5118 4.5)", raw: mkReq(map[string]string{"branch=z9hG4bK1": "branch=z9hG4bK1;received=2001:db8::9:255"}, ""), opt: ep},
		{name: "received with brackets (RFC 5118 4.5)", raw: mkReq(map[string]string{"branch=z9hG4bK1": "branch=z9hG4bK1;received=[2001:db8::9:255]"}, ""), opt: ep},
		{name: "unknown method endpoint", raw: mkReq(map[string]string{"CSeq: 1 INVITE": "CSeq: 1 FOO"}, "FOO sip:bob@example.com SIP/2.0"), opt: ep, status: 501},
		{name: "unknown method proxy", raw: mkReq(map[string]string{"CSeq: 1 INVITE": "CSeq: 1 FOO"}, "FOO sip:bob@example.com SIP/2.0"), opt: px},
		{name: "require", raw: mkReq(map[string]string{"Require": "Require: timer, foo\n"}, ""), opt: ep, status: 420, reason: "Bad Extension: foo"},
		{name: "require ignored by proxy", raw: mkReq(map[string]string{"Require": "Require: foo\n"}, ""), opt: px},
		{name: "proxy-require", raw: mkReq(map[string]string{"Proxy-Require": "Proxy-Require: foo\n"}, ""), opt: px, status: 420},
		{name: "datagram CL exceeds body", raw: mkReq(map[string]string{"Content-Length: 0": "Content-Length: 10"}, ""), status: 400, reason: "Content-Length 10 exceeds body (0 octets)"},
		{name: "stream CL exceeds body", raw: mkReq(map[string]string{"Content-Length: 0": "Content-Length: 10"}, ""), f: Stream, status: 400},
		{name: "negative CL", raw: mkReq(map[string]string{"Content-Length: 0": "Content-Length: -1"}, ""), status: 400, reason: "Bad Content-Length"},
		{name: "two from", raw: mkReq(map[string]string{"From2": "From: <sip:x@y>;tag=2\n"}, ""), status: 400, reason: "Multiple From header fields"},
		{name: "unbalanced quote", raw: mkReq(map[string]string{"To: <sip:bob@example.com>": `To: "Bob <sip:bob@example.com>`}, ""), status: 400, reason: "Bad To: unterminated quoted string"},
		{name: "token display name", raw: mkReq(map[string]string{"To: <sip:bob@example.com>": `To: Bob Smith<sip:bob@example.com>`}, ""), opt: ep},
		{name: "addr-spec params belong to header", raw: mkReq(map[string]string{"To: <sip:bob@example.com>": `To: sip:bob@example.com;foo`}, ""), opt: ep},
		{name: "contact star", raw: mkReq(map[string]string{"Contact": "Contact: *\n"}, ""), opt: px},
		{name: "bad header name", raw: mkReq(map[string]string{"Bad Name": "Bad Name: x\n"}, ""), status: 400, reason: "Bad header name: Bad Name"},
		{name: "bad via", raw: mkReq(map[string]string{"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1": "Via: SIP/2.0/UDP"}, ""), status: 400},
		{name: "folded via", raw: mkReq(map[string]string{"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1": "Via: SIP / 2.0 / UDP\n  host.example.com : 5060 ;\n branch = z9hG4bK1"}, ""), opt: ep},
		{name: "unsupported body", raw: pcrlf(strings.Replace(basicReq, "Content-Length: 0\n\n", "Content-Type: text/html\nContent-Length: 2\n\nhi", 1)), opt: ep, status: 415},
		{name: "body without type", raw: pcrlf(strings.Replace(basicReq, "Content-Length: 0\n\n", "Content-Length: 2\n\nhi", 1)), opt: ep, status: 400, reason: "Missing Content-Type for a message body"},
		{name: "accept rules out sdp", raw: mkReq(map[string]string{"Accept": "Accept: text/plain\n"}, ""), opt: ep, status: 406},
		{name: "accept wildcard", raw: mkReq(map[string]string{"Accept": "Accept: application/*\n"}, ""), opt: ep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.raw, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			tc.opt.Framing = tc.f
			f := Check(m, tc.opt)
			if tc.status == 0 {
				if f != nil {
					t.Fatalf("fault %d %q", f.Status, f.Reason)
				}
				return
			}
			if f == nil || f.Status != tc.status || (tc.reason != "" && f.Reason != tc.reason) {
				t.Fatalf("fault = %+v, want %d %q", f, tc.status, tc.reason)
			}
		})
	}
}

func TestCheckResponse(t *testing.T) {
	resp := "SIP/2.0 200 OK\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\nTo: <sip:b@x>;tag=2\nFrom: <sip:a@x>;tag=1\nCall-ID: c\nCSeq: 1 INVITE\nContent-Length: 0\n\n"
	tests := []struct {
		name  string
		raw   string
		opt   CheckOptions
		fault bool
	}{
		{"ok", resp, CheckOptions{Role: RoleEndpoint}, false},
		{"two vias at endpoint", strings.Replace(resp, "To:", "Via: SIP/2.0/UDP b.example.com\nTo:", 1), CheckOptions{Role: RoleEndpoint}, true},
		{"two vias at proxy", strings.Replace(resp, "To:", "Via: SIP/2.0/UDP b.example.com\nTo:", 1), CheckOptions{Role: RoleProxy}, false},
		{"missing cseq", strings.Replace(resp, "CSeq: 1 INVITE\n", "", 1), CheckOptions{}, true},
		{"status 700", strings.Replace(resp, "200 OK", "700 Odd", 1), CheckOptions{}, true},
		{"status 99", strings.Replace(resp, "200 OK", "99 Odd", 1), CheckOptions{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(pcrlf(tc.raw), Datagram)
			if err != nil {
				t.Fatal(err)
			}
			f := Check(m, tc.opt)
			if (f != nil) != tc.fault {
				t.Fatalf("fault = %+v", f)
			}
			if f != nil && f.Status != 0 {
				t.Fatalf("response faults must be drops, got %d", f.Status)
			}
		})
	}
}

func TestFaultError(t *testing.T) {
	f := &Fault{Status: 400, Reason: "Missing Call-ID"}
	if f.Error() != "sipmsg: Missing Call-ID" {
		t.Fatal(f.Error())
	}
}
