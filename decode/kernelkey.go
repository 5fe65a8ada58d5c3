package decode

import (
	"encoding/binary"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// kernelKey is the key the kernel program gives a frame of which data was
// captured (FLOW_KEY in bpf/capture.c, line for line): on a well-formed
// frame it is keyOf's, but the kernel parses less than decode and refuses
// less. ok is false where the kernel does not count the frame.
func kernelKey(data []byte, k *packet.FlowKey) (srcIsLo, ok bool) {
	be := binary.BigEndian
	caplen := len(data)
	if caplen < 14 {
		return false, false
	}
	off := 14
	et := be.Uint16(data[12:])
	if et < 0x0600 {
		et = 0
	}
	for range 2 {
		if et != 0x8100 && et != 0x88a8 {
			break
		}
		if off+4 > caplen {
			return false, false
		}
		et = be.Uint16(data[off+2:])
		if et < 0x0600 {
			et = 0
		}
		off += 4
	}
	var src, dst [16]byte
	var sp, dp uint16
	var proto uint8
	ports := false
	end := 0
	switch et {
	case 0x0800:
		if off+20 > caplen {
			return false, false
		}
		ip := data[off:]
		ihl, tot := int(ip[0]&0xf)*4, int(be.Uint16(ip[2:]))
		if tot == 0 {
			tot = caplen - off
		}
		if ihl < 20 || tot < ihl || off+ihl > caplen {
			return false, false
		}
		proto = ip[9]
		src[10], src[11], dst[10], dst[11] = 0xff, 0xff, 0xff, 0xff
		copy(src[12:], ip[12:16])
		copy(dst[12:], ip[16:20])
		ports = portsProto(proto) && (int(ip[6]&0x1f)<<8|int(ip[7])) == 0
		end = off + tot
		off += ihl
	case 0x86dd:
		if off+40 > caplen {
			return false, false
		}
		ip := data[off:]
		plen := int(be.Uint16(ip[4:]))
		if plen == 0 {
			return false, false
		}
		proto = ip[6]
		copy(src[:], ip[8:24])
		copy(dst[:], ip[24:40])
		off += 40
		end = off + plen
		ports = true
		for range 4 {
			if proto != 0 && proto != 43 && proto != 60 && proto != 44 {
				break
			}
			if off+4 > caplen || off+4 > end {
				break
			}
			x := data[off:]
			xlen := 8
			if proto != 44 {
				xlen = (int(x[1]) + 1) * 8
			}
			if off+xlen > caplen || off+xlen > end {
				break
			}
			if proto == 44 && (int(x[2])<<8|int(x[3]))>>3 != 0 {
				ports = false
			}
			off += xlen
			proto = x[0]
		}
		ports = ports && portsProto(proto)
	default:
		copy(src[:], data[6:12])
		copy(dst[:], data[0:6])
	}
	if ports && off+4 <= end && off+4 <= caplen {
		sp, dp = be.Uint16(data[off:]), be.Uint16(data[off+2:])
	}
	k.EtherType, k.Proto = et, proto
	return setEnds(k, src, dst, sp, dp), true
}

func portsProto(p uint8) bool { return p == ProtoTCP || p == ProtoUDP || p == ProtoSCTP }

// KernelKeyOf is the flow key that the
// kernel program gives a frame of which data was captured, and whether its
// source is Lo; ok is false where the kernel does not count the frame. For
// tests of the kernel side against this, its description.
func KernelKeyOf(data []byte, ifindex int) (k packet.FlowKey, srcIsLo, ok bool) {
	srcIsLo, ok = kernelKey(data, &k)
	k.Ifindex = uint32(ifindex)
	return k, srcIsLo, ok
}
