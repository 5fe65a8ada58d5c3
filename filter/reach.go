package filter

import "math"

// Reach returns how many bytes from the start of a packet the program may
// read, at most: the capture makes that much of a packet readable before
// running it (on tc the kernel leaves a packet's tail in pages the filter
// cannot see). Loads at a fixed offset count their end; loads relative to
// X count their end past the largest X can be, which this code sets only
// from an IP header's length (ldx 4*([k]&0xf): 60 at most) or a
// constant; anything else (X from a packet byte, from A, from memory)
// makes it reachAll, the most a load can reach (64 KiB).
func (p Program) Reach() uint32 {
	var abs, ind, maxX uint64 // wide: a large constant X must not wrap
	for _, in := range p {
		n, k := uint64(1), uint64(in.K)
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
				if !isAncillary(in.K) {
					abs = max(abs, k+n)
				}
			case ModeIND:
				ind = max(ind, k+n)
			}
		case ClassLDX:
			switch mode(in.Op) {
			case ModeMSH:
				maxX = max(maxX, 60)
				abs = max(abs, k+1)
			case ModeIMM:
				maxX = max(maxX, k)
			default:
				return reachAll
			}
		case ClassMISC:
			if in.Op&0xf8 == MiscTAX {
				return reachAll
			}
		}
	}
	if ind > 0 {
		ind += maxX
	}
	return uint32(min(max(abs, ind), reachAll))
}

// reachAll is as far as a load can reach: the translation to eBPF refuses
// a load that ends past 64 KiB.
const reachAll = math.MaxUint16 + 1
