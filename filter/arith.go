package filter

// Arithmetic (ip[0] & 0xf > 5) as libpcap's gen_loadi, gen_load, gen_arth,
// gen_neg and gen_relation generate it: every value goes through a scratch
// register, allocated in the same order, so the unoptimized code is
// libpcap's and its optimizer removes the same loads.

// arth is a value being computed (libpcap's struct arth): statements that
// leave it in scratch register reg, and the protocol tests that must hold
// before they run.
type arth struct {
	stmts  []Instruction
	checks *bexpr
	reg    uint32
	num    bool // a number alone
}

// regs is libpcap's scratch register allocator: the next register is
// searched from the last one given.
type regs struct {
	cur  int
	used [ScratchSlots]bool
}

func (r *regs) alloc() (uint32, bool) {
	for n := 0; n < ScratchSlots; n++ {
		if !r.used[r.cur] {
			r.used[r.cur] = true
			return uint32(r.cur), true
		}
		r.cur = (r.cur + 1) % ScratchSlots
	}
	return 0, false
}

func (r *regs) free(n uint32) { r.used[n] = false }

// transportProtos are the protocols whose [] loads are relative to the
// transport header after a variable-length IPv4 header.
var transportProtos = map[string]bool{
	"tcp": true, "udp": true, "sctp": true, "icmp": true, "igmp": true, "igrp": true, "pim": true, "vrrp": true,
}

// loadable reports whether proto[...] is valid for proto.
func loadable(proto string) bool {
	switch proto {
	case "ether", "link", "ip", "ip6", "arp", "rarp", "icmp6":
		return true
	}
	return transportProtos[proto]
}

var aluOps = map[string]uint16{
	"+": AluADD, "-": AluSUB, "*": AluMUL, "/": AluDIV, "%": AluMOD,
	"&": AluAND, "|": AluOR, "^": AluXOR, "<<": AluLSH, ">>": AluRSH,
}

func stmt(op uint16, k uint32) Instruction { return Instruction{Op: op, K: k} }
func toX(a *arth) Instruction              { return stmt(ClassLDX|ModeMEM, a.reg) }
func toA(a *arth) Instruction              { return stmt(ClassLD|ModeMEM, a.reg) }

func (p *parser) allocReg() uint32 {
	r, ok := p.regs.alloc()
	if !ok {
		p.fail("too many registers needed to evaluate expression")
	}
	return r
}

// loadi is a number (gen_loadi).
func (p *parser) loadi(k uint32) *arth {
	r := p.allocReg()
	return &arth{stmts: []Instruction{stmt(ClassLD|ModeIMM, k), stmt(ClassST, r)}, reg: r, num: true}
}

// loadLen is len (gen_loadlen).
func (p *parser) loadLen() *arth {
	r := p.allocReg()
	return &arth{stmts: []Instruction{stmt(ClassLD|SizeW|ModeLEN, 0), stmt(ClassST, r)}, reg: r}
}

// neg is -a (gen_neg).
func (p *parser) neg(a *arth) *arth {
	a.stmts = append(a.stmts, toA(a), stmt(ClassALU|AluNEG, 0), stmt(ClassST, a.reg))
	a.num = false
	return a
}

// arith is a0 op a1 (gen_arth). As in libpcap, the protocol tests of a1
// are dropped (ip[0] + tcp[0] tests for IPv4 only), and division by zero
// or a shift past 31 is refused when a1's code starts with that constant.
func (p *parser) arith(op string, a0, a1 *arth, at token) *arth {
	first := a1.stmts[0]
	if first.Op == ClassLD|ModeIMM {
		switch {
		case op == "/" && first.K == 0:
			p.failAt(at, "division by zero")
		case op == "%" && first.K == 0:
			p.failAt(at, "modulus by zero")
		case (op == "<<" || op == ">>") && first.K > 31:
			p.failAt(at, "shift by more than 31 bits")
		}
	}
	a0.stmts = append(append(a0.stmts, a1.stmts...), toX(a1), toA(a0), stmt(ClassALU|aluOps[op]|SrcX, 0))
	p.regs.free(a0.reg)
	p.regs.free(a1.reg)
	a0.reg = p.allocReg()
	a0.stmts = append(a0.stmts, stmt(ClassST, a0.reg))
	a0.num = false
	return a0
}

// load is proto[idx:size] (gen_load): the index's code, the load relative
// to proto's header, and the tests that the packet has that header.
func (p *parser) load(proto string, idx *arth, size uint32) *arth {
	l := p.layer
	sz := map[uint32]uint16{1: SizeB, 2: SizeH, 4: SizeW}[size]
	r := p.allocReg()
	p.regs.free(idx.reg)
	switch {
	case proto == "ether" || proto == "link":
		idx.stmts = append(idx.stmts, toX(idx), ldInd(sz, 0))
	case transportProtos[proto]:
		idx.stmts = append(append(idx.stmts, l.ldxIPHL()...), toA(idx), stmt(ClassALU|AluADD|SrcX, 0),
			stmt(ClassMISC|MiscTAX, 0), ldInd(sz, l.nl()))
		// IPv4, then the index's tests, then the protocol (over IPv4 or
		// IPv6, as libpcap tests it) and a first fragment.
		pb, _ := l.protoAbbrev(proto)
		idx.checks = bAndOf(l.etherType(etherTypeIP), bAndOf(idx.checks, bAndOf(pb, l.notFrag())))
	case proto == "icmp6":
		idx.checks = bAndOf(bAndOf(idx.checks, l.etherType(etherTypeIPv6)), l.cmpPL(SizeB, l.nl()+6, protoICMP6))
		idx.stmts = append(append(idx.stmts, l.indexToX(idx)...), ldInd(sz, l.nl()+ip6HdrLen))
	default: // ip, ip6, arp, rarp
		idx.stmts = append(append(idx.stmts, l.indexToX(idx)...), ldInd(sz, l.nl()))
		pb, _ := l.protoAbbrev(proto)
		idx.checks = bAndOf(idx.checks, pb)
	}
	idx.reg = r
	idx.stmts = append(idx.stmts, stmt(ClassST, r))
	idx.num = false
	return idx
}

// relation is the test "a0 op a1" (gen_relation): a0's code, a1's, then
// a compare of A with X; = compares the difference with 0.
func (p *parser) relation(op string, a0, a1 *arth) *bexpr {
	jop, reversed := map[string]uint16{
		"=": JmpJEQ, "==": JmpJEQ, "!=": JmpJEQ, ">": JmpJGT, ">=": JmpJGE, "<": JmpJGE, "<=": JmpJGT,
	}[op], op == "!=" || op == "<" || op == "<="
	stmts := append(append(a0.stmts, a1.stmts...), toX(a1), toA(a0))
	var b *bexpr
	if jop == JmpJEQ {
		stmts = append(stmts, stmt(ClassALU|AluSUB|SrcX, 0))
		b = &bexpr{kind: bLeaf, stmts: stmts, jmp: Instruction{Op: ClassJMP | JmpJEQ | SrcK}}
	} else {
		b = &bexpr{kind: bLeaf, stmts: stmts, jmp: Instruction{Op: ClassJMP | jop | SrcX}}
	}
	if reversed {
		b = bNotOf(b)
	}
	p.regs.free(a0.reg)
	p.regs.free(a1.reg)
	return bAndOf(bAndOf(a0.checks, a1.checks), b)
}
