package decode

import (
	"net/netip"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// maxVLAN is how many VLAN tags a Summary records (802.1ad QinQ).
const maxVLAN = 2

// vlanLayer is a Dot1Q that remembers the VLAN IDs of every tag in a
// QinQ stack: the parser reuses one Dot1Q for each tag it meets.
type vlanLayer struct {
	layers.Dot1Q
	ids [maxVLAN]uint16
	n   int
}

func (v *vlanLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := v.Dot1Q.DecodeFromBytes(data, df); err != nil {
		return err
	}
	if v.n < maxVLAN {
		v.ids[v.n] = v.VLANIdentifier
	}
	v.n++
	return nil
}

// ipIPNext stops the parser in front of an encapsulated IP packet, so
// the inner headers are decoded into a second set of layers instead of
// overwriting the outer ones.
func ipIPNext(lt gopacket.LayerType) gopacket.LayerType {
	if lt == layers.LayerTypeIPv4 || lt == layers.LayerTypeIPv6 {
		return gopacket.LayerTypeZero
	}
	return lt
}

// ip4Layer also decodes the transport header of a first fragment (offset
// 0, more fragments follow); gopacket stops at every fragment.
type ip4Layer struct{ layers.IPv4 }

func (l *ip4Layer) next() gopacket.LayerType {
	if l.FragOffset == 0 && l.Flags&layers.IPv4MoreFragments != 0 {
		return l.Protocol.LayerType()
	}
	return l.IPv4.NextLayerType()
}

func (l *ip4Layer) NextLayerType() gopacket.LayerType { return ipIPNext(l.next()) }

type ip6Layer struct{ layers.IPv6 }

func (l *ip6Layer) NextLayerType() gopacket.LayerType { return ipIPNext(l.IPv6.NextLayerType()) }

type ip6ExtLayer struct{ layers.IPv6ExtensionSkipper }

func (l *ip6ExtLayer) NextLayerType() gopacket.LayerType {
	return ipIPNext(l.IPv6ExtensionSkipper.NextLayerType())
}

// frag6Layer decodes the transport header of a first fragment, like ip4Layer.
type frag6Layer struct{ layers.IPv6Fragment }

func (l *frag6Layer) next() gopacket.LayerType {
	if l.FragmentOffset == 0 {
		return l.NextHeader.LayerType()
	}
	return l.IPv6Fragment.NextLayerType()
}

func (l *frag6Layer) NextLayerType() gopacket.LayerType { return ipIPNext(l.next()) }

// udpLayer ends decoding after UDP except for VXLAN: application hints are
// parsed by hand from the payload, without gopacket's port-mapped layers.
type udpLayer struct{ layers.UDP }

func (l *udpLayer) NextLayerType() gopacket.LayerType {
	if l.DstPort == 4789 || l.SrcPort == 4789 && l.DstPort != 53 {
		return layers.LayerTypeVXLAN
	}
	return gopacket.LayerTypeZero
}

// tcpLayer ends decoding after TCP; see udpLayer.
type tcpLayer struct{ layers.TCP }

func (l *tcpLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// vxlanLayer and greLayer end the outer parse; the encapsulated frame is
// decoded by the inner stack.
type vxlanLayer struct{ layers.VXLAN }

func (l *vxlanLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

type greLayer struct{ layers.GRE }

func (l *greLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// stack is one preallocated set of layers and the parsers that decode
// into them. The Decoder has two: one for the outer packet and one for
// the packet inside a tunnel.
type stack struct {
	eth   layers.Ethernet
	vlan  vlanLayer
	arp   layers.ARP
	ip4   ip4Layer
	ip6   ip6Layer
	ip6x  ip6ExtLayer // routing, destination options (hop-by-hop is decoded by IPv6)
	frag6 frag6Layer
	tcp   tcpLayer
	udp   udpLayer
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	sctp  layers.SCTP
	gre   greLayer
	vxlan vxlanLayer

	decoded []gopacket.LayerType
	// parsers starting at Ethernet, IPv4 and IPv6 (GRE and IP-in-IP carry
	// IP directly), all sharing the layers above.
	pEth, pIP4, pIP6 *gopacket.DecodingLayerParser
	// and at ARP and 802.1Q, where a cooked (SLL) header's protocol says
	// so.
	pARP, pDot1Q *gopacket.DecodingLayerParser
}

func newStack() *stack {
	st := &stack{decoded: make([]gopacket.LayerType, 0, 16)}
	dls := []gopacket.DecodingLayer{
		&st.eth, &st.vlan, &st.arp, &st.ip4, &st.ip6, &st.ip6x, &st.frag6,
		&st.tcp, &st.udp, &st.icmp4, &st.icmp6, &st.sctp, &st.gre, &st.vxlan,
	}
	var c gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
	for _, d := range dls {
		c = c.Put(d)
	}
	// The fragment decoder must win over the extension skipper, which
	// also claims LayerTypeIPv6Fragment.
	c = c.Put(&st.frag6)
	mk := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(c)
		return p
	}
	st.pEth = mk(layers.LayerTypeEthernet)
	st.pIP4 = mk(layers.LayerTypeIPv4)
	st.pIP6 = mk(layers.LayerTypeIPv6)
	st.pARP = mk(layers.LayerTypeARP)
	st.pDot1Q = mk(layers.LayerTypeDot1Q)
	return st
}

// parse decodes data starting at first. It returns the parser used (for
// its Truncated flag), the layer type decoding stopped at (0 when it ran
// to the end or to an application payload) and the decode error, if any.
func (st *stack) parse(first gopacket.LayerType, data []byte) (p *gopacket.DecodingLayerParser, stop gopacket.LayerType, err error) {
	switch first {
	case layers.LayerTypeEthernet:
		p = st.pEth
	case layers.LayerTypeIPv4:
		p = st.pIP4
	case layers.LayerTypeIPv6:
		p = st.pIP6
	case layers.LayerTypeARP:
		p = st.pARP
	case layers.LayerTypeDot1Q:
		p = st.pDot1Q
	default:
		st.decoded = st.decoded[:0]
		return nil, first, nil
	}
	st.vlan.n = 0
	err = p.DecodeLayers(data, &st.decoded)
	if u, ok := err.(gopacket.UnsupportedLayerType); ok {
		return p, gopacket.LayerType(u), nil
	}
	if err != nil {
		stop = first
		if n := len(st.decoded); n > 0 {
			stop = st.nextOf(st.decoded[n-1])
		}
	}
	return p, stop, err
}

// nextOf returns the layer type that follows a decoded layer, as the
// parser saw it (for the IP and tunnel wrappers, the real next type).
func (st *stack) nextOf(lt gopacket.LayerType) gopacket.LayerType {
	switch lt {
	case layers.LayerTypeEthernet:
		return st.eth.NextLayerType()
	case layers.LayerTypeDot1Q:
		return st.vlan.NextLayerType()
	case layers.LayerTypeIPv4:
		return st.ip4.next()
	case layers.LayerTypeIPv6:
		return st.ip6.IPv6.NextLayerType()
	case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
		return st.ip6x.IPv6ExtensionSkipper.NextLayerType()
	case layers.LayerTypeIPv6Fragment:
		return st.frag6.next()
	case layers.LayerTypeUDP:
		return st.udp.NextLayerType()
	case layers.LayerTypeGRE:
		return st.gre.GRE.NextLayerType()
	case layers.LayerTypeVXLAN:
		return st.vxlan.VXLAN.NextLayerType()
	}
	return gopacket.LayerTypeZero
}

// Decoder decodes frames into Summaries without allocating in the steady
// state. It is not safe for concurrent use; give each goroutine its own.
type Decoder struct {
	outer, inner *stack
	radio        *radio // made for the first 802.11 frame
	// frags joins later fragments to their datagram's flow: only the
	// engine's decoder of arriving packets (in order) uses it; a view's
	// decoder, which sees packets in any order, leaves them as they are.
	frags     fragTable
	joinFrags bool
}

// NewDecoder returns a Decoder with its layers preallocated.
func NewDecoder() *Decoder {
	return &Decoder{outer: newStack(), inner: newStack()}
}

// Decode fills s from one Ethernet frame. data holds the captured bytes,
// origLen the length on the wire (snaplen truncation is normal and only
// flagged with FlagSnap). Decode never panics: anything unknown, short or
// broken stops decoding and is recorded in s.Flags, s.Stop and s.Err.
func (d *Decoder) Decode(data []byte, origLen int, s *Summary) {
	d.DecodeLink(packet.LinkTypeEthernet, data, origLen, s)
}

// DecodeLink is Decode for a frame of link type lt.
func (d *Decoder) DecodeLink(lt packet.LinkType, data []byte, origLen int, s *Summary) {
	*s = Summary{Len: max(origLen, len(data)), CapLen: len(data), Link: lt}
	if origLen > len(data) {
		s.Flags |= FlagSnap
	}
	defer func() {
		// Last resort: the decoders below are bounds-checked, and the
		// gopacket parser recovers its own panics.
		if r := recover(); r != nil {
			s.Flags |= FlagPanic | FlagMalformed
		}
	}()
	d.decode(lt, data, s)
	if d.joinFrags {
		d.frags.join(s)
	}
}

func (d *Decoder) decode(lt packet.LinkType, data []byte, s *Summary) {
	st := d.outer
	first, off, res := layers.LayerTypeEthernet, 0, linkOK
	if lt != packet.LinkTypeEthernet {
		if lt == packet.LinkTypeRadiotap {
			if d.radio == nil {
				d.radio = &radio{}
			}
			first, off, res = d.radio.start(data, s)
		} else {
			first, off, res = linkStart(lt, data, s)
		}
		switch res {
		case linkShort:
			s.Flags |= FlagTruncated
			s.Stop = linkLayerType(lt)
			return
		case linkUnsupported, linkUnknown:
			s.Flags |= FlagUnsupported
			return
		case linkDone:
			return
		}
	}
	p, stop, err := st.parse(first, data[off:])
	last := st.fill(s)
	d.finish(s, p, last, stop, err)
	if err != nil {
		return
	}
	if stop == layers.LayerTypeOSPF {
		st.ospf(s, last)
		return
	}

	// One level of encapsulation: decode the inner packet with the second
	// set of layers, keeping the outer addresses as the tunnel's.
	var payload []byte
	switch last {
	case layers.LayerTypeVXLAN:
		s.Tunnel, s.VNI = TunnelVXLAN, st.vxlan.VNI
		first, payload = layers.LayerTypeEthernet, st.vxlan.Payload
	case layers.LayerTypeGRE:
		g := &st.gre.GRE
		s.Tunnel, s.VNI, s.GREProto = TunnelGRE, g.Key, uint16(g.Protocol)
		var shim int
		shim, first = greInner(uint16(g.Protocol), g.SeqPresent, g.Payload)
		payload = g.Payload[min(shim, len(g.Payload)):]
		if first == gopacket.LayerTypeZero {
			first = g.NextLayerType() // unsupported, for the summary's note
		}
	case layers.LayerTypeIPv4, layers.LayerTypeIPv6, layers.LayerTypeIPv6Routing,
		layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Fragment:
		first = st.nextOf(last)
		if first != layers.LayerTypeIPv4 && first != layers.LayerTypeIPv6 {
			return
		}
		s.Tunnel = TunnelIPIP
		payload = st.lastPayload(last)
	default:
		return
	}
	s.OuterSrc, s.OuterDst = s.SrcAddr, s.DstAddr
	if len(payload) == 0 {
		if last == layers.LayerTypeGRE && st.gre.Protocol == 0 {
			s.Flags |= FlagKeepalive
		}
		return
	}
	if first != layers.LayerTypeEthernet && first != layers.LayerTypeIPv4 && first != layers.LayerTypeIPv6 {
		s.Flags |= FlagUnsupported
		s.Stop = first
		return
	}
	in := d.inner
	// The inner packet replaces the outer one in the summary; clear what
	// the outer transport set, and the outer addresses when the inner
	// packet is a frame that may not be IP.
	s.IPProto, s.SrcPort, s.DstPort, s.PayloadLen = 0, 0, 0, 0
	s.Flags &^= FlagFragment
	s.FragOff, s.FragID, s.MoreFrag = 0, 0, false
	if first == layers.LayerTypeEthernet {
		s.Net, s.SrcAddr, s.DstAddr, s.TTL = NetNone, netip.Addr{}, netip.Addr{}, 0
	}
	p, stop, err = in.parse(first, payload)
	last = in.fill(s)
	d.finish(s, p, last, stop, err)
	switch {
	case err != nil:
	case stop == layers.LayerTypeOSPF:
		in.ospf(s, last)
	case last == layers.LayerTypeGRE && in.gre.Protocol == 0 && len(in.gre.Payload) == 0:
		s.Flags |= FlagKeepalive // a keepalive comes back through the tunnel
	}
}

// ospf reads the OSPF header that follows IP layer last: gopacket's OSPF
// decoder is not a DecodingLayer, and the summary needs only the version,
// the packet type and the router.
func (st *stack) ospf(s *Summary, last gopacket.LayerType) {
	p := st.lastPayload(last)
	if len(p) < 8 || p[0] != 2 && p[0] != 3 {
		return // leave it unsupported
	}
	s.OSPFVer, s.OSPFType = p[0], p[1]
	s.OSPFRouter = [4]byte(p[4:8])
	if s.Stop == layers.LayerTypeOSPF {
		s.Flags &^= FlagUnsupported
		s.Stop = 0
	}
}

// greInner finds the packet a GRE header of protocol proto carries at the
// start of payload: the length of any header in between (ERSPAN, Cisco
// MetaData, WCCP, PPP, an MPLS label stack) and the inner packet's first
// layer (Ethernet, IPv4 or IPv6), or LayerTypeZero for anything else
// (keepalives, NHRP, compressed PPP).
func greInner(proto uint16, seq bool, payload []byte) (shim int, first gopacket.LayerType) {
	ipByNibble := func(off int) (int, gopacket.LayerType) {
		if off < len(payload) {
			switch payload[off] >> 4 {
			case 4:
				return off, layers.LayerTypeIPv4
			case 6:
				return off, layers.LayerTypeIPv6
			}
		}
		return off, gopacket.LayerTypeZero
	}
	switch proto {
	case 0x0800:
		return 0, layers.LayerTypeIPv4
	case 0x86dd:
		return 0, layers.LayerTypeIPv6
	case 0x6558: // transparent Ethernet bridging
		return 0, layers.LayerTypeEthernet
	case 0x88be: // ERSPAN: type II has an 8-byte header and a GRE sequence; type I neither
		if seq {
			return 8, layers.LayerTypeEthernet
		}
		return 0, layers.LayerTypeEthernet
	case 0x22eb: // ERSPAN type III: 12 bytes, 8 more with the O flag
		if len(payload) >= 12 && payload[11]&1 != 0 {
			return 20, layers.LayerTypeEthernet
		}
		return 12, layers.LayerTypeEthernet
	case 0x8909: // Cisco MetaData: EtherType, version, length in words after the first
		if len(payload) < 4 {
			return 0, gopacket.LayerTypeZero
		}
		shim = 4 + 4*int(payload[3])
		switch uint16(payload[0])<<8 | uint16(payload[1]) {
		case 0x0800:
			return shim, layers.LayerTypeIPv4
		case 0x86dd:
			return shim, layers.LayerTypeIPv6
		}
		return shim, gopacket.LayerTypeZero
	case 0x883e: // WCCP: version 2 adds a 4-byte redirect header
		if s, lt := ipByNibble(0); lt == layers.LayerTypeIPv4 {
			return s, lt
		}
		return ipByNibble(4)
	case 0x880b: // PPP (PPTP), address and control and the protocol maybe compressed
		off, p, ok := pppHeader(payload)
		if !ok {
			return off, gopacket.LayerTypeZero
		}
		switch p {
		case 0x21:
			return off, layers.LayerTypeIPv4
		case 0x57:
			return off, layers.LayerTypeIPv6
		}
		return off, gopacket.LayerTypeZero
	case 0x8847, 0x8848: // MPLS: the label stack, then IP
		for off := 0; off+4 <= len(payload) && off < 64; off += 4 {
			if payload[off+2]&1 != 0 { // bottom of stack
				return ipByNibble(off + 4)
			}
		}
	}
	return 0, gopacket.LayerTypeZero
}

// finish records how a parse that ended after layer last went.
func (d *Decoder) finish(s *Summary, p *gopacket.DecodingLayerParser, last, stop gopacket.LayerType, err error) {
	truncated := p != nil && p.Truncated
	// A short first fragment is expected, and so is a snaplen cut.
	lengthsOK := s.Flags&(FlagSnap|FlagFragment) != 0
	if err == nil {
		switch last {
		case layers.LayerTypeTCP, layers.LayerTypeUDP, layers.LayerTypeSCTP,
			layers.LayerTypeICMPv4, layers.LayerTypeICMPv6, layers.LayerTypeARP:
			// Whatever follows a transport header is payload.
			stop = gopacket.LayerTypeZero
		}
	}
	switch {
	case err != nil:
		s.Stop, s.Err = stop, err
		switch {
		case strings.HasPrefix(err.Error(), "panic"):
			s.Flags |= FlagPanic | FlagMalformed
		case truncated || s.Flags&FlagSnap != 0:
			s.Flags |= FlagTruncated
		default:
			s.Flags |= FlagMalformed
		}
	case stop != gopacket.LayerTypeZero:
		s.Stop = stop
		switch stop {
		case gopacket.LayerTypeFragment, gopacket.LayerTypePayload:
		default:
			s.Flags |= FlagUnsupported
		}
		if truncated && !lengthsOK {
			s.Flags |= FlagTruncated
		}
	case truncated && !lengthsOK:
		// A length field claims more than the frame holds.
		s.Flags |= FlagTruncated
	}
}

// lastPayload returns the payload of the IP layer (or extension) lt.
func (st *stack) lastPayload(lt gopacket.LayerType) []byte {
	switch lt {
	case layers.LayerTypeIPv4:
		return st.ip4.Payload
	case layers.LayerTypeIPv6:
		return st.ip6.Payload
	case layers.LayerTypeIPv6Fragment:
		return st.frag6.Payload
	}
	return st.ip6x.Payload
}

// fill copies the decoded layers into s and returns the last layer type.
func (st *stack) fill(s *Summary) gopacket.LayerType {
	var last gopacket.LayerType
	for _, lt := range st.decoded {
		last = lt
		switch lt {
		case layers.LayerTypeEthernet:
			copy(s.SrcMAC[:], st.eth.SrcMAC)
			copy(s.DstMAC[:], st.eth.DstMAC)
			s.EtherType = uint16(st.eth.EthernetType)
		case layers.LayerTypeDot1Q:
			s.EtherType = uint16(st.vlan.Type)
			if st.vlan.Type < 0x600 {
				s.EtherType = 0 // 802.3 length: LLC follows
			}
		case layers.LayerTypeARP:
			a := &st.arp
			s.Net = NetARP
			s.ARPOp = a.Operation
			copy(s.ARPSender[:], a.SourceHwAddress)
			s.SrcAddr = addrFrom(a.SourceProtAddress)
			s.DstAddr = addrFrom(a.DstProtAddress)
		case layers.LayerTypeIPv4:
			ip := &st.ip4.IPv4
			s.Net = NetIPv4
			s.SrcAddr, s.DstAddr = addrFrom(ip.SrcIP), addrFrom(ip.DstIP)
			s.TTL = ip.TTL
			s.IPProto = uint8(ip.Protocol)
			if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
				s.Flags |= FlagFragment
				s.FragOff = ip.FragOffset * 8
				s.FragID = uint32(ip.Id)
				s.MoreFrag = ip.Flags&layers.IPv4MoreFragments != 0
			}
		case layers.LayerTypeIPv6:
			ip := &st.ip6.IPv6
			s.Net = NetIPv6
			s.SrcAddr, s.DstAddr = addrFrom(ip.SrcIP), addrFrom(ip.DstIP)
			s.TTL = ip.HopLimit
			s.IPProto = uint8(ip.NextHeader)
			if ip.HopByHop != nil {
				s.IPProto = uint8(ip.HopByHop.NextHeader)
			}
		case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
			s.IPProto = uint8(st.ip6x.IPv6ExtensionSkipper.NextHeader)
		case layers.LayerTypeIPv6Fragment:
			f := &st.frag6.IPv6Fragment
			s.IPProto = uint8(f.NextHeader)
			if f.FragmentOffset != 0 || f.MoreFragments {
				s.Flags |= FlagFragment
				s.FragOff = f.FragmentOffset * 8
				s.FragID = f.Identification
				s.MoreFrag = f.MoreFragments
			}
		case layers.LayerTypeTCP:
			t := &st.tcp.TCP
			s.IPProto = ProtoTCP
			s.SrcPort, s.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
			s.Seq, s.Ack, s.Win = t.Seq, t.Ack, t.Window
			if len(t.Contents) > 13 {
				s.TCPFlags = t.Contents[13]
			}
			s.PayloadLen = len(t.Payload)
			parseTCPApp(t.Payload, s)
		case layers.LayerTypeUDP:
			u := &st.udp.UDP
			s.IPProto = ProtoUDP
			s.SrcPort, s.DstPort = uint16(u.SrcPort), uint16(u.DstPort)
			s.PayloadLen = len(u.Payload)
			parseUDPApp(u.Payload, s)
		case layers.LayerTypeSCTP:
			s.IPProto = ProtoSCTP
			s.SrcPort, s.DstPort = uint16(st.sctp.SrcPort), uint16(st.sctp.DstPort)
			s.PayloadLen = len(st.sctp.Payload)
		case layers.LayerTypeICMPv4:
			i := &st.icmp4
			s.IPProto = ProtoICMP
			s.ICMPType, s.ICMPCode = i.TypeCode.Type(), i.TypeCode.Code()
			s.ICMPID, s.ICMPSeq = i.Id, i.Seq
			s.PayloadLen = len(i.Payload)
			switch s.ICMPType {
			case 3, 4, 5, 11, 12: // errors: the offending packet's start follows
				s.quoted(i.Payload)
			}
		case layers.LayerTypeICMPv6:
			i := &st.icmp6
			s.IPProto = ProtoICMPv6
			s.ICMPType, s.ICMPCode = i.TypeCode.Type(), i.TypeCode.Code()
			s.PayloadLen = len(i.Payload)
			p := i.Payload
			switch s.ICMPType {
			case 128, 129: // echo
				if len(p) >= 4 {
					s.ICMPID = uint16(p[0])<<8 | uint16(p[1])
					s.ICMPSeq = uint16(p[2])<<8 | uint16(p[3])
				}
			case 135, 136: // neighbor solicitation / advertisement
				if len(p) >= 20 {
					s.ICMPTarget = addrFrom(p[4:20])
				}
			case 1, 2, 3, 4: // errors: 4 bytes, then the offending packet's start
				if len(p) >= 4 {
					s.quoted(p[4:])
				}
			}
		case layers.LayerTypeGRE:
			s.IPProto = ProtoGRE
		}
	}
	if st.vlan.n > 0 {
		s.NVLAN = uint8(min(st.vlan.n, 255))
		s.VLAN = st.vlan.ids
	}
	st.rawPorts(s, last)
	return last
}

// rawPorts takes the ports of a TCP, UDP or SCTP header that did not
// decode (cut short by the snapshot length, or malformed) from its first 4
// bytes, so that the packet stays in its connection's flow, as tcpdump
// prints the ports of a cut header. The kernel's flow counts key packets
// the same way.
func (st *stack) rawPorts(s *Summary, last gopacket.LayerType) {
	switch last {
	case layers.LayerTypeIPv4, layers.LayerTypeIPv6, layers.LayerTypeIPv6HopByHop,
		layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Fragment:
	default:
		return
	}
	if !s.portsExpected() {
		return
	}
	// A hop-by-hop header decoded with IPv6 is not in decoded (IPv6's
	// payload starts after it); one after another extension header is the
	// extension skipper's.
	if p := st.lastPayload(last); len(p) >= 4 {
		s.SrcPort = uint16(p[0])<<8 | uint16(p[1])
		s.DstPort = uint16(p[2])<<8 | uint16(p[3])
		s.rawPorts = true
	}
}

// addrFrom converts a 4- or 16-byte address; anything else is invalid.
func addrFrom(b []byte) netip.Addr {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b))
	case 16:
		return netip.AddrFrom16([16]byte(b))
	}
	return netip.Addr{}
}
