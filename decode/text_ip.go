package decode

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// The network and transport layers of a text line, as tcpdump -n prints them.

// ipHdr is what the transport printers need of the IP header before them.
type ipHdr struct {
	src, dst netip.Addr
	proto    uint8
	v6       bool
}

// appendIPv4 prints an IPv4 packet starting at off.
func (p *textPkt) appendIPv4(b []byte, off int) []byte {
	d := p.data[min(off, len(p.data)):]
	length := max(p.wire-off, 0) // what the link layer says is left
	if !p.linkShown {
		b = append(b, "IP "...)
	}
	if len(d) < 20 {
		return append(b, "[|ip]"...)
	}
	hlen := int(d[0]&0xf) * 4
	if d[0]>>4 != 4 {
		b = append(b, "IP"...)
		b = strconv.AppendUint(b, uint64(d[0]>>4), 10)
		return append(b, " [|ip]"...) // not what tcpdump prints, but short
	}
	if hlen < 20 {
		b = append(b, "bad-hlen "...)
		return strconv.AppendInt(b, int64(hlen), 10)
	}
	tot := int(binary.BigEndian.Uint16(d[2:4]))
	if tot == 0 { // TSO: the length is the frame's
		tot = length
	}
	if tot < hlen {
		b = append(b, "bad-len "...)
		return strconv.AppendInt(b, int64(tot), 10)
	}
	if length < tot {
		b = append(b, "truncated-ip - "...)
		b = strconv.AppendInt(b, int64(tot-length), 10)
		b = append(b, " bytes missing! "...)
	}
	frag := binary.BigEndian.Uint16(d[6:8])
	p.frag = frag&0x2000 != 0
	h := ipHdr{src: netip.AddrFrom4([4]byte(d[12:16])), dst: netip.AddrFrom4([4]byte(d[16:20])), proto: d[9]}
	if p.t.opt.Verbose > 0 {
		b = append(b, "(tos 0x"...)
		b = strconv.AppendUint(b, uint64(d[1]), 16)
		if ecn := d[1] & 3; ecn != 0 {
			b = append(b, [...]string{"", ",ECT(1)", ",ECT(0)", ",CE"}[ecn]...)
		}
		b = append(b, ", ttl "...)
		b = strconv.AppendUint(b, uint64(d[8]), 10)
		b = append(b, ", id "...)
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d[4:6])), 10)
		b = append(b, ", offset "...)
		b = strconv.AppendUint(b, uint64(frag&0x1fff)*8, 10)
		b = append(b, ", flags ["...)
		switch {
		case frag&0xe000 == 0:
			b = append(b, "none"...)
		default:
			n := len(b)
			for _, f := range [...]struct {
				bit  uint16
				name string
			}{{0x2000, "+"}, {0x4000, "DF"}, {0x8000, "rsvd"}} {
				if frag&f.bit != 0 {
					if len(b) > n {
						b = append(b, ", "...)
					}
					b = append(b, f.name...)
				}
			}
		}
		b = append(b, "], proto "...)
		b = appendIPProtoName(b, h.proto)
		b = append(b, " ("...)
		b = strconv.AppendUint(b, uint64(h.proto), 10)
		b = append(b, "), length "...)
		b = strconv.AppendInt(b, int64(tot), 10)
		if hlen > 20 {
			b = append(b, ", options (...)"...)
		}
		if hlen <= len(d) && ipChecksum(d[:hlen]) != 0 {
			b = append(b, ", bad cksum "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d[10:12])), 16)
			b = append(b, '!')
		}
		b = append(b, ")\n    "...)
	}
	if frag&0x1fff != 0 {
		b = h.src.AppendTo(b)
		b = append(b, " > "...)
		b = h.dst.AppendTo(b)
		b = append(b, ": "...)
		b = appendIPProtoName(b, h.proto)
		return b
	}
	// The payload ends at the IP length: after it is the link's padding.
	end := min(tot, len(d))
	if hlen > end {
		b = h.src.AppendTo(b)
		b = append(b, " > "...)
		b = h.dst.AppendTo(b)
		return append(b, ": [|ip]"...)
	}
	p.setTransport(off+hlen, off+end)
	return p.appendTransport(b, h, d[hlen:end], tot-hlen)
}

// ipChecksum is the ones' complement sum of an IPv4 header: 0 when right.
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// setTransport notes where the transport header starts and the IP payload ends.
func (p *textPkt) setTransport(start, end int) { p.tStart, p.tEnd = start, end }

// appendIPv6 prints an IPv6 packet starting at off, with the extension
// headers tcpdump walks.
func (p *textPkt) appendIPv6(b []byte, off int) []byte {
	d := p.data[min(off, len(p.data)):]
	if !p.linkShown {
		b = append(b, "IP6 "...)
	}
	if len(d) < 40 {
		return append(b, "[|ip6]"...)
	}
	plen := int(binary.BigEndian.Uint16(d[4:6]))
	h := ipHdr{src: netip.AddrFrom16([16]byte(d[8:24])), dst: netip.AddrFrom16([16]byte(d[24:40])), v6: true}
	if plen == 0 { // a jumbogram, or TSO: the frame's length
		plen = max(p.wire-off-40, 0)
	}
	if miss := 40 + plen - (p.wire - off); miss > 0 {
		b = append(b, "truncated-ip6 - "...)
		b = strconv.AppendInt(b, int64(miss), 10)
		b = append(b, " bytes missing!"...)
	}
	if p.t.opt.Verbose > 0 {
		b = append(b, '(')
		flow := binary.BigEndian.Uint32(d[0:4]) & 0xfffff
		tc := uint8(binary.BigEndian.Uint16(d[0:2]) >> 4)
		if tc != 0 {
			b = append(b, "class 0x"...)
			b = strconv.AppendUint(b, uint64(tc), 16)
			b = append(b, ", "...)
		}
		if flow != 0 {
			b = append(b, "flowlabel 0x"...)
			b = strconv.AppendUint(b, uint64(flow+0x100000), 16)
			b = append(b[:len(b)-6], b[len(b)-5:]...) // 5 digits
			b = append(b, ", "...)
		}
		b = append(b, "hlim "...)
		b = strconv.AppendUint(b, uint64(d[7]), 10)
		b = append(b, ", next-header "...)
		b = appendIPProtoName(b, d[6])
		b = append(b, " ("...)
		b = strconv.AppendUint(b, uint64(d[6]), 10)
		b = append(b, ") payload length: "...)
		b = strconv.AppendInt(b, int64(plen), 10)
		b = append(b, ") "...)
	}
	end := min(40+plen, len(d))
	nh, pos := d[6], 40
	for {
		switch nh {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if pos+8 > end {
				return p.ip6Short(b, h)
			}
			nh, pos = d[pos], pos+(int(d[pos+1])+1)*8
			continue
		case 44: // fragment
			if pos+8 > end {
				return p.ip6Short(b, h)
			}
			fo := binary.BigEndian.Uint16(d[pos+2:]) &^ 7
			p.frag = true
			nh, pos = d[pos], pos+8
			if fo != 0 {
				b = h.src.AppendTo(b)
				b = append(b, " > "...)
				b = h.dst.AppendTo(b)
				b = append(b, ": frag ("...)
				b = strconv.AppendUint(b, uint64(fo), 10)
				b = append(b, '|')
				b = strconv.AppendInt(b, int64(max(40+plen-pos, 0)), 10)
				return append(b, ')')
			}
			continue
		}
		break
	}
	if pos > end {
		return p.ip6Short(b, h)
	}
	h.proto = nh
	p.setTransport(off+pos, off+end)
	return p.appendTransport(b, h, d[pos:end], max(40+plen-pos, 0))
}

func (p *textPkt) ip6Short(b []byte, h ipHdr) []byte {
	b = h.src.AppendTo(b)
	b = append(b, " > "...)
	b = h.dst.AppendTo(b)
	return append(b, ": [|ip6]"...)
}

// appendEnds prints "src > dst" with the ports, as tcpdump does for TCP and UDP.
func appendEnds(b []byte, h ipHdr, sport, dport uint16) []byte {
	b = h.src.AppendTo(b)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(sport), 10)
	b = append(b, " > "...)
	b = h.dst.AppendTo(b)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(dport), 10)
	return append(b, ": "...)
}

// appendTransport prints what the IP header carries: d is the payload as
// captured, length its length by the IP header.
func (p *textPkt) appendTransport(b []byte, h ipHdr, d []byte, length int) []byte {
	switch h.proto {
	case ProtoTCP:
		return p.appendTCP(b, h, d, length)
	case ProtoUDP:
		return p.appendUDP(b, h, d, length)
	}
	b = h.src.AppendTo(b)
	b = append(b, " > "...)
	b = h.dst.AppendTo(b)
	b = append(b, ": "...)
	switch h.proto {
	case ProtoICMP:
		return p.appendICMP(b, d, length)
	case ProtoICMPv6:
		return p.appendICMP6(b, d, length)
	case ProtoGRE:
		b = append(b, "GREv"...)
		if len(d) >= 2 {
			b = strconv.AppendUint(b, uint64(d[1]&7), 10)
		} else {
			b = append(b, '0')
		}
		b = append(b, ", length "...)
		return strconv.AppendInt(b, int64(length), 10)
	case 2:
		b = append(b, "igmp"...)
		return appendLen(b, length)
	case ProtoSCTP:
		b = append(b, "sctp"...)
		return appendLen(b, length)
	case 4, 41:
		// IP in IP: tcpdump prints the inner packet after the outer.
		if len(d) > 0 {
			q := textPkt{t: p.t, s: p.s, data: d, wire: length}
			if d[0]>>4 == 6 {
				return q.appendIPv6(b, 0)
			}
			return q.appendIPv4(b, 0)
		}
	}
	b = append(b, "ip-proto-"...)
	b = strconv.AppendUint(b, uint64(h.proto), 10)
	return appendLen(b, length)
}

func appendLen(b []byte, n int) []byte {
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(n), 10)
}

// appendIPProtoName names an IP protocol as tcpdump's -v does.
func appendIPProtoName(b []byte, proto uint8) []byte {
	name := ipProtoNames[proto]
	if name == "" {
		return append(b, "unknown"...)
	}
	return append(b, name...)
}

// appendTCP prints a TCP segment as tcpdump does: flags, sequence numbers
// relative to the connection's first (after its first packet), window,
// options, payload length and the application's first words.
func (p *textPkt) appendTCP(b []byte, h ipHdr, d []byte, length int) []byte {
	if len(d) < 4 {
		b = h.src.AppendTo(b)
		b = append(b, " > "...)
		b = h.dst.AppendTo(b)
		return append(b, ": [|tcp]"...)
	}
	sport, dport := binary.BigEndian.Uint16(d[0:2]), binary.BigEndian.Uint16(d[2:4])
	b = appendEnds(b, h, sport, dport)
	if len(d) < 20 {
		return append(b, "[|tcp]"...)
	}
	if p.t.opt.Quiet {
		b = append(b, "tcp "...)
		hlen := int(d[12]>>4) * 4
		return strconv.AppendInt(b, int64(max(length-hlen, 0)), 10)
	}
	seq, ack := binary.BigEndian.Uint32(d[4:8]), binary.BigEndian.Uint32(d[8:12])
	hlen := int(d[12]>>4) * 4
	flags := d[13]
	win := binary.BigEndian.Uint16(d[14:16])
	b = append(b, "Flags ["...)
	n := len(b)
	for _, f := range [...]struct {
		bit uint8
		c   byte
	}{{TCPFin, 'F'}, {TCPSyn, 'S'}, {TCPRst, 'R'}, {TCPPsh, 'P'}, {TCPAck, '.'}, {TCPUrg, 'U'}, {TCPEce, 'E'}, {TCPCwr, 'W'}} {
		if flags&f.bit != 0 {
			b = append(b, f.c)
		}
	}
	if len(b) == n {
		b = append(b, "none"...)
	}
	b = append(b, ']')
	if p.t.opt.Verbose > 0 && !p.frag && length <= len(d) {
		stored := binary.BigEndian.Uint16(d[16:18])
		b = append(b, ", cksum 0x"...)
		b = appendHex16(b, stored)
		if sum := transportSum(h, d[:length]); sum == 0 {
			b = append(b, " (correct)"...)
		} else {
			b = append(b, " (incorrect -> 0x"...)
			b = appendHex16(b, shouldBe(stored, sum))
			b = append(b, ')')
		}
	}
	if hlen < 20 {
		b = append(b, ", bad hdr length "...)
		b = strconv.AppendInt(b, int64(hlen), 10)
		return append(b, " - too short, < 20"...)
	}
	var thseq, thack uint32
	rev := false
	if flags&TCPAck != 0 && !p.t.opt.Absolute { // -S: as they are
		seq, ack, thseq, thack, rev = p.t.tcpRel(h, sport, dport, seq, ack, flags&TCPSyn != 0)
	}
	if hlen > length {
		b = append(b, " [bad hdr length "...)
		b = strconv.AppendInt(b, int64(hlen), 10)
		b = append(b, " - too long, > "...)
		b = strconv.AppendInt(b, int64(length), 10)
		return append(b, ']')
	}
	plen := length - hlen
	if p.t.opt.Verbose > 1 || plen > 0 || flags&(TCPSyn|TCPFin|TCPRst) != 0 {
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(seq), 10)
		if plen > 0 {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(seq+uint32(plen)), 10)
		}
	}
	if flags&TCPAck != 0 {
		b = append(b, ", ack "...)
		b = strconv.AppendUint(b, uint64(ack), 10)
	}
	b = append(b, ", win "...)
	b = strconv.AppendUint(b, uint64(win), 10)
	if flags&TCPUrg != 0 {
		b = append(b, ", urg "...)
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d[18:20])), 10)
	}
	if hlen > 20 {
		b = append(b, ", options ["...)
		if hlen > len(d) {
			return append(b, "|tcp]"...)
		}
		b = appendTCPOptions(b, d[20:hlen], rev, thseq, thack)
		b = append(b, ']')
	}
	b = append(b, ", length "...)
	b = strconv.AppendInt(b, int64(plen), 10)
	if plen > 0 && hlen <= len(d) {
		if (sport == 53 || dport == 53) && !p.t.opt.Quiet {
			// DNS over TCP: a two-byte length, then the message.
			if pl := d[hlen:]; len(pl) >= 2 {
				b = append(b, ' ')
				return appendDNS(b, pl[2:], int(binary.BigEndian.Uint16(pl)), p.t.opt.Verbose > 0)
			}
		}
		b = appendTCPApp(b, sport, dport, d[hlen:])
	}
	return b
}

// tcpRel makes seq and ack relative to the first ones seen on the
// connection, as tcpdump does (without -S): its first packet with ACK set
// (or a SYN) records them and prints them whole.
func (t *TextPrinter) tcpRel(h ipHdr, sport, dport uint16, seq, ack uint32, syn bool) (rseq, rack, thseq, thack uint32, rev bool) {
	c := h.src.Compare(h.dst)
	rev = c > 0 || c == 0 && sport > dport
	k := tcpConnKey{a: h.src, b: h.dst, aPort: sport, bPort: dport}
	if rev {
		k = tcpConnKey{a: h.dst, b: h.src, aPort: dport, bPort: sport}
	}
	th, ok := t.conns[k]
	if !ok || syn {
		if rev {
			th = tcpSeqs{ack: seq, seq: ack - 1}
		} else {
			th = tcpSeqs{seq: seq, ack: ack - 1}
		}
		if !ok && len(t.conns) >= maxTCPConns {
			clear(t.conns)
		}
		t.conns[k] = th
		return seq, ack, th.seq, th.ack, rev
	}
	if rev {
		seq -= th.ack
		ack -= th.seq
	} else {
		seq -= th.seq
		ack -= th.ack
	}
	return seq, ack, th.seq, th.ack, rev
}

// appendTCPOptions prints TCP options as tcpdump names them.
func appendTCPOptions(b []byte, o []byte, rev bool, thseq, thack uint32) []byte {
	for first := true; len(o) > 0; first = false {
		if !first {
			b = append(b, ',')
		}
		kind := o[0]
		if kind == 0 || kind == 1 {
			b = append(b, [...]string{"eol", "nop"}[kind]...)
			o = o[1:]
			continue
		}
		name := tcpOptNames[kind]
		if name == "" {
			b = append(b, "unknown-"...)
			b = strconv.AppendUint(b, uint64(kind), 10)
		} else {
			b = append(b, name...)
		}
		if len(o) < 2 {
			return append(b, "|"...)
		}
		n := int(o[1])
		if n < 2 || n > len(o) {
			return append(b, " [bad opt]"...)
		}
		v := o[2:n]
		switch {
		case kind == 2 && len(v) == 2:
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(v)), 10)
		case kind == 3 && len(v) == 1:
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(v[0]), 10)
		case kind == 8 && len(v) == 8:
			b = append(b, " val "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(v)), 10)
			b = append(b, " ecr "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(v[4:])), 10)
		case kind == 5:
			if len(v)%8 != 0 {
				b = append(b, " invalid sack"...)
				break
			}
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(len(v)/8), 10)
			b = append(b, ' ')
			for i := 0; i+8 <= len(v); i += 8 {
				s, e := binary.BigEndian.Uint32(v[i:]), binary.BigEndian.Uint32(v[i+4:])
				if rev {
					s, e = s-thseq, e-thseq
				} else {
					s, e = s-thack, e-thack
				}
				b = append(b, '{')
				b = strconv.AppendUint(b, uint64(s), 10)
				b = append(b, ':')
				b = strconv.AppendUint(b, uint64(e), 10)
				b = append(b, '}')
			}
		case kind == 4 || kind == 0:
		case len(v) > 0 && kind != 30 && kind != 34:
			b = append(b, ' ')
			for _, c := range v {
				b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			}
		}
		o = o[n:]
	}
	return b
}

// appendTCPApp names the application data after a TCP line where tcpdump
// does without -v: the first line of an HTTP message.
func appendTCPApp(b []byte, sport, dport uint16, pl []byte) []byte {
	if !httpPort(sport) && !httpPort(dport) {
		return b
	}
	b = append(b, ": HTTP"...)
	end := 0
	for end < len(pl) && end < 300 && pl[end] != '\r' && pl[end] != '\n' {
		end++
	}
	if end < len(pl) && pl[end] == '\r' && end+1 < len(pl) && pl[end+1] == '\n' && looksHTTP(pl[:end]) {
		b = append(b, ": "...)
		b = appendPrintable(b, pl[:end])
	}
	return b
}

func httpPort(p uint16) bool { return p == 80 || p == 8080 || p == 3128 || p == 8000 }

// looksHTTP reports whether line is an HTTP request or status line.
func looksHTTP(line []byte) bool {
	s := string(line)
	for _, m := range [...]string{"GET ", "PUT ", "POST ", "HEAD ", "DELETE ", "OPTIONS ", "TRACE ", "CONNECT ", "PATCH ", "HTTP/1."} {
		if len(s) >= len(m) && s[:len(m)] == m {
			return true
		}
	}
	return false
}

// appendUDP prints a UDP datagram: "UDP, length N", or what tcpdump
// decodes of it by port (DNS).
func (p *textPkt) appendUDP(b []byte, h ipHdr, d []byte, length int) []byte {
	if len(d) < 8 {
		b = h.src.AppendTo(b)
		b = append(b, " > "...)
		b = h.dst.AppendTo(b)
		return append(b, ": [|udp]"...)
	}
	sport, dport := binary.BigEndian.Uint16(d[0:2]), binary.BigEndian.Uint16(d[2:4])
	ulen := int(binary.BigEndian.Uint16(d[4:6]))
	b = appendEnds(b, h, sport, dport)
	if ulen == 0 && h.v6 {
		ulen = length // a jumbogram
	}
	if ulen < 8 {
		b = append(b, "truncated-udplength "...)
		return strconv.AppendInt(b, int64(ulen), 10)
	}
	if ulen > length {
		b = append(b, "UDP, bad length "...)
		b = strconv.AppendInt(b, int64(ulen-8), 10)
		b = append(b, " > "...)
		return strconv.AppendInt(b, int64(max(length-8, 0)), 10)
	}
	if v := p.t.opt.Verbose; v > 0 && !p.frag && (h.v6 || v > 1) {
		stored := binary.BigEndian.Uint16(d[6:8])
		switch {
		case stored == 0 && !h.v6:
			b = append(b, "[no cksum] "...)
		case ulen <= len(d):
			if sum := transportSum(h, d[:ulen]); sum == 0 {
				b = append(b, "[udp sum ok] "...)
			} else {
				b = append(b, "[bad udp cksum 0x"...)
				b = appendHex16(b, stored)
				b = append(b, " -> 0x"...)
				b = appendHex16(b, shouldBe(stored, sum))
				b = append(b, "!] "...)
			}
		}
	}
	pl := d[8:min(ulen, len(d))]
	if !p.t.opt.Quiet && (isDNSPort(sport) || isDNSPort(dport)) {
		return appendDNS(b, pl, ulen-8, p.t.opt.Verbose > 0)
	}
	b = append(b, "UDP, length "...)
	return strconv.AppendInt(b, int64(ulen-8), 10)
}

// appendICMP prints an ICMPv4 message as tcpdump does.
func (p *textPkt) appendICMP(b []byte, d []byte, length int) []byte {
	b = append(b, "ICMP "...)
	if len(d) < 2 {
		return append(b, "[|icmp]"...)
	}
	typ, code := d[0], d[1]
	switch typ {
	case 0, 8:
		b = append(b, [...]string{"echo reply", "echo request"}[typ/8]...)
		if len(d) >= 8 {
			b = append(b, ", id "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d[4:6])), 10)
			b = append(b, ", seq "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d[6:8])), 10)
		}
	case 3:
		var q Summary
		if len(d) > 8 {
			q.quoted(d[8:])
		}
		switch {
		case code == 3 && q.Quoted && q.QuotedProto == ProtoUDP:
			b = q.QuotedDst.AppendTo(b)
			b = append(b, " udp port "...)
			b = strconv.AppendUint(b, uint64(q.QuotedDport), 10)
			b = append(b, " unreachable"...)
		case code == 3 && q.Quoted && q.QuotedProto == ProtoTCP:
			b = q.QuotedDst.AppendTo(b)
			b = append(b, " tcp port "...)
			b = strconv.AppendUint(b, uint64(q.QuotedDport), 10)
			b = append(b, " unreachable"...)
		case code == 2 && q.Quoted:
			b = q.QuotedDst.AppendTo(b)
			b = append(b, " protocol "...)
			b = strconv.AppendUint(b, uint64(q.QuotedProto), 10)
			b = append(b, " unreachable"...)
		case (code == 0 || code == 1) && q.Quoted:
			b = append(b, [...]string{"net ", "host "}[code]...)
			b = q.QuotedDst.AppendTo(b)
			b = append(b, " unreachable"...)
		default:
			b = append(b, icmp4Name(typ, code)...)
		}
	case 11:
		b = append(b, "time exceeded in-transit"...)
		if code == 1 {
			b = append(b[:len(b)-len("in-transit")], "reassembly"...)
		}
	default:
		if name := icmp4Name(typ, code); name != "" {
			b = append(b, name...)
		} else {
			b = append(b, "type-#"...)
			b = strconv.AppendUint(b, uint64(typ), 10)
		}
	}
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(length), 10)
}

// appendICMP6 prints an ICMPv6 message as tcpdump does.
func (p *textPkt) appendICMP6(b []byte, d []byte, length int) []byte {
	b = append(b, "ICMP6, "...)
	if len(d) < 4 {
		return append(b, "[|icmp6]"...)
	}
	typ := d[0]
	switch typ {
	case 128, 129:
		b = append(b, [...]string{"echo request", "echo reply"}[typ-128]...)
		if len(d) >= 8 {
			b = append(b, ", id "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d[4:6])), 10)
			b = append(b, ", seq "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d[6:8])), 10)
		}
	case 133:
		b = append(b, "router solicitation"...)
	case 134:
		b = append(b, "router advertisement"...)
	case 135, 136:
		b = append(b, [...]string{"neighbor solicitation", "neighbor advertisement"}[typ-135]...)
		if len(d) >= 24 {
			b = append(b, [...]string{", who has ", ", tgt is "}[typ-135]...)
			b = netip.AddrFrom16([16]byte(d[8:24])).AppendTo(b)
		}
	case 1:
		b = append(b, "destination unreachable"...)
	case 2:
		b = append(b, "packet too big"...)
	case 3:
		b = append(b, "time exceeded in-transit"...)
	case 137:
		b = append(b, "redirect"...)
	case 130:
		b = append(b, "multicast listener query"...)
	case 131:
		b = append(b, "multicast listener report"...)
	case 143:
		b = append(b, "multicast listener report v2"...)
	default:
		b = append(b, "type-#"...)
		b = strconv.AppendUint(b, uint64(typ), 10)
	}
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(length), 10)
}

// Names as tcpdump prints them; read only.
var (
	ipProtoNames = [256]string{0: "Options", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPv6",
		43: "Routing", 44: "frag", 47: "GRE", 50: "ESP", 51: "AH", 58: "ICMPv6", 59: "NONE", 60: "DSTOPTS",
		89: "OSPF", 103: "PIM", 112: "VRRP", 132: "SCTP"}
	tcpOptNames = [256]string{2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 6: "echo", 7: "echoreply",
		8: "TS", 11: "cc", 12: "ccnew", 13: "ccecho", 19: "md5", 20: "scps", 27: "qs", 28: "uto",
		29: "tcp-ao", 30: "mptcp", 34: "tfo", 253: "exp", 254: "exp"}
)

// transportSum is the ones' complement sum of a TCP or UDP segment with
// its IP pseudo-header, folded and inverted: 0 when the checksum is right.
func transportSum(h ipHdr, seg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	src, dst := h.src.AsSlice(), h.dst.AsSlice()
	add(src)
	add(dst)
	sum += uint32(len(seg)>>16) + uint32(len(seg)&0xffff) + uint32(h.proto)
	add(seg)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// shouldBe is the checksum a segment should have carried, given the one
// it carries and the sum over it (tcpdump's in_cksum_shouldbe).
func shouldBe(stored, sum uint16) uint16 {
	v := uint32(stored) + uint32(sum)
	v = v&0xffff + v>>16
	v = v&0xffff + v>>16
	return uint16(v)
}
