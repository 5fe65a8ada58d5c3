package decode

import (
	"encoding/binary"
	"strconv"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Link-layer headers other than Ethernet are read by hand: they are a few
// fixed fields, and what follows them is decoded by the same parsers as
// an Ethernet frame's payload.

// Layer types for the link-layer headers gopacket has none for, so that a
// summary stopped in one can say which.
var (
	layerTypeCHDLC = gopacket.RegisterLayerType(4101, gopacket.LayerTypeMetadata{Name: "CiscoHDLC"})
	layerTypeNFLOG = gopacket.RegisterLayerType(4102, gopacket.LayerTypeMetadata{Name: "NFLOG"})
)

const (
	sllHdrLen  = 16
	sll2HdrLen = 20
)

// linkResult says how the link-layer header of a frame was read.
type linkResult uint8

const (
	linkOK          linkResult = iota // first and off say where the payload starts
	linkShort                         // the header is cut short
	linkUnsupported                   // the protocol it carries is not decoded (in s.EtherType)
	linkUnknown                       // a link type this package does not read
	linkDone                          // nothing follows that is decoded (an 802.11 management frame)
)

// linkStart reads the link-layer header of a frame of link type lt into s
// and returns the layer its payload starts with and where.
func linkStart(lt packet.LinkType, data []byte, s *Summary) (first gopacket.LayerType, off int, res linkResult) {
	switch lt {
	case packet.LinkTypeEthernet:
		return layers.LayerTypeEthernet, 0, linkOK
	case packet.LinkTypeRaw, packet.LinkTypeIPv4, packet.LinkTypeIPv6:
		// The version says it, on IPV4 and IPV6 too (as tcpdump reads them).
		if len(data) == 0 {
			return layers.LayerTypeIPv4, 0, linkShort
		}
		switch data[0] >> 4 {
		case 4:
			return layers.LayerTypeIPv4, 0, linkOK
		case 6:
			return layers.LayerTypeIPv6, 0, linkOK
		}
		s.EtherType = uint16(data[0] >> 4)
		return 0, 0, linkUnsupported
	case packet.LinkTypeCHDLC:
		if len(data) < 4 {
			return 0, 0, linkShort
		}
		return etherTypeStart(binary.BigEndian.Uint16(data[2:4]), 4, s)
	case packet.LinkTypeNFLOG:
		return nflogStart(data, s)
	case packet.LinkTypeNull, packet.LinkTypeLoop:
		if len(data) < 4 {
			return 0, 0, linkShort
		}
		fam := binary.BigEndian.Uint32(data)
		if lt == packet.LinkTypeNull && fam&0xffff0000 != 0 {
			// Host order, of whichever host wrote it (tcpdump's test).
			fam = binary.LittleEndian.Uint32(data)
		}
		switch fam {
		case 2:
			return layers.LayerTypeIPv4, 4, linkOK
		case 10, 24, 28, 30: // AF_INET6 of Linux, the BSDs, FreeBSD, Darwin
			return layers.LayerTypeIPv6, 4, linkOK
		}
		s.EtherType = uint16(min(fam, 0xffff))
		return 0, 4, linkUnsupported
	case packet.LinkTypePPP:
		off, proto, ok := pppHeader(data)
		if !ok {
			return 0, 0, linkShort
		}
		switch proto {
		case 0x21:
			return layers.LayerTypeIPv4, off, linkOK
		case 0x57:
			return layers.LayerTypeIPv6, off, linkOK
		}
		s.EtherType = proto
		return 0, off, linkUnsupported
	case packet.LinkTypeSLL:
		if len(data) < sllHdrLen {
			return 0, 0, linkShort
		}
		if n := binary.BigEndian.Uint16(data[4:6]); n == 6 {
			copy(s.SrcMAC[:], data[6:12])
		}
		return etherTypeStart(binary.BigEndian.Uint16(data[14:16]), sllHdrLen, s)
	case packet.LinkTypeSLL2:
		if len(data) < sll2HdrLen {
			return 0, 0, linkShort
		}
		if data[11] == 6 {
			copy(s.SrcMAC[:], data[12:18])
		}
		return etherTypeStart(binary.BigEndian.Uint16(data[0:2]), sll2HdrLen, s)
	}
	return 0, 0, linkUnknown
}

// nflogStart finds the packet in a Linux NFLOG record: a 4-byte header
// (address family, version, group) and type-length-value attributes, the
// lengths in host order (of the host that wrote it), padded to 4 bytes;
// the packet is attribute 9.
func nflogStart(data []byte, s *Summary) (gopacket.LayerType, int, linkResult) {
	if len(data) < 4 {
		return 0, 0, linkShort
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if len(data) >= 6 && int(binary.LittleEndian.Uint16(data[4:6])) > len(data) {
		order = binary.BigEndian
	}
	fam := data[0]
	for off := 4; off+4 <= len(data); {
		n, typ := int(order.Uint16(data[off:])), order.Uint16(data[off+2:])
		if n < 4 {
			break
		}
		if typ == 9 {
			switch fam {
			case 2:
				return layers.LayerTypeIPv4, off + 4, linkOK
			case 10:
				return layers.LayerTypeIPv6, off + 4, linkOK
			}
			s.EtherType = uint16(fam)
			return 0, off + 4, linkUnsupported
		}
		off += (n + 3) &^ 3
	}
	return 0, len(data), linkShort
}

// etherTypeStart is where a payload of EtherType t begins to decode.
func etherTypeStart(t uint16, off int, s *Summary) (gopacket.LayerType, int, linkResult) {
	s.EtherType = t
	switch t {
	case 0x0800:
		return layers.LayerTypeIPv4, off, linkOK
	case 0x86dd:
		return layers.LayerTypeIPv6, off, linkOK
	case 0x0806:
		return layers.LayerTypeARP, off, linkOK
	case 0x8100, 0x88a8, 0x9100:
		return layers.LayerTypeDot1Q, off, linkOK
	}
	if t < 0x600 {
		s.EtherType = 0 // Linux's pseudo-types for 802.3 and 802.2 frames
	}
	return 0, off, linkUnsupported
}

// pppHeader reads a PPP header: the address and control bytes (ff 03)
// when present, and a one- or two-byte protocol. It returns the payload's
// offset and the protocol.
func pppHeader(b []byte) (off int, proto uint16, ok bool) {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		off = 2
	}
	if off >= len(b) {
		return off, 0, false
	}
	proto = uint16(b[off])
	if proto&1 == 0 { // an even first byte: the protocol takes two
		if off+2 > len(b) {
			return off, 0, false
		}
		proto = proto<<8 | uint16(b[off+1])
		off++
	}
	return off + 1, proto, true
}

// linkLayerType is gopacket's layer type for a link-layer header, for a
// summary's Stop and the detail pane.
func linkLayerType(lt packet.LinkType) gopacket.LayerType {
	switch lt {
	case packet.LinkTypeEthernet:
		return layers.LayerTypeEthernet
	case packet.LinkTypeNull, packet.LinkTypeLoop:
		return layers.LayerTypeLoopback
	case packet.LinkTypePPP:
		return layers.LayerTypePPP
	case packet.LinkTypeSLL:
		return layers.LayerTypeLinuxSLL
	case packet.LinkTypeSLL2:
		return layers.LayerTypeLinuxSLL2
	case packet.LinkTypeRadiotap:
		return layers.LayerTypeRadioTap
	case packet.LinkTypeRaw, packet.LinkTypeIPv4:
		return layers.LayerTypeIPv4
	case packet.LinkTypeIPv6:
		return layers.LayerTypeIPv6
	case packet.LinkTypeCHDLC:
		return layerTypeCHDLC
	case packet.LinkTypeNFLOG:
		return layerTypeNFLOG
	}
	return gopacket.LayerTypeZero
}

// isLinkHeader reports whether lt is a link-layer header's layer type: a
// summary stopped there decoded nothing above it.
func isLinkHeader(lt gopacket.LayerType) bool {
	switch lt {
	case layers.LayerTypeEthernet, layers.LayerTypeLoopback, layers.LayerTypePPP,
		layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL2, layers.LayerTypeRadioTap,
		layerTypeCHDLC, layerTypeNFLOG:
		return true
	}
	return false
}

// linkHeaderName names a link-layer header (isLinkHeader) for the
// protocol column.
func linkHeaderName(lt gopacket.LayerType) string {
	switch lt {
	case layers.LayerTypeEthernet:
		return "Ethernet"
	case layers.LayerTypeLoopback:
		return "Loopback"
	case layers.LayerTypePPP:
		return "PPP"
	case layers.LayerTypeLinuxSLL:
		return "Linux cooked"
	case layers.LayerTypeLinuxSLL2:
		return "Linux cooked v2"
	case layers.LayerTypeRadioTap:
		return "802.11"
	case layerTypeCHDLC:
		return "Cisco HDLC"
	case layerTypeNFLOG:
		return "NFLOG"
	}
	return lt.String()
}

// chdlcProtoName names what Cisco HDLC carries where its protocol field
// is not an EtherType's meaning.
func chdlcProtoName(p uint16) string {
	switch p {
	case 0x8035:
		return "SLARP"
	case 0xfefe:
		return "OSI"
	case 0x2000:
		return "CDP"
	}
	return ""
}

// pppProtoName names the PPP protocols a capture shows most.
func pppProtoName(p uint16) string {
	switch p {
	case 0xc021:
		return "LCP"
	case 0xc023:
		return "PAP"
	case 0xc223:
		return "CHAP"
	case 0x8021:
		return "IPCP"
	case 0x8057:
		return "IPV6CP"
	case 0x80fd:
		return "CCP"
	case 0x00fd:
		return "compressed"
	case 0x0281:
		return "MPLS"
	}
	return ""
}

// radio reads 802.11 frames after their radiotap header, with gopacket's
// decoding layers kept from frame to frame.
type radio struct {
	rt    layers.RadioTap
	dot11 layers.Dot11
	buf   []byte // a frame without its FCS, with room for one
}

// start reads the radiotap and 802.11 headers: the frame's type and
// addresses; a data frame's LLC/SNAP header gives what it carries.
func (r *radio) start(data []byte, s *Summary) (gopacket.LayerType, int, linkResult) {
	if err := r.rt.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		return 0, 0, linkShort
	}
	off := len(r.rt.Contents)
	body := data[off:]
	if len(r.rt.RadioTapValues) == 0 || !r.rt.RadioTapValues[0].Flags.FCS() {
		// gopacket's Dot11 takes the last 4 bytes for the FCS, always:
		// give it 4 more where the frame has none.
		r.buf = append(append(r.buf[:0], body...), 0, 0, 0, 0)
		body = r.buf
	}
	if err := r.dot11.DecodeFromBytes(body, gopacket.NilDecodeFeedback); err != nil {
		return 0, off, linkShort
	}
	d := &r.dot11
	s.Dot11Type = d.Type
	copy(s.DstMAC[:], d.Address1)
	copy(s.SrcMAC[:], d.Address2)
	if d.Type.MainType() != layers.Dot11TypeData || d.Flags.WEP() {
		return 0, off, linkDone
	}
	off += len(d.Contents)
	if off > len(data) {
		return 0, off, linkDone
	}
	llc := data[off:]
	if len(llc) < 8 || llc[0] != 0xaa || llc[1] != 0xaa || llc[2] != 0x03 {
		return 0, off, linkDone // a null function frame, or not SNAP
	}
	return etherTypeStart(binary.BigEndian.Uint16(llc[6:8]), off+8, s)
}

// appendDot11 names an 802.11 frame's type.
func (s *Summary) appendDot11(b []byte) []byte {
	return appendPrintable(b, []byte(s.Dot11Type.String()))
}

// A frame that is neither IP nor ARP, of a link type without an EtherType,
// is keyed by what its link-layer header says, in the key's EtherType,
// with the key's Proto (which only IP keys use otherwise) saying which
// header that is.
const (
	keyLinkFamily  = 1 + iota // EtherType: a loopback address family
	keyLinkPPP                // a PPP protocol
	keyLinkDot11              // an 802.11 frame type
	keyLinkVersion            // the IP version of a Raw IP packet that is neither
	keyLinkNFLOG              // an NFLOG record's address family
	keyLinkOther              // the link type, whose header is not read
	keyLinkCHDLC              // a Cisco HDLC protocol (an EtherType, but SLARP is not RARP)
)

// linkKey is the EtherType and Proto of the key of s (see keyLinkFamily).
func linkKey(s *Summary) (etherType uint16, proto uint8) {
	etherType, proto = linkKeyOf(s)
	switch etherType {
	case 0x0800, 0x86dd, 0x0806:
		// Never an IP or ARP key (FlowKey.IsIP): a header that claims
		// one (a hostile family or PPP protocol) and did not decode.
		etherType = 0xffff
	}
	return etherType, proto
}

func linkKeyOf(s *Summary) (etherType uint16, proto uint8) {
	if isLinkHeader(s.Stop) && s.Flags&FlagTruncated != 0 {
		return uint16(s.Link), keyLinkOther // the header is cut short
	}
	switch s.Link {
	case packet.LinkTypeNull, packet.LinkTypeLoop:
		return s.EtherType, keyLinkFamily
	case packet.LinkTypePPP:
		return s.EtherType, keyLinkPPP
	case packet.LinkTypeRadiotap:
		return uint16(s.Dot11Type), keyLinkDot11
	case packet.LinkTypeRaw, packet.LinkTypeIPv4, packet.LinkTypeIPv6:
		return s.EtherType, keyLinkVersion
	case packet.LinkTypeNFLOG:
		return s.EtherType, keyLinkNFLOG
	case packet.LinkTypeCHDLC:
		return s.EtherType, keyLinkCHDLC
	}
	return uint16(s.Link), keyLinkOther
}

// keyProtoName names the protocol of a key that is not IP.
func keyProtoName(etherType uint16, proto uint8) string {
	switch proto {
	case 0:
		return etherTypeName(etherType)
	case keyLinkFamily:
		return "Loopback"
	case keyLinkPPP:
		if n := pppProtoName(etherType); n != "" {
			return n
		}
		return "PPP"
	case keyLinkDot11:
		return "802.11"
	case keyLinkVersion:
		return "Raw IP"
	case keyLinkNFLOG:
		return "NFLOG"
	case keyLinkCHDLC:
		if n := chdlcProtoName(etherType); n != "" {
			return n
		}
		return etherTypeName(etherType)
	}
	return "DLT " + strconv.Itoa(int(etherType))
}

// linkSeen remembers the link types of the packets added, for the root of
// the protocol hierarchy.
type linkSeen struct {
	first packet.LinkType
	any   bool // first is set
	mixed bool // another was seen too
}

func (l *linkSeen) add(lt packet.LinkType) {
	switch {
	case !l.any:
		l.first, l.any = lt, true
	case lt != l.first:
		l.mixed = true
	}
}

// rootName names the link layer of every packet, "Frame" when they had
// several.
func (l *linkSeen) rootName() string {
	switch {
	case !l.any:
		return "Ethernet"
	case l.mixed:
		return "Frame"
	}
	return linkName(l.first)
}

// linkName is the short name of a link type, for the protocol column and
// the root of the protocol hierarchy.
func linkName(lt packet.LinkType) string {
	switch lt {
	case packet.LinkTypeRaw, packet.LinkTypeIPv4, packet.LinkTypeIPv6:
		return "Raw IP"
	case packet.LinkTypeSLL:
		return "Linux cooked"
	case packet.LinkTypeSLL2:
		return "Linux cooked v2"
	case packet.LinkTypeNFLOG:
		return "NFLOG"
	}
	if l := linkLayerType(lt); l != gopacket.LayerTypeZero {
		return linkHeaderName(l)
	}
	return "DLT " + strconv.Itoa(int(lt))
}
