package decode

import (
	"net/netip"
	"strconv"
)

// viewItem is a packet FlowPackets decodes: its sequence number, record
// and summary.
type viewItem struct {
	seq uint64
	rec record
	sum Summary
}

// view returns the packet's view, its strings cut from one: the line,
// built in b (returned for reuse), whose parts are Src, Dst and Info. The
// live view asks for a flow's newest packets many times a second, and at
// a high rate every one of them is new each time.
func (it *viewItem) view(b []byte) (PacketView, []byte) {
	s := &it.sum
	ts := fromUnixNano(it.rec.ts)
	b = ts.AppendFormat(b[:0], "15:04:05.000000")
	proto := s.Proto()
	b = append(b, ' ')
	b = append(b, proto...)
	b = append(b, ' ')
	src := len(b)
	b = s.appendEndpoint(b, s.SrcAddr, s.SrcPort, s.SrcMAC)
	srcEnd := len(b)
	b = append(b, " -> "...)
	dst := len(b)
	b = s.appendEndpoint(b, s.DstAddr, s.DstPort, s.DstMAC)
	dstEnd := len(b)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(s.Len), 10)
	b = append(b, ' ')
	info := len(b)
	b = s.appendInfo(b)
	line := string(b)
	return PacketView{
		Seq:     it.seq,
		Flow:    it.rec.flowID,
		TS:      ts,
		Dir:     it.rec.dir,
		Ifindex: int(it.rec.ifindex),
		Len:     int(it.rec.origLen),
		CapLen:  int(it.rec.capLen),
		Proto:   proto,
		Src:     line[src:srcEnd],
		Dst:     line[dst:dstEnd],
		Info:    line[info:],
		Line:    line,
	}, b
}

// appendEndpoint appends what endpoint returns.
func (s *Summary) appendEndpoint(b []byte, a netip.Addr, port uint16, mac [6]byte) []byte {
	if !a.IsValid() {
		return appendMAC(b, mac)
	}
	if s.Net != NetARP && s.hasPorts() {
		return netip.AddrPortFrom(a, port).AppendTo(b)
	}
	return a.AppendTo(b)
}
