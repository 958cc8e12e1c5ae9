package sipmsg

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// pcrlf turns "\n" into CRLF so test messages read naturally.
func pcrlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

const basicReq = `INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1
Max-Forwards: 70
To: <sip:bob@example.com>
From: <sip:alice@example.com>;tag=1
Call-ID: c1@example.com
CSeq: 1 INVITE
Content-Length: 0

`

func TestParseStartLine(t *testing.T) {
	tests := []struct {
		name                 string
		raw                  string
		req                  bool
		method, uri, version string
		id                   Method
		code                 int
		reason               string
		err                  error
	}{
		{name: "request", raw: "INVITE sip:a@b SIP/2.0\n\n", req: true, method: "INVITE", uri: "sip:a@b", version: "SIP/2.0", id: INVITE},
		{name: "lowercase method is unknown", raw: "invite sip:a@b SIP/2.0\n\n", req: true, method: "invite", uri: "sip:a@b", version: "SIP/2.0", id: MethodUnknown},
		{name: "extra SP tolerated", raw: "INVITE  sip:a@b  SIP/2.0  \n\n", req: true, method: "INVITE", uri: "sip:a@b", version: "SIP/2.0", id: INVITE},
		{name: "LWS in URI kept for Check", raw: "INVITE sip:a@b; lr SIP/2.0\n\n", req: true, method: "INVITE", uri: "sip:a@b; lr", version: "SIP/2.0", id: INVITE},
		{name: "response", raw: "SIP/2.0 180 Ringing\n\n", code: 180, reason: "Ringing", version: "SIP/2.0"},
		{name: "empty reason", raw: "SIP/2.0 100 \n\n", code: 100, version: "SIP/2.0"},
		{name: "no reason no SP", raw: "SIP/2.0 100\n\n", code: 100, version: "SIP/2.0"},
		{name: "leading CRLF skipped", raw: "\r\n\r\nOPTIONS sip:x SIP/2.0\n\n", req: true, method: "OPTIONS", uri: "sip:x", version: "SIP/2.0", id: OPTIONS},
		{name: "empty", raw: "\r\n\r\n", err: ErrEmpty},
		{name: "garbage", raw: "hello\n\n", err: ErrBadStartLine},
		{name: "http", raw: "GET / HTTP/1.1\n\n", err: ErrBadStartLine},
		{name: "no uri", raw: "INVITE SIP/2.0\n\n", err: ErrBadStartLine},
		{name: "bad code", raw: "SIP/2.0 abc OK\n\n", err: ErrBadStartLine},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(pcrlf(tc.raw), Datagram)
			if err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if m.Request != tc.req || m.Str(m.Method) != tc.method || m.Str(m.RequestURI) != tc.uri ||
				m.Str(m.Version) != tc.version || m.MethodID != tc.id || m.StatusCode != tc.code || m.Str(m.Reason) != tc.reason {
				t.Fatalf("got req=%v method=%q uri=%q version=%q id=%v code=%d reason=%q",
					m.Request, m.Str(m.Method), m.Str(m.RequestURI), m.Str(m.Version), m.MethodID, m.StatusCode, m.Str(m.Reason))
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	raw := pcrlf("OPTIONS sip:a@b SIP/2.0\n" +
		"v: SIP/2.0/UDP h;branch=z9hG4bK1\n" +
		"VIA  :  SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK2  \n" +
		"f: <sip:a@b>;tag=1\n" +
		"t: <sip:b@c>\n" +
		"i: x@y\n" +
		"m: <sip:a@[2001:db8::9]>\n" +
		"s :\n" +
		"Subject-X: folded\n  continued\n\tagain\n" +
		"r: <sip:refer@x>\n" +
		"b: <sip:by@x>\n" +
		"o: presence\n" +
		"u: presence\n" +
		"k: timer\n" +
		"x: 1800\n" +
		"MaX-fOrWaRdS: 0068\n" +
		"l: 4\n\nbodyEXTRA")
	m, err := Parse(raw, Datagram)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id      HeaderID
		compact bool
		name    string
		value   string
	}{
		{HVia, true, "v", "SIP/2.0/UDP h;branch=z9hG4bK1"},
		{HVia, false, "VIA", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK2"},
		{HFrom, true, "f", "<sip:a@b>;tag=1"},
		{HTo, true, "t", "<sip:b@c>"},
		{HCallID, true, "i", "x@y"},
		{HContact, true, "m", "<sip:a@[2001:db8::9]>"},
		{HSubject, true, "s", ""},
		{HUnknown, false, "Subject-X", "folded\r\n  continued\r\n\tagain"},
		{HReferTo, true, "r", "<sip:refer@x>"},
		{HReferredBy, true, "b", "<sip:by@x>"},
		{HEvent, true, "o", "presence"},
		{HAllowEvents, true, "u", "presence"},
		{HSupported, true, "k", "timer"},
		{HSessionExpires, true, "x", "1800"},
		{HMaxForwards, false, "MaX-fOrWaRdS", "0068"},
		{HContentLength, true, "l", "4"},
	}
	if len(m.Headers) != len(want) {
		t.Fatalf("%d headers, want %d", len(m.Headers), len(want))
	}
	for i, w := range want {
		h := m.Headers[i]
		if h.ID != w.id || h.Compact != w.compact || m.Str(h.Name) != w.name || m.Str(h.Value) != w.value {
			t.Errorf("header %d = {%v %v %q %q}, want %+v", i, h.ID, h.Compact, m.Str(h.Name), m.Str(h.Value), w)
		}
	}
	if got := m.Values(HVia); len(got) != 2 {
		t.Errorf("Values(Via) = %q", got)
	}
	if got := m.HeaderValue(m.Headers[7]); got != "folded continued again" {
		t.Errorf("unfolded = %q", got)
	}
	if !m.Terminated || m.ContentLength != 4 || m.Str(m.Body) != "body" {
		t.Errorf("terminated=%v cl=%d body=%q", m.Terminated, m.ContentLength, m.Str(m.Body))
	}
	if m.Value(HPath) != "" {
		t.Error("Value of an absent header must be empty")
	}
}

func TestParseBodyFraming(t *testing.T) {
	hdr := "MESSAGE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n"
	tests := []struct {
		name   string
		raw    string
		f      Framing
		cl     int
		body   string
		termin bool
	}{
		{"datagram truncates to CL", hdr + "Content-Length: 2\n\nabcd", Datagram, 2, "ab", true},
		{"datagram no CL takes rest", hdr + "\nabcd", Datagram, CLAbsent, "abcd", true},
		{"stream no CL is empty", hdr + "\nabcd", Stream, CLAbsent, "", true},
		{"CL larger than body", hdr + "Content-Length: 99\n\nabcd", Datagram, 99, "abcd", true},
		{"negative CL", hdr + "Content-Length: -1\n\nabcd", Datagram, CLInvalid, "abcd", true},
		{"conflicting CL", hdr + "Content-Length: 1\nl: 2\n\nabcd", Datagram, CLInvalid, "abcd", true},
		{"same CL twice", hdr + "Content-Length: 1\nl: 1\n\nabcd", Datagram, 1, "a", true},
		{"no empty line", hdr + "Content-Length: 0", Datagram, 0, "", false},
		{"bare LF", strings.ReplaceAll(hdr, "\n", "\r\n") + "l: 3\n\nabcd", Datagram, 3, "abc", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := pcrlf(tc.raw)
			if tc.name == "bare LF" {
				raw = []byte(tc.raw)
			}
			m, err := Parse(raw, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if m.ContentLength != tc.cl || m.Str(m.Body) != tc.body || m.Terminated != tc.termin {
				t.Fatalf("cl=%d body=%q terminated=%v", m.ContentLength, m.Str(m.Body), m.Terminated)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		err  error
	}{
		{"header without colon", pcrlf("OPTIONS sip:a SIP/2.0\nnocolon\n\n"), ErrBadHeaderLine},
		{"fold before first header", pcrlf("OPTIONS sip:a SIP/2.0\n folded: x\n\n"), ErrBadHeaderLine},
		{"too many headers", append(pcrlf("OPTIONS sip:a SIP/2.0\n"), bytes.Repeat([]byte("X: y\r\n"), MaxHeaderLines+1)...), ErrTooManyHeaders},
		{"too large", make([]byte, MaxMessageSize+1), ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.raw, Datagram); err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestParseManyHeadersGrows(t *testing.T) {
	raw := append(pcrlf("OPTIONS sip:a SIP/2.0\n"), bytes.Repeat([]byte("X-Y: z\r\n"), InlineHeaders*3)...)
	raw = append(raw, "\r\n"...)
	var m Msg
	for i := 0; i < 2; i++ {
		if err := m.Parse(raw, Datagram); err != nil {
			t.Fatal(err)
		}
		if len(m.Headers) != InlineHeaders*3 {
			t.Fatalf("%d headers", len(m.Headers))
		}
	}
}

func TestLookupHeader(t *testing.T) {
	for id := HeaderID(1); id < numHeaderIDs; id++ {
		for _, n := range []string{id.Name(), strings.ToUpper(id.Name()), strings.ToLower(id.Name())} {
			if got, c := LookupHeader([]byte(n)); got != id || c {
				t.Errorf("LookupHeader(%q) = %v,%v", n, got, c)
			}
		}
	}
	compact := map[string]HeaderID{"v": HVia, "f": HFrom, "t": HTo, "i": HCallID, "m": HContact,
		"l": HContentLength, "c": HContentType, "e": HContentEncoding, "k": HSupported, "s": HSubject,
		"r": HReferTo, "b": HReferredBy, "o": HEvent, "u": HAllowEvents, "x": HSessionExpires,
		"a": HAcceptContact, "j": HRejectContact, "d": HRequestDisposition, "y": HIdentity, "n": HIdentityInfo,
		"V": HVia, "I": HCallID}
	for n, id := range compact {
		if got, c := LookupHeader([]byte(n)); got != id || !c {
			t.Errorf("LookupHeader(%q) = %v,%v want %v", n, got, c, id)
		}
	}
	for _, n := range []string{"q", "z", "1", "X-Custom", "", "Via-", "ProxyRequire"} {
		if got, _ := LookupHeader([]byte(n)); got != HUnknown {
			t.Errorf("LookupHeader(%q) = %v", n, got)
		}
	}
	if HUnknown.Name() != "" || HeaderID(250).Name() != "" {
		t.Error("unknown names must be empty")
	}
}

func TestMethodString(t *testing.T) {
	for m := INVITE; m <= UPDATE; m++ {
		if LookupMethod([]byte(m.String())) != m {
			t.Errorf("round trip of %v", m)
		}
	}
	if MethodUnknown.String() != "" || Method(200).String() != "" {
		t.Error("unknown method must print empty")
	}
}

func TestParseZeroAlloc(t *testing.T) {
	raw, err := os.ReadFile("testdata/invite900.sip")
	if err != nil {
		t.Fatal(err)
	}
	var m Msg
	allocs := testing.AllocsPerRun(100, func() {
		if err := m.Parse(raw, Datagram); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Parse allocates %v times per message", allocs)
	}
}
