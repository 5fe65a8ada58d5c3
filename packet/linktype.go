package packet

// LinkType is a pcap LINKTYPE_ value (https://www.tcpdump.org/linktypes.html),
// as the kernel program writes it in a record's protocol field and the
// files write it in their headers.
type LinkType uint32

// The link types written today.
const (
	LinkTypeEthernet LinkType = 1 // LINKTYPE_ETHERNET (DLT_EN10MB)
)

// LinkTypeMask keeps a file header's link type without the FCS bits above
// it (the upper 6 bits of the pcap header's field).
const LinkTypeMask = 0x03ffffff
