package decode

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Flags record how decoding went and what kind of packet it was.
type Flags uint16

// Summary flags.
const (
	// FlagSnap: fewer bytes were captured than were on the wire (snaplen).
	// This is normal and not an error.
	FlagSnap Flags = 1 << iota
	// FlagTruncated: a header ran past the captured bytes, or a length
	// field claims more bytes than the frame holds.
	FlagTruncated
	// FlagMalformed: a header failed to decode for another reason.
	FlagMalformed
	// FlagUnsupported: decoding stopped at a layer this package does not
	// decode (see Summary.Stop).
	FlagUnsupported
	// FlagFragment: an IPv4 or IPv6 fragment; non-first fragments carry no
	// transport header.
	FlagFragment
	// FlagPanic: a decoder panicked and was recovered.
	FlagPanic
	// FlagTextCut: the application text was longer than Summary keeps.
	FlagTextCut
	// FlagKeepalive: a GRE keepalive (a GRE header carrying nothing, or
	// such a packet coming back through the tunnel).
	FlagKeepalive
)

// Net is the network-layer kind of a packet.
type Net uint8

// Network kinds.
const (
	NetNone Net = iota // no network layer decoded (non-IP, non-ARP)
	NetIPv4
	NetIPv6
	NetARP
)

// Tunnel is the encapsulation a packet was carried in.
type Tunnel uint8

// Tunnel kinds. Only one level of encapsulation is decoded.
const (
	TunnelNone Tunnel = iota
	TunnelVXLAN
	TunnelGRE
	TunnelIPIP // IPv4 or IPv6 directly inside IPv4 or IPv6
)

// String returns the tunnel name.
func (t Tunnel) String() string {
	switch t {
	case TunnelVXLAN:
		return "VXLAN"
	case TunnelGRE:
		return "GRE"
	case TunnelIPIP:
		return "IPIP"
	}
	return ""
}

// App is the application protocol recognised from the first payload bytes.
type App uint8

// Application hints.
const (
	AppNone App = iota
	AppDNS
	AppTLS
	AppHTTP
)

// TCP flag bits as in the TCP header's flags byte.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// IP protocol numbers used in Summary.IPProto.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoGRE    = 47
	ProtoICMPv6 = 58
	ProtoOSPF   = 89
	ProtoSCTP   = 132
)

// textCap is how many bytes of application text a Summary keeps.
const textCap = 120

// Summary is the decoded essence of one frame. It has a fixed size and is
// filled in place by Decoder.Decode without allocating; the display
// strings are built only when Info, Line, Src, Dst or Proto are called.
// Raw text fields hold packet bytes and are sanitized when displayed.
type Summary struct {
	Len    int // original length on the wire
	CapLen int // captured bytes
	Flags  Flags
	Stop   gopacket.LayerType // layer where decoding stopped (unsupported, truncated or malformed)
	Err    error              // decode error behind FlagTruncated or FlagMalformed, if any
	// rawPorts: SrcPort and DstPort were read from a transport header
	// that did not decode (stack.rawPorts); nothing else of it is known.
	rawPorts bool
	// fragJoined: a fragment after the first, given the ports of its
	// datagram's first fragment (fragTable), so it counts in that flow.
	fragJoined bool

	// Link layer (of the innermost frame when tunnelled). Link is the
	// outer frame's link type; on types other than Ethernet, EtherType
	// holds the protocol field of their header (an address family on
	// NULL and LOOP, a PPP protocol, the IP version on RAW) when what it
	// carries is not decoded.
	Link           packet.LinkType
	Dot11Type      layers.Dot11Type // 802.11 frame type (radiotap frames)
	SrcMAC, DstMAC [6]byte
	EtherType      uint16    // after VLAN tags; 0 for 802.3 length frames (LLC)
	VLAN           [2]uint16 // outer then inner 802.1Q/802.1ad tag
	NVLAN          uint8     // number of VLAN tags seen

	// Network layer. For ARP, Src and Dst are the sender and target
	// protocol addresses.
	Net      Net
	IPProto  uint8 // IP protocol of the transport (after IPv6 extension headers)
	TTL      uint8 // IPv4 TTL or IPv6 hop limit
	SrcAddr  netip.Addr
	DstAddr  netip.Addr
	FragOff  uint16 // fragment offset in bytes
	FragID   uint32
	MoreFrag bool

	// Transport layer.
	SrcPort, DstPort uint16
	TCPFlags         uint8
	Seq, Ack         uint32
	Win              uint16
	PayloadLen       int // transport payload bytes as captured
	ICMPType         uint8
	ICMPCode         uint8
	ICMPID, ICMPSeq  uint16
	ICMPTarget       netip.Addr // ICMPv6 neighbor solicitation/advertisement target
	// An ICMP error's quoted packet (the start of the packet that caused
	// it): its protocol, addresses and ports; Quoted is false without one.
	Quoted               bool
	QuotedProto          uint8
	QuotedSrc, QuotedDst netip.Addr
	QuotedSport          uint16
	QuotedDport          uint16

	// OSPF: version (0 when not OSPF), packet type and router ID.
	OSPFVer, OSPFType uint8
	OSPFRouter        [4]byte

	// ARP.
	ARPOp     uint16
	ARPSender [6]byte // sender hardware address

	// Tunnel: the outer endpoints, when the fields above describe the inner packet.
	Tunnel             Tunnel
	VNI                uint32 // VXLAN network identifier or GRE key
	GREProto           uint16 // EtherType carried by GRE
	OuterSrc, OuterDst netip.Addr

	// Application hint.
	App        App
	DNSID      uint16
	DNSResp    bool
	DNSRcode   uint8
	DNSQType   uint16
	DNSAnswers uint16
	DNSAnswer  netip.Addr // first A/AAAA answer
	TLSRecord  uint8      // TLS record content type
	TLSHS      uint8      // TLS handshake type, when TLSRecord is 22
	TLSVers    uint16     // TLS record version
	text       [textCap]byte
	textLen    uint8
}

// Text returns the application text (DNS question name, TLS SNI or HTTP
// first line) made safe for the terminal.
func (s *Summary) Text() string { return Printable(s.text[:s.textLen]) }

// rawText returns the unsanitized application text.
func (s *Summary) rawText() []byte { return s.text[:s.textLen] }

// setText stores b as the application text, cutting it to textCap.
func (s *Summary) setText(b []byte) {
	if len(b) > textCap {
		b = b[:textCap]
		s.Flags |= FlagTextCut
	}
	s.textLen = uint8(copy(s.text[:], b))
}

// addText appends b to the application text, cutting it to textCap.
func (s *Summary) addText(b []byte) {
	n := copy(s.text[s.textLen:], b)
	if n < len(b) {
		s.Flags |= FlagTextCut
	}
	s.textLen += uint8(n)
}

// Proto returns the highest protocol recognised, e.g. "TCP", "DNS",
// "TLS", "ARP", "IPv6" or an EtherType name.
func (s *Summary) Proto() string {
	if name := appName(s.App, s.SrcPort == 5353 || s.DstPort == 5353); name != "" {
		return name
	}
	switch s.Net {
	case NetARP:
		return "ARP"
	case NetIPv4, NetIPv6:
		if s.Flags&FlagFragment != 0 && s.FragOff != 0 {
			return s.netName()
		}
		return ipProtoName(s.IPProto)
	}
	if isLinkHeader(s.Stop) {
		return linkHeaderName(s.Stop) // not even the link-layer header decoded
	}
	switch s.Link {
	case packet.LinkTypeCHDLC:
		if n := chdlcProtoName(s.EtherType); n != "" {
			return n
		}
		return etherTypeName(s.EtherType)
	case packet.LinkTypeEthernet, packet.LinkTypeSLL, packet.LinkTypeSLL2:
		return etherTypeName(s.EtherType) // HasEtherType
	case packet.LinkTypePPP:
		if n := pppProtoName(s.EtherType); n != "" {
			return n
		}
	}
	return linkName(s.Link)
}

func (s *Summary) netName() string {
	if s.Net == NetIPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// hasPorts reports whether the transport carries ports.
func (s *Summary) hasPorts() bool {
	return s.portsExpected() && (s.SrcPort != 0 || s.DstPort != 0)
}

// portsExpected reports whether the packet's transport header, if any,
// starts with ports: TCP, UDP or SCTP, and not a fragment after the first.
func (s *Summary) portsExpected() bool {
	return (s.fragJoined || !(s.Flags&FlagFragment != 0 && s.FragOff != 0)) && portsProto(s.IPProto)
}

// transportDecoded reports whether the packet has ports from a transport
// header that decoded (not rawPorts): its other fields are known too.
func (s *Summary) transportDecoded() bool { return s.hasPorts() && !s.rawPorts }

// Src returns the source endpoint: address and port, or a MAC address for
// frames without a network layer.
func (s *Summary) Src() string {
	return s.endpoint(s.SrcAddr, s.SrcPort, s.SrcMAC)
}

// Dst returns the destination endpoint, like Src.
func (s *Summary) Dst() string {
	return s.endpoint(s.DstAddr, s.DstPort, s.DstMAC)
}

func (s *Summary) endpoint(a netip.Addr, port uint16, mac [6]byte) string {
	if !a.IsValid() {
		return string(appendMAC(nil, mac))
	}
	if s.Net != NetARP && s.hasPorts() {
		return netip.AddrPortFrom(a, port).String()
	}
	return a.String()
}

// Line returns a one-line summary: time, protocol, source -> destination,
// length and info.
func (s *Summary) Line(ts time.Time) string {
	b := make([]byte, 0, 128)
	b = ts.AppendFormat(b, "15:04:05.000000")
	b = append(b, ' ')
	b = append(b, s.Proto()...)
	b = append(b, ' ')
	b = append(b, s.Src()...)
	b = append(b, " -> "...)
	b = append(b, s.Dst()...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(s.Len), 10)
	b = append(b, ' ')
	b = s.appendInfo(b)
	return string(b)
}

// Info returns the Wireshark-style info column: TCP flags, sequence
// numbers, ICMP type, DNS question, TLS SNI, HTTP line, ARP question and
// any decoding notes.
func (s *Summary) Info() string { return string(s.appendInfo(make([]byte, 0, 96))) }

func (s *Summary) appendInfo(b []byte) []byte {
	start := len(b)
	sep := func() {
		if len(b) > start {
			b = append(b, ' ')
		}
	}
	frag := s.Flags&FlagFragment != 0
	if frag {
		b = append(b, "frag id="...)
		b = strconv.AppendUint(b, uint64(s.FragID), 10)
		b = append(b, " off="...)
		b = strconv.AppendUint(b, uint64(s.FragOff), 10)
		if s.MoreFrag {
			b = append(b, '+')
		}
	}
	switch s.Net {
	case NetARP:
		sep()
		b = s.appendARP(b)
	case NetIPv4, NetIPv6:
		if frag && s.FragOff != 0 {
			break
		}
		switch s.IPProto {
		case ProtoTCP:
			if !s.transportDecoded() {
				break
			}
			sep()
			b = append(b, '[')
			b = appendTCPFlags(b, s.TCPFlags)
			b = append(b, "] seq="...)
			b = strconv.AppendUint(b, uint64(s.Seq), 10)
			if s.TCPFlags&TCPAck != 0 {
				b = append(b, " ack="...)
				b = strconv.AppendUint(b, uint64(s.Ack), 10)
			}
			b = append(b, " win="...)
			b = strconv.AppendUint(b, uint64(s.Win), 10)
			b = append(b, " len="...)
			b = strconv.AppendInt(b, int64(s.PayloadLen), 10)
		case ProtoUDP, ProtoSCTP:
			if !s.transportDecoded() {
				break
			}
			sep()
			b = append(b, "len="...)
			b = strconv.AppendInt(b, int64(s.PayloadLen), 10)
		case ProtoICMP, ProtoICMPv6:
			if s.ICMPType == 0 && s.ICMPCode == 0 && s.Stop != 0 {
				break
			}
			sep()
			b = s.appendICMP(b)
		case ProtoOSPF:
			if s.OSPFVer == 0 {
				break
			}
			sep()
			b = append(b, "OSPFv"...)
			b = strconv.AppendUint(b, uint64(s.OSPFVer), 10)
			b = append(b, ' ')
			b = append(b, ospfTypeName(s.OSPFType)...)
			b = append(b, " router "...)
			b = netip.AddrFrom4(s.OSPFRouter).AppendTo(b)
		case ProtoGRE:
			if s.Flags&FlagKeepalive != 0 {
				sep()
				b = append(b, "keepalive"...)
			}
		}
	case NetNone:
		if isLinkHeader(s.Stop) {
			break // no link-layer header
		}
		if !s.Link.HasEtherType() {
			sep()
			b = s.appendLinkInfo(b)
			break
		}
		sep()
		b = append(b, "ethertype 0x"...)
		b = appendHex16(b, s.EtherType)
		n := etherTypeName(s.EtherType)
		if c := chdlcProtoName(s.EtherType); s.Link == packet.LinkTypeCHDLC && c != "" {
			n = c
		}
		if n[0] != '0' {
			b = append(b, " ("...)
			b = append(b, n...)
			b = append(b, ')')
		}
	}
	if s.App != AppNone {
		sep()
		b = s.appendApp(b)
	}
	if s.Tunnel != TunnelNone {
		sep()
		b = append(b, '(')
		b = append(b, s.Tunnel.String()...)
		switch {
		case s.Tunnel == TunnelVXLAN:
			b = append(b, " vni="...)
			b = strconv.AppendUint(b, uint64(s.VNI), 10)
		case s.Tunnel == TunnelGRE:
			b = append(b, " proto=0x"...)
			b = appendHex16(b, s.GREProto)
			if s.VNI != 0 {
				b = append(b, " key="...)
				b = strconv.AppendUint(b, uint64(s.VNI), 10)
			}
		}
		if s.OuterSrc.IsValid() {
			b = append(b, ' ')
			b = s.OuterSrc.AppendTo(b)
			b = append(b, " > "...)
			b = s.OuterDst.AppendTo(b)
		}
		b = append(b, ')')
	}
	if s.NVLAN > 0 {
		sep()
		b = append(b, "vlan="...)
		for i := 0; i < int(s.NVLAN) && i < len(s.VLAN); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(s.VLAN[i]), 10)
		}
	}
	switch {
	case s.Flags&FlagPanic != 0:
		sep()
		b = append(b, "[decoder panic]"...)
	case s.Flags&FlagMalformed != 0:
		sep()
		b = append(b, "[malformed "...)
		b = appendLayerName(b, s.Stop)
		if s.Err != nil {
			b = append(b, ": "...)
			b = appendPrintable(b, []byte(s.Err.Error()))
		}
		b = append(b, ']')
	case s.Flags&FlagTruncated != 0:
		sep()
		b = append(b, "[truncated"...)
		if s.Stop != 0 {
			b = append(b, ' ')
			b = appendLayerName(b, s.Stop)
		}
		b = append(b, ']')
	case s.Flags&FlagUnsupported != 0 && s.Net != NetNone && s.Stop != 0: // non-IP: the EtherType says it
		sep()
		b = append(b, '[')
		b = appendLayerName(b, s.Stop)
		b = append(b, ']')
	}
	return b
}

func appendLayerName(b []byte, lt gopacket.LayerType) []byte {
	if lt == gopacket.LayerTypeZero {
		return append(b, "?"...)
	}
	return appendPrintable(b, []byte(lt.String()))
}

func (s *Summary) appendARP(b []byte) []byte {
	switch s.ARPOp {
	case 1:
		b = append(b, "who-has "...)
		b = appendAddr(b, s.DstAddr)
		b = append(b, " tell "...)
		b = appendAddr(b, s.SrcAddr)
	case 2:
		b = appendAddr(b, s.SrcAddr)
		b = append(b, " is-at "...)
		b = appendMAC(b, s.ARPSender)
	default:
		b = append(b, "op "...)
		b = strconv.AppendUint(b, uint64(s.ARPOp), 10)
	}
	return b
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, '?')
	}
	return a.AppendTo(b)
}

func (s *Summary) appendICMP(b []byte) []byte {
	var name string
	if s.IPProto == ProtoICMPv6 {
		name = icmp6Name(s.ICMPType, s.ICMPCode)
	} else {
		name = icmp4Name(s.ICMPType, s.ICMPCode)
	}
	if name == "" {
		b = append(b, "type="...)
		b = strconv.AppendUint(b, uint64(s.ICMPType), 10)
		b = append(b, " code="...)
		b = strconv.AppendUint(b, uint64(s.ICMPCode), 10)
	} else {
		b = append(b, name...)
	}
	echo := s.IPProto == ProtoICMP && (s.ICMPType == 0 || s.ICMPType == 8) ||
		s.IPProto == ProtoICMPv6 && (s.ICMPType == 128 || s.ICMPType == 129)
	if echo {
		b = append(b, " id="...)
		b = strconv.AppendUint(b, uint64(s.ICMPID), 10)
		b = append(b, " seq="...)
		b = strconv.AppendUint(b, uint64(s.ICMPSeq), 10)
	}
	if s.ICMPTarget.IsValid() {
		b = append(b, ' ')
		b = s.ICMPTarget.AppendTo(b)
	}
	if s.Quoted {
		// What the error is about, as tcpdump prints it.
		b = append(b, " for "...)
		b = append(b, ipProtoName(s.QuotedProto)...)
		b = append(b, ' ')
		ports := portsProto(s.QuotedProto) && (s.QuotedSport != 0 || s.QuotedDport != 0)
		end := func(a netip.Addr, port uint16) {
			if ports {
				b = netip.AddrPortFrom(a, port).AppendTo(b)
			} else {
				b = a.AppendTo(b)
			}
		}
		end(s.QuotedSrc, s.QuotedSport)
		b = append(b, " > "...)
		end(s.QuotedDst, s.QuotedDport)
	}
	return b
}

// quoted reads the start of the packet an ICMP error quotes: an IPv4 or
// IPv6 header and, for TCP, UDP and SCTP, the ports after it.
func (s *Summary) quoted(p []byte) {
	var off int
	switch {
	case len(p) >= 20 && p[0]>>4 == 4:
		ihl := int(p[0]&0xf) * 4
		if ihl < 20 || len(p) < ihl {
			return
		}
		s.QuotedProto = p[9]
		s.QuotedSrc, s.QuotedDst = netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
		off = ihl
		if fo := int(p[6]&0x1f)<<8 | int(p[7]); fo != 0 {
			off = len(p) // a later fragment: no ports
		}
	case len(p) >= 40 && p[0]>>4 == 6:
		s.QuotedProto = p[6]
		s.QuotedSrc, s.QuotedDst = netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
		off = 40
	default:
		return
	}
	s.Quoted = true
	s.QuotedSport, s.QuotedDport = 0, 0
	if portsProto(s.QuotedProto) && len(p) >= off+4 {
		s.QuotedSport = uint16(p[off])<<8 | uint16(p[off+1])
		s.QuotedDport = uint16(p[off+2])<<8 | uint16(p[off+3])
	}
}

func (s *Summary) appendApp(b []byte) []byte {
	switch s.App {
	case AppDNS:
		b = append(b, "0x"...)
		b = appendHex16(b, s.DNSID)
		b = append(b, ' ')
		if s.textLen == 0 && s.DNSQType == 0 {
			if s.DNSResp {
				b = append(b, "response"...)
			} else {
				b = append(b, "query"...)
			}
		} else {
			b = append(b, dnsTypeName(s.DNSQType)...)
			if !s.DNSResp {
				b = append(b, '?')
			}
			b = append(b, ' ')
			b = s.appendTextTo(b)
		}
		if s.DNSResp {
			if s.DNSRcode != 0 {
				b = append(b, ' ')
				b = append(b, dnsRcodeName(s.DNSRcode)...)
			}
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(s.DNSAnswers), 10)
			b = append(b, " answers"...)
			if s.DNSAnswer.IsValid() {
				b = append(b, ' ')
				b = s.DNSAnswer.AppendTo(b)
			}
		}
	case AppTLS:
		b = append(b, tlsName(s.TLSRecord, s.TLSHS)...)
		if s.textLen > 0 {
			b = append(b, " SNI="...)
			b = s.appendTextTo(b)
		}
	case AppHTTP:
		b = s.appendTextTo(b)
	}
	return b
}

// appendTextTo appends the sanitized application text, marking a cut.
func (s *Summary) appendTextTo(b []byte) []byte {
	b = appendPrintable(b, s.rawText())
	if s.Flags&FlagTextCut != 0 {
		b = append(b, "..."...)
	}
	return b
}

func appendTCPFlags(b []byte, f uint8) []byte {
	n := len(b)
	for _, x := range [...]struct {
		bit uint8
		c   byte
	}{{TCPSyn, 'S'}, {TCPFin, 'F'}, {TCPRst, 'R'}, {TCPPsh, 'P'}, {TCPUrg, 'U'}, {TCPEce, 'E'}, {TCPCwr, 'W'}} {
		if f&x.bit != 0 {
			b = append(b, x.c)
		}
	}
	if f&TCPAck != 0 {
		b = append(b, '.')
	}
	if len(b) == n {
		b = append(b, "none"...)
	}
	return b
}

const hexDigits = "0123456789abcdef"

func appendHex16(b []byte, v uint16) []byte {
	return append(b, hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
}

func appendMAC(b []byte, m [6]byte) []byte {
	for i, c := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// appendLinkInfo says what the link-layer header of a frame other than
// Ethernet or cooked carries, when it is not decoded further.
func (s *Summary) appendLinkInfo(b []byte) []byte {
	switch s.Link {
	case packet.LinkTypeNull, packet.LinkTypeLoop:
		b = append(b, "address family "...)
		return strconv.AppendUint(b, uint64(s.EtherType), 10)
	case packet.LinkTypePPP:
		b = append(b, "PPP protocol 0x"...)
		b = appendHex16(b, s.EtherType)
		if n := pppProtoName(s.EtherType); n != "" {
			b = append(b, " ("...)
			b = append(b, n...)
			b = append(b, ')')
		}
		return b
	case packet.LinkTypeNFLOG:
		b = append(b, "NFLOG of address family "...)
		return strconv.AppendUint(b, uint64(s.EtherType), 10)
	case packet.LinkTypeRaw, packet.LinkTypeIPv4, packet.LinkTypeIPv6:
		b = append(b, "IP version "...)
		return strconv.AppendUint(b, uint64(s.EtherType), 10)
	case packet.LinkTypeRadiotap:
		return s.appendDot11(b)
	}
	b = append(b, "link type "...)
	b = strconv.AppendUint(b, uint64(s.Link), 10)
	return append(b, ", not decoded"...)
}
