package filter

import (
	"errors"
	"fmt"
	"strings"
)

// Instruction is one classic BPF instruction, laid out as struct sock_filter
// (linux/filter.h) and struct bpf_insn (pcap/bpf.h).
type Instruction struct {
	Op     uint16
	Jt, Jf uint8
	K      uint32
}

// Program is a classic BPF program. A packet is kept when the program returns
// a non-zero value.
type Program []Instruction

// Classic BPF opcode fields (pcap/bpf.h).
const (
	ClassLD   = 0x00
	ClassLDX  = 0x01
	ClassST   = 0x02
	ClassSTX  = 0x03
	ClassALU  = 0x04
	ClassJMP  = 0x05
	ClassRET  = 0x06
	ClassMISC = 0x07

	SizeW = 0x00
	SizeH = 0x08
	SizeB = 0x10

	ModeIMM = 0x00
	ModeABS = 0x20
	ModeIND = 0x40
	ModeMEM = 0x60
	ModeLEN = 0x80
	ModeMSH = 0xa0

	AluADD = 0x00
	AluSUB = 0x10
	AluMUL = 0x20
	AluDIV = 0x30
	AluOR  = 0x40
	AluAND = 0x50
	AluLSH = 0x60
	AluRSH = 0x70
	AluNEG = 0x80
	AluMOD = 0x90
	AluXOR = 0xa0

	JmpJA   = 0x00
	JmpJEQ  = 0x10
	JmpJGT  = 0x20
	JmpJGE  = 0x30
	JmpJSET = 0x40

	SrcK = 0x00
	SrcX = 0x08

	RetK = 0x00
	RetX = 0x08
	RetA = 0x10

	MiscTAX = 0x00
	MiscTXA = 0x80
)

// MaxInstructions is the longest program the kernel accepts (BPF_MAXINSNS).
const MaxInstructions = 4096

// ScratchSlots is the number of words of scratch memory M[] (BPF_MEMWORDS).
const ScratchSlots = 16

func class(op uint16) uint16 { return op & 0x07 }
func size(op uint16) uint16  { return op & 0x18 }
func mode(op uint16) uint16  { return op & 0xe0 }
func aluOp(op uint16) uint16 { return op & 0xf0 }
func src(op uint16) uint16   { return op & 0x08 }

// isCondJump reports whether ins is a conditional jump (it uses Jt and Jf).
func (ins Instruction) isCondJump() bool {
	return class(ins.Op) == ClassJMP && aluOp(ins.Op) != JmpJA
}

// String disassembles one instruction the way tcpdump -d does, without the
// leading "(NNN) " index; jump targets are relative (+jt, +jf).
func (ins Instruction) String() string {
	return strings.TrimRight(ins.format(-1), " ")
}

// absOperand is the operand of an absolute load, with libpcap's names for
// the VLAN ancillary data.
func absOperand(k uint32) string {
	switch k {
	case ancVLANTagPresent:
		return "[vlanp]"
	case ancVLANTag:
		return "[vlan_tci]"
	}
	return fmt.Sprintf("[%d]", int32(k))
}

// format disassembles ins at index n as bpf_image in libpcap does. With n < 0
// the index is omitted and jump targets are printed as relative offsets.
func (ins Instruction) format(n int) string {
	op, operand := ins.image(n)
	prefix := ""
	if n >= 0 {
		prefix = fmt.Sprintf("(%03d) ", n)
	}
	if ins.isCondJump() {
		if n < 0 {
			return fmt.Sprintf("%-8s %-16s jt +%d\tjf +%d", op, operand, ins.Jt, ins.Jf)
		}
		return fmt.Sprintf("%s%-8s %-16s jt %d\tjf %d", prefix, op, operand, n+1+int(ins.Jt), n+1+int(ins.Jf))
	}
	return fmt.Sprintf("%s%-8s %s", prefix, op, operand)
}

func (ins Instruction) image(n int) (op, operand string) {
	k := ins.K
	dec := func(f string) string { return fmt.Sprintf(f, int32(k)) }
	hex := func(f string) string { return fmt.Sprintf(f, k) }
	switch ins.Op {
	case ClassRET | RetK:
		return "ret", dec("#%d")
	case ClassRET | RetA:
		return "ret", ""
	case ClassRET | RetX:
		return "ret", "x"
	case ClassLD | SizeW | ModeABS:
		return "ld", absOperand(k)
	case ClassLD | SizeH | ModeABS:
		return "ldh", absOperand(k)
	case ClassLD | SizeB | ModeABS:
		return "ldb", absOperand(k)
	case ClassLD | SizeW | ModeLEN:
		return "ld", "#pktlen"
	case ClassLD | SizeW | ModeIND:
		return "ld", dec("[x + %d]")
	case ClassLD | SizeH | ModeIND:
		return "ldh", dec("[x + %d]")
	case ClassLD | SizeB | ModeIND:
		return "ldb", dec("[x + %d]")
	case ClassLD | ModeIMM:
		return "ld", hex("#0x%x")
	case ClassLDX | ModeIMM:
		return "ldx", hex("#0x%x")
	case ClassLDX | SizeW | ModeLEN:
		return "ldx", "#pktlen"
	case ClassLDX | SizeB | ModeMSH:
		return "ldxb", dec("4*([%d]&0xf)")
	case ClassLD | ModeMEM:
		return "ld", dec("M[%d]")
	case ClassLDX | ModeMEM:
		return "ldx", dec("M[%d]")
	case ClassST:
		return "st", dec("M[%d]")
	case ClassSTX:
		return "stx", dec("M[%d]")
	case ClassJMP | JmpJA:
		if n < 0 {
			return "ja", fmt.Sprintf("+%d", k)
		}
		return "ja", fmt.Sprintf("%d", n+1+int(k))
	case ClassALU | AluNEG:
		return "neg", ""
	case ClassMISC | MiscTAX:
		return "tax", ""
	case ClassMISC | MiscTXA:
		return "txa", ""
	}
	switch class(ins.Op) {
	case ClassJMP:
		name := jumpNames[aluOp(ins.Op)>>4]
		if name != "" && ins.Op&^0xf8 == ClassJMP {
			if src(ins.Op) == SrcX {
				return name, "x"
			}
			return name, hex("#0x%x")
		}
	case ClassALU:
		if ins.Op&^0xf8 != ClassALU {
			break
		}
		name := aluNames[aluOp(ins.Op)>>4]
		if name == "" {
			break
		}
		if src(ins.Op) == SrcX {
			return name, "x"
		}
		switch aluOp(ins.Op) {
		case AluAND, AluOR, AluXOR:
			return name, hex("#0x%x")
		}
		return name, dec("#%d")
	}
	return "unimp", fmt.Sprintf("0x%x", ins.Op)
}

var jumpNames = [16]string{JmpJEQ >> 4: "jeq", JmpJGT >> 4: "jgt", JmpJGE >> 4: "jge", JmpJSET >> 4: "jset"}

var aluNames = [16]string{
	AluADD >> 4: "add", AluSUB >> 4: "sub", AluMUL >> 4: "mul", AluDIV >> 4: "div",
	AluOR >> 4: "or", AluAND >> 4: "and", AluLSH >> 4: "lsh", AluRSH >> 4: "rsh",
	AluMOD >> 4: "mod", AluXOR >> 4: "xor",
}

// String disassembles the program in the format of tcpdump -d, one
// instruction a line, each line ending in a newline.
func (p Program) String() string {
	var b strings.Builder
	for i, ins := range p {
		b.WriteString(ins.format(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// ErrInvalidProgram is returned (wrapped) by [Program.Validate] and [ToEBPF]
// for a program that the kernel would refuse.
var ErrInvalidProgram = errors.New("invalid classic BPF program")

// Validate checks p the way the kernel's classic BPF checker does: a length
// of 1 to [MaxInstructions], known opcodes, jumps inside the program, scratch
// memory indexes below [ScratchSlots], no constant division by zero, and a
// return as the last instruction.
func (p Program) Validate() error {
	if len(p) == 0 || len(p) > MaxInstructions {
		return fmt.Errorf("%w: %d instructions", ErrInvalidProgram, len(p))
	}
	for i, ins := range p {
		bad := func(why string) error {
			return fmt.Errorf("%w: instruction %d (%s): %s", ErrInvalidProgram, i, ins.format(i), why)
		}
		if op, _ := ins.image(i); op == "unimp" {
			return bad("unknown opcode")
		}
		switch class(ins.Op) {
		case ClassLD, ClassLDX:
			if mode(ins.Op) == ModeMEM && ins.K >= ScratchSlots {
				return bad("scratch index out of range")
			}
		case ClassST, ClassSTX:
			if ins.K >= ScratchSlots {
				return bad("scratch index out of range")
			}
		case ClassALU:
			if src(ins.Op) == SrcK && ins.K == 0 && (aluOp(ins.Op) == AluDIV || aluOp(ins.Op) == AluMOD) {
				return bad("division by zero")
			}
		case ClassJMP:
			rest := uint64(len(p) - i - 1)
			if aluOp(ins.Op) == JmpJA {
				if uint64(ins.K) >= rest {
					return bad("jump out of range")
				}
			} else if uint64(ins.Jt) >= rest || uint64(ins.Jf) >= rest {
				return bad("jump out of range")
			}
		}
	}
	if last := p[len(p)-1]; class(last.Op) != ClassRET {
		return fmt.Errorf("%w: last instruction is not a return", ErrInvalidProgram)
	}
	return nil
}
