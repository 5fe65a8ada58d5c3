package filter

// MatchPartial runs p on a packet of which only some bits are known, such
// as a frame made up from a flow's key: known holds one mask byte per byte
// of pkt (a set bit says that bit of pkt is what every packet of the flow
// has), and the packet may go on past pkt. It reports the verdict and
// whether the verdict holds whatever the unknown bits, the bytes past pkt
// and the wire length are: sure is false as soon as a test, a return, an
// index or a divisor depends on any of them.
//
// Known bits are tracked through loads, the scratch memory, and, and or and
// shifts by a known amount; any other operation on a partly known value
// gives an unknown one. MatchPartial never panics and does not allocate;
// where p is invalid it gives Match's verdict, sure.
func (p Program) MatchPartial(pkt, known []byte) (match, sure bool) {
	const all = ^uint32(0)
	var a, x, ak, xk uint32 // values and their known bits
	var mem, memk [ScratchSlots]uint32
	n := uint64(min(len(pkt), len(known)))
	for pc := 0; pc < len(p); pc++ {
		ins := p[pc]
		k := ins.K
		switch class(ins.Op) {
		case ClassRET:
			switch ins.Op {
			case ClassRET | RetK:
				return k != 0, true
			case ClassRET | RetA:
				return retPartial(a, ak)
			case ClassRET | RetX:
				return retPartial(x, xk)
			}
			return false, true
		case ClassLD:
			switch mode(ins.Op) {
			case ModeABS, ModeIND:
				off := uint64(k)
				if mode(ins.Op) == ModeIND {
					if xk != all {
						return false, false
					}
					off += uint64(x)
				}
				v, vk, ok := loadPartial(pkt, known, n, off, size(ins.Op))
				if !ok {
					return false, false // past what is known: the packet may be longer
				}
				a, ak = v, vk
			case ModeIMM:
				a, ak = k, all
			case ModeLEN:
				a, ak = 0, 0
			case ModeMEM:
				if k >= ScratchSlots {
					return false, true
				}
				a, ak = mem[k], memk[k]
			default:
				return false, true
			}
		case ClassLDX:
			switch mode(ins.Op) {
			case ModeIMM:
				x, xk = k, all
			case ModeLEN:
				x, xk = 0, 0
			case ModeMEM:
				if k >= ScratchSlots {
					return false, true
				}
				x, xk = mem[k], memk[k]
			case ModeMSH:
				if uint64(k) >= n {
					return false, false
				}
				x = uint32(pkt[k]&0xf) << 2
				xk = ^uint32(0x3c) | uint32(known[k]&0xf)<<2
			default:
				return false, true
			}
		case ClassST, ClassSTX:
			if k >= ScratchSlots {
				return false, true
			}
			if class(ins.Op) == ClassST {
				mem[k], memk[k] = a, ak
			} else {
				mem[k], memk[k] = x, xk
			}
		case ClassALU:
			v, vk := k, all
			if src(ins.Op) == SrcX {
				v, vk = x, xk
			}
			op := aluOp(ins.Op)
			if (op == AluDIV || op == AluMOD) && (vk != all || v == 0) {
				return false, vk == all // a division by zero rejects every packet
			}
			r, ok := alu(op, a, v)
			if !ok {
				return false, true
			}
			switch {
			case op == AluAND:
				ak = ak&vk | ak&^a | vk&^v // a bit known 0 on either side is known
			case op == AluOR:
				ak = ak&vk | ak&a | vk&v
			case (op == AluLSH || op == AluRSH) && vk == all:
				switch {
				case v >= 32:
					ak = all
				case op == AluLSH:
					ak = ak<<v | (1<<v - 1)
				default:
					ak = ak>>v | ^(all >> v)
				}
			case op == AluNEG && ak == all, ak == all && vk == all:
			default:
				ak = 0
			}
			a = r
		case ClassJMP:
			v, vk := k, all
			if src(ins.Op) == SrcX {
				v, vk = x, xk
			}
			var taken bool
			switch aluOp(ins.Op) {
			case JmpJA:
				if uint64(k) >= uint64(len(p)-pc-1) {
					return false, true
				}
				pc += int(k)
				continue
			case JmpJEQ:
				switch {
				case (a^v)&ak&vk != 0:
					taken = false // differs in a known bit
				case ak == all && vk == all:
					taken = a == v
				default:
					return false, false
				}
			case JmpJGT, JmpJGE:
				if ak != all || vk != all {
					return false, false
				}
				taken = a > v || aluOp(ins.Op) == JmpJGE && a == v
			case JmpJSET:
				switch {
				case a&v&ak&vk != 0:
					taken = true // a bit known set on both sides
				case ^a&ak|^v&vk == all:
					taken = false // every bit known clear on one side
				default:
					return false, false
				}
			default:
				return false, true
			}
			if taken {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		case ClassMISC:
			switch ins.Op {
			case ClassMISC | MiscTXA:
				a, ak = x, xk
			case ClassMISC | MiscTAX:
				x, xk = a, ak
			default:
				return false, true
			}
		}
	}
	return false, true
}

// retPartial is the verdict of returning a value of which the bits vk are
// known: kept when a known bit is set, dropped when all are known clear.
func retPartial(v, vk uint32) (match, sure bool) {
	switch {
	case v&vk != 0:
		return true, true
	case vk == ^uint32(0):
		return false, true
	}
	return false, false
}

// loadPartial reads a value as load does, and its known bits.
func loadPartial(pkt, known []byte, n, off uint64, sz uint16) (v, vk uint32, ok bool) {
	if v, ok = load(pkt, n, off, sz); !ok {
		return 0, 0, false
	}
	vk, _ = load(known, n, off, sz)
	switch sz { // the bits above a half word or a byte are known zero
	case SizeH:
		vk |= 0xffff0000
	case SizeB:
		vk |= 0xffffff00
	}
	return v, vk, true
}
