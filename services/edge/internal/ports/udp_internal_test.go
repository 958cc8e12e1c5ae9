package ports

import (
	"net/netip"
	"testing"
)

func TestCallIDHash(t *testing.T) {
	from := netip.MustParseAddrPort("127.0.0.1:5060")
	other := netip.MustParseAddrPort("127.0.0.2:5070")
	msg := func(h string) []byte {
		return []byte("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP x;branch=z9hG4bK1\r\n" + h + "\r\nCSeq: 1 INVITE\r\n\r\nCall-ID: body\r\n")
	}
	base := callIDHash(msg("Call-ID: abc@host"), from)
	for name, h := range map[string]string{
		"compact":    "i: abc@host",
		"case":       "CALL-ID: abc@host",
		"spaces":     "Call-ID :  abc@host ",
		"other peer": "Call-ID: abc@host",
	} {
		src := from
		if name == "other peer" {
			src = other
		}
		if got := callIDHash(msg(h), src); got != base {
			t.Errorf("%s: hash %d, want %d (same call)", name, got, base)
		}
	}
	if callIDHash(msg("Call-ID: other@host"), from) == base {
		t.Error("different Call-IDs hash the same")
	}
	none := []byte("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r\nCall-ID: in-body\r\n")
	if callIDHash(none, from) == callIDHash(msg("Call-ID: in-body"), from) {
		t.Error("a Call-ID in the body was used")
	}
	if callIDHash(none, from) == callIDHash(none, other) {
		t.Error("without Call-ID, different sources should spread")
	}
}

func BenchmarkCallIDHash(b *testing.B) {
	m := []byte("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\nTo: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\n\r\n")
	from := netip.MustParseAddrPort("192.0.2.1:5060")
	b.ReportAllocs()
	for b.Loop() {
		callIDHash(m, from)
	}
}
