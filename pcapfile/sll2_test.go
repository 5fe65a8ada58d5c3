package pcapfile

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

var (
	ownMAC   = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	peerMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	ethIface = CookedIface{Name: "veth0", HAType: ARPHRDEther, Addr: [6]byte(ownMAC), Hook: "tcx"}
	tunIface = CookedIface{Name: "tun0", HAType: ARPHRDNone, Hook: "tcx"}
)

// udpFrame is an Ethernet frame (or, with no MACs, an IP packet) holding
// a UDP datagram of IP version v.
func udpFrame(t *testing.T, dst, src net.HardwareAddr, v int) []byte {
	t.Helper()
	udp := &layers.UDP{SrcPort: 1000, DstPort: 2000}
	var ls []gopacket.SerializableLayer
	et := layers.EthernetTypeIPv4
	if v == 4 {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
		_ = udp.SetNetworkLayerForChecksum(ip)
		ls = append(ls, ip)
	} else {
		et = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")}
		_ = udp.SetNetworkLayerForChecksum(ip)
		ls = append(ls, ip)
	}
	if dst != nil {
		ls = append([]gopacket.SerializableLayer{&layers.Ethernet{DstMAC: dst, SrcMAC: src, EthernetType: et}}, ls...)
	}
	ls = append(ls, udp, gopacket.Payload("cooked"))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cookCases are packets as the capture hands them, with the LINUX_SLL2
// header the kernel's packet socket would give libpcap for them.
func cookCases(t *testing.T) []struct {
	name  string
	p     packet.Packet
	ifc   CookedIface
	proto layers.EthernetType
	ptype layers.LinuxSLL2PacketType
	addr  net.HardwareAddr
	strip int
} {
	t.Helper()
	eth := func(dst net.HardwareAddr, dir packet.Dir) packet.Packet {
		d := udpFrame(t, dst, peerMAC, 4)
		if dir == packet.DirOut {
			d = udpFrame(t, dst, ownMAC, 4)
		}
		return packet.Packet{Data: d, OrigLen: uint32(len(d)), Ifindex: 7, Dir: dir}
	}
	raw := func(v int, dir packet.Dir) packet.Packet {
		d := udpFrame(t, nil, nil, v)
		p := packet.Packet{Data: d, OrigLen: uint32(len(d)), Ifindex: 9, Dir: dir}
		p.SetLinkType(packet.LinkTypeRaw)
		return p
	}
	// An 802.3 frame: a length where the EtherType would be, then LLC.
	llc := append(append(append([]byte{}, ownMAC...), peerMAC...), 0, 7, 0x42, 0x42, 0x03, 1, 2, 3, 4)
	novell := append(append(append([]byte{}, ownMAC...), peerMAC...), 0, 7, 0xff, 0xff, 0, 1, 2, 3, 4)
	lo := udpFrame(t, make(net.HardwareAddr, 6), make(net.HardwareAddr, 6), 4)
	return []struct {
		name  string
		p     packet.Packet
		ifc   CookedIface
		proto layers.EthernetType
		ptype layers.LinuxSLL2PacketType
		addr  net.HardwareAddr
		strip int
	}{
		{"to us", eth(ownMAC, packet.DirIn), ethIface, layers.EthernetTypeIPv4, layers.LinuxSLL2PacketTypeHost, peerMAC, 14},
		{"broadcast", eth(layers.EthernetBroadcast, packet.DirIn), ethIface, layers.EthernetTypeIPv4, layers.LinuxSLL2PacketTypeBroadcast, peerMAC, 14},
		{"multicast", eth(net.HardwareAddr{1, 0, 0x5e, 1, 2, 3}, packet.DirIn), ethIface, layers.EthernetTypeIPv4, layers.LinuxSLL2PacketTypeMulticast, peerMAC, 14},
		{"to another host", eth(net.HardwareAddr{2, 0, 0, 0, 0, 9}, packet.DirIn), ethIface, layers.EthernetTypeIPv4, layers.LinuxSLL2PacketTypeOtherhost, peerMAC, 14},
		{"outgoing", eth(peerMAC, packet.DirOut), ethIface, layers.EthernetTypeIPv4, layers.LinuxSLL2PacketTypeOutgoing, ownMAC, 14},
		{"802.2", packet.Packet{Data: llc, OrigLen: uint32(len(llc)), Ifindex: 7, Dir: packet.DirIn}, ethIface, 0x0004, layers.LinuxSLL2PacketTypeHost, peerMAC, 14},
		{"novell 802.3", packet.Packet{Data: novell, OrigLen: uint32(len(novell)), Ifindex: 7, Dir: packet.DirIn}, ethIface, 0x0001, layers.LinuxSLL2PacketTypeHost, peerMAC, 14},
		{"loopback", packet.Packet{Data: lo, OrigLen: uint32(len(lo)), Ifindex: 1, Dir: packet.DirIn}, CookedIface{Name: "lo", HAType: ARPHRDLoopback}, layers.EthernetTypeIPv4, layers.LinuxSLL2PacketTypeHost, make(net.HardwareAddr, 6), 14},
		{"tun in, IPv4", raw(4, packet.DirIn), tunIface, layers.EthernetTypeIPv4, layers.LinuxSLL2PacketTypeHost, nil, 0},
		{"tun out, IPv6", raw(6, packet.DirOut), tunIface, layers.EthernetTypeIPv6, layers.LinuxSLL2PacketTypeOutgoing, nil, 0},
	}
}

// TestCook: each packet's header, read back by gopacket's LINUX_SLL2
// decoder, says what the kernel says of it: protocol, interface, hardware
// type, packet type, the source MAC; the link-layer header is gone.
func TestCook(t *testing.T) {
	for _, tc := range cookCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			b := AppendSLL2(nil, &tc.p, &tc.ifc)
			var sll layers.LinuxSLL2
			if err := sll.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
				t.Fatal(err)
			}
			if sll.ProtocolType != tc.proto || sll.InterfaceIndex != tc.p.Ifindex || uint16(sll.ARPHardwareType) != tc.ifc.HAType ||
				sll.PacketType != tc.ptype || sll.AddrLength != uint8(len(tc.addr)) || !bytes.Equal(sll.Addr[:sll.AddrLength], tc.addr) {
				t.Errorf("header %+v, want protocol %v ifindex %d hatype %d type %v addr %v", sll, tc.proto, tc.p.Ifindex, tc.ifc.HAType, tc.ptype, tc.addr)
			}
			if !bytes.Equal(b[12+len(tc.addr):20], make([]byte, 8-len(tc.addr))) || b[2] != 0 || b[3] != 0 {
				t.Errorf("reserved or unused address bytes not zero: %x", b[:20])
			}
			if !bytes.Equal(b[20:], tc.p.Data[tc.strip:]) {
				t.Errorf("payload %x, want the packet after %d bytes", b[20:], tc.strip)
			}
		})
	}
}

// TestCookedPcapReadByTcpdump: a LINUX_SLL2 pcap, cut at a snapshot length
// that counts the header, as tcpdump -i any's; tcpdump reads each
// packet's direction and protocol from it.
func TestCookedPcapReadByTcpdump(t *testing.T) {
	const snaplen = 40
	var buf bytes.Buffer
	pw, err := NewPcapWriter(&buf, snaplen, uint32(packet.LinkTypeSLL2))
	if err != nil {
		t.Fatal(err)
	}
	cases := cookCases(t)
	w, err := NewCookedWriter(pw, snaplen, func(ifindex uint32) (CookedIface, bool) {
		for _, tc := range cases {
			if tc.p.Ifindex == ifindex {
				return tc.ifc, true
			}
		}
		return CookedIface{}, false
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		if err := w.Write(&cases[i].p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Write(&packet.Packet{Data: udpFrame(t, ownMAC, peerMAC, 4), Ifindex: 99}); err == nil {
		t.Error("a packet of an interface the lookup does not know was written")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeLinuxSLL2 {
		t.Fatalf("link type %v", r.LinkType())
	}
	for _, tc := range cases {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatal(err)
		}
		whole := AppendSLL2(nil, &tc.p, &tc.ifc)
		if ci.Length != len(whole) || !bytes.Equal(data, whole[:min(len(whole), snaplen)]) {
			t.Errorf("%s: record of %d/%d bytes %x, want %d/%d %x", tc.name, ci.CaptureLength, ci.Length, data, min(len(whole), snaplen), len(whole), whole)
		}
	}

	testutil.RequireTool(t, "tcpdump")
	path := filepath.Join(t.TempDir(), "any.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tcpdump", "-nn", "-e", "-r", path).Output()
	if err != nil {
		t.Fatalf("tcpdump -r: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("tcpdump reads %d packets of %d:\n%s", len(lines), len(cases), out)
	}
	// tcpdump -e: the interface (by index here), the packet type, the
	// address, the protocol.
	for i, want := range []string{"In  ifindex 7 02:00:00:00:00:02 ethertype IPv4", "B   ifindex 7 02:00:00:00:00:02 ethertype IPv4", "M   ifindex 7", "P   ifindex 7",
		"Out ifindex 7 02:00:00:00:00:01 ethertype IPv4", "In  ifindex 7 02:00:00:00:00:02 802.2", "In  ifindex 7 02:00:00:00:00:02 802.3",
		"In  ifindex 1 00:00:00:00:00:00 ethertype IPv4", "In  ifindex 9 ethertype IPv4", "Out ifindex 9 ethertype IPv6"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("tcpdump line %d %q does not say %q", i, lines[i], want)
		}
	}
}

// TestCookedPcapngInterfaces: a pcapng file of a cooked capture has an
// interface block per interface, all LINUX_SLL2, a late one's written
// before its first packet, and each packet points at its interface's.
func TestCookedPcapngInterfaces(t *testing.T) {
	var buf bytes.Buffer
	ng, err := NewPcapngWriter(&buf, 262144, []IfaceInfo{{Index: 7, Name: "veth0", Hook: "tcx", LinkType: packet.LinkTypeSLL2}}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	ifaces := map[uint32]CookedIface{7: ethIface, 9: tunIface}
	w, err := NewCookedWriter(ng, 262144, func(i uint32) (CookedIface, bool) { c, ok := ifaces[i]; return c, ok })
	if err != nil {
		t.Fatal(err)
	}
	cases := cookCases(t)
	var order []string
	for _, i := range []int{0, 8, 4, 9} { // veth0, tun0 (new), veth0, tun0
		if err := w.Write(&cases[i].p); err != nil {
			t.Fatal(err)
		}
		order = append(order, cases[i].ifc.Name)
	}
	if err := ng.Finish(nil); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewNgReader(bytes.NewReader(buf.Bytes()), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range order {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatal(err)
		}
		intf, err := r.Interface(ci.InterfaceIndex)
		if err != nil || intf.Name != name || intf.LinkType != layers.LinkTypeLinuxSLL2 {
			t.Errorf("packet %d: interface %+v (%v), want %s, LINUX_SLL2", i, intf, err, name)
		}
		if sll := (layers.LinuxSLL2{}); sll.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil || sll.InterfaceIndex != map[string]uint32{"veth0": 7, "tun0": 9}[name] {
			t.Errorf("packet %d: not a LINUX_SLL2 record of %s: %x", i, name, data)
		}
	}
	if n := r.NInterfaces(); n != 2 {
		t.Errorf("%d interface blocks, want 2", n)
	}
}

// BenchmarkCookedWrite is the per-packet cost of -i any's LINUX_SLL2
// conversion on top of the pcap writer's (BenchmarkPcapWrite).
func BenchmarkCookedWrite(b *testing.B) {
	for _, cooked := range []bool{false, true} {
		b.Run(map[bool]string{false: "ethernet", true: "cooked"}[cooked], func(b *testing.B) {
			d := make([]byte, 1442)
			copy(d, ownMAC)
			copy(d[6:], peerMAC)
			d[12] = 8
			p := packet.Packet{Data: d, OrigLen: 1442, Ifindex: 7, Dir: packet.DirIn, Nanos: 1e18}
			pw, _ := NewPcapWriter(discard{}, 262144, uint32(packet.LinkTypeSLL2))
			var w PacketWriter = pw
			if cooked {
				ifaces := map[uint32]CookedIface{7: ethIface, 9: tunIface}
				w, _ = NewCookedWriter(pw, 262144, func(i uint32) (CookedIface, bool) { c, ok := ifaces[i]; return c, ok })
			}
			b.SetBytes(int64(len(d)))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.Write(&p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
