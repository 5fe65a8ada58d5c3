package filter

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// Registers of the subprogram emitted by ToEBPF.
const (
	regA       = asm.R0 // classic A; also the return value
	regData    = asm.R1 // in: pointer to the first byte of the packet
	regDataEnd = asm.R2 // in: pointer past the last byte (data_end)
	regWireLen = asm.R3 // in: wire length (skb->len)
	regVLAN    = asm.R4 // in: VLAN tag in the packet's metadata (vlan.go)
	regX       = asm.R4 // classic X, once regVLAN is saved
	regTmp     = asm.R5 // packet pointer being bounds-checked
)

// maxPacketOff is the largest packet offset the verifier tracks
// (MAX_PACKET_OFF): loads beyond it reject.
const maxPacketOff = 0xffff

// target values of ebpfInsn.target besides a classic instruction index.
const (
	noTarget     = -1
	rejectTarget = -2
)

type ebpfInsn struct {
	ins    asm.Instruction
	target int // noTarget, rejectTarget, or the index of a classic instruction
}

// ToEBPF translates p to the body of an eBPF BPF-to-BPF subprogram whose
// first instruction carries symbol, so a caller can splice it into its
// program and reach it with asm.Call.Label(symbol).
//
// Calling contract: on entry R1 points to the first byte of the packet
// (data), R2 to its end (data_end), R3 holds the wire length (skb->len,
// or data_end - data) and R4 the VLAN tag the kernel moved into the
// packet's metadata (tc: 0 for none, else the TPID in the high 16 bits and
// the TCI in the low 16; 0 on XDP, where tags are in the frame), read by
// the ancillary loads of CompileLiveTC's programs; on return R0 is 0 to
// drop the packet and non-zero to keep it. The subprogram clobbers R0-R5,
// leaves R6-R9 alone and uses up to 68 bytes of its own stack for M[]
// and R4. Every packet load is bounds-checked
// against data_end in a way the verifier follows (indexed offsets are clamped
// first); a load past the end and a division by zero return 0, as in the
// kernel's classic BPF. Jumps are raw offsets inside the subprogram, so the
// result stays valid wherever it is appended.
func ToEBPF(p Program, symbol string) (asm.Instructions, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("translate to eBPF: %w", err)
	}
	reachable := reachableInsns(p)

	var out []ebpfInsn
	emit := func(ins asm.Instruction, target int) { out = append(out, ebpfInsn{ins, target}) }
	plain := func(ins ...asm.Instruction) {
		for _, i := range ins {
			emit(i, noTarget)
		}
	}
	reject := func(ins asm.Instruction) { emit(ins, rejectTarget) }
	memOff := func(k uint32) int16 { return -4 * int16(k+1) }

	// Prologue: the VLAN metadata saved if the program reads it, A = X = 0
	// and the scratch slots in use zeroed, so that every read is of
	// initialized state, as the verifier demands.
	vlanOff := memOff(ScratchSlots)
	for _, ins := range p {
		if ins.Op&^(SizeW|SizeH|SizeB) == ClassLD|ModeABS && isAncillary(ins.K) {
			plain(asm.StoreMem(asm.R10, vlanOff, regVLAN, asm.Word))
			break
		}
	}
	plain(asm.Mov.Imm32(regA, 0), asm.Mov.Imm32(regX, 0))
	var used [ScratchSlots]bool
	for _, ins := range p {
		switch {
		case class(ins.Op) == ClassST || class(ins.Op) == ClassSTX,
			(class(ins.Op) == ClassLD || class(ins.Op) == ClassLDX) && mode(ins.Op) == ModeMEM:
			if !used[ins.K] {
				used[ins.K] = true
				plain(asm.StoreImm(asm.R10, memOff(ins.K), 0, asm.Word))
			}
		}
	}

	// loadPacket loads size bytes at data + k (+ X when indexed) into dst,
	// in host byte order, rejecting when past data_end.
	loadPacket := func(dst asm.Register, k uint32, sz asm.Size, indexed bool) {
		n := uint64(sz.Sizeof())
		end := uint64(k) + n
		if end > maxPacketOff {
			reject(asm.Ja.Label(""))
			return
		}
		if indexed {
			// Clamp X so that X + k + n <= MAX_PACKET_OFF: the verifier
			// then knows the pointer's range.
			reject(asm.JGT.Imm(regX, int32(maxPacketOff-end), ""))
		}
		plain(asm.Mov.Reg(regTmp, regData))
		if indexed {
			plain(asm.Add.Reg(regTmp, regX))
		}
		plain(asm.Add.Imm(regTmp, int32(end)))
		reject(asm.JGT.Reg(regTmp, regDataEnd, ""))
		plain(asm.LoadMem(dst, regTmp, -int16(n), sz))
		if n > 1 {
			plain(asm.HostTo(asm.BE, dst, sz))
		}
	}

	start := make([]int, len(p)+1)
	for i, ins := range p {
		start[i] = len(out)
		if !reachable[i] {
			continue
		}
		k := ins.K
		switch class(ins.Op) {
		case ClassLD:
			switch mode(ins.Op) {
			case ModeIMM:
				plain(asm.Mov.Imm32(regA, int32(k)))
			case ModeLEN:
				plain(asm.Mov.Reg32(regA, regWireLen))
			case ModeMEM:
				plain(asm.LoadMem(regA, asm.R10, memOff(k), asm.Word))
			case ModeABS, ModeIND:
				if mode(ins.Op) == ModeABS && isAncillary(k) {
					// Any size reads the whole value, as in the kernel.
					switch k {
					case ancVLANTagPresent:
						skip := asm.JEq.Imm(regA, 0, "")
						skip.Offset = 1
						plain(asm.LoadMem(regA, asm.R10, vlanOff, asm.Word), skip, asm.Mov.Imm32(regA, 1))
					case ancVLANTag:
						plain(asm.LoadMem(regA, asm.R10, vlanOff, asm.Word), asm.And.Imm32(regA, 0xffff))
					case ancVLANTPID:
						plain(asm.LoadMem(regA, asm.R10, vlanOff, asm.Word), asm.RSh.Imm32(regA, 16))
					default: // ancillary data we do not pass: reject, as an unknown load does
						reject(asm.Ja.Label(""))
					}
				} else {
					loadPacket(regA, k, ebpfSize(size(ins.Op)), mode(ins.Op) == ModeIND)
				}
			}
		case ClassLDX:
			switch mode(ins.Op) {
			case ModeIMM:
				plain(asm.Mov.Imm32(regX, int32(k)))
			case ModeLEN:
				plain(asm.Mov.Reg32(regX, regWireLen))
			case ModeMEM:
				plain(asm.LoadMem(regX, asm.R10, memOff(k), asm.Word))
			case ModeMSH:
				loadPacket(regX, k, asm.Byte, false)
				plain(asm.And.Imm32(regX, 0xf), asm.LSh.Imm32(regX, 2))
			}
		case ClassST:
			plain(asm.StoreMem(asm.R10, memOff(k), regA, asm.Word))
		case ClassSTX:
			plain(asm.StoreMem(asm.R10, memOff(k), regX, asm.Word))
		case ClassALU:
			op := aluOp(ins.Op)
			eop := ebpfALU[op>>4]
			switch {
			case op == AluNEG:
				plain(asm.Neg.Imm32(regA, 0))
			case src(ins.Op) == SrcK && (op == AluLSH || op == AluRSH) && k >= 32:
				plain(asm.Mov.Imm32(regA, 0))
			case src(ins.Op) == SrcK:
				plain(eop.Imm32(regA, int32(k)))
			case op == AluDIV || op == AluMOD:
				reject(asm.JEq.Imm(regX, 0, ""))
				plain(eop.Reg32(regA, regX))
			case op == AluLSH || op == AluRSH:
				// Shifting by 32 or more gives 0, as in libpcap.
				j := asm.JGE.Imm(regX, 32, "")
				j.Offset = 2
				ja := asm.Ja.Label("")
				ja.Offset = 1
				plain(j, eop.Reg32(regA, regX), ja, asm.Mov.Imm32(regA, 0))
			default:
				plain(eop.Reg32(regA, regX))
			}
		case ClassJMP:
			if aluOp(ins.Op) == JmpJA {
				emit(asm.Ja.Label(""), i+1+int(k))
				continue
			}
			jt, jf := i+1+int(ins.Jt), i+1+int(ins.Jf)
			if jt == jf {
				emit(asm.Ja.Label(""), jt)
				continue
			}
			op := ebpfJump[aluOp(ins.Op)>>4]
			if jt == i+1 && op != asm.JSet {
				// Invert so the false branch is the jump.
				op = map[asm.JumpOp]asm.JumpOp{asm.JEq: asm.JNE, asm.JGT: asm.JLE, asm.JGE: asm.JLT}[op]
				jt, jf = jf, jt
			}
			var j asm.Instruction
			if src(ins.Op) == SrcX {
				j = op.Reg32(regA, regX, "")
			} else {
				j = op.Imm32(regA, int32(k), "")
			}
			emit(j, jt)
			if jf != i+1 {
				emit(asm.Ja.Label(""), jf)
			}
		case ClassRET:
			switch ins.Op {
			case ClassRET | RetK:
				plain(asm.Mov.Imm32(regA, int32(k)))
			case ClassRET | RetX:
				plain(asm.Mov.Reg32(regA, regX))
			}
			plain(asm.Return())
		case ClassMISC:
			if ins.Op&0xf8 == MiscTXA {
				plain(asm.Mov.Reg32(regA, regX))
			} else {
				plain(asm.Mov.Reg32(regX, regA))
			}
		}
	}
	start[len(p)] = len(out)

	rejectAt := len(out)
	out = append(out, ebpfInsn{asm.Mov.Imm32(regA, 0), noTarget}, ebpfInsn{asm.Return(), noTarget})

	// Resolve every jump to an absolute index, then drop what cannot be
	// reached (the verifier refuses unreachable instructions: the reject
	// block when nothing can fail, code after a load that always fails).
	abs := make([]int, len(out))
	for i, e := range out {
		switch {
		case e.target == rejectTarget:
			abs[i] = rejectAt
		case e.target >= 0:
			abs[i] = start[e.target]
		case isJump(e.ins):
			abs[i] = i + 1 + int(e.ins.Offset)
		default:
			abs[i] = -1
		}
	}
	live := make([]bool, len(out))
	live[0] = true
	for i, e := range out {
		if !live[i] {
			continue
		}
		if abs[i] >= 0 {
			live[abs[i]] = true
		}
		op := e.ins.OpCode.JumpOp()
		if !(abs[i] >= 0 && op == asm.Ja) && !(e.ins.OpCode.Class().IsJump() && op == asm.Exit) {
			live[i+1] = true
		}
	}
	newIdx := make([]int, len(out))
	n := 0
	for i := range out {
		newIdx[i] = n
		if live[i] {
			n++
		}
	}
	insns := make(asm.Instructions, 0, n)
	for i, e := range out {
		if !live[i] {
			continue
		}
		ins := e.ins
		if abs[i] >= 0 {
			off := newIdx[abs[i]] - newIdx[i] - 1
			if off < -32768 || off > 32767 {
				return nil, fmt.Errorf("translate to eBPF: jump of %d instructions out of range", off)
			}
			ins.Offset = int16(off)
		}
		insns = append(insns, ins)
	}
	insns[0] = insns[0].WithSymbol(symbol)
	return insns, nil
}

// isJump reports whether ins is a jump with an offset (not a call or exit).
func isJump(ins asm.Instruction) bool {
	if !ins.OpCode.Class().IsJump() {
		return false
	}
	switch ins.OpCode.JumpOp() {
	case asm.Call, asm.Exit:
		return false
	}
	return true
}

var ebpfALU = [16]asm.ALUOp{
	AluADD >> 4: asm.Add, AluSUB >> 4: asm.Sub, AluMUL >> 4: asm.Mul, AluDIV >> 4: asm.Div,
	AluOR >> 4: asm.Or, AluAND >> 4: asm.And, AluLSH >> 4: asm.LSh, AluRSH >> 4: asm.RSh,
	AluNEG >> 4: asm.Neg, AluMOD >> 4: asm.Mod, AluXOR >> 4: asm.Xor,
}

var ebpfJump = [16]asm.JumpOp{
	JmpJEQ >> 4: asm.JEq, JmpJGT >> 4: asm.JGT, JmpJGE >> 4: asm.JGE, JmpJSET >> 4: asm.JSet,
}

func ebpfSize(sz uint16) asm.Size {
	switch sz {
	case SizeH:
		return asm.Half
	case SizeB:
		return asm.Byte
	}
	return asm.Word
}

// reachableInsns marks the instructions reachable from the first one.
func reachableInsns(p Program) []bool {
	r := make([]bool, len(p))
	if len(p) > 0 {
		r[0] = true
	}
	for i, ins := range p {
		if !r[i] {
			continue
		}
		switch {
		case class(ins.Op) == ClassRET:
		case class(ins.Op) == ClassJMP && aluOp(ins.Op) == JmpJA:
			r[i+1+int(ins.K)] = true
		case ins.isCondJump():
			r[i+1+int(ins.Jt)] = true
			r[i+1+int(ins.Jf)] = true
		default:
			r[i+1] = true
		}
	}
	return r
}
