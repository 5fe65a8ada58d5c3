package decode

import (
	"encoding/binary"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// The fast path: what Add does for a frame whose full decode would only
// give its flow a key, counters and, for TCP, the flags: Ethernet (up to
// two VLAN tags), IPv4 without options or IPv6 without extension
// headers, not a fragment, TCP or UDP that is not a tunnel decode looks
// into, every header whole and every length in agreement (or cut by the
// snapshot length only). Such a frame is accounted from a few bytes read
// in place, and its flow is the one the full decode would give it; a
// frame whose payload may still give its flow a label (DNS, a TLS
// ClientHello, an HTTP request) while the flow has none goes the full
// way, so the flow table, the counters and the ring end up as they would
// without it. The packets shown (the lists, the detail, follow stream)
// are decoded from the ring when asked for.
// docs/performance.md has the design and its measurements.

// fastPacket is what fastParse reads of a frame besides its flow key.
type fastPacket struct {
	srcIsLo bool  // the source is the key's lo endpoint
	tcp     bool  // TCP: flags holds its flags byte
	flags   uint8 // TCP flags
	label   bool  // the payload may give an unlabelled flow its label
	app     bool  // the payload may name a flow's application (TLS, HTTP, DNS)
}

// fastParse reads a frame that qualifies for the fast path (see above):
// it sets *k to its flow key as keyOf would (all but Ifindex) and fp, and
// reports true; otherwise it returns false, with k and fp in any state.
// snap says the frame was cut by the snapshot length: a length field
// claiming more than the frame holds is then expected.
func fastParse(data []byte, snap bool, k *packet.FlowKey, fp *fastPacket) bool {
	be := binary.BigEndian
	n := len(data)
	if n < 14 {
		return false
	}
	off := 14
	et := be.Uint16(data[12:])
	for tags := 0; et == 0x8100 || et == 0x88a8; tags++ {
		if tags == maxVLAN || off+4 > n {
			return false
		}
		et = be.Uint16(data[off+2:])
		off += 4
	}
	var src, dst [16]byte
	var proto uint8
	end := 0 // where the IP packet ends
	switch et {
	case 0x0800:
		if off+20 > n {
			return false
		}
		ip := data[off : off+20]
		tot := int(be.Uint16(ip[2:]))
		// Version 4, no options; not a fragment (more fragments or an
		// offset); 0 (a segmentation offload's) is left to the decoder.
		if ip[0] != 0x45 || tot < 20 || ip[6]&0x3f != 0 || ip[7] != 0 {
			return false
		}
		proto = ip[9]
		src[10], src[11], dst[10], dst[11] = 0xff, 0xff, 0xff, 0xff
		copy(src[12:], ip[12:16])
		copy(dst[12:], ip[16:20])
		end = off + tot
		off += 20
	case 0x86dd:
		if off+40 > n {
			return false
		}
		ip := data[off : off+40]
		plen := int(be.Uint16(ip[4:]))
		if ip[0]>>4 != 6 || plen == 0 { // 0: a jumbogram
			return false
		}
		proto = ip[6] // an extension header is not TCP or UDP: left to the decoder
		copy(src[:], ip[8:24])
		copy(dst[:], ip[24:40])
		off += 40
		end = off + plen
	default:
		return false
	}
	if end > n {
		if !snap {
			return false // the decoder flags a length the frame does not hold
		}
		end = n
	}
	p := data[off:end]
	var sp, dp uint16
	switch proto {
	case ProtoUDP:
		if len(p) < 8 {
			return false
		}
		sp, dp = be.Uint16(p), be.Uint16(p[2:])
		if sp == 4789 || dp == 4789 {
			return false // VXLAN, or what the decoder tries as VXLAN
		}
		if l := int(be.Uint16(p[4:])); l != 0 && (l < 8 || l > len(p) && !snap) {
			return false // malformed, or truncated
		}
		fp.tcp, fp.flags = false, 0
		fp.label = isDNSPort(sp) || isDNSPort(dp)
		fp.app = fp.label
	case ProtoTCP:
		if len(p) < 20 {
			return false
		}
		hl := int(p[12]>>4) * 4
		if hl < 20 || hl > len(p) || !plainTCPOptions(p[20:hl]) {
			return false
		}
		sp, dp = be.Uint16(p), be.Uint16(p[2:])
		fp.tcp, fp.flags = true, p[13]
		fp.label = len(p) > hl && (sp == 53 || dp == 53 || mayLabel(p[hl]))
		fp.app = fp.label || len(p) > hl && p[hl] >= 20 && p[hl] <= 23 // any TLS record
	default:
		return false
	}
	if sp == 0 && dp == 0 {
		return false // keyed and tracked as port-less by the decoder
	}
	if et == 0x0800 {
		k.EtherType = 0x0800
	} else {
		k.EtherType = 0x86dd
	}
	k.Proto = proto
	fp.srcIsLo = setEnds(k, src, dst, sp, dp)
	return true
}

// plainTCPOptions reports whether TCP options o hold no Multipath TCP
// option (kind 30, whose decoding is the only one that can go wrong in
// the decoder); it walks them as the decoder does, stopping where it
// stops.
func plainTCPOptions(o []byte) bool {
	for len(o) > 0 {
		switch o[0] {
		case 0:
			return true
		case 1:
			o = o[1:]
		case 30:
			return false
		default:
			if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
				return true
			}
			o = o[o[1]:]
		}
	}
	return true
}

// mayLabel reports whether a TCP payload starting with b may carry
// application text (parseTCPApp): a TLS handshake record (a ClientHello's
// server name) or an HTTP/1.x request or status line.
func mayLabel(b byte) bool {
	switch b {
	case 22, 'G', 'P', 'H', 'D', 'O', 'C', 'T':
		return true
	}
	return false
}

// addFastLocked is addLocked for a frame the fast path takes; it reports
// false, having changed nothing the view sees, for one that needs the
// full decode. e.mu is held.
func (e *Engine) addFastLocked(f *packet.Packet) bool {
	if f.LinkType() != packet.LinkTypeEthernet {
		return false
	}
	var fp fastPacket
	t := e.flows
	if !fastParse(f.Data, int(f.OrigLen) > len(f.Data), &t.key, &fp) {
		return false
	}
	t.key.Ifindex = f.Ifindex
	ts := f.Nanos
	t.expire(ts)
	i, ok := t.find()
	if fp.label && (!ok || t.flows[i].labelLen == 0) || fp.app && (!ok || t.flows[i].app == AppNone) {
		return false // the decoder reads the text, or the application
	}
	n := max(int(f.OrigLen), len(f.Data))
	e.packets++
	e.bytes += uint64(n)
	e.rate.add(ts, n)
	fl, dir := t.account(i, ok, fp.srcIsLo, ts, n)
	if fp.tcp {
		fl.updateTCP(fp.flags, dir)
	}
	e.retainLocked(f, n, fl)
	e.fastPackets++
	return true
}

// retainLocked appends a copy of f, of n bytes on the wire, to the
// retention ring as the newest packet of flow fl, and matches it against
// the display filter. e.mu is held.
func (e *Engine) retainLocked(f *packet.Packet, n int, fl *flow) {
	seq := e.ring.append(f.Data, n, f.Nanos, int(f.Ifindex), f.Dir, f.LinkType(), f.Pid(), fl.id, fl.lastSeq)
	if e.procs != nil {
		e.procs.account(fl, e.flows.dir, f.Dir, f.Pid(), f.Nanos, n)
	} else if pid := f.Pid(); pid != 0 {
		fl.owner[side(e.flows.dir, f.Dir)] = pid
	}
	fl.lastSeq = seq
	e.matchAdded(f.LinkType(), f.Data, n, fl.id)
}
