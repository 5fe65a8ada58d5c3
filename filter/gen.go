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

// mcmp tests that the value of size sz at off, masked, equals k.
func mcmp(sz uint16, off, mask, k uint32) *bexpr {
	if mask == 0xffffffff || sz == SizeH && mask == 0xffff || sz == SizeB && mask == 0xff {
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

// layer holds the offsets in force when a primitive is parsed: each "vlan"
// shifts everything after it by 4 bytes, as in libpcap.
type layer struct {
	off uint32 // extra bytes of VLAN tags before the link type
	raw bool   // LINKTYPE_RAW: packets start at the IP header
}

func (l layer) linkType() uint32 { return etherTypeOff + l.off }
func (l layer) nl() uint32 {
	if l.raw {
		return l.off
	}
	return etherHdrLen + l.off
}

// never is a test no packet passes (libpcap's gen_false).
func never() *bexpr { return leaf(JmpJEQ, 1, Instruction{Op: ClassLD | ModeIMM, K: 0}) }

// etherType tests the link-layer type as libpcap's gen_ether_linktype does:
// values up to 1500 are 802.2 LLC SAPs, checked in the LLC header.
func (l layer) etherType(t uint32) *bexpr {
	if l.raw {
		// No link-layer header: the IP version says it (libpcap's
		// gen_linktype for DLT_RAW); nothing else is there.
		switch t {
		case etherTypeIP:
			return mcmp(SizeB, l.nl(), 0xf0, 0x40)
		case etherTypeIPv6:
			return mcmp(SizeB, l.nl(), 0xf0, 0x60)
		}
		return never()
	}
	if b, ok := l.etherTypeFramed(t); ok {
		return b
	}
	if t > ethermtu {
		return cmp(SizeH, l.linkType(), t)
	}
	notLen := bNotOf(leaf(JmpJGT, ethermtu, ldAbs(SizeH, l.linkType())))
	switch t {
	case 0xfe, 0x06, 0xf0: // ISO, IP and NetBEUI SAPs: DSAP and SSAP both
		return bAndOf(notLen, cmp(SizeH, l.nl(), t<<8|t))
	}
	return bAndOf(notLen, cmp(SizeB, l.nl(), t))
}

// ipProto tests for IPv4 with the given protocol.
func (l layer) ipProto(p uint32) *bexpr {
	return bAndOf(l.etherType(etherTypeIP), cmp(SizeB, l.nl()+9, p))
}

// ip6Proto tests for IPv6 with the given next header, directly or after a
// fragment header, as libpcap's gen_proto does.
func (l layer) ip6Proto(p uint32) *bexpr {
	nh := cmp(SizeB, l.nl()+6, p)
	frag := bAndOf(cmp(SizeB, l.nl()+6, protoFrag6), cmp(SizeB, l.nl()+ip6HdrLen, p))
	return bAndOf(l.etherType(etherTypeIPv6), bOrOf(nh, frag))
}

// notFrag tests that an IPv4 packet is the first or only fragment.
func (l layer) notFrag() *bexpr {
	return bNotOf(leaf(JmpJSET, 0x1fff, ldAbs(SizeH, l.nl()+6)))
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
// (proto "" means all three, as libpcap does).
func (l layer) hostV4(addr, mask uint32, proto, dir string) *bexpr {
	one := func(t, srcOff, dstOff uint32) *bexpr {
		return bAndOf(l.etherType(t), dirTest(dir,
			func() *bexpr { return mcmp(SizeW, l.nl()+srcOff, mask, addr) },
			func() *bexpr { return mcmp(SizeW, l.nl()+dstOff, mask, addr) }))
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

// hostV6 tests an IPv6 address under mask in the IPv6 header.
func (l layer) hostV6(addr, mask [16]byte, dir string) *bexpr {
	words := func(base uint32) *bexpr {
		var b *bexpr
		for i := uint32(0); i < 4; i++ {
			m := be32(mask[4*i:])
			if m == 0 {
				continue
			}
			b = bAndOf(b, mcmp(SizeW, base+4*i, m, be32(addr[4*i:])&m))
		}
		if b == nil {
			return &bexpr{kind: bTrue}
		}
		return b
	}
	return bAndOf(l.etherType(etherTypeIPv6), dirTest(dir,
		func() *bexpr { return words(l.nl() + 8) },
		func() *bexpr { return words(l.nl() + 24) }))
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

// portTest tests a transport port (lo == hi) or port range in TCP, UDP or
// SCTP (proto anyProtocol for all three) over IPv4 (first fragments only)
// and IPv6 (no extension headers), as libpcap's gen_port and gen_port6 do.
func (l layer) portTest(proto int, lo, hi uint32, dir string) *bexpr {
	atom := func(ld Instruction, off uint32) *bexpr {
		ld.K += off
		if lo == hi {
			return leaf(JmpJEQ, lo, ld)
		}
		return bAndOf(leaf(JmpJGE, lo, ld), bNotOf(leaf(JmpJGT, hi, ld)))
	}
	ports := func(ld Instruction, pre ...Instruction) *bexpr {
		withPre := func(b *bexpr) *bexpr {
			if len(pre) > 0 {
				// The first leaf of each atom loads X first.
				first := b
				for first.kind != bLeaf {
					first = first.l
				}
				first.stmts = append(append([]Instruction{}, pre...), first.stmts...)
			}
			return b
		}
		return dirTest(dir,
			func() *bexpr { return withPre(atom(ld, 0)) },
			func() *bexpr { return withPre(atom(ld, 2)) })
	}
	protos := []uint32{protoTCP, protoUDP, protoSCTP}
	if proto != anyProtocol {
		protos = []uint32{uint32(proto)}
	}
	v4 := func(p uint32) *bexpr {
		return bAndOf(bAndOf(cmp(SizeB, l.nl()+9, p), l.notFrag()),
			ports(ldInd(SizeH, l.nl()), ldxIPHdrLen(l.nl())))
	}
	v6 := func(p uint32) *bexpr {
		return bAndOf(cmp(SizeB, l.nl()+6, p), ports(ldAbs(SizeH, l.nl()+ip6HdrLen)))
	}
	var b4, b6 *bexpr
	for _, p := range protos {
		if b4 == nil {
			b4, b6 = v4(p), v6(p)
		} else {
			b4, b6 = bOrOf(b4, v4(p)), bOrOf(b6, v6(p))
		}
	}
	return bOrOf(bAndOf(l.etherType(etherTypeIP), b4), bAndOf(l.etherType(etherTypeIPv6), b6))
}

// vlan tests for an 802.1Q/802.1ad tag (and its VLAN ID when id >= 0) at the
// current link type offset; the caller then shifts the layer by 4.
func (l layer) vlan(id int) *bexpr {
	b := bAny(cmp(SizeH, l.linkType(), etherType8021Q), cmp(SizeH, l.linkType(), etherTypeQinQ),
		cmp(SizeH, l.linkType(), etherType9100))
	if id >= 0 {
		b = bAndOf(b, mcmp(SizeH, l.nl(), 0x0fff, uint32(id)))
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
			bOrOf(cmp(SizeW, l.nl()+16, 0), cmp(SizeW, l.nl()+16, 0xffffffff))), true
	}
	return nil, false
}

func (l layer) multicast(proto string) (*bexpr, bool) {
	switch proto {
	case "", "ether", "link":
		return leaf(JmpJSET, 1, ldAbs(SizeB, 0)), true
	case "ip":
		return bAndOf(l.etherType(etherTypeIP), leaf(JmpJGE, 224, ldAbs(SizeB, l.nl()+16))), true
	case "ip6":
		return bAndOf(l.etherType(etherTypeIPv6), cmp(SizeB, l.nl()+24, 255)), true
	}
	return nil, false
}

// constant reports the value of a test that does not depend on the packet
// (a leaf on a constant, as never(), and and/or/not of such), known false
// when it cannot tell: an expression that is constantly false is refused
// as libpcap refuses it ("expression rejects all packets").
func (b *bexpr) constant() (value, known bool) {
	switch b.kind {
	case bLeaf:
		if len(b.stmts) != 1 || b.stmts[0].Op != ClassLD|ModeIMM {
			return false, false
		}
		return jumpTaken(b.jmp.Op&0xf0, b.stmts[0].K, b.jmp.K), true
	case bNot:
		v, ok := b.l.constant()
		return !v, ok
	case bAnd, bOr:
		lv, lok := b.l.constant()
		rv, rok := b.r.constant()
		isAnd := b.kind == bAnd
		switch {
		case lok && lv != isAnd, rok && rv != isAnd: // a false in an and, a true in an or
			return !isAnd, true
		case lok && rok:
			return isAnd, true
		}
	}
	return false, false
}

func jumpTaken(op uint16, a, k uint32) bool {
	switch op {
	case JmpJEQ:
		return a == k
	case JmpJGT:
		return a > k
	case JmpJGE:
		return a >= k
	case JmpJSET:
		return a&k != 0
	}
	return false
}
