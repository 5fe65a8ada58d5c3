package capture

import (
	"net"

	"github.com/vishvananda/netlink"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// LinkTypeOf is the link type packets of the interface are captured as,
// from its ARP hardware type: the devices that hand tc a packet starting
// at its IP header (tun and WireGuard: ARPHRD_NONE; ipip, sit, ip6tnl,
// GRE, ip6gre, PPP, raw-IP modems, SLIP) are RAW, as libpcap captures the
// first of them (it captures some of the others cooked, LINUX_SLL: the
// same packet behind a pseudo-header); Ethernet and loopback are Ethernet,
// and so is anything else, as before.
func LinkTypeOf(ifi *net.Interface) packet.LinkType {
	l, err := netlink.LinkByIndex(ifi.Index)
	if err != nil {
		return packet.LinkTypeEthernet
	}
	return linkTypeOfEncap(l.Attrs().EncapType)
}

// linkTypeOfEncap is LinkTypeOf from netlink's name of the ARP hardware
// type.
func linkTypeOfEncap(encap string) packet.LinkType {
	switch encap {
	case "none", "ipip", "tunnel6", "sit", "gre", "unknown823", "ppp", "unknown519", "slip", "cslip", "slip6", "cslip6":
		return packet.LinkTypeRaw
	}
	return packet.LinkTypeEthernet
}
