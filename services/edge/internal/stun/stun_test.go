package stun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	pion "github.com/pion/stun/v3"
)

// request builds a Binding request with pion/stun, an independent STUN
// implementation, as a UA's stack would.
func request(t testing.TB, setters ...pion.Setter) *pion.Message {
	t.Helper()
	m, err := pion.Build(append([]pion.Setter{pion.TransactionID, pion.BindingRequest}, setters...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decode reads an answer with pion/stun.
func decode(t *testing.T, b []byte) *pion.Message {
	t.Helper()
	m := new(pion.Message)
	if err := pion.Decode(b, m); err != nil {
		t.Fatalf("pion cannot decode the answer: %v (% x)", err, b)
	}
	return m
}

func TestBindingAnsweredWithXORMappedAddress(t *testing.T) {
	for _, tc := range []struct {
		name        string
		from        string
		fingerprint bool
	}{
		{"IPv4, plain (RFC 5626 keepalive)", "192.0.2.1:32853", false},
		{"IPv4 with FINGERPRINT", "198.51.100.7:5060", true},
		{"IPv6 with FINGERPRINT", "[2001:db8:1234:5678:11:2233:4455:6677]:32853", true},
		{"IPv4-mapped IPv6 source", "[::ffff:192.0.2.9]:40000", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var setters []pion.Setter
			if tc.fingerprint {
				setters = append(setters, pion.Fingerprint)
			}
			req := request(t, setters...)
			from := netip.MustParseAddrPort(tc.from)
			out, err := Reply(req.Raw, from)
			if err != nil {
				t.Fatal(err)
			}
			res := decode(t, out)
			if res.Type != pion.BindingSuccess || res.TransactionID != req.TransactionID {
				t.Fatalf("answer %v tx %x, want Binding success for tx %x", res.Type, res.TransactionID, req.TransactionID)
			}
			var xor pion.XORMappedAddress
			if err := xor.GetFrom(res); err != nil {
				t.Fatalf("XOR-MAPPED-ADDRESS: %v", err)
			}
			got, _ := netip.AddrFromSlice(xor.IP)
			if netip.AddrPortFrom(got.Unmap(), uint16(xor.Port)) != netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) {
				t.Errorf("mapped address %v:%d, want %v", xor.IP, xor.Port, from)
			}
			hasFP := res.Contains(pion.AttrFingerprint)
			if hasFP != tc.fingerprint {
				t.Errorf("FINGERPRINT in answer: %v, want %v (as in the request)", hasFP, tc.fingerprint)
			}
			if hasFP {
				if err := pion.Fingerprint.Check(res); err != nil {
					t.Errorf("FINGERPRINT: %v", err)
				}
			}
		})
	}
}

func TestUnknownComprehensionRequiredGets420(t *testing.T) {
	// ICE's connectivity check carries USERNAME and PRIORITY: this server
	// has no credentials and no ICE.
	req := request(t, pion.NewUsername("evtj:h6vY"), pion.RawAttribute{Type: pion.AttrPriority, Value: []byte{0x6e, 0, 1, 0xff}},
		pion.RawAttribute{Type: pion.AttrICEControlled, Value: make([]byte, 8)}, pion.Fingerprint)
	out, err := Reply(req.Raw, netip.MustParseAddrPort("192.0.2.1:5060"))
	if err != nil {
		t.Fatal(err)
	}
	res := decode(t, out)
	if res.Type != (pion.MessageType{Method: pion.MethodBinding, Class: pion.ClassErrorResponse}) || res.TransactionID != req.TransactionID {
		t.Fatalf("answer %v, want a Binding error response", res.Type)
	}
	var code pion.ErrorCodeAttribute
	if err := code.GetFrom(res); err != nil || code.Code != pion.CodeUnknownAttribute {
		t.Fatalf("ERROR-CODE %v (%v), want 420", code.Code, err)
	}
	var unknown pion.UnknownAttributes
	if err := unknown.GetFrom(res); err != nil {
		t.Fatal(err)
	}
	if len(unknown) != 2 || unknown[0] != pion.AttrUsername || unknown[1] != pion.AttrPriority {
		t.Errorf("UNKNOWN-ATTRIBUTES %v, want USERNAME, PRIORITY (ICE-CONTROLLED is comprehension-optional)", unknown)
	}
	if err := pion.Fingerprint.Check(res); err != nil {
		t.Errorf("FINGERPRINT: %v", err)
	}
}

func TestNotAnswered(t *testing.T) {
	from := netip.MustParseAddrPort("192.0.2.1:5060")
	good := request(t, pion.Fingerprint).Raw
	badFP := bytes.Clone(good)
	badFP[len(badFP)-1] ^= 1
	indication, _ := pion.Build(pion.TransactionID, pion.NewType(pion.MethodBinding, pion.ClassIndication))
	response, _ := pion.Build(pion.TransactionID, pion.BindingSuccess)
	overrun := bytes.Clone(request(t, pion.NewSoftware("x")).Raw)
	binary.BigEndian.PutUint16(overrun[22:], 200) // attribute longer than the message
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"SIP", []byte("OPTIONS sip:a SIP/2.0\r\n\r\n"), ErrNotSTUN},
		{"short", good[:12], errShortHeader},
		{"length does not match", good[:len(good)-4], ErrNotSTUN},
		{"no magic cookie (RFC 3489)", append([]byte{0, 1, 0, 0, 1, 2, 3, 4}, make([]byte, 12)...), ErrNotSTUN},
		{"FINGERPRINT does not match", badFP, ErrMalformed},
		{"attribute overruns the message", overrun, ErrMalformed},
		{"indication", indication.Raw, ErrNotBindReq},
		{"response", response.Raw, ErrNotBindReq},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Reply(tc.b, from)
			if out != nil || !errors.Is(err, tc.want) {
				t.Errorf("Reply = % x, %v; want nothing, %v", out, err, tc.want)
			}
		})
	}
}

// FuzzReply: any datagram is either not answered or answered with a STUN
// response pion/stun reads, for the request's transaction, and never
// larger than the request plus the fixed attributes of the answer.
func FuzzReply(f *testing.F) {
	f.Add(request(f).Raw, []byte{192, 0, 2, 1}, uint16(5060))
	f.Add(request(f, pion.Fingerprint).Raw, []byte{32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(1))
	f.Add(request(f, pion.NewUsername("u"), pion.Fingerprint).Raw, []byte{10, 0, 0, 1}, uint16(65535))
	f.Add([]byte("\r\n\r\n"), []byte{127, 0, 0, 1}, uint16(5060))
	f.Fuzz(func(t *testing.T, b, ip []byte, port uint16) {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return
		}
		out, err := Reply(b, netip.AddrPortFrom(a, port))
		if err != nil {
			if out != nil {
				t.Fatal("an answer with an error")
			}
			return
		}
		res := new(pion.Message)
		if err := pion.Decode(out, res); err != nil {
			t.Fatalf("answer does not decode: %v", err)
		}
		if !bytes.Equal(res.TransactionID[:], b[8:20]) {
			t.Fatal("answer for another transaction")
		}
		if len(out) > len(b)+HeaderLen+24+8 {
			t.Fatalf("answer of %d bytes to a request of %d", len(out), len(b))
		}
	})
}
