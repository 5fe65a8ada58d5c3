package decode

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Text mode: one line per packet in tcpdump's layout (tcpdump -n), for
// output that is not a terminal. The Summary says what the packet is; the
// fields tcpdump prints that a Summary does not keep (IP header fields,
// TCP options, UDP lengths, the DNS answers) are read here from the
// packet's bytes, bounds-checked, at the offsets the link header gives.

// Time formats, as tcpdump's -t flags count them.
const (
	TimeDefault    = iota // HH:MM:SS.uuuuuu
	TimeNone              // -t
	TimeEpoch             // -tt: seconds since 1970
	TimeDelta             // -ttt: since the previous packet
	TimeDate              // -tttt: date and time
	TimeDeltaFirst        // -ttttt: since the first packet
)

// TextOptions are the flags that shape a text line, as tcpdump's.
type TextOptions struct {
	Time     int            // TimeDefault... (-t count)
	Loc      *time.Location // time zone of the time of day (nil: UTC)
	Verbose  int            // -v count
	Link     bool           // -e: the link-layer header
	Quiet    bool           // -q
	Hex      int            // -x: 1 from the network header, 2 from the link header
	HexASCII int            // -X: the same with ASCII
	ASCII    int            // -A: ASCII only
	Absolute bool           // -S: TCP sequence numbers as they are, not relative
}

// maxTCPConns bounds the table of TCP connections whose first sequence
// numbers make the printed ones relative; it is emptied when full.
const maxTCPConns = 1 << 16

// tcpConnKey is a TCP connection in canonical order (see tcpRel).
type tcpConnKey struct {
	a, b         netip.Addr
	aPort, bPort uint16
}

type tcpSeqs struct{ seq, ack uint32 }

// TextPrinter prints packets as tcpdump's lines. It keeps the state
// tcpdump keeps between packets (the previous and first times, each TCP
// connection's first sequence numbers); it is not safe for concurrent use.
type TextPrinter struct {
	opt         TextOptions
	dec         *Decoder
	s           Summary
	conns       map[tcpConnKey]tcpSeqs
	first, prev int64
	seen        bool
}

// NewTextPrinter returns a printer with the given options.
func NewTextPrinter(opt TextOptions) *TextPrinter {
	if opt.Loc == nil {
		opt.Loc = time.UTC
	}
	return &TextPrinter{opt: opt, dec: NewDecoder(), conns: map[tcpConnKey]tcpSeqs{}}
}

// Append appends pk's line, ending in a newline, and the hex or ASCII
// dump after it when asked for. iface, when not empty, is the name of the
// interface it was seen on, printed with its direction as tcpdump -i any
// does. Nothing from the packet is appended that could drive a terminal.
func (t *TextPrinter) Append(b []byte, pk *packet.Packet, iface string) (line []byte) {
	start := len(b)
	defer func() {
		// Last resort, as for Decode: the printers are bounds-checked.
		if r := recover(); r != nil {
			line = append(t.appendTime(b[:start], pk.Nanos), "[|printer panic]\n"...)
		}
	}()
	lt := pk.LinkType()
	data := pk.Data
	t.dec.DecodeLink(lt, data, int(pk.OrigLen), &t.s)
	b = t.appendTime(b, pk.Nanos)
	if iface != "" {
		b = appendPadded(b, iface, 5)
		b = append(b, ' ')
		switch pk.Dir {
		case packet.DirIn:
			b = append(b, "In  "...)
		case packet.DirOut:
			b = append(b, "Out "...)
		default:
			b = append(b, "?   "...)
		}
	}
	p := textPkt{t: t, s: &t.s, data: data, wire: int(pk.WireLen())}
	b = p.appendLink(b, lt)
	b = t.appendDump(b, data, p.hdrLen)
	return append(b, '\n')
}

// appendTime appends the time stamp as -t asks, and a space.
func (t *TextPrinter) appendTime(b []byte, ns int64) []byte {
	if !t.seen {
		t.first, t.prev, t.seen = ns, ns, true
	}
	prev := t.prev
	t.prev = ns
	switch t.opt.Time {
	case TimeNone:
		return b
	case TimeEpoch:
		b = strconv.AppendInt(b, floorDiv(ns, 1e9), 10)
		b = append(b, '.')
		b = appendMicros(b, ns)
	case TimeDelta, TimeDeltaFirst:
		from := prev
		if t.opt.Time == TimeDeltaFirst {
			from = t.first
		}
		d := ns - from
		// tcpdump's sign column: a space, or '-' for a time that went back.
		if d < 0 {
			d = -d
			b = append(b, '-')
		} else {
			b = append(b, ' ')
		}
		sec := d / 1e9
		b = append2(b, int(sec/3600))
		b = append(b, ':')
		b = append2(b, int(sec/60%60))
		b = append(b, ':')
		b = append2(b, int(sec%60))
		b = append(b, '.')
		b = appendMicros(b, d)
	case TimeDate:
		b = time.Unix(floorDiv(ns, 1e9), 0).In(t.opt.Loc).AppendFormat(b, "2006-01-02 15:04:05")
		b = append(b, '.')
		b = appendMicros(b, ns)
	default:
		b = time.Unix(floorDiv(ns, 1e9), 0).In(t.opt.Loc).AppendFormat(b, "15:04:05")
		b = append(b, '.')
		b = appendMicros(b, ns)
	}
	return append(b, ' ')
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// appendMicros appends the microseconds of the second ns falls in, six digits.
func appendMicros(b []byte, ns int64) []byte {
	us := (ns%1e9 + 1e9) % 1e9 / 1e3
	s := strconv.AppendInt(make([]byte, 0, 8), us+1e6, 10)
	return append(b, s[1:]...)
}

func append2(b []byte, v int) []byte {
	if v < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(v), 10)
}

func appendPadded(b []byte, s string, w int) []byte {
	b = appendPrintable(b, []byte(s))
	for i := len(s); i < w; i++ {
		b = append(b, ' ')
	}
	return b
}

// textPkt is one packet being printed.
type textPkt struct {
	t      *TextPrinter
	s      *Summary
	data   []byte
	wire   int // length on the wire
	hdrLen int // the link-layer header's length: where -x starts
	// tStart and tEnd: the transport header's offset and the IP
	// payload's end, once known.
	tStart, tEnd int
	// linkShown: -e printed a link-layer header that names the network
	// protocol, so "IP " or "IP6 " is not printed again.
	linkShown bool
	frag      bool // a fragment: no transport checksum to check
}

// appendLink prints the link-layer header (with -e) and what it carries.
func (p *textPkt) appendLink(b []byte, lt packet.LinkType) []byte {
	d := p.data
	switch lt {
	case packet.LinkTypeEthernet:
		if len(d) < 14 {
			p.hdrLen = len(d)
			return append(b, "[|ether]"...)
		}
		et, off := binary.BigEndian.Uint16(d[12:14]), 14
		if p.t.opt.Link {
			b = appendMAC(b, [6]byte(d[6:12]))
			b = append(b, " > "...)
			b = appendMAC(b, [6]byte(d[0:6]))
			b = append(b, ", "...)
			b = appendEtherTypeLong(b, et)
			b = append(b, ", length "...)
			b = strconv.AppendInt(b, int64(p.wire), 10)
			b = append(b, ": "...)
			p.linkShown = true
		}
		for (et == 0x8100 || et == 0x88a8 || et == 0x9100) && len(d) >= off+4 {
			tci := binary.BigEndian.Uint16(d[off:])
			et = binary.BigEndian.Uint16(d[off+2:])
			off += 4
			if p.t.opt.Link {
				b = append(b, "vlan "...)
				b = strconv.AppendUint(b, uint64(tci&0xfff), 10)
				b = append(b, ", p "...)
				b = strconv.AppendUint(b, uint64(tci>>13), 10)
				if tci&0x1000 != 0 {
					b = append(b, ", DEI"...)
				}
				b = append(b, ", "...)
				b = appendEtherTypeLong(b, et)
				b = append(b, ", "...)
			}
		}
		p.hdrLen = off
		if et < 0x600 {
			return p.appendOther(b, "LLC")
		}
		return p.appendEtherType(b, et, off)
	case packet.LinkTypeSLL, packet.LinkTypeSLL2:
		var s Summary
		_, off, res := linkStart(lt, d, &s)
		if res == linkShort {
			p.hdrLen = len(d)
			return append(b, "[|sll]"...)
		}
		p.hdrLen = off
		if p.t.opt.Link {
			b = p.appendSLL(b, lt)
			p.linkShown = true
		}
		return p.appendEtherType(b, s.EtherType, off)
	case packet.LinkTypeRaw, packet.LinkTypeIPv4, packet.LinkTypeIPv6, packet.LinkTypeNull,
		packet.LinkTypeLoop, packet.LinkTypePPP, packet.LinkTypeCHDLC, packet.LinkTypeNFLOG:
		var s Summary
		first, off, res := linkStart(lt, d, &s)
		p.hdrLen = min(off, len(d))
		if res == linkShort {
			return p.appendOther(b, "")
		}
		if p.t.opt.Link && (lt == packet.LinkTypeNull || lt == packet.LinkTypeLoop) {
			b = append(b, "AF "...)
			b = strconv.AppendUint(b, uint64(s.EtherType), 10)
			b = append(b, ", length "...)
			b = strconv.AppendInt(b, int64(p.wire), 10)
			b = append(b, ": "...)
		}
		switch first {
		case layers.LayerTypeIPv4:
			return p.appendIPv4(b, off)
		case layers.LayerTypeIPv6:
			return p.appendIPv6(b, off)
		case layers.LayerTypeEthernet, layers.LayerTypeARP, layers.LayerTypeDot1Q:
			return p.appendEtherType(b, s.EtherType, off)
		}
		return p.appendOther(b, "")
	}
	return p.appendOther(b, "")
}

// appendSLL prints a Linux cooked header as tcpdump -e does (in part:
// the packet type, the address and the protocol).
func (p *textPkt) appendSLL(b []byte, lt packet.LinkType) []byte {
	d := p.data
	var pt uint16
	var addr []byte
	var proto uint16
	if lt == packet.LinkTypeSLL {
		pt, proto = binary.BigEndian.Uint16(d[0:2]), binary.BigEndian.Uint16(d[14:16])
		if n := int(binary.BigEndian.Uint16(d[4:6])); n <= 8 {
			addr = d[6 : 6+n]
		}
	} else {
		pt, proto = uint16(d[10]), binary.BigEndian.Uint16(d[0:2])
		if n := int(d[11]); n <= 8 {
			addr = d[12 : 12+n]
		}
	}
	b = append(b, [...]string{"In", "B", "M", "P", "Out"}[min(int(pt), 4)]...)
	b = append(b, ' ')
	for i, c := range addr {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	b = append(b, ' ')
	b = appendEtherTypeLong(b, proto)
	b = append(b, ", length "...)
	b = strconv.AppendInt(b, int64(p.wire), 10)
	return append(b, ": "...)
}

// appendEtherType prints what an EtherType carries from off on.
func (p *textPkt) appendEtherType(b []byte, et uint16, off int) []byte {
	switch et {
	case 0x0800:
		return p.appendIPv4(b, off)
	case 0x86dd:
		return p.appendIPv6(b, off)
	case 0x0806, 0x8035:
		return p.appendARP(b, off)
	}
	if !p.t.opt.Link && p.data != nil && off >= 14 && p.s.Link == packet.LinkTypeEthernet {
		// tcpdump names the MACs of a frame it does not decode.
		b = appendMAC(b, [6]byte(p.data[6:12]))
		b = append(b, " > "...)
		b = appendMAC(b, [6]byte(p.data[0:6]))
		b = append(b, ", "...)
		b = appendEtherTypeLong(b, et)
		b = append(b, ", length "...)
		b = strconv.AppendInt(b, int64(p.wire), 10)
		return append(b, ':')
	}
	return p.appendOther(b, etherTypeName(et))
}

// appendOther is the line of a packet not decoded further: its protocol,
// as far as known, and its length after the link-layer header.
func (p *textPkt) appendOther(b []byte, name string) []byte {
	if name == "" {
		name = p.s.Proto()
	}
	b = appendPrintable(b, []byte(name))
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(max(p.wire-p.hdrLen, 0)), 10)
}

// appendEtherTypeLong names an EtherType as tcpdump -e does: "ethertype
// IPv4 (0x0800)".
func appendEtherTypeLong(b []byte, et uint16) []byte {
	if et < 0x600 {
		b = append(b, "802.3"...)
		return b
	}
	b = append(b, "ethertype "...)
	name := etherTypeName(et)
	switch {
	case et == 0x88a8:
		name = "802.1Q-QinQ"
	case name[0] == '0':
		name = "Unknown"
	}
	b = append(b, name...)
	b = append(b, " (0x"...)
	b = appendHex16(b, et)
	return append(b, ')')
}

// appendARP prints an ARP packet as tcpdump does (print-arp.c), with
// the addresses at the offsets the header's lengths give.
func (p *textPkt) appendARP(b []byte, off int) []byte {
	d := p.data[min(off, len(p.data)):]
	n := max(p.wire-off, 0)
	if len(d) < 8 {
		return append(b, "[|ARP]"...)
	}
	hrd, pro := binary.BigEndian.Uint16(d[0:2]), binary.BigEndian.Uint16(d[2:4])
	hl, pl, op := int(d[4]), int(d[5]), binary.BigEndian.Uint16(d[6:8])
	sha, spa := 8, 8+hl
	tha, tpa := spa+pl, spa+pl+hl
	if tpa+pl > len(d) {
		return append(b, "[|ARP]"...)
	}
	if !p.linkShown {
		b = append(b, "ARP, "...)
	}
	ipProto := pro == 0x0800 || pro == 0x1000
	if !ipProto || pl != 4 || hl == 0 || p.t.opt.Verbose > 0 {
		if hrd == 1 {
			b = append(b, "Ethernet"...)
		} else {
			b = append(b, "Unknown Hardware ("...)
			b = strconv.AppendUint(b, uint64(hrd), 10)
			b = append(b, ')')
		}
		b = append(b, " (len "...)
		b = strconv.AppendInt(b, int64(hl), 10)
		b = append(b, "), "...)
		if pro == 0x0800 {
			b = append(b, "IPv4"...)
		} else {
			b = append(b, "Unknown Protocol (0x"...)
			b = appendHex16(b, pro)
			b = append(b, ')')
		}
		b = append(b, " (len "...)
		b = strconv.AppendInt(b, int64(pl), 10)
		b = append(b, ')')
		if p.t.opt.Verbose == 0 {
			b = append(b, ", length "...)
			return strconv.AppendInt(b, int64(n), 10)
		}
		b = append(b, ", "...)
	}
	paddr := func(b []byte, at int) []byte {
		switch {
		case !ipProto:
			return append(b, "<wrong proto type>"...)
		case pl != 4:
			return append(b, "<wrong len>"...)
		}
		return netip.AddrFrom4([4]byte(d[at : at+4])).AppendTo(b)
	}
	haddr := func(b []byte, at int) []byte {
		for i, c := range d[at : at+hl] {
			if i > 0 {
				b = append(b, ':')
			}
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		}
		return b
	}
	b = append(b, arpOp(op)...)
	b = append(b, ' ')
	switch op {
	case 1:
		b = append(b, "who-has "...)
		b = paddr(b, tpa)
		for _, c := range d[tha : tha+hl] {
			if c != 0 {
				b = append(b, " ("...)
				b = haddr(b, tha)
				b = append(b, ')')
				break
			}
		}
		b = append(b, " tell "...)
		b = paddr(b, spa)
	case 2:
		b = paddr(b, spa)
		b = append(b, " is-at "...)
		b = haddr(b, sha)
	case 3, 8:
		b = append(b, "who-is "...)
		b = haddr(b, tha)
		b = append(b, " tell "...)
		b = haddr(b, sha)
	case 4:
		b = haddr(b, tha)
		b = append(b, " at "...)
		b = paddr(b, tpa)
	case 9:
		b = haddr(b, sha)
		b = append(b, " at "...)
		b = paddr(b, spa)
	default:
		return b // tcpdump dumps the packet in hex instead of a length
	}
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(n), 10)
}

func arpOp(op uint16) string {
	switch op {
	case 1:
		return "Request"
	case 2:
		return "Reply"
	case 3:
		return "Reverse Request"
	case 4:
		return "Reverse Reply"
	case 8:
		return "Inverse Request"
	case 9:
		return "Inverse Reply"
	case 10:
		return "NACK Reply"
	}
	return "Unknown (" + strconv.Itoa(int(op)) + ")"
}
