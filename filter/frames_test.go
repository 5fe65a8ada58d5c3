package filter

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// frame is a test packet: captured bytes and wire length.
type frame struct {
	data    []byte
	wireLen uint32
	desc    string
}

var (
	testIPv4s = []string{"1.2.3.4", "5.6.7.8", "10.0.0.1", "10.1.2.3", "192.168.1.1", "224.0.0.251", "255.255.255.255", "0.0.0.0", "9.9.9.9"}
	testIPv6s = []string{"::1", "fe80::1", "2001:db8::1", "2001:db8:1::53", "ff02::1", "fe80::1:2"}
	testMACs  = []string{"00:11:22:33:44:55", "01:02:03:04:05:06", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:fb", "33:33:00:00:00:01", "aa:bb:cc:dd:ee:ff"}
	testPorts = []uint16{22, 53, 80, 443, 1024, 8080, 65535, 1, 123}
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// serialize builds a frame from gopacket layers, with lengths fixed and
// checksums left zero.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatalf("serialize %v: %v", ls, err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// testFrames returns a deterministic corpus of Ethernet frames: IPv4 (with
// and without options, fragments), IPv6 (with a fragment header), TCP with
// various flags, UDP, SCTP, ICMP, ICMPv6, ARP, RARP, 802.2 LLC, one and two
// VLAN tags, broadcast and multicast addresses, and truncated copies.
func testFrames(t testing.TB) []frame {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int { return r.IntN(n) }
	var frames []frame
	add := func(desc string, data []byte) {
		frames = append(frames, frame{data: data, wireLen: uint32(len(data)), desc: desc})
	}
	for i := 0; i < 700; i++ {
		eth := &layers.Ethernet{SrcMAC: mustMAC(testMACs[pick(len(testMACs))]), DstMAC: mustMAC(testMACs[pick(len(testMACs))])}
		var ls []gopacket.SerializableLayer
		ls = append(ls, eth)
		last := func(et layers.EthernetType) {
			// Set the type of the innermost link header.
			if d, ok := ls[len(ls)-1].(*layers.Dot1Q); ok {
				d.Type = et
			} else {
				eth.EthernetType = et
			}
		}
		switch pick(6) {
		case 0:
			eth.EthernetType = layers.EthernetTypeDot1Q
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: uint16([]int{1, 10, 100, 4095}[pick(4)]), Priority: uint8(pick(8))})
		case 1:
			eth.EthernetType = []layers.EthernetType{layers.EthernetTypeQinQ, layers.EthernetTypeDot1Q, 0x9100}[pick(3)]
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q},
				&layers.Dot1Q{VLANIdentifier: uint16([]int{10, 200}[pick(2)])})
		}
		desc := ""
		switch kind := pick(10); {
		case kind < 5: // IPv4
			last(layers.EthernetTypeIPv4)
			ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.ParseIP(testIPv4s[pick(len(testIPv4s))]), DstIP: net.ParseIP(testIPv4s[pick(len(testIPv4s))])}
			if pick(4) == 0 {
				ip.Options = []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}}
			}
			switch pick(5) {
			case 0:
				ip.Flags = layers.IPv4MoreFragments
			case 1:
				ip.FragOffset = uint16(1 + pick(100))
			}
			ls = append(ls, ip)
			sp, dp := testPorts[pick(len(testPorts))], testPorts[pick(len(testPorts))]
			switch pick(6) {
			case 0, 1:
				ip.Protocol = layers.IPProtocolTCP
				f := pick(256)
				if pick(2) == 0 {
					f = []int{0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14}[pick(7)]
				}
				ls = append(ls, &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Window: 100,
					FIN: f&1 != 0, SYN: f&2 != 0, RST: f&4 != 0, PSH: f&8 != 0, ACK: f&16 != 0, URG: f&32 != 0, ECE: f&64 != 0, CWR: f&128 != 0})
				desc = "ipv4 tcp"
			case 2:
				ip.Protocol = layers.IPProtocolUDP
				payload := []byte("hello")
				if pick(2) == 0 {
					payload = make([]byte, pick(300))
				}
				ls = append(ls, &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}, gopacket.Payload(payload))
				desc = "ipv4 udp"
			case 3:
				ip.Protocol = layers.IPProtocolSCTP
				b := make([]byte, 16)
				binary.BigEndian.PutUint16(b, sp)
				binary.BigEndian.PutUint16(b[2:], dp)
				ls = append(ls, gopacket.Payload(b))
				desc = "ipv4 sctp"
			case 4:
				ip.Protocol = layers.IPProtocolICMPv4
				ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(uint8([]int{0, 3, 8, 11, 5}[pick(5)]), uint8(pick(4)))}, gopacket.Payload("ping"))
				desc = "ipv4 icmp"
			default:
				ip.Protocol = layers.IPProtocol([]int{2, 47, 50, 103}[pick(4)])
				ls = append(ls, gopacket.Payload("other protocol payload"))
				desc = "ipv4 other"
			}
		case kind < 8: // IPv6
			last(layers.EthernetTypeIPv6)
			ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: net.ParseIP(testIPv6s[pick(len(testIPv6s))]), DstIP: net.ParseIP(testIPv6s[pick(len(testIPv6s))])}
			ls = append(ls, ip)
			sp, dp := testPorts[pick(len(testPorts))], testPorts[pick(len(testPorts))]
			frag := pick(5) == 0
			var l4 []gopacket.SerializableLayer
			var nh layers.IPProtocol
			switch pick(4) {
			case 0:
				nh = layers.IPProtocolTCP
				l4 = append(l4, &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), SYN: pick(2) == 0, ACK: pick(2) == 0, Window: 1})
				desc = "ipv6 tcp"
			case 1:
				nh = layers.IPProtocolUDP
				l4 = append(l4, &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}, gopacket.Payload("v6"))
				desc = "ipv6 udp"
			case 2:
				nh = layers.IPProtocolICMPv6
				l4 = append(l4, &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(uint8([]int{128, 129, 135, 136, 1}[pick(5)]), 0)}, gopacket.Payload("echo"))
				desc = "ipv6 icmp6"
			default:
				nh = layers.IPProtocolSCTP
				b := make([]byte, 16)
				binary.BigEndian.PutUint16(b, sp)
				binary.BigEndian.PutUint16(b[2:], dp)
				l4 = append(l4, gopacket.Payload(b))
				desc = "ipv6 sctp"
			}
			if frag {
				ip.NextHeader = layers.IPProtocolIPv6Fragment
				rest := serialize(t, l4...)
				fh := []byte{byte(nh), 0, 0, 0, 0, 0, 0, 1}
				if pick(2) == 0 {
					binary.BigEndian.PutUint16(fh[2:], 8<<3)
				}
				ls = append(ls, gopacket.Payload(append(fh, rest...)))
				desc += " frag"
			} else {
				ip.NextHeader = nh
				ls = append(ls, l4...)
			}
		case kind == 8: // ARP / RARP
			et := layers.EthernetTypeARP
			desc = "arp"
			if pick(3) == 0 {
				et, desc = layers.EthernetType(0x8035), "rarp"
			}
			last(et)
			ls = append(ls, &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
				HwAddressSize: 6, ProtAddressSize: 4, Operation: uint16(1 + pick(2)),
				SourceHwAddress: mustMAC(testMACs[pick(len(testMACs))]), SourceProtAddress: net.ParseIP(testIPv4s[pick(len(testIPv4s))]).To4(),
				DstHwAddress: mustMAC(testMACs[pick(len(testMACs))]), DstProtAddress: net.ParseIP(testIPv4s[pick(len(testIPv4s))]).To4()})
		default: // 802.3 + LLC
			sap := []byte{0x42, 0x06, 0xfe, 0xaa, 0xf0}[pick(5)]
			body := []byte{sap, sap, 0x03, 0, 0, 0, 0x08, 0, 1, 2, 3, 4, 5, 6, 7, 8}
			last(layers.EthernetType(len(body)))
			ls = append(ls, gopacket.Payload(body))
			desc = "llc"
		}
		data := serialize(t, ls...)
		add(desc, data)
		if pick(8) == 0 {
			// A truncated capture of the same packet.
			n := 1 + pick(len(data))
			frames = append(frames, frame{data: data[:n], wireLen: uint32(len(data)), desc: desc + " truncated"})
		}
	}
	return frames
}
