package replay

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// placeholder addresses for a side whose address is not known (a flow
// without a peer address): TEST-NET-1 and the documentation prefix.
var (
	unknown4 = netip.MustParseAddrPort("192.0.2.1:5060")
	unknown6 = netip.MustParseAddrPort("[2001:db8::1]:5060")
)

// WritePcap writes the call's SIP messages as UDP datagrams (link type
// raw IP), at the items' times; it returns how many it wrote.
func WritePcap(w io.Writer, c *Call) (int, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		return 0, err
	}
	n := 0
	for _, it := range c.Items {
		if it.SIP == nil {
			continue
		}
		pkt, err := Packet(it.From, it.To, it.SIP.Raw)
		if err != nil {
			return n, fmt.Errorf("replay: pcap: message %d: %w", it.Seq, err)
		}
		ci := gopacket.CaptureInfo{Timestamp: it.At, CaptureLength: len(pkt), Length: len(pkt)}
		if err := pw.WritePacket(ci, pkt); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Packet is payload in a UDP datagram from -> to in an IPv4 or IPv6
// packet (IPv6 when either side is IPv6). Unknown addresses become a
// documentation address; a payload too large for one datagram is cut.
func Packet(from, to string, payload []byte) ([]byte, error) {
	src, okS := addrOf(from)
	dst, okD := addrOf(to)
	v6 := okS && src.Addr().Is6() && !src.Addr().Is4In6() || okD && dst.Addr().Is6() && !dst.Addr().Is4In6()
	fix := func(a netip.AddrPort, ok bool) netip.AddrPort {
		switch {
		case !ok && v6:
			return unknown6
		case !ok:
			return unknown4
		case v6 && a.Addr().Is4():
			return netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
		}
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	src, dst = fix(src, okS), fix(dst, okD)
	if len(payload) > 65000 {
		payload = payload[:65000]
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	var ip gopacket.NetworkLayer
	if v6 {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ip = ip6
	} else {
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ip = ip4
	}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ip.(gopacket.SerializableLayer), udp, gopacket.Payload(payload)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
