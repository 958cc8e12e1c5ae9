// Package stun answers the STUN Binding requests (RFC 8489, which obsoletes
// RFC 5389) that SIP user agents send to a proxy's SIP UDP port as
// keepalives (RFC 5626 §4.4.2): the answer, with XOR-MAPPED-ADDRESS, keeps
// the NAT binding open and tells the UA the address the proxy sees, so it
// notices when its NAT mapping changed.
//
// Only what that use needs is done, without state and without credentials:
//   - a Binding request is answered with a success response carrying
//     XOR-MAPPED-ADDRESS, and FINGERPRINT when the request had one (32
//     bytes to a 20-byte IPv4 request: the reflection a spoofed source
//     could get is small, and flood control limits its rate per source);
//   - a Binding request with a comprehension-required attribute this
//     server does not know (USERNAME, MESSAGE-INTEGRITY, PRIORITY: those of
//     ICE and of authenticated STUN) gets a 420 error response listing them
//     in UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1);
//   - anything else (indications, responses, other methods, a bad length,
//     a FINGERPRINT that does not match) is not answered: the caller drops
//     it.
//
// A STUN message is told from SIP by its first byte: STUN's first two bits
// are zero, a SIP message starts with a letter.
package stun

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
)

// Errors of Reply: the datagram is dropped unanswered.
var (
	ErrNotSTUN     = errors.New("stun: not a STUN message")
	ErrMalformed   = errors.New("stun: malformed message")
	ErrNotBindReq  = errors.New("stun: not a Binding request")
	errShortHeader = errors.New("stun: shorter than its 20-byte header")
)

// Wire constants (RFC 8489 §5, §14, §18).
const (
	MagicCookie = 0x2112A442
	HeaderLen   = 20

	BindingRequest       = 0x0001
	BindingSuccess       = 0x0101
	BindingError         = 0x0111
	AttrXORMappedAddress = 0x0020
	AttrErrorCode        = 0x0009
	AttrUnknownAttrs     = 0x000A
	AttrFingerprint      = 0x8028
	fingerprintXOR       = 0x5354554e
)

// Is reports whether b looks like a STUN message (first two bits zero, the
// magic cookie, a length that fits): cheap enough to run on every datagram.
func Is(b []byte) bool {
	return len(b) >= HeaderLen && b[0]&0xC0 == 0 &&
		binary.BigEndian.Uint32(b[4:8]) == MagicCookie &&
		int(binary.BigEndian.Uint16(b[2:4]))+HeaderLen == len(b) && len(b)%4 == 0
}

// Message is a parsed STUN message.
type Message struct {
	Type  uint16
	TxID  [12]byte
	Attrs []Attr
}

// Attr is one attribute; Value aliases the parsed bytes.
type Attr struct {
	Type  uint16
	Value []byte
}

// Parse reads a STUN message: header, attributes within bounds, and a
// FINGERPRINT, when present, last and matching.
func Parse(b []byte) (*Message, error) {
	if len(b) < HeaderLen {
		return nil, errShortHeader
	}
	if !Is(b) {
		return nil, ErrNotSTUN
	}
	m := &Message{Type: binary.BigEndian.Uint16(b[0:2])}
	copy(m.TxID[:], b[8:20])
	for off := HeaderLen; off < len(b); {
		if len(b)-off < 4 {
			return nil, ErrMalformed
		}
		typ, n := binary.BigEndian.Uint16(b[off:]), int(binary.BigEndian.Uint16(b[off+2:]))
		end := off + 4 + n
		if end > len(b) {
			return nil, ErrMalformed
		}
		if typ == AttrFingerprint {
			if n != 4 || (end+3)&^3 != len(b) {
				return nil, ErrMalformed
			}
			if binary.BigEndian.Uint32(b[off+4:]) != crc32.ChecksumIEEE(b[:off])^fingerprintXOR {
				return nil, ErrMalformed
			}
		}
		m.Attrs = append(m.Attrs, Attr{Type: typ, Value: b[off+4 : end]})
		off = (end + 3) &^ 3
	}
	return m, nil
}

// Reply returns the answer to the datagram b received from `from`: a
// Binding success response, a 420 error response, or an error (drop it).
func Reply(b []byte, from netip.AddrPort) ([]byte, error) {
	m, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if m.Type != BindingRequest {
		return nil, ErrNotBindReq
	}
	var unknown []uint16
	for _, a := range m.Attrs {
		if a.Type < 0x8000 {
			unknown = append(unknown, a.Type)
		}
	}
	fp := len(m.Attrs) > 0 && m.Attrs[len(m.Attrs)-1].Type == AttrFingerprint
	if len(unknown) > 0 {
		return errorResponse(m.TxID, 420, "Unknown Attribute", unknown, fp), nil
	}
	return success(m.TxID, from, fp), nil
}

func success(tx [12]byte, from netip.AddrPort, fp bool) []byte {
	a := from.Addr().Unmap()
	var value []byte
	port := from.Port() ^ uint16(MagicCookie>>16)
	if a.Is4() {
		ip := a.As4()
		value = binary.BigEndian.AppendUint16([]byte{0, 0x01}, port)
		value = binary.BigEndian.AppendUint32(value, binary.BigEndian.Uint32(ip[:])^MagicCookie)
	} else {
		ip := a.As16()
		var key [16]byte
		binary.BigEndian.PutUint32(key[:], MagicCookie)
		copy(key[4:], tx[:])
		value = binary.BigEndian.AppendUint16([]byte{0, 0x02}, port)
		for i := range ip {
			value = append(value, ip[i]^key[i])
		}
	}
	return build(BindingSuccess, tx, []Attr{{AttrXORMappedAddress, value}}, fp)
}

func errorResponse(tx [12]byte, code int, reason string, unknown []uint16, fp bool) []byte {
	ec := append([]byte{0, 0, byte(code / 100), byte(code % 100)}, reason...)
	var ua []byte
	for _, t := range unknown {
		ua = binary.BigEndian.AppendUint16(ua, t)
	}
	return build(BindingError, tx, []Attr{{AttrErrorCode, ec}, {AttrUnknownAttrs, ua}}, fp)
}

// build writes a message with attrs, and a FINGERPRINT when fp.
func build(typ uint16, tx [12]byte, attrs []Attr, fp bool) []byte {
	b := make([]byte, HeaderLen, 128)
	binary.BigEndian.PutUint16(b[0:], typ)
	binary.BigEndian.PutUint32(b[4:], MagicCookie)
	copy(b[8:], tx[:])
	for _, a := range attrs {
		b = binary.BigEndian.AppendUint16(b, a.Type)
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.Value)))
		b = append(b, a.Value...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	if !fp {
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)-HeaderLen))
		return b
	}
	// The length covers the FINGERPRINT, whose CRC covers all before it.
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)-HeaderLen+8))
	crc := crc32.ChecksumIEEE(b) ^ fingerprintXOR
	b = binary.BigEndian.AppendUint16(b, AttrFingerprint)
	b = binary.BigEndian.AppendUint16(b, 4)
	return binary.BigEndian.AppendUint32(b, crc)
}
