package packet

// LinkType is a pcap LINKTYPE_ value (https://www.tcpdump.org/linktypes.html),
// as the files write it in their headers. The kernel program writes
// Ethernet in every record; user space knows each interface's
// (capture.LinkTypeOf) and sets it on each Packet.
type LinkType uint32

// The link types bpftop-cap captures, reads and decodes.
const (
	LinkTypeNull     LinkType = 0   // BSD loopback: a 4-byte address family in host order
	LinkTypeEthernet LinkType = 1   // LINKTYPE_ETHERNET (DLT_EN10MB)
	LinkTypePPP      LinkType = 9   // PPP, from its protocol field (maybe after ff 03)
	LinkTypeRaw      LinkType = 101 // the packet starts at its IPv4 or IPv6 header
	LinkTypeCHDLC    LinkType = 104 // Cisco HDLC: address, control, EtherType
	LinkTypeLoop     LinkType = 108 // OpenBSD loopback: the address family in network order
	LinkTypeSLL      LinkType = 113 // Linux cooked capture v1 (16-byte header)
	LinkTypeRadiotap LinkType = 127 // 802.11 with a radiotap header
	LinkTypeIPv4     LinkType = 228
	LinkTypeIPv6     LinkType = 229
	LinkTypeNFLOG    LinkType = 239 // Linux netfilter log (tcpdump -i nflog)
	LinkTypeSLL2     LinkType = 276 // Linux cooked capture v2 (20-byte header), tcpdump -i any
)

// LinkTypeMask keeps a file header's link type without the FCS bits above
// it (the upper 6 bits of the pcap header's field).
const LinkTypeMask = 0x03ffffff

// Name is the link type as tcpdump names it on its first line.
func (t LinkType) Name() string {
	switch t {
	case LinkTypeNull:
		return "NULL (BSD loopback)"
	case LinkTypeEthernet:
		return "EN10MB (Ethernet)"
	case LinkTypePPP:
		return "PPP (PPP)"
	case LinkTypeRaw:
		return "RAW (Raw IP)"
	case LinkTypeLoop:
		return "LOOP (OpenBSD loopback)"
	case LinkTypeSLL:
		return "LINUX_SLL (Linux cooked v1)"
	case LinkTypeRadiotap:
		return "IEEE802_11_RADIO (802.11 plus radiotap header)"
	case LinkTypeIPv4:
		return "IPV4 (Raw IPv4)"
	case LinkTypeIPv6:
		return "IPV6 (Raw IPv6)"
	case LinkTypeSLL2:
		return "LINUX_SLL2 (Linux cooked v2)"
	case LinkTypeCHDLC:
		return "C_HDLC (Cisco HDLC)"
	case LinkTypeNFLOG:
		return "NFLOG (Linux netfilter log messages)"
	}
	return "link type " + itoa(uint32(t))
}

// HasEtherType reports whether the link-layer header says what it carries
// with an EtherType.
func (t LinkType) HasEtherType() bool {
	switch t {
	case LinkTypeEthernet, LinkTypeSLL, LinkTypeSLL2, LinkTypeCHDLC:
		return true
	}
	return false
}

func itoa(v uint32) string {
	if v == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for ; v > 0; v /= 10 {
		i--
		b[i] = byte('0' + v%10)
	}
	return string(b[i:])
}
