package filter

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultSnaplen is the return value of an accepting program when Compile is
// given a snaplen of 0 (tcpdump's default).
const DefaultSnaplen = 262144

// Compile compiles a pcap-filter expression (tcpdump syntax, see
// pcap-filter(7)) for Ethernet frames to classic BPF. The program returns
// snaplen for a packet that matches and 0 for one that does not; an empty
// expression accepts every packet. Host names and port names other than the
// common services are not resolved. An invalid expression gives a
// *SyntaxError.
func Compile(expr string, snaplen uint32) (Program, error) {
	return CompileLink(expr, snaplen, LinkEthernet)
}

// ErrRejectsAll is returned for an expression no packet can match (`arp`
// on Raw IP, `1 = 0`), which tcpdump refuses too.
var ErrRejectsAll = errors.New("filter: expression rejects all packets")

// Link types CompileLink compiles for (pcap LINKTYPE_ values).
const (
	LinkEthernet = 1
	LinkRaw      = 101
)

// CompileLink is Compile for packets of link type linkType: LinkEthernet,
// or LinkRaw (packets that start at their IP header), where the
// link-layer primitives (ether, vlan) are refused as libpcap refuses them.
func CompileLink(expr string, snaplen, linkType uint32) (Program, error) {
	if linkType != LinkEthernet && linkType != LinkRaw {
		return nil, fmt.Errorf("filter: link type %d is not supported", linkType)
	}
	if snaplen == 0 {
		snaplen = DefaultSnaplen
	}
	accept := Instruction{Op: ClassRET | RetK, K: snaplen}
	if strings.TrimSpace(expr) == "" {
		return Program{accept}, nil
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := parser{expr: expr, toks: toks, layer: layer{raw: linkType == LinkRaw}}
	b, err := p.parse()
	if err != nil {
		if se, ok := err.(*SyntaxError); ok {
			suggest(expr, se)
		}
		return nil, err
	}
	if v, ok := b.constant(); ok && !v {
		return nil, ErrRejectsAll
	}
	prog, err := optimize(b, accept) // libpcap's verdicts are its optimized code's
	if err != nil {
		return nil, err
	}
	return prog, nil
}

// CompileArgs compiles an expression given as several command-line arguments,
// joined with spaces as tcpdump does. Error columns count in the joined
// string.
func CompileArgs(args []string, snaplen uint32) (Program, error) {
	return Compile(strings.Join(args, " "), snaplen)
}

// CompileArgsLink is CompileArgs for link type linkType (CompileLink).
func CompileArgsLink(args []string, snaplen, linkType uint32) (Program, error) {
	return CompileLink(strings.Join(args, " "), snaplen, linkType)
}

// asmInsn is an instruction during layout: jumps name labels, not offsets.
type asmInsn struct {
	ins    Instruction
	jt, jf int // label ids for jumps (ja uses jt)
	label  int // >= 0: not an instruction but the position of this label
}

type assembler struct {
	code    []asmInsn
	nlabels int
}

func (a *assembler) newLabel() int { a.nlabels++; return a.nlabels - 1 }
func (a *assembler) place(l int)   { a.code = append(a.code, asmInsn{label: l}) }
func (a *assembler) emit(ins Instruction) {
	a.code = append(a.code, asmInsn{ins: ins, label: -1})
}
func (a *assembler) jump(ins Instruction, t, f int) {
	a.code = append(a.code, asmInsn{ins: ins, jt: t, jf: f, label: -1})
}

// cond lays out b so that control reaches label t when b holds and label f
// when it does not. Every label is placed after the jumps to it, so all
// jumps go forward, as classic BPF requires.
func (a *assembler) cond(b *bexpr, t, f int) {
	switch b.kind {
	case bLeaf:
		for _, s := range b.stmts {
			a.emit(s)
		}
		a.jump(b.jmp, t, f)
	case bAnd:
		m := a.newLabel()
		a.cond(b.l, m, f)
		a.place(m)
		a.cond(b.r, t, f)
	case bOr:
		m := a.newLabel()
		a.cond(b.l, t, m)
		a.place(m)
		a.cond(b.r, t, f)
	case bNot:
		a.cond(b.l, f, t)
	case bTrue:
		a.jump(Instruction{Op: ClassJMP | JmpJA}, t, t)
	}
}

// assemble lays out the tests, then resolves labels to offsets, dropping
// jumps to the next instruction and adding a trampoline (ja) where a
// conditional jump is farther than 255 instructions.
func assemble(b *bexpr, accept Instruction) (Program, error) {
	var a assembler
	acc, rej := a.newLabel(), a.newLabel()
	a.cond(b, acc, rej)
	a.place(acc)
	a.emit(accept)
	a.place(rej)
	a.emit(Instruction{Op: ClassRET | RetK, K: 0})

	isJA := func(e asmInsn) bool { return e.label < 0 && e.ins.Op == ClassJMP|JmpJA }
	for {
		// Positions: a label is at the next real instruction.
		pos := make([]int, len(a.code))
		labelPos := make([]int, a.nlabels)
		n := 0
		for i, e := range a.code {
			pos[i] = n
			if e.label >= 0 {
				labelPos[e.label] = n
			} else {
				n++
			}
		}
		changed := false
		var out []asmInsn
		for i, e := range a.code {
			switch {
			case e.label >= 0:
				out = append(out, e)
			case isJA(e):
				if labelPos[e.jt] == pos[i]+1 {
					changed = true // a jump to the next instruction: drop it
					continue
				}
				out = append(out, e)
			case e.ins.isCondJump():
				far := func(l int) bool { return labelPos[l]-pos[i]-1 > 255 }
				var tramp []asmInsn
				for _, tgt := range []*int{&e.jt, &e.jf} {
					if far(*tgt) && !changed {
						l := a.newLabel()
						tramp = append(tramp, asmInsn{label: l},
							asmInsn{ins: Instruction{Op: ClassJMP | JmpJA}, jt: *tgt, label: -1})
						*tgt = l
						changed = true
					}
				}
				out = append(out, e)
				out = append(out, tramp...)
			default:
				out = append(out, e)
			}
		}
		a.code = out
		if changed {
			continue
		}
		prog := make(Program, 0, n)
		for i, e := range a.code {
			if e.label >= 0 {
				continue
			}
			ins := e.ins
			switch {
			case isJA(e):
				ins.K = uint32(labelPos[e.jt] - pos[i] - 1)
			case ins.isCondJump():
				ins.Jt = uint8(labelPos[e.jt] - pos[i] - 1)
				ins.Jf = uint8(labelPos[e.jf] - pos[i] - 1)
			}
			prog = append(prog, ins)
		}
		if len(prog) > MaxInstructions {
			return nil, fmt.Errorf("filter: expression too complex: %d instructions (the limit is %d)", len(prog), MaxInstructions)
		}
		return prog, nil
	}
}
