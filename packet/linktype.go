package packet

// LinkType is a pcap LINKTYPE_ value (https://www.tcpdump.org/linktypes.html),
// as the files write it in their headers. The kernel program writes
// Ethernet in every record; user space knows each interface's
// (capture.LinkTypeOf).
type LinkType uint32

// The link types written today.
const (
	LinkTypeEthernet LinkType = 1 // LINKTYPE_ETHERNET (DLT_EN10MB)
)

// LinkTypeMask keeps a file header's link type without the FCS bits above
// it (the upper 6 bits of the pcap header's field).
const LinkTypeMask = 0x03ffffff

// LinkTypeRaw is LINKTYPE_RAW: the packet starts at its IPv4 or IPv6
// header. Interfaces without a link-layer header (tun, WireGuard, ipip,
// sit) are captured so, as libpcap captures them.
const LinkTypeRaw LinkType = 101

// Name is the link type as tcpdump names it on its first line.
func (t LinkType) Name() string {
	switch t {
	case LinkTypeEthernet:
		return "EN10MB (Ethernet)"
	case LinkTypeRaw:
		return "RAW (Raw IP)"
	}
	return "link type " + itoa(uint32(t))
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
