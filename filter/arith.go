package filter

import "fmt"

// arith is an arithmetic expression of a relation (ip[0] & 0xf > 5).
type arith struct {
	op    string // "num", "len", "load", "neg", or a binary operator
	k     uint32 // num
	l, r  *arith // operands; l is the index of a load
	proto string // load: ether, ip, tcp ...
	size  uint32 // load: 1, 2 or 4
	layer layer  // load: offsets in force where it was parsed
}

func (a *arith) isNum() bool { return a.op == "num" }

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

// checks returns the protocol tests that must pass before a's loads run,
// and-ed in libpcap's order (gen_load_internal, gen_arth): the optimizer
// removes tests by their place, so the same order gives the same verdicts
// on truncated packets.
func (a *arith) checks() *bexpr {
	if a == nil {
		return nil
	}
	if a.op != "load" {
		return bAndOf(a.l.checks(), a.r.checks())
	}
	l, idx := a.layer, a.l.checks()
	switch {
	case a.proto == "ip" || a.proto == "ip6" || a.proto == "arp" || a.proto == "rarp":
		b, _ := l.protoAbbrev(a.proto)
		return bAndOf(idx, b)
	case a.proto == "icmp6":
		return bAndOf(bAndOf(idx, l.etherType(etherTypeIPv6)), cmp(SizeB, l.nl()+6, protoICMP6))
	case transportProtos[a.proto]:
		// IPv4, then the index's tests, then the protocol (over IPv4 or
		// IPv6, as libpcap tests it) and a first fragment.
		p, _ := l.protoAbbrev(a.proto)
		return bAndOf(l.etherType(etherTypeIP), bAndOf(idx, bAndOf(p, l.notFrag())))
	}
	return idx
}

var aluOps = map[string]uint16{
	"+": AluADD, "-": AluSUB, "*": AluMUL, "/": AluDIV, "%": AluMOD,
	"&": AluAND, "|": AluOR, "^": AluXOR, "<<": AluLSH, ">>": AluRSH,
}

// binaryOp builds l op r, folding constants. It returns an error message for
// a constant division by zero or a constant shift by more than 31.
func binaryOp(op string, l, r *arith) (*arith, string) {
	if r.isNum() {
		switch {
		case (op == "/" || op == "%") && r.k == 0:
			if op == "/" {
				return nil, "division by zero"
			}
			return nil, "modulus by zero"
		case (op == "<<" || op == ">>") && r.k > 31:
			return nil, "shift by more than 31 bits"
		}
		if l.isNum() {
			v, _ := alu(aluOps[op], l.k, r.k)
			return &arith{op: "num", k: v}, ""
		}
	}
	return &arith{op: op, l: l, r: r}, ""
}

// codeGen emits the statements of arithmetic expressions into A, using
// scratch memory M[depth...] for intermediate values.
type codeGen struct {
	code []Instruction
	err  string
}

func (g *codeGen) emit(ins ...Instruction) { g.code = append(g.code, ins...) }

func (g *codeGen) slot(depth int) uint32 {
	if depth >= ScratchSlots && g.err == "" {
		g.err = fmt.Sprintf("expression too complex: needs more than %d scratch slots", ScratchSlots)
	}
	return uint32(depth % ScratchSlots)
}

// value leaves the value of a in A.
func (g *codeGen) value(a *arith, depth int) {
	switch a.op {
	case "num":
		g.emit(Instruction{Op: ClassLD | ModeIMM, K: a.k})
	case "len":
		g.emit(Instruction{Op: ClassLD | SizeW | ModeLEN})
	case "neg":
		g.value(a.l, depth)
		g.emit(Instruction{Op: ClassALU | AluNEG})
	case "load":
		g.load(a, depth)
	default:
		op := aluOps[a.op]
		if a.r.isNum() {
			g.value(a.l, depth)
			g.emit(aluK(op, a.r.k))
			return
		}
		m := g.slot(depth)
		g.value(a.r, depth+1)
		g.emit(Instruction{Op: ClassST, K: m})
		g.value(a.l, depth+1)
		g.emit(Instruction{Op: ClassLDX | ModeMEM, K: m}, Instruction{Op: ClassALU | op | SrcX})
	}
}

func (g *codeGen) load(a *arith, depth int) {
	sz := map[uint32]uint16{1: SizeB, 2: SizeH, 4: SizeW}[a.size]
	var base uint32
	switch {
	case a.proto == "ether" || a.proto == "link":
		base = 0
	case a.proto == "icmp6":
		base = a.layer.nl() + ip6HdrLen
	default:
		base = a.layer.nl()
	}
	transport := transportProtos[a.proto]
	idx := a.l
	if idx.isNum() {
		if transport {
			g.emit(ldxIPHdrLen(a.layer.nl()), ldInd(sz, base+idx.k))
		} else {
			g.emit(ldAbs(sz, base+idx.k))
		}
		return
	}
	g.value(idx, depth)
	if transport {
		m := g.slot(depth)
		g.emit(Instruction{Op: ClassST, K: m}, ldxIPHdrLen(a.layer.nl()),
			Instruction{Op: ClassLD | ModeMEM, K: m}, Instruction{Op: ClassALU | AluADD | SrcX})
	}
	g.emit(Instruction{Op: ClassMISC | MiscTAX}, ldInd(sz, base))
}

// relation builds the test "l op r" for a comparison operator.
func relation(op string, l, r *arith) (*bexpr, string) {
	var g codeGen
	jop, negate := map[string]uint16{
		"=": JmpJEQ, "==": JmpJEQ, "!=": JmpJEQ, ">": JmpJGT, ">=": JmpJGE, "<": JmpJGE, "<=": JmpJGT,
	}[op], op == "!=" || op == "<" || op == "<="
	var jmp Instruction
	if r.isNum() {
		g.value(l, 0)
		jmp = Instruction{Op: ClassJMP | jop | SrcK, K: r.k}
	} else {
		g.value(r, 1)
		g.emit(Instruction{Op: ClassST, K: 0})
		g.value(l, 1)
		g.emit(Instruction{Op: ClassLDX | ModeMEM, K: 0})
		jmp = Instruction{Op: ClassJMP | jop | SrcX}
	}
	if g.err != "" {
		return nil, g.err
	}
	var b *bexpr = &bexpr{kind: bLeaf, stmts: g.code, jmp: jmp}
	if negate {
		b = bNotOf(b)
	}
	return bAndOf(bAndOf(l.checks(), r.checks()), b), ""
}
