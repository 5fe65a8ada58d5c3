package filter

import "strings"

// VLAN tags on a live capture on tc. The kernel moves a frame's outer
// 802.1Q/802.1ad tag into the packet's metadata before tc sees it, as it
// does before a packet socket sees it, and libpcap compiles `vlan` for a
// live Linux socket with the ancillary loads that read that metadata
// (gencode.c gen_vlan_bpf_extensions): the first vlan holds when a tag is
// in the metadata or in the frame, and the offsets of what follows depend
// on which, so they are kept in scratch registers. A second vlan tests the
// frame. Offline, on XDP and in user space the tags are in the frame.

// Linux classic BPF ancillary data: loads at SKF_AD_OFF + n read packet
// metadata instead of packet bytes.
const (
	skfAdOff            = 0xfffff000 // SKF_AD_OFF (-0x1000)
	skfAdVLANTag        = 44         // the tag's TCI
	skfAdVLANTagPresent = 48         // 1 when a tag is in the metadata
	skfAdVLANTPID       = 60         // the tag's TPID
	ancVLANTag          = skfAdOff + skfAdVLANTag
	ancVLANTagPresent   = skfAdOff + skfAdVLANTagPresent
	ancVLANTPID         = skfAdOff + skfAdVLANTPID
	ancillaryFirst      = skfAdOff
)

// isAncillary reports whether an absolute load at k reads metadata.
func isAncillary(k uint32) bool { return k >= ancillaryFirst }

// ancillaryValue is the value of an ancillary load given the packet's VLAN
// metadata vlan: 0 for none, else the TPID in the high 16 bits and the
// TCI in the low 16 (the record header's and the tc filter's R4). ok is
// false for ancillary data other than VLAN's.
func ancillaryValue(k, vlan uint32) (v uint32, ok bool) {
	switch k {
	case ancVLANTagPresent:
		if vlan != 0 {
			return 1, true
		}
		return 0, true
	case ancVLANTag:
		return vlan & 0xffff, true
	case ancVLANTPID:
		return vlan >> 16, true
	}
	return 0, false
}

// CompileLiveTC is Compile for the kernel filter on tc, where the outer
// VLAN tag may be in the packet's metadata: `vlan` is compiled as libpcap
// compiles it for a live Linux capture (tcpdump -d -i on an Ethernet
// interface), reading the tag from the metadata or the frame. The program
// runs with the metadata passed to the eBPF subprogram (ToEBPF); in user
// space (Program.Match) it sees no metadata.
func CompileLiveTC(expr string, snaplen uint32) (Program, error) {
	return compileLayer(expr, snaplen, layer{link: LinkEthernet, live: true})
}

// CompileArgsLiveTC is CompileArgs for the kernel filter on tc
// (CompileLiveTC).
func CompileArgsLiveTC(args []string, snaplen uint32) (Program, error) {
	return CompileLiveTC(strings.Join(args, " "), snaplen)
}

// liveVLAN is the first vlan of a live capture: a tag in the metadata, or
// one in the frame (which shifts what follows by 4: the offset registers
// are added 4 on that path only); with an id, the VLAN ID of whichever.
// libpcap selects the TCI with jumps inside one block; here the choice is
// two tests, which keep the same packets.
func (p *parser) liveVLAN(id int) *bexpr {
	l := p.layer
	present := func() *bexpr { return leaf(JmpJEQ, 1, ldAbs(SizeB, ancVLANTagPresent)) }
	tpid := l.vlanTPID()
	var vid *bexpr
	if id >= 0 {
		vid = bOrOf(bAndOf(present(), mcmp(SizeB, ancVLANTag, 0x0fff, uint32(id))),
			bAndOf(bNotOf(present()), l.vlanID(id)))
	}
	if !p.layer.variable {
		p.layer.variable = true
		p.layer.plReg = p.allocReg()
		p.layer.ltReg = p.allocReg()
	}
	add4 := func(r uint32) []Instruction {
		return []Instruction{stmt(ClassLD|ModeMEM, r), aluK(AluADD, 4), stmt(ClassST, r)}
	}
	first := firstLeaf(tpid)
	first.stmts = append(append(add4(p.layer.plReg), add4(p.layer.ltReg)...), first.stmts...)
	return bAndOf(bOrOf(present(), tpid), vid)
}

// vlanTPID tests for a VLAN tag's TPID at the link type (gen_vlan_tpid_test).
func (l layer) vlanTPID() *bexpr {
	return bAny(l.cmpLT(SizeH, l.linkType(), etherType8021Q), l.cmpLT(SizeH, l.linkType(), etherTypeQinQ),
		l.cmpLT(SizeH, l.linkType(), etherType9100))
}

// vlanID tests the VLAN ID of the tag at the link type.
func (l layer) vlanID(id int) *bexpr { return l.mcmpPL(SizeH, l.nl(), 0x0fff, uint32(id)) }

// firstLeaf is the test b runs first, made a leaf if it is gen_true.
func firstLeaf(b *bexpr) *bexpr {
	for b.kind != bLeaf && b.kind != bTrue {
		b = b.l
	}
	if b.kind == bTrue {
		*b = *leaf(JmpJEQ, 0, Instruction{Op: ClassLD | ModeIMM, K: 0})
	}
	return b
}

// Loads relative to the network layer (PL) and the link type (LT): from
// a scratch register's offset once a live vlan made them variable
// (libpcap's gen_load_absoffsetrel).

func (l layer) ldPL(sz uint16, off uint32) []Instruction {
	if !l.variable {
		return []Instruction{ldAbs(sz, off)}
	}
	return []Instruction{stmt(ClassLDX|ModeMEM, l.plReg), ldInd(sz, off)}
}

func (l layer) ldLT(sz uint16, off uint32) []Instruction {
	if !l.variable {
		return []Instruction{ldAbs(sz, off)}
	}
	return []Instruction{stmt(ClassLDX|ModeMEM, l.ltReg), ldInd(sz, off)}
}

func (l layer) cmpPL(sz uint16, off, k uint32) *bexpr { return leaf(JmpJEQ, k, l.ldPL(sz, off)...) }
func (l layer) cmpLT(sz uint16, off, k uint32) *bexpr { return leaf(JmpJEQ, k, l.ldLT(sz, off)...) }

func (l layer) mcmpPL(sz uint16, off, mask, k uint32) *bexpr {
	if mask == 0xffffffff {
		return l.cmpPL(sz, off, k)
	}
	return leaf(JmpJEQ, k, append(l.ldPL(sz, off), aluK(AluAND, mask))...)
}

// ldxIPHL loads X with the IPv4 header length, plus the variable offset
// (gen_loadx_iphdrlen).
func (l layer) ldxIPHL() []Instruction {
	if !l.variable {
		return []Instruction{ldxIPHdrLen(l.nl())}
	}
	return []Instruction{stmt(ClassLDX|ModeMEM, l.plReg), ldInd(SizeB, l.nl()), aluK(AluAND, 0xf), aluK(AluLSH, 2),
		stmt(ClassALU|AluADD|SrcX, 0), stmt(ClassMISC|MiscTAX, 0)}
}

// indexToX puts an index into X, plus the variable offset.
func (l layer) indexToX(idx *arth) []Instruction {
	if !l.variable {
		return []Instruction{toX(idx)}
	}
	return []Instruction{stmt(ClassLDX|ModeMEM, l.plReg), toA(idx), stmt(ClassALU|AluADD|SrcX, 0), stmt(ClassMISC|MiscTAX, 0)}
}

// offsetPrologue sets the offset registers to 0 before the first test
// (libpcap's insert_compute_vloffsets).
func (l layer) offsetPrologue(b *bexpr) {
	if !l.variable {
		return
	}
	first := firstLeaf(b)
	first.stmts = append([]Instruction{stmt(ClassLD|ModeIMM, 0), stmt(ClassST, l.plReg), stmt(ClassST, l.ltReg)}, first.stmts...)
}
