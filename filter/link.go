package filter

// Code for the link types other than Ethernet, as libpcap's gencode.c
// generates it for a saved file of that type (init_linktype for the
// offsets, gen_linktype for the protocol tests).

// More link types CompileLink compiles for (pcap LINKTYPE_ values).
const (
	// LinkNull is BSD loopback: a 4-byte address family in the byte order
	// of the machine that wrote the file (CompileFile says which).
	LinkNull = 0
	// LinkPPP is PPP: 2 bytes of HDLC-like framing, a 2-byte protocol.
	LinkPPP = 9
	// LinkLoop is OpenBSD loopback: the address family in network order.
	LinkLoop = 108
	// LinkSLL is Linux cooked capture v1: a 16-byte header whose protocol
	// is at 14 and packet type (to us, from us ...) at 0.
	LinkSLL = 113
	// LinkIPv4 and LinkIPv6 are packets that start at an IP header of one
	// version.
	LinkIPv4 = 228
	LinkIPv6 = 229
	// LinkSLL2 is Linux cooked capture v2 (tcpdump -i any): a 20-byte
	// header whose protocol is at 0 and packet type at 10.
	LinkSLL2 = 276
)

// linkNames are libpcap's descriptions of the link types, for errors.
var linkNames = map[uint32]string{
	LinkEthernet: "Ethernet", LinkRaw: "Raw IP", LinkNull: "BSD loopback", LinkLoop: "OpenBSD loopback",
	LinkPPP: "PPP", LinkSLL: "Linux cooked v1", LinkSLL2: "Linux cooked v2", LinkIPv4: "Raw IPv4", LinkIPv6: "Raw IPv6",
}

// linkPayload is the length of the link-layer header (libpcap's
// off_linkpl) of a link type other than Ethernet.
func linkPayload(link uint32) uint32 {
	switch link {
	case LinkNull, LinkLoop, LinkPPP:
		return 4
	case LinkSLL:
		return 16
	case LinkSLL2:
		return 20
	}
	return 0 // RAW, IPv4, IPv6
}

// Values the link-layer headers carry.
const (
	sllOutgoing   = 4      // packet type: sent by this host
	sllP8022      = 0x0004 // SLL protocol: an 802.2 LLC frame
	afInet        = 2
	etherTypeDN   = 0x6003
	etherTypeNS   = 0x0600
	llcSAP8021D   = 0x42
	llcSAPISONS   = 0xfe
	pppIP         = 0x21
	pppIPv6       = 0x57
	pppDECnet     = 0x27
	pppNS         = 0x25
	pppAppleTalk  = 0x29
	pppIPX        = 0x2b
	pppOSI        = 0x23
	pppBridgePDU  = 0x31
	llcSAPIP      = 0x06
	llcSAPNetBEUI = 0xf0
)

// bsdAFInet6 are the values of AF_INET6 of the systems that write BSD
// loopback files (Darwin, BSD and Npcap, FreeBSD), which libpcap all takes
// for ip6 in a saved file, in the order its code tests them.
var bsdAFInet6 = []uint32{30, 24, 28}

// otherLinkType is etherType for a link type other than Ethernet: the test
// that the link-layer protocol is t (an Ethernet type, or an 802.2 SAP up
// to 1500), or a test no packet passes where the link type cannot carry t.
func (l layer) otherLinkType(t uint32) *bexpr {
	switch l.link {
	case LinkRaw:
		// No link-layer header: the IP version says it.
		switch t {
		case etherTypeIP:
			return mcmp(SizeB, l.nl(), 0xf0, 0x40)
		case etherTypeIPv6:
			return mcmp(SizeB, l.nl(), 0xf0, 0x60)
		}
	case LinkIPv4:
		if t == etherTypeIP {
			return always()
		}
	case LinkIPv6:
		if t == etherTypeIPv6 {
			return always()
		}
	case LinkSLL:
		return l.sllLinkType(t)
	case LinkSLL2:
		return cmp(SizeH, 0, t)
	case LinkPPP:
		return cmp(SizeH, 2, pppType(t))
	case LinkNull, LinkLoop:
		switch t {
		case etherTypeIP:
			return l.addressFamily(afInet)
		case etherTypeIPv6:
			var b *bexpr
			for _, af := range bsdAFInet6 {
				if b == nil {
					b = l.addressFamily(af)
				} else {
					b = bOrOf(b, l.addressFamily(af))
				}
			}
			return b
		}
	}
	return never()
}

// addressFamily tests the 4-byte address family of BSD loopback: in
// network order for LOOP, in the file's order for NULL.
func (l layer) addressFamily(af uint32) *bexpr {
	if l.link == LinkNull && !l.bigEndian {
		af = af>>24 | af>>8&0xff00 | af<<8&0xff0000 | af<<24
	}
	return cmp(SizeW, 0, af)
}

// sllLinkType is libpcap's gen_linux_sll_linktype: 802.2 frames have the
// protocol 4 and their SAPs after the header; IPX and AppleTalk have
// their other framings too.
func (l layer) sllLinkType(t uint32) *bexpr {
	const typeOff, llcOff = 14, 16
	const sllP8023 = 0x0001 // Novell's raw 802.3
	is8022 := func() *bexpr { return cmp(SizeH, typeOff, sllP8022) }
	switch {
	case t == llcSAPISONS || t == llcSAPIP || t == llcSAPNetBEUI:
		return bAndOf(is8022(), cmp(SizeH, llcOff, t<<8|t))
	case t == sapIPX:
		llc := bOrOf(cmp(SizeB, llcOff, sapIPX), l.snap(etherTypeSNAPOUI, etherTypeIPX))
		return bAny(cmp(SizeH, typeOff, etherTypeIPX), cmp(SizeH, typeOff, sllP8023), bAndOf(is8022(), llc))
	case t == etherTypeATalk:
		return bOrOf(cmp(SizeH, typeOff, t), bAndOf(is8022(), l.snap(0x080007, t)))
	case t == etherTypeAARP:
		return bOrOf(cmp(SizeH, typeOff, t), bAndOf(is8022(), l.snap(etherTypeSNAPOUI, t)))
	case t <= ethermtu:
		return bAndOf(is8022(), cmp(SizeB, llcOff, t))
	}
	return cmp(SizeH, typeOff, t)
}

// pppType maps an Ethernet type to the PPP protocol of the same payload
// (libpcap's ethertype_to_ppptype); others are compared as they are.
func pppType(t uint32) uint32 {
	switch t {
	case etherTypeIP:
		return pppIP
	case etherTypeIPv6:
		return pppIPv6
	case etherTypeDN:
		return pppDECnet
	case etherTypeNS:
		return pppNS
	case etherTypeATalk:
		return pppAppleTalk
	case sapIPX:
		return pppIPX
	case llcSAPISONS:
		return pppOSI
	case llcSAP8021D:
		return pppBridgePDU
	}
	return t
}

// direction is the test for inbound (out false) or outbound: the packet
// type of a cooked header says it. libpcap tests it only there when it
// reads a file; ok is false for the other link types.
func (l layer) direction(out bool) (b *bexpr, ok bool) {
	switch l.link {
	case LinkSLL:
		b = cmp(SizeH, 0, sllOutgoing)
	case LinkSLL2:
		b = cmp(SizeB, 10, sllOutgoing)
	default:
		return nil, false
	}
	if !out {
		b = bNotOf(b)
	}
	return b, true
}

// linkName names the link type in errors as libpcap does.
func (l layer) linkName() string { return linkNames[l.link] }

// LinkSupported reports whether CompileLink compiles for linkType.
func LinkSupported(linkType uint32) bool {
	_, ok := linkNames[linkType]
	return ok
}
