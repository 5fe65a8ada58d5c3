package capture

import (
	"net"

	"github.com/vishvananda/netlink"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// LinkTypeOf is the link type packets of the interface are captured as,
// from its ARP hardware type, as libpcap maps it (pcap-linux.c): no
// link-layer header (tun, WireGuard: ARPHRD_NONE; ipip, sit, ip6tnl) is
// RAW, the packet starting at its IP header; the rest Ethernet, as tc and
// XDP see Ethernet and loopback frames.
func LinkTypeOf(ifi *net.Interface) packet.LinkType {
	l, err := netlink.LinkByIndex(ifi.Index)
	if err != nil {
		return packet.LinkTypeEthernet
	}
	switch l.Attrs().EncapType {
	case "none", "ipip", "tunnel6", "sit":
		return packet.LinkTypeRaw
	}
	return packet.LinkTypeEthernet
}
