package filter

import "math"

// Reach returns how many bytes from the start of a packet the program may
// read, at most: the capture makes that much of a packet readable before
// running it (on tc the kernel leaves a packet's tail in pages the filter
// cannot see). Loads at a fixed offset count their end; loads relative to
// X count their end past the largest X can be, which this code sets only
// from an IP header's length (ldx 4*([k]&0xf): 60 at most) or a
// constant; anything else (X from a packet byte, from A, from memory)
// makes it math.MaxUint32: all of the packet.
func (p Program) Reach() uint32 {
	var abs, ind, maxX uint32
	for _, in := range p {
		n := uint32(1)
		switch size(in.Op) {
		case SizeW:
			n = 4
		case SizeH:
			n = 2
		}
		switch class(in.Op) {
		case ClassLD:
			switch mode(in.Op) {
			case ModeABS:
				abs = max(abs, in.K+n)
			case ModeIND:
				ind = max(ind, in.K+n)
			}
		case ClassLDX:
			switch mode(in.Op) {
			case ModeMSH:
				maxX = max(maxX, 60)
				abs = max(abs, in.K+1)
			case ModeIMM:
				maxX = max(maxX, in.K)
			default:
				return math.MaxUint32
			}
		case ClassMISC:
			if in.Op&0xf8 == MiscTAX {
				return math.MaxUint32
			}
		}
	}
	if ind > 0 {
		ind += maxX
	}
	return max(abs, ind)
}
