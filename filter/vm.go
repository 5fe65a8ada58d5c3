package filter

// Match runs p on a packet as the kernel and libpcap's bpf_filter do and
// reports whether the packet is kept (the program returned non-zero). pkt is
// the captured data starting at the Ethernet header; wireLen is the length of
// the packet on the wire (what "len", "less" and "greater" test), which may
// exceed len(pkt) when the capture was truncated.
//
// A load past the end of pkt and a division by zero reject, as do jumps out
// of range, bad scratch indexes and unknown opcodes; Match never panics, but
// the verdict of a program that fails [Program.Validate] is not meaningful.
// Match does not allocate. It sees no VLAN tag in the packet's metadata
// (tags are in the frame in user space).
func (p Program) Match(pkt []byte, wireLen uint32) bool { return p.matchVLAN(pkt, wireLen, 0) }

// matchVLAN is Match for a packet whose outer VLAN tag is in its metadata
// (vlan as ToEBPF's R4: 0 for none), as on tc.
func (p Program) matchVLAN(pkt []byte, wireLen, vlan uint32) bool {
	var a, x uint32
	var mem [ScratchSlots]uint32
	n := uint64(len(pkt))
	for pc := 0; pc < len(p); pc++ {
		ins := p[pc]
		k := ins.K
		switch class(ins.Op) {
		case ClassRET:
			switch ins.Op {
			case ClassRET | RetK:
				return k != 0
			case ClassRET | RetA:
				return a != 0
			case ClassRET | RetX:
				return x != 0
			}
			return false
		case ClassLD:
			switch mode(ins.Op) {
			case ModeABS, ModeIND:
				if mode(ins.Op) == ModeABS && isAncillary(k) {
					v, ok := ancillaryValue(k, vlan)
					if !ok {
						return false
					}
					a = v
					break
				}
				off := uint64(k)
				if mode(ins.Op) == ModeIND {
					off += uint64(x)
				}
				v, ok := load(pkt, n, off, size(ins.Op))
				if !ok {
					return false
				}
				a = v
			case ModeIMM:
				a = k
			case ModeLEN:
				a = wireLen
			case ModeMEM:
				if k >= ScratchSlots {
					return false
				}
				a = mem[k]
			default:
				return false
			}
		case ClassLDX:
			switch mode(ins.Op) {
			case ModeIMM:
				x = k
			case ModeLEN:
				x = wireLen
			case ModeMEM:
				if k >= ScratchSlots {
					return false
				}
				x = mem[k]
			case ModeMSH:
				if uint64(k) >= n {
					return false
				}
				x = uint32(pkt[k]&0xf) << 2
			default:
				return false
			}
		case ClassST, ClassSTX:
			if k >= ScratchSlots {
				return false
			}
			if class(ins.Op) == ClassST {
				mem[k] = a
			} else {
				mem[k] = x
			}
		case ClassALU:
			v := k
			if src(ins.Op) == SrcX {
				v = x
			}
			var ok bool
			if a, ok = alu(aluOp(ins.Op), a, v); !ok {
				return false
			}
		case ClassJMP:
			var taken bool
			v := k
			if src(ins.Op) == SrcX {
				v = x
			}
			switch aluOp(ins.Op) {
			case JmpJA:
				if uint64(k) >= uint64(len(p)-pc-1) {
					return false
				}
				pc += int(k)
				continue
			case JmpJEQ:
				taken = a == v
			case JmpJGT:
				taken = a > v
			case JmpJGE:
				taken = a >= v
			case JmpJSET:
				taken = a&v != 0
			default:
				return false
			}
			if taken {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		case ClassMISC:
			switch ins.Op {
			case ClassMISC | MiscTXA:
				a = x
			case ClassMISC | MiscTAX:
				x = a
			default:
				return false
			}
		}
	}
	return false
}

// load reads a big-endian value of the given size at off, failing when any of
// its bytes is past the captured data.
func load(pkt []byte, n, off uint64, sz uint16) (uint32, bool) {
	switch sz {
	case SizeW:
		if off+4 > n {
			return 0, false
		}
		return uint32(pkt[off])<<24 | uint32(pkt[off+1])<<16 | uint32(pkt[off+2])<<8 | uint32(pkt[off+3]), true
	case SizeH:
		if off+2 > n {
			return 0, false
		}
		return uint32(pkt[off])<<8 | uint32(pkt[off+1]), true
	case SizeB:
		if off >= n {
			return 0, false
		}
		return uint32(pkt[off]), true
	}
	return 0, false
}

// alu computes a op v with classic BPF semantics: 32-bit wrap-around, unsigned
// division, and shifts by 32 or more giving 0 (as libpcap's bpf_filter does).
// It fails on a division by zero and on an unknown operation.
func alu(op uint16, a, v uint32) (uint32, bool) {
	switch op {
	case AluADD:
		return a + v, true
	case AluSUB:
		return a - v, true
	case AluMUL:
		return a * v, true
	case AluDIV:
		if v == 0 {
			return 0, false
		}
		return a / v, true
	case AluMOD:
		if v == 0 {
			return 0, false
		}
		return a % v, true
	case AluAND:
		return a & v, true
	case AluOR:
		return a | v, true
	case AluXOR:
		return a ^ v, true
	case AluLSH:
		if v >= 32 {
			return 0, true
		}
		return a << v, true
	case AluRSH:
		if v >= 32 {
			return 0, true
		}
		return a >> v, true
	case AluNEG:
		return -a, true
	}
	return 0, false
}
