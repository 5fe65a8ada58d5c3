package filter

// Code generation: the parser builds a tree of tests (bexpr) the way libpcap's
// gencode.c builds blocks; assemble lays the tree out as classic BPF.

// bkind is the kind of a node in a tree of tests.
type bkind int

const (
	bLeaf bkind = iota
	bAnd
	bOr
	bNot
	bTrue
)

// bexpr is a boolean test: a leaf (statements then one conditional jump) or
// a combination of tests, evaluated left to right with short-circuit.
type bexpr struct {
	kind  bkind
	l, r  *bexpr
	stmts []Instruction // bLeaf: computes A (and X) for the jump
	jmp   Instruction   // bLeaf: the conditional jump; Jt and Jf are set at layout
}

func bAndOf(l, r *bexpr) *bexpr {
	if l == nil {
		return r
	}
	if r == nil {
		return l
	}
	return &bexpr{kind: bAnd, l: l, r: r}
}

func bOrOf(l, r *bexpr) *bexpr { return &bexpr{kind: bOr, l: l, r: r} }
func bNotOf(x *bexpr) *bexpr   { return &bexpr{kind: bNot, l: x} }

// bAny is the or of tests, left to right.
func bAny(xs ...*bexpr) *bexpr {
	b := xs[0]
	for _, x := range xs[1:] {
		b = bOrOf(b, x)
	}
	return b
}

func leaf(jop uint16, k uint32, stmts ...Instruction) *bexpr {
	return &bexpr{kind: bLeaf, stmts: stmts, jmp: Instruction{Op: ClassJMP | jop | SrcK, K: k}}
}

func ldAbs(sz uint16, off uint32) Instruction {
	return Instruction{Op: ClassLD | sz | ModeABS, K: off}
}

func ldInd(sz uint16, off uint32) Instruction {
	return Instruction{Op: ClassLD | sz | ModeIND, K: off}
}

func ldxIPHdrLen(nl uint32) Instruction {
	return Instruction{Op: ClassLDX | SizeB | ModeMSH, K: nl}
}

func aluK(op uint16, k uint32) Instruction { return Instruction{Op: ClassALU | op | SrcK, K: k} }

// cmp tests that the value of size sz at off equals k.
func cmp(sz uint16, off, k uint32) *bexpr { return leaf(JmpJEQ, k, ldAbs(sz, off)) }

// mcmp tests that the value of size sz at off, masked, equals k (libpcap's
// gen_mcmp: the and is left out for a mask of all 32 bits only).
func mcmp(sz uint16, off, mask, k uint32) *bexpr {
	if mask == 0xffffffff {
		return cmp(sz, off, k)
	}
	return leaf(JmpJEQ, k, ldAbs(sz, off), aluK(AluAND, mask))
}

// Ethernet and IP layout.
const (
	etherTypeOff = 12
	etherHdrLen  = 14
	ethermtu     = 1500

	etherTypeIP    = 0x0800
	etherTypeARP   = 0x0806
	etherTypeRARP  = 0x8035
	etherTypeIPv6  = 0x86dd
	etherType8021Q = 0x8100
	etherTypeQinQ  = 0x88a8
	etherType9100  = 0x9100

	protoICMP   = 1
	protoIGMP   = 2
	protoTCP    = 6
	protoUDP    = 17
	protoFrag6  = 44
	protoICMP6  = 58
	protoSCTP   = 132
	ip6HdrLen   = 40
	protoIGRP   = 9
	protoPIM    = 103
	protoVRRP   = 112
	protoAH     = 51
	protoESP    = 50
	anyProtocol = -1
)

// layer holds the link type and the offsets in force when a primitive is
// parsed: each "vlan" shifts everything after it by 4 bytes, as in libpcap.
type layer struct {
	off       uint32 // extra bytes of VLAN tags before the link type
	link      uint32 // the LINKTYPE_ the packets are (link.go)
	bigEndian bool   // LinkNull: the file's byte order, the header's
	// Live on tc (vlan.go): the outer VLAN tag may be in the packet's
	// metadata, so after the first vlan the offsets are variable, held in
	// scratch registers plReg (network layer) and ltReg (link type).
	live         bool
	vlans        int // vlan primitives parsed so far
	variable     bool
	plReg, ltReg uint32
}

func (l layer) linkType() uint32 { return etherTypeOff + l.off }

// nl is the offset of the network-layer header.
func (l layer) nl() uint32 {
	if l.link != LinkEthernet {
		return linkPayload(l.link) + l.off
	}
	return etherHdrLen + l.off
}

// never is a test no packet passes (libpcap's gen_false).
func never() *bexpr { return leaf(JmpJEQ, 0, Instruction{Op: ClassLD | ModeIMM, K: 1}) }

// always is a test every packet passes (libpcap's gen_true), kept as a
// test in the graph as libpcap keeps it: the optimizer removes it.
func always() *bexpr { return &bexpr{kind: bTrue} }

// etherType tests the link-layer type as libpcap's gen_ether_linktype does:
// values up to 1500 are 802.2 LLC SAPs, checked in the LLC header.
func (l layer) etherType(t uint32) *bexpr {
	if l.link != LinkEthernet {
		return l.otherLinkType(t)
	}
	if b, ok := l.etherTypeFramed(t); ok {
		return b
	}
	if t > ethermtu {
		return l.cmpLT(SizeH, l.linkType(), t)
	}
	notLen := bNotOf(leaf(JmpJGT, ethermtu, l.ldLT(SizeH, l.linkType())...))
	switch t {
	case 0xfe, 0x06, 0xf0: // ISO, IP and NetBEUI SAPs: DSAP and SSAP both
		return bAndOf(notLen, l.cmpPL(SizeH, l.nl(), t<<8|t))
	}
	return bAndOf(notLen, l.cmpPL(SizeB, l.nl(), t))
}

// ipProto tests for IPv4 with the given protocol.
func (l layer) ipProto(p uint32) *bexpr {
	return bAndOf(l.etherType(etherTypeIP), l.cmpPL(SizeB, l.nl()+9, p))
}

// ip6Proto tests for IPv6 with the given next header, directly or after a
// fragment header, as libpcap's gen_proto does.
func (l layer) ip6Proto(p uint32) *bexpr {
	nh := l.cmpPL(SizeB, l.nl()+6, p)
	frag := bAndOf(l.cmpPL(SizeB, l.nl()+6, protoFrag6), l.cmpPL(SizeB, l.nl()+ip6HdrLen, p))
	return bAndOf(l.etherType(etherTypeIPv6), bOrOf(nh, frag))
}

// notFrag tests that an IPv4 packet is the first or only fragment.
func (l layer) notFrag() *bexpr {
	return bNotOf(leaf(JmpJSET, 0x1fff, l.ldPL(SizeH, l.nl()+6)...))
}

// protoAbbrev is the test for a protocol name used alone (tcp, ip, arp ...).
// ok is false for a name that is not a protocol.
func (l layer) protoAbbrev(name string) (b *bexpr, ok bool) {
	switch name {
	case "ip":
		return l.etherType(etherTypeIP), true
	case "ip6":
		return l.etherType(etherTypeIPv6), true
	case "arp":
		return l.etherType(etherTypeARP), true
	case "rarp":
		return l.etherType(etherTypeRARP), true
	case "tcp":
		return bOrOf(l.ipProto(protoTCP), l.ip6Proto(protoTCP)), true
	case "udp":
		return bOrOf(l.ipProto(protoUDP), l.ip6Proto(protoUDP)), true
	case "sctp":
		return bOrOf(l.ipProto(protoSCTP), l.ip6Proto(protoSCTP)), true
	case "icmp":
		return l.ipProto(protoICMP), true
	case "icmp6":
		return l.ip6Proto(protoICMP6), true
	case "igmp":
		return l.ipProto(protoIGMP), true
	case "igrp":
		return l.ipProto(protoIGRP), true
	case "vrrp":
		return l.ipProto(protoVRRP), true
	case "pim":
		return bOrOf(l.ipProto(protoPIM), l.ip6Proto(protoPIM)), true
	case "ah":
		return bOrOf(l.ipProto(protoAH), l.ip6Proto(protoAH)), true
	case "esp":
		return bOrOf(l.ipProto(protoESP), l.ip6Proto(protoESP)), true
	}
	return l.linkProtoAbbrev(name)
}

// dirTest combines a source and a destination test by direction qualifier.
func dirTest(dir string, srcT, dstT func() *bexpr) *bexpr {
	switch dir {
	case "src":
		return srcT()
	case "dst":
		return dstT()
	case "and":
		return bAndOf(srcT(), dstT())
	}
	return bOrOf(srcT(), dstT())
}

// hostV4 tests an IPv4 address under mask in the IP, ARP or RARP header
// (proto "" means all three, as libpcap does), each direction with its own
// link-layer test as libpcap's gen_hostop.
func (l layer) hostV4(addr, mask uint32, proto, dir string) *bexpr {
	one := func(t, srcOff, dstOff uint32) *bexpr {
		at := func(off uint32) func() *bexpr {
			return func() *bexpr { return bAndOf(l.etherType(t), l.mcmpPL(SizeW, l.nl()+off, mask, addr)) }
		}
		return dirTest(dir, at(srcOff), at(dstOff))
	}
	ip := func() *bexpr { return one(etherTypeIP, 12, 16) }
	arp := func() *bexpr { return one(etherTypeARP, 14, 24) }
	rarp := func() *bexpr { return one(etherTypeRARP, 14, 24) }
	switch proto {
	case "ip":
		return ip()
	case "arp":
		return arp()
	case "rarp":
		return rarp()
	}
	return bAny(ip(), arp(), rarp())
}

// hostV6 tests an IPv6 address under mask in the IPv6 header: the link
// type, then the four words under their masks (libpcap's gen_hostop6).
func (l layer) hostV6(addr, mask [16]byte, dir string) *bexpr {
	at := func(base uint32) func() *bexpr {
		return func() *bexpr {
			b := l.etherType(etherTypeIPv6)
			for i := uint32(0); i < 4; i++ {
				m := be32(mask[4*i:])
				b = bAndOf(b, l.mcmpPL(SizeW, base+4*i, m, be32(addr[4*i:])&m))
			}
			return b
		}
	}
	return dirTest(dir, at(l.nl()+8), at(l.nl()+24))
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// etherHost tests a MAC address in the Ethernet header (never shifted by
// vlan).
func etherHost(mac [6]byte, dir string) *bexpr {
	at := func(off uint32) *bexpr {
		return bAndOf(cmp(SizeW, off+2, be32(mac[2:])), cmp(SizeH, off, uint32(mac[0])<<8|uint32(mac[1])))
	}
	return dirTest(dir, func() *bexpr { return at(6) }, func() *bexpr { return at(0) })
}

// portTest tests a transport port (lo == hi, not a range) or port range
// in TCP, UDP or SCTP (proto anyProtocol for all three) over IPv6 (no
// extension headers) or IPv4 (first fragments only), as libpcap's gen_port6
// or gen_port and their range versions do, in their order.
func (l layer) portTest(proto int, lo, hi uint32, isRange bool, dir string) *bexpr {
	atom := func(ld []Instruction, off uint32) *bexpr {
		at := func(jop uint16, k uint32) *bexpr {
			stmts := append([]Instruction(nil), ld...)
			stmts[len(stmts)-1].K += off
			return leaf(jop, k, stmts...)
		}
		if !isRange {
			return at(JmpJEQ, lo)
		}
		return bAndOf(at(JmpJGE, lo), bNotOf(at(JmpJGT, hi)))
	}
	ports := func(ld ...Instruction) *bexpr {
		return dirTest(dir, func() *bexpr { return atom(ld, 0) }, func() *bexpr { return atom(ld, 2) })
	}
	v4 := func(p uint32) *bexpr {
		return bAndOf(bAndOf(l.cmpPL(SizeB, l.nl()+9, p), l.notFrag()),
			ports(append(l.ldxIPHL(), ldInd(SizeH, l.nl()))...))
	}
	v6 := func(p uint32) *bexpr {
		return bAndOf(l.cmpPL(SizeB, l.nl()+6, p), ports(l.ldPL(SizeH, l.nl()+ip6HdrLen)...))
	}
	each := func(one func(uint32) *bexpr) *bexpr {
		if proto != anyProtocol {
			return one(uint32(proto))
		}
		// libpcap or-s SCTP before TCP or UDP.
		return bAny(one(protoSCTP), one(protoTCP), one(protoUDP))
	}
	return bOrOf(bAndOf(l.etherType(etherTypeIPv6), each(v6)), bAndOf(l.etherType(etherTypeIP), each(v4)))
}

// vlan tests for an 802.1Q/802.1ad tag (and its VLAN ID when id >= 0) at the
// current link type offset; the caller then shifts the layer by 4.
func (l layer) vlan(id int) *bexpr {
	b := l.vlanTPID()
	if id >= 0 {
		b = bAndOf(b, l.vlanID(id))
	}
	return b
}

// lenTest compares the wire length: "less N" is len <= N, "greater N" is
// len >= N.
func lenTest(jop uint16, n uint32, negate bool) *bexpr {
	b := leaf(jop, n, Instruction{Op: ClassLD | SizeW | ModeLEN})
	if negate {
		return bNotOf(b)
	}
	return b
}

// broadcast and multicast tests for the ether, ip and ip6 qualifiers. The
// netmask is taken as 0 (as tcpdump -d does with no interface), so ip
// broadcast matches a destination of 0.0.0.0 or 255.255.255.255.
func (l layer) broadcast(proto string) (*bexpr, bool) {
	switch proto {
	case "", "ether", "link":
		return bAndOf(cmp(SizeW, 2, 0xffffffff), cmp(SizeH, 0, 0xffff)), true
	case "ip":
		return bAndOf(l.etherType(etherTypeIP),
			bOrOf(l.cmpPL(SizeW, l.nl()+16, 0), l.cmpPL(SizeW, l.nl()+16, 0xffffffff))), true
	}
	return nil, false
}

func (l layer) multicast(proto string) (*bexpr, bool) {
	switch proto {
	case "", "ether", "link":
		return leaf(JmpJSET, 1, ldAbs(SizeB, 0)), true
	case "ip":
		return bAndOf(l.etherType(etherTypeIP), leaf(JmpJGE, 224, l.ldPL(SizeB, l.nl()+16)...)), true
	case "ip6":
		return bAndOf(l.etherType(etherTypeIPv6), l.cmpPL(SizeB, l.nl()+24, 255)), true
	}
	return nil, false
}
