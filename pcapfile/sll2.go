package pcapfile

import (
	"encoding/binary"
	"fmt"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// LINUX_SLL2 is what tcpdump -i any writes: libpcap's cooked socket hands
// it each packet without its link-layer header, and it puts a 20-byte
// header in front (pcap-linux.c, pcap_handle_packet_mmap), all fields in
// network order:
//
//	0  protocol (the skb's, an EtherType)   2  reserved, 0
//	4  interface index                      8  ARPHRD type
//	10 packet type (PACKET_HOST, ...)       11 link-layer address length
//	12 link-layer address, 8 bytes (the source MAC on Ethernet)
//
// It puts no VLAN tag back (its vlan_offset is -1 for LINUX_SLL2): the
// capture must not either (capture.Options.Cooked).
const SLL2HeaderLen = 20

// ARP hardware types (linux/if_arp.h) of the interfaces -i any captures.
const (
	ARPHRDEther    = 1
	ARPHRDLoopback = 772
	ARPHRDNone     = 0xfffe // tun, WireGuard
)

// Packet types (linux/if_packet.h), as the kernel sets them: on receive
// from the destination MAC (eth_type_trans), on transmit PACKET_OUTGOING.
const (
	packetHost      = 0
	packetBroadcast = 1
	packetMulticast = 2
	packetOtherHost = 3
	packetOutgoing  = 4
)

// CookedIface is what a LINUX_SLL2 file says of the interface a packet was
// seen on.
type CookedIface struct {
	Name   string
	HAType uint16  // its ARPHRD type
	Addr   [6]byte // its own MAC: a frame sent to it is PACKET_HOST (Ethernet)
	Hook   string  // where it was captured, for a pcapng interface block
}

// cook fills h with the LINUX_SLL2 header of p, seen on ifc, and returns
// the bytes that follow it and the cooked packet's length on the wire. An
// Ethernet frame loses its 14-byte header (its protocol is its EtherType,
// with 802.3 lengths mapped as eth_type_trans maps them, its address the
// source MAC); a packet that starts at its IP header is kept whole, its
// protocol from the IP version, as tun sets it.
func cook(h *[SLL2HeaderLen]byte, p *packet.Packet, ifc *CookedIface) (payload []byte, wire uint32) {
	*h = [SLL2HeaderLen]byte{}
	be := binary.BigEndian
	data, wire := p.Data, p.WireLen()
	var proto uint16
	pkttype := byte(packetHost)
	switch p.LinkType() {
	case packet.LinkTypeEthernet:
		if len(data) < 14 {
			// Not from the kernel, which hands tc the whole header.
			return nil, SLL2HeaderLen
		}
		proto = be.Uint16(data[12:14])
		if proto < 0x0600 { // a length: 802.3
			proto = 0x0004 // ETH_P_802_2
			if len(data) >= 16 && data[14] == 0xff && data[15] == 0xff {
				proto = 0x0001 // ETH_P_802_3: raw 802.3 (Novell)
			}
		}
		dst := data[0:6]
		switch {
		case string(dst) == string(ifc.Addr[:]):
		case string(dst) == "\xff\xff\xff\xff\xff\xff":
			pkttype = packetBroadcast
		case dst[0]&1 != 0:
			pkttype = packetMulticast
		default:
			pkttype = packetOtherHost
		}
		h[11] = 6
		copy(h[12:18], data[6:12])
		payload, wire = data[14:], wire-14
	default:
		if len(data) > 0 {
			switch data[0] >> 4 {
			case 4:
				proto = 0x0800
			case 6:
				proto = 0x86dd
			}
		}
		payload = data
	}
	if p.Dir == packet.DirOut {
		pkttype = packetOutgoing
	}
	be.PutUint16(h[0:2], proto)
	be.PutUint32(h[4:8], p.Ifindex)
	be.PutUint16(h[8:10], ifc.HAType)
	h[10] = pkttype
	return payload, wire + SLL2HeaderLen
}

// AppendSLL2 appends p as tcpdump -i any writes it, the LINUX_SLL2 header
// and the packet after its link-layer header, to dst.
func AppendSLL2(dst []byte, p *packet.Packet, ifc *CookedIface) []byte {
	var h [SLL2HeaderLen]byte
	payload, _ := cook(&h, p, ifc)
	return append(append(dst, h[:]...), payload...)
}

// CookedWriter writes packets of many interfaces (-i any) as LINUX_SLL2 to
// a pcap or a pcapng writer, as tcpdump -i any does: each packet is
// converted (cook) with what lookup says of its interface and cut to the
// snapshot length, which counts the header. A pcapng file gets an
// interface block for an interface the first time one of its packets
// comes, if it did not describe it from the start.
type CookedWriter struct {
	pcap    *PcapWriter
	ng      *PcapngWriter
	lookup  func(ifindex uint32) (CookedIface, bool)
	snaplen uint32
	hdr     [SLL2HeaderLen]byte
	buf     []byte        // the pcapng path's cooked packet
	out     packet.Packet // the cooked packet handed to ng
}

// NewCookedWriter writes to w, a *PcapWriter made for LinkTypeSLL2 or a
// *PcapngWriter whose interfaces are LinkTypeSLL2. lookup is called for
// every packet, from the writing goroutine: it must know an interface
// before any of its packets comes.
func NewCookedWriter(w PacketWriter, snaplen uint32, lookup func(ifindex uint32) (CookedIface, bool)) (*CookedWriter, error) {
	c := &CookedWriter{lookup: lookup, snaplen: max(snaplen, SLL2HeaderLen+1)}
	switch w := w.(type) {
	case *PcapWriter:
		c.pcap = w
	case *PcapngWriter:
		c.ng = w
	default:
		return nil, fmt.Errorf("cooked writer: %T is neither pcap nor pcapng", w)
	}
	return c, nil
}

// Write writes one packet as LINUX_SLL2.
func (c *CookedWriter) Write(p *packet.Packet) error {
	ifc, ok := c.lookup(p.Ifindex)
	if !ok {
		return fmt.Errorf("cooked capture: packet from interface %d, which the capture does not know", p.Ifindex)
	}
	payload, wire := cook(&c.hdr, p, &ifc)
	if n := int(c.snaplen) - SLL2HeaderLen; len(payload) > n {
		payload = payload[:n]
	}
	if c.pcap != nil {
		sec, nsec := splitNanos(p.Nanos)
		return c.pcap.writeParts(pcapRecord{Sec: sec, Nsec: nsec, CapLen: uint32(SLL2HeaderLen + len(payload)), Len: wire}, c.hdr[:], payload)
	}
	if !c.ng.describes(p.Ifindex) {
		if err := c.ng.AddInterface(IfaceInfo{Index: int(p.Ifindex), Name: ifc.Name, Hook: ifc.Hook, LinkType: packet.LinkTypeSLL2}); err != nil {
			return err
		}
	}
	c.buf = append(append(c.buf[:0], c.hdr[:]...), payload...)
	c.out = *p
	c.out.Data, c.out.OrigLen = c.buf, wire
	c.out.SetLinkType(packet.LinkTypeSLL2)
	return c.ng.Write(&c.out)
}

// Buffered is how many bytes are written but not yet passed on, or -1 if
// the writer cannot say (pcapng).
func (c *CookedWriter) Buffered() int {
	if c.pcap != nil {
		return c.pcap.Buffered()
	}
	return -1
}

// Flush writes out what is buffered.
func (c *CookedWriter) Flush() error {
	if c.pcap != nil {
		return c.pcap.Flush()
	}
	return c.ng.Flush()
}
