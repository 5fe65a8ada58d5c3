package filter

// Link-layer protocols other than IP and ARP, as libpcap's
// gen_ether_linktype and gen_proto_abbrev generate them for Ethernet: 802.2
// LLC frames (stp, iso, netbeui, llc), IPX in its four framings, AppleTalk
// over Ethernet II or SNAP, DECnet, PPPoE discovery.

const (
	sapSTP     = 0x42
	sapISO     = 0xfe
	sapNetBEUI = 0xf0
	sapIPX     = 0xe0

	etherTypeIPX     = 0x8137
	etherTypeATalk   = 0x809b
	etherTypeAARP    = 0x80f3
	etherTypeDECnet  = 0x6003
	etherTypePPPoED  = 0x8863
	etherTypePPPoES  = 0x8864
	etherTypeMPLS    = 0x8847
	etherTypeSNAPOUI = 0 // encapsulated Ethernet
)

// linkProtoAbbrev is the test for a link-layer protocol name used alone
// (stp, ipx ...); ok is false for a name that is not one.
func (l layer) linkProtoAbbrev(name string) (b *bexpr, ok bool) {
	switch name {
	case "stp":
		return l.etherType(sapSTP), true
	case "iso":
		return l.etherType(sapISO), true
	case "netbeui":
		return l.etherType(sapNetBEUI), true
	case "ipx":
		return l.etherType(sapIPX), true
	case "atalk":
		return l.etherType(etherTypeATalk), true
	case "aarp":
		return l.etherType(etherTypeAARP), true
	case "decnet":
		return l.etherType(etherTypeDECnet), true
	case "pppoed":
		return l.etherType(etherTypePPPoED), true
	case "llc":
		switch l.link {
		case LinkEthernet:
		case LinkSLL: // libpcap: the cooked header's protocol says 802.2
			return cmp(SizeH, 14, sllP8022), true
		case LinkSLL2:
			return cmp(SizeH, 0, sllP8022), true
		default:
			return never(), true
		}
		// An 802.3 length, and not NetWare's raw 802.3 (DSAP and SSAP
		// 0xff).
		return bAndOf(l.isLength(), bNotOf(l.cmpPL(SizeH, l.nl(), 0xffff))), true
	}
	return nil, false
}

// isLength tests that the type field is an 802.3 length.
func (l layer) isLength() *bexpr {
	return bNotOf(leaf(JmpJGT, ethermtu, l.ldLT(SizeH, l.linkType())...))
}

// snap tests for an 802.2 SNAP header with the given OUI and type, as
// libpcap's gen_snap and gen_bcmp do (the last word first).
func (l layer) snap(oui, typ uint32) *bexpr {
	return bAndOf(l.cmpPL(SizeW, l.nl()+4, oui<<16|typ), l.cmpPL(SizeW, l.nl(), 0xaaaa0300|oui>>16))
}

// etherTypeFramed is the test for the protocols that have more than one
// framing on Ethernet (IPX, AppleTalk); ok is false for the others.
func (l layer) etherTypeFramed(t uint32) (b *bexpr, ok bool) {
	switch t {
	case sapIPX:
		// Ethernet II, or on 802.3: the IPX SAP, raw 802.3 (0xffff) or
		// SNAP.
		llc := bOrOf(l.snap(etherTypeSNAPOUI, etherTypeIPX),
			bOrOf(l.cmpPL(SizeB, l.nl(), sapIPX), l.cmpPL(SizeH, l.nl(), 0xffff)))
		return bOrOf(l.cmpLT(SizeH, l.linkType(), etherTypeIPX), bAndOf(l.isLength(), llc)), true
	case etherTypeATalk, etherTypeAARP:
		oui := uint32(0x080007)
		if t == etherTypeAARP {
			oui = etherTypeSNAPOUI
		}
		return bOrOf(l.cmpLT(SizeH, l.linkType(), t), bAndOf(l.isLength(), l.snap(oui, t))), true
	}
	return nil, false
}

// isHostName reports whether w is a name rather than a number or an
// address (libpcap's grammar tells them apart the same way).
func isHostName(w string) bool {
	_, num := parseNum(w)
	_, _, v4 := parseIPv4Net(w)
	_, mac := parseMAC(w)
	return !num && !v4 && !mac && !isIPv6(w)
}
