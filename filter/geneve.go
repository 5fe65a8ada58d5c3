package filter

// Geneve (gen_geneve in libpcap's gencode.c): UDP to port 6081 over IPv4
// or IPv6, version 0, and the VNI when given. The Geneve header has
// options of variable length, so what follows is at offsets computed at
// run time into scratch registers: the encapsulated link type (the
// Geneve protocol type, or the inner Ethernet type for Transparent
// Ethernet Bridging), the inner link-layer header and its payload. That
// computation branches among its statements, so libpcap does not
// optimize such code, and neither do we.

const (
	genevePort   = 6081
	etherTypeTEB = 0x6558 // Transparent Ethernet Bridging: an Ethernet frame inside
	maxVNI       = 0xffffff
)

// geneve is `geneve [vni]`.
func (p *parser) geneve() *bexpr {
	p.next()
	vni, t, hasVNI := p.optNumber()
	if hasVNI && vni > maxVNI {
		p.failAt(t, "Geneve VNI %d greater than maximum %d", vni, maxVNI)
	}
	l := p.layer
	check := func(version int, at func(off uint32, sz uint16, mask, k uint32) *bexpr) *bexpr {
		b := l.portTestIP(version, protoUDP, genevePort, genevePort, false, "dst")
		b = bAndOf(b, at(8, SizeB, 0xc0, 0)) // version 0: the top 2 bits of the first byte
		if hasVNI {
			b = bAndOf(b, at(12, SizeW, 0xffffff00, vni<<8))
		}
		return b
	}
	// OR_TRAN_IPV4 and OR_TRAN_IPV6 loads: after the IP header.
	tran4 := func(off uint32, sz uint16, mask, k uint32) *bexpr {
		stmts := append(l.ldxIPHL(), ldInd(sz, l.nl()+off))
		if mask != 0xffffffff {
			stmts = append(stmts, aluK(AluAND, mask))
		}
		return leaf(JmpJEQ, k, stmts...)
	}
	tran6 := func(off uint32, sz uint16, mask, k uint32) *bexpr {
		return l.mcmpPL(sz, l.nl()+ip6HdrLen+off, mask, k)
	}
	// Each check ends in a test that always holds, whose statements
	// leave the IP header's length (and the variable offset) in A.
	alwaysX := func(stmts ...Instruction) *bexpr {
		return &bexpr{kind: bLeaf, stmts: stmts, jmp: Instruction{Op: ClassJMP | JmpJEQ | SrcX}}
	}
	v4 := bAndOf(check(4, tran4), alwaysX(append(l.ldxIPHL(), stmt(ClassMISC|MiscTXA, 0))...))
	var len6 []Instruction
	if l.variable {
		len6 = []Instruction{stmt(ClassLDX|ModeMEM, l.plReg), stmt(ClassLD|ModeIMM, ip6HdrLen), stmt(ClassALU|AluADD|SrcX, 0)}
	} else {
		len6 = []Instruction{stmt(ClassLD|ModeIMM, ip6HdrLen)}
	}
	v6 := bAndOf(check(6, tran6), alwaysX(append(len6, stmt(ClassMISC|MiscTAX, 0))...))
	return bAndOf(bOrOf(v4, v6), p.geneveOffsets())
}

// geneveOffsets is libpcap's gen_geneve_offsets, run when the packet is
// Geneve: from A (the IP header's length) it stores the offsets of the
// encapsulated link type, link-layer header and payload, and makes the
// layer read what follows there.
func (p *parser) geneveOffsets() *bexpr {
	l := p.layer
	lt := p.allocReg()
	hdr := p.allocReg()
	pl := p.allocReg()
	stmts := []Instruction{
		aluK(AluADD, l.nl()+8), // A: the Geneve header, after the UDP header
		stmt(ClassMISC|MiscTAX, 0),
		aluK(AluADD, 2), // its protocol type, the encapsulated link type
		stmt(ClassST, lt),
		ldInd(SizeB, 0), // the options' length in 4-byte words
		aluK(AluAND, 0x3f),
		aluK(AluMUL, 4),
		aluK(AluADD, 8),
		stmt(ClassALU|AluADD|SrcX, 0),
		stmt(ClassST, hdr), // past the options: the encapsulated frame
		ldInd(SizeH, 2),
		stmt(ClassLDX|ModeMEM, hdr),
		// An Ethernet frame inside: its type and payload are 12 and 14
		// bytes further on; otherwise the payload starts right there.
		{Op: ClassJMP | JmpJEQ | SrcK, K: etherTypeTEB, Jt: 0, Jf: 5},
		stmt(ClassMISC|MiscTXA, 0),
		aluK(AluADD, 12),
		stmt(ClassST, lt),
		aluK(AluADD, 2),
		stmt(ClassMISC|MiscTAX, 0),
		stmt(ClassSTX, pl),
		// libpcap's gen_true, which carries the statements.
		stmt(ClassLD|ModeIMM, 0),
	}
	n := &p.layer
	n.link, n.pushed, n.geneve = LinkEthernet, true, true
	n.hdrOff, n.ltOff, n.plOff, n.off, n.nlOff = 0, 0, 0, 0, 0
	n.variable, n.ltReg, n.plReg = true, lt, pl
	n.hdrVar, n.hdrReg = true, hdr
	p.noOptimize = true
	return leaf(JmpJEQ, 0, stmts...)
}

// Loads relative to the link-layer header (libpcap's OR_LINKHDR): the
// encapsulated frame's inside Geneve.

func (l layer) ldHdr(sz uint16, off uint32) []Instruction {
	if !l.hdrVar {
		return []Instruction{ldAbs(sz, l.hdr()+off)}
	}
	return []Instruction{stmt(ClassLDX|ModeMEM, l.hdrReg), ldInd(sz, l.hdr()+off)}
}

func (l layer) cmpHdr(sz uint16, off, k uint32) *bexpr { return leaf(JmpJEQ, k, l.ldHdr(sz, off)...) }

// llCheck is the test that the encapsulated packet has a link-layer
// header, before a test of it (gen_geneve_ll_check: the header and its
// payload are not at the same offset); nil outside Geneve.
func (l layer) llCheck() *bexpr {
	if !l.geneve {
		return nil
	}
	same := &bexpr{kind: bLeaf, stmts: []Instruction{stmt(ClassLD|ModeMEM, l.hdrReg), stmt(ClassLDX|ModeMEM, l.plReg)},
		jmp: Instruction{Op: ClassJMP | JmpJEQ | SrcX}}
	return bNotOf(same)
}
