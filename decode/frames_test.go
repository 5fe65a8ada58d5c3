package decode

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Test frames are built with gopacket.SerializeLayers so lengths and
// checksums are right; the hostile and malformed ones are then patched.

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	ip4A = net.IP{10, 0, 0, 1}
	ip4B = net.IP{10, 0, 0, 2}
	ip6A = net.ParseIP("2001:db8::a")
	ip6B = net.ParseIP("2001:db8::b")

	testTS = time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)
)

// serialize builds a frame from ls, fixing lengths and checksums.
func serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	for i, l := range ls {
		var nl gopacket.NetworkLayer
		for j := i - 1; j >= 0 && nl == nil; j-- {
			switch n := ls[j].(type) {
			case *layers.IPv4:
				nl = n
			case *layers.IPv6:
				nl = n
			}
		}
		if nl == nil {
			continue
		}
		switch t := l.(type) {
		case *layers.TCP:
			t.SetNetworkLayerForChecksum(nl)
		case *layers.UDP:
			t.SetNetworkLayerForChecksum(nl)
		case *layers.ICMPv6:
			t.SetNetworkLayerForChecksum(nl)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		tb.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
}

func ethBA(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macB, DstMAC: macA, EthernetType: t}
}

func ip4(p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0x1234, Protocol: p, SrcIP: ip4A, DstIP: ip4B}
}

func ip4BA(p layers.IPProtocol) *layers.IPv4 {
	ip := ip4(p)
	ip.SrcIP, ip.DstIP = ip4B, ip4A
	return ip
}

func ip6(p layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p, SrcIP: ip6A, DstIP: ip6B}
}

func tcp(sp, dp uint16, flags uint8, seq, ack uint32) *layers.TCP {
	t := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: seq, Ack: ack, Window: 64240}
	t.FIN = flags&TCPFin != 0
	t.SYN = flags&TCPSyn != 0
	t.RST = flags&TCPRst != 0
	t.PSH = flags&TCPPsh != 0
	t.ACK = flags&TCPAck != 0
	return t
}

func udp(sp, dp uint16) *layers.UDP {
	return &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
}

func payload(b []byte) gopacket.Payload { return gopacket.Payload(b) }

// dnsMsg builds a DNS message by hand so names may hold any bytes.
func dnsMsg(id uint16, resp bool, rcode uint8, labels []string, qtype uint16, answers ...net.IP) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	flags := uint16(0x0100)
	if resp {
		flags = 0x8180 | uint16(rcode)
	}
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(answers)))
	b = append(b, 0, 0, 0, 0)
	for _, l := range labels {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, 1)
	for _, a := range answers {
		b = append(b, 0xc0, 12) // pointer to the question name
		typ, rd := uint16(1), a.To4()
		if rd == nil {
			typ, rd = 28, a.To16()
		}
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint16(b, 1)
		b = binary.BigEndian.AppendUint32(b, 300)
		b = binary.BigEndian.AppendUint16(b, uint16(len(rd)))
		b = append(b, rd...)
	}
	return b
}

// clientHello builds a TLS 1.2 record holding a ClientHello with SNI.
func clientHello(sni string) []byte {
	name := []byte(sni)
	var ext []byte
	ext = binary.BigEndian.AppendUint16(ext, 0) // server_name
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(name)+5))
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(name)+3))
	ext = append(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(name)))
	ext = append(ext, name...)
	// A second extension after SNI: supported_versions.
	ext = append(ext, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04)

	body := []byte{0x03, 0x03}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0x00, 0x02, 0x13, 0x01)
	body = append(body, 0x01, 0x00) // compression: null
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)

	hs := []byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{0x16, 0x03, 0x01}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(hs)))
	return append(rec, hs...)
}

// testFrame is one table entry: a frame and the summary flags it must get.
type testFrame struct {
	name    string
	data    []byte
	origLen int // 0: len(data)
	want    Flags
	proto   string
}

func vlanTag(id uint16, t layers.EthernetType) *layers.Dot1Q {
	return &layers.Dot1Q{VLANIdentifier: id, Type: t}
}

const hostile = "\x1b[2J\x1b]0;pwn\x07\xff\xfe\u202e"

// testFrames returns the table of frames every protocol test runs over.
func testFrames(tb testing.TB) []testFrame {
	httpGet := []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n")
	httpOK := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	dnsQ := dnsMsg(0xbeef, false, 0, []string{"example", "com"}, 1)
	dnsR := dnsMsg(0xbeef, true, 0, []string{"example", "com"}, 1, net.IP{93, 184, 216, 34}, net.IP{93, 184, 216, 35})
	dnsNX := dnsMsg(0x0001, true, 3, []string{"nope", "example"}, 28)
	tcpDNS := binary.BigEndian.AppendUint16(nil, uint16(len(dnsQ)))
	tcpDNS = append(tcpDNS, dnsQ...)

	syn := tcp(40000, 443, TCPSyn, 1000, 0)
	syn.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}
	httpGetFrame := serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40001, 80, TCPPsh|TCPAck, 1, 1), payload(httpGet))
	synFrame := serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), syn)

	hbh := &layers.IPv6HopByHop{}
	hbh.NextHeader = layers.IPProtocolICMPv6
	hbh.Options = []*layers.IPv6HopByHopOption{{OptionType: 5, OptionLength: 2, OptionData: []byte{0, 0}}, {OptionType: 1}} // router alert, PadN
	ip6hbh := ip6(layers.IPProtocolIPv6HopByHop)
	ip6hbh.HopByHop = hbh

	dst6 := &layers.IPv6Destination{}
	dst6.NextHeader = layers.IPProtocolUDP
	dst6.Options = []*layers.IPv6DestinationOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}} // PadN

	frag4First := ip4(layers.IPProtocolUDP)
	frag4First.Flags = layers.IPv4MoreFragments
	frag4Next := ip4(layers.IPProtocolUDP)
	frag4Next.FragOffset = 185

	ip6frag := func(off uint16, more bool, rest ...gopacket.SerializableLayer) []byte {
		ls := []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Fragment),
			&layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: off, MoreFragments: more, Identification: 77}}
		return serialize(tb, append(ls, rest...)...)
	}

	greIn := &layers.GRE{Protocol: layers.EthernetTypeIPv4, KeyPresent: true, Key: 7}
	vx := &layers.VXLAN{ValidIDFlag: true, VNI: 42}

	ns := []byte{0, 0, 0, 0}
	ns = append(ns, ip6B.To16()...)

	frames := []testFrame{
		{name: "tcp-syn", data: synFrame, proto: "TCP"},
		{name: "tcp-synack", data: serialize(tb, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolTCP), tcp(443, 40000, TCPSyn|TCPAck, 5000, 1001)), proto: "TCP"},
		{name: "tcp-ack", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 443, TCPAck, 1001, 5001)), proto: "TCP"},
		{name: "tcp-fin", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 443, TCPFin|TCPAck, 1001, 5001)), proto: "TCP"},
		{name: "tcp-rst", data: serialize(tb, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolTCP), tcp(443, 40000, TCPRst, 5001, 0)), proto: "TCP"},
		{name: "http-get", data: httpGetFrame, proto: "HTTP"},
		{name: "http-200", data: serialize(tb, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolTCP), tcp(80, 40001, TCPPsh|TCPAck, 1, 48), payload(httpOK)), proto: "HTTP"},
		{name: "tls-client-hello", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40002, 443, TCPPsh|TCPAck, 1, 1), payload(clientHello("example.com"))), proto: "TLS"},
		{name: "tls-appdata", data: serialize(tb, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolTCP), tcp(443, 40002, TCPPsh|TCPAck, 1, 1), payload([]byte{0x17, 0x03, 0x03, 0x00, 0x04, 1, 2, 3, 4})), proto: "TLS"},
		{name: "dns-query", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(53000, 53), payload(dnsQ)), proto: "DNS"},
		{name: "dns-response", data: serialize(tb, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolUDP), udp(53, 53000), payload(dnsR)), proto: "DNS"},
		{name: "dns-nxdomain", data: serialize(tb, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolUDP), udp(53, 53001), payload(dnsNX)), proto: "DNS"},
		{name: "dns-tcp", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40003, 53, TCPPsh|TCPAck, 1, 1), payload(tcpDNS)), proto: "DNS"},
		{name: "udp-1400", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(5000, 6000), payload(make([]byte, 1400))), proto: "UDP"},
		{name: "icmp-echo", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: 1}, payload([]byte("ping"))), proto: "ICMP"},
		{name: "icmp-port-unreachable", data: serialize(tb, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, payload(make([]byte, 28))), proto: "ICMP"},
		// An error quoting the UDP datagram it is about (its IP header and ports).
		{name: "icmp-unreachable-quoted", data: serialize(tb, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)},
			payload(serialize(tb, ip4(layers.IPProtocolUDP), udp(53000, 53), payload([]byte("q"))))), proto: "ICMP"},
		{name: "icmpv6-unreachable-quoted", data: serialize(tb, ethBA(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)},
			payload(append([]byte{0, 0, 0, 0}, serialize(tb, ip6(layers.IPProtocolUDP), udp(5353, 9), payload([]byte("q")))...))), proto: "ICMPv6"},
		{name: "arp-request", data: serialize(tb, &layers.Ethernet{SrcMAC: macA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
			&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, Operation: 1, SourceHwAddress: macA, SourceProtAddress: ip4A, DstHwAddress: make(net.HardwareAddr, 6), DstProtAddress: ip4B}), proto: "ARP"},
		{name: "arp-reply", data: serialize(tb, ethBA(layers.EthernetTypeARP),
			&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, Operation: 2, SourceHwAddress: macB, SourceProtAddress: ip4B, DstHwAddress: macA, DstProtAddress: ip4A}), proto: "ARP"},
		{name: "vlan-tcp", data: serialize(tb, eth(layers.EthernetTypeDot1Q), vlanTag(100, layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40004, 22, TCPAck, 1, 1)), proto: "TCP"},
		{name: "qinq-udp", data: serialize(tb, eth(layers.EthernetTypeQinQ), vlanTag(10, layers.EthernetTypeDot1Q), vlanTag(20, layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(1000, 2000), payload([]byte("x"))), proto: "UDP"},
		{name: "ipv6-tcp", data: serialize(tb, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(40005, 443, TCPSyn, 1, 0)), proto: "TCP"},
		{name: "ipv6-hbh-icmpv6", data: serialize(tb, eth(layers.EthernetTypeIPv6), ip6hbh, &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(143, 0)}, payload(make([]byte, 4))), proto: "ICMPv6"},
		{name: "ipv6-dstopts-udp", data: serialize(tb, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Destination), dst6, udp(1000, 2000), payload([]byte("hi"))), proto: "UDP"},
		{name: "ipv6-frag-first", data: ip6frag(0, true, udp(1000, 2000), payload(make([]byte, 64))), proto: "UDP", want: FlagFragment},
		{name: "ipv6-frag-next", data: ip6frag(8, false, payload(make([]byte, 64))), proto: "IPv6", want: FlagFragment},
		{name: "icmpv6-echo", data: serialize(tb, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, payload([]byte{0, 9, 0, 3})), proto: "ICMPv6"},
		{name: "icmpv6-ns", data: serialize(tb, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(135, 0)}, payload(ns)), proto: "ICMPv6"},
		{name: "ipv4-frag-first", data: serialize(tb, eth(layers.EthernetTypeIPv4), frag4First, udp(1000, 2000), payload(make([]byte, 64))), proto: "UDP", want: FlagFragment},
		{name: "ipv4-frag-next", data: serialize(tb, eth(layers.EthernetTypeIPv4), frag4Next, payload(make([]byte, 64))), proto: "IPv4", want: FlagFragment},
		{name: "sctp", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolSCTP), &layers.SCTP{SrcPort: 2905, DstPort: 2905, VerificationTag: 1}, payload(make([]byte, 16))), proto: "SCTP"},
		{name: "gre-ipv4-udp", data: serialize(tb, eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolGRE, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}},
			greIn, ip4(layers.IPProtocolUDP), udp(1000, 2000), payload([]byte("tunnelled"))), proto: "UDP"},
		{name: "vxlan-tcp", data: serialize(tb, eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}},
			udp(50000, 4789), vx, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40006, 80, TCPSyn, 1, 0)), proto: "TCP"},
		{name: "ipip-icmp", data: serialize(tb, eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolIPv4, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}},
			ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}), proto: "ICMP"},
		{name: "lldp", data: serialize(tb, &layers.Ethernet{SrcMAC: macA, DstMAC: net.HardwareAddr{0x01, 0x80, 0xc2, 0, 0, 0x0e}, EthernetType: layers.EthernetTypeLinkLayerDiscovery}, payload(make([]byte, 46))), proto: "LLDP", want: FlagUnsupported},
		{name: "esp", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolESP), payload(make([]byte, 32))), proto: "ESP", want: FlagUnsupported},
		{name: "snaplen-payload", data: httpGetFrame[:70], origLen: 1514, proto: "HTTP", want: FlagSnap},
		{name: "snaplen-tcp-header", data: synFrame[:40], origLen: len(synFrame), proto: "TCP", want: FlagSnap | FlagTruncated},
		{name: "short-ethernet", data: synFrame[:10], proto: "Ethernet", want: FlagMalformed},
		{name: "hostile-dns", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(53002, 53), payload(dnsMsg(2, false, 0, []string{hostile, "com"}, 1))), proto: "DNS"},
		{name: "hostile-sni", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40007, 443, TCPPsh|TCPAck, 1, 1), payload(clientHello(hostile))), proto: "TLS"},
		{name: "hostile-http", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40008, 80, TCPPsh|TCPAck, 1, 1), payload([]byte("GET /"+hostile+" HTTP/1.1\r\n\r\n"))), proto: "HTTP"},
	}

	// Malformed headers: IPv4 IHL below 5, TCP data offset below 5.
	badIHL := serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(1, 2, TCPAck, 1, 1))
	badIHL[14] = 0x44
	badOff := serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(1, 2, TCPAck, 1, 1))
	badOff[14+20+12] = 0x20
	frames = append(frames,
		testFrame{name: "bad-ihl", data: badIHL, proto: "IPv4", want: FlagMalformed},
		testFrame{name: "bad-tcp-offset", data: badOff, proto: "TCP", want: FlagMalformed},
	)
	return frames
}
