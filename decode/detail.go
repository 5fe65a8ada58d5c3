package decode

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Field is one key: value line of a LayerDetail. Both are sanitized.
// Offset and Length are the field's bytes in the frame; a field that
// cannot be placed more precisely (a count, a decoded summary) covers its
// layer's bytes.
type Field struct {
	Key, Value string
	Offset     int
	Length     int
}

// LayerDetail describes one decoded layer of a frame for the hex pane.
type LayerDetail struct {
	Name   string
	Offset int // first byte of the layer in the frame
	Length int // header bytes (for payload layers, the payload bytes)
	Fields []Field
}

// Detail fully decodes one frame on demand (the selected packet) with
// gopacket's regular decoder and returns its layers in order, each with
// its byte range and a few key fields, followed by the application hint
// found by Decode. It allocates freely and never panics.
func Detail(data []byte, origLen int) []LayerDetail {
	return DetailLink(packet.LinkTypeEthernet, data, origLen)
}

// DetailLink is Detail for a frame of link type lt.
func DetailLink(lt packet.LinkType, data []byte, origLen int) (out []LayerDetail) {
	defer func() {
		if r := recover(); r != nil {
			out = append(out, LayerDetail{Name: "Error", Fields: []Field{{Key: "panic", Value: printableString(fmt.Sprint(r))}}})
		}
	}()
	out = append(out, LayerDetail{
		Name:   "Frame",
		Length: len(data),
		Fields: []Field{
			{Key: "on wire", Value: strconv.Itoa(max(origLen, len(data))) + " bytes", Length: len(data)},
			{Key: "captured", Value: strconv.Itoa(len(data)) + " bytes", Length: len(data)},
		},
	})
	p := gopacket.NewPacket(data, firstDecoder(lt), gopacket.DecodeOptions{NoCopy: true})
	off := 0
	var prev gopacket.Layer
	ls := p.Layers()
	for i, l := range ls {
		n := len(l.LayerContents())
		if n == 0 && len(l.LayerPayload()) == 0 && i == len(ls)-1 {
			// Some decoders (OSPF) keep no contents: the last layer has
			// the rest of the frame.
			n = max(len(data)-off, 0)
		}
		d := LayerDetail{
			Name:   layerName(l, prev),
			Offset: min(off, len(data)),
			Length: n,
		}
		if d.Offset+d.Length > len(data) {
			d.Length = len(data) - d.Offset
		}
		d.Fields = layerFields(l, d.Offset, d.Length)
		if len(d.Fields) == 0 && d.Length > 0 {
			d.Fields = []Field{{Key: "bytes", Value: strconv.Itoa(d.Length), Offset: d.Offset, Length: d.Length}}
		}
		out = append(out, d)
		off += n
		prev = l
	}
	var s Summary
	NewDecoder().DecodeLink(lt, data, origLen, &s)
	if s.App != AppNone {
		out = append(out, LayerDetail{
			Name:   s.Proto() + " (hint)",
			Offset: min(off, len(data)),
			Fields: []Field{{Key: "info", Value: string(s.appendApp(nil)), Offset: min(off, len(data))}},
		})
	}
	if s.Flags&(FlagTruncated|FlagMalformed|FlagUnsupported) != 0 {
		out = append(out, LayerDetail{
			Name:   "Decode",
			Offset: min(off, len(data)),
			Fields: []Field{{Key: "note", Value: s.Info(), Offset: min(off, len(data))}},
		})
	}
	return out
}

// layerFields picks the fields worth showing for the common layers, in
// wire order where the header has one. base and n are the layer's bytes in
// the frame; field ranges come from the fixed header layouts and are cut
// to the layer (a truncated header), the rest cover the whole layer.
func layerFields(l gopacket.Layer, base, n int) []Field {
	var f []Field
	// at adds a field at bytes [o, o+ln) of the layer.
	at := func(k string, v any, o, ln int) {
		o = min(max(o, 0), n)
		ln = min(max(ln, 0), n-o)
		if ln == 0 {
			o, ln = 0, n
		}
		s := printableString(fmt.Sprint(v))
		if s == "" {
			s = "none" // IPv4 flags, say
		}
		f = append(f, Field{Key: k, Value: s, Offset: base + o, Length: ln})
	}
	add := func(k string, v any) { at(k, v, 0, n) }
	switch l := l.(type) {
	case *layers.Ethernet:
		at("dst", l.DstMAC, 0, 6)
		at("src", l.SrcMAC, 6, 6)
		if l.Length != 0 {
			at("length", l.Length, 12, 2)
		} else {
			at("type", etherTypeField(l.EthernetType), 12, 2)
		}
	case *layers.Dot1Q:
		at("priority", l.Priority, 0, 1)
		at("vlan", l.VLANIdentifier, 0, 2)
		at("type", etherTypeField(l.Type), 2, 2)
	case *layers.ARP:
		hl, pl := int(l.HwAddressSize), int(l.ProtAddressSize)
		at("operation", l.Operation, 6, 2)
		at("sender mac", hwString(l.SourceHwAddress), 8, hl)
		at("sender ip", addrString(l.SourceProtAddress), 8+hl, pl)
		at("target mac", hwString(l.DstHwAddress), 8+hl+pl, hl)
		at("target ip", addrString(l.DstProtAddress), 8+2*hl+pl, pl)
	case *layers.IPv4:
		at("tos", l.TOS, 1, 1)
		at("length", l.Length, 2, 2)
		at("id", l.Id, 4, 2)
		at("flags", l.Flags, 6, 1)
		at("frag offset", l.FragOffset, 6, 2)
		at("ttl", l.TTL, 8, 1)
		at("protocol", l.Protocol, 9, 1)
		at("checksum", fmt.Sprintf("0x%04x", l.Checksum), 10, 2)
		at("src", l.SrcIP, 12, 4)
		at("dst", l.DstIP, 16, 4)
	case *layers.IPv6:
		at("traffic class", l.TrafficClass, 0, 2)
		at("flow label", l.FlowLabel, 1, 3)
		at("payload length", l.Length, 4, 2)
		at("next header", l.NextHeader, 6, 1)
		at("hop limit", l.HopLimit, 7, 1)
		at("src", l.SrcIP, 8, 16)
		at("dst", l.DstIP, 24, 16)
	case *layers.IPv6HopByHop:
		at("next header", l.NextHeader, 0, 1)
		add("options", len(l.Options))
	case *layers.IPv6Routing:
		at("next header", l.NextHeader, 0, 1)
		at("routing type", l.RoutingType, 2, 1)
		at("segments left", l.SegmentsLeft, 3, 1)
	case *layers.IPv6Destination:
		at("next header", l.NextHeader, 0, 1)
		add("options", len(l.Options))
	case *layers.IPv6Fragment:
		at("next header", l.NextHeader, 0, 1)
		at("offset", l.FragmentOffset, 2, 2)
		at("more", l.MoreFragments, 3, 1)
		at("id", l.Identification, 4, 4)
	case *layers.TCP:
		at("src port", uint16(l.SrcPort), 0, 2)
		at("dst port", uint16(l.DstPort), 2, 2)
		at("seq", l.Seq, 4, 4)
		at("ack", l.Ack, 8, 4)
		var fl uint8
		if len(l.Contents) > 13 {
			fl = l.Contents[13]
		}
		at("flags", string(appendTCPFlags(nil, fl)), 13, 1)
		at("window", l.Window, 14, 2)
		at("checksum", fmt.Sprintf("0x%04x", l.Checksum), 16, 2)
		o := 20
		for _, opt := range l.Options {
			ln := 1 // end of list and no-op are one byte
			if opt.OptionType > 1 {
				ln = max(int(opt.OptionLength), 2)
			}
			at("option", opt.OptionType, o, ln)
			o += ln
		}
	case *layers.UDP:
		at("src port", uint16(l.SrcPort), 0, 2)
		at("dst port", uint16(l.DstPort), 2, 2)
		at("length", l.Length, 4, 2)
		at("checksum", fmt.Sprintf("0x%04x", l.Checksum), 6, 2)
	case *layers.ICMPv4:
		at("type", l.TypeCode, 0, 2)
		at("checksum", fmt.Sprintf("0x%04x", l.Checksum), 2, 2)
		at("id", l.Id, 4, 2)
		at("seq", l.Seq, 6, 2)
	case *layers.ICMPv6:
		at("type", l.TypeCode, 0, 2)
		at("checksum", fmt.Sprintf("0x%04x", l.Checksum), 2, 2)
	case *layers.SCTP:
		at("src port", uint16(l.SrcPort), 0, 2)
		at("dst port", uint16(l.DstPort), 2, 2)
		at("verification tag", l.VerificationTag, 4, 4)
	case *layers.GRE:
		at("protocol", etherTypeField(l.Protocol), 2, 2)
		if l.KeyPresent {
			add("key", l.Key)
		}
		if l.SeqPresent {
			add("seq", l.Seq)
		}
	case *layers.VXLAN:
		at("valid", l.ValidIDFlag, 0, 1)
		at("vni", l.VNI, 4, 3)
	case *layers.DNS:
		at("id", l.ID, 0, 2)
		at("response", l.QR, 2, 1)
		at("opcode", l.OpCode, 2, 1)
		at("rcode", l.ResponseCode, 3, 1)
		for i, q := range l.Questions {
			if i == 4 {
				break
			}
			add("question", q.Type.String()+" "+string(q.Name))
		}
		for i, a := range l.Answers {
			if i == 4 {
				break
			}
			add("answer", a.String())
		}
	case *layers.MPLS:
		at("label", l.Label, 0, 3)
		at("traffic class", l.TrafficClass, 2, 1)
		at("bottom of stack", l.StackBottom, 2, 1)
		at("ttl", l.TTL, 3, 1)
	case *layers.OSPFv2:
		ospfFields(at, &l.OSPF)
		at("auth type", l.AuType, 14, 2)
	case *layers.OSPFv3:
		ospfFields(at, &l.OSPF)
		at("instance", l.Instance, 14, 1)
	case *layers.MLDv2MulticastListenerReportMessage:
		at("records", l.NumberOfMulticastAddressRecords, 2, 2)
		for i, r := range l.MulticastAddressRecords {
			if i == 8 {
				break
			}
			add("record", fmt.Sprintf("%v %v, %d sources", r.RecordType, r.MulticastAddress, len(r.SourceAddresses)))
		}
	case *gopacket.DecodeFailure:
		add("error", l.Error())
	case *gopacket.Payload:
		add("bytes", len(l.Payload()))
	}
	return f
}

// ospfFields adds the fields of the header OSPFv2 and OSPFv3 share.
func ospfFields(at func(k string, v any, o, ln int), h *layers.OSPF) {
	at("version", h.Version, 0, 1)
	at("type", h.Type, 1, 1)
	at("length", h.PacketLength, 2, 2)
	at("router id", dottedQuad(h.RouterID), 4, 4)
	at("area id", dottedQuad(h.AreaID), 8, 4)
	at("checksum", fmt.Sprintf("0x%04x", h.Checksum), 12, 2)
}

// dottedQuad writes a 32-bit id as OSPF does, as an IPv4 address.
func dottedQuad(v uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff)
}

// etherTypeField names an EtherType with its number ("IPv4 (0x0800)");
// gopacket's own String says "UnknownEthernetType" for most.
func etherTypeField(t layers.EthernetType) string {
	name := etherTypeName(uint16(t))
	if strings.HasPrefix(name, "0x") {
		return name
	}
	return fmt.Sprintf("%s (0x%04x)", name, uint16(t))
}

func hwString(b []byte) string {
	if len(b) == 6 {
		return string(appendMAC(nil, [6]byte(b)))
	}
	return fmt.Sprintf("% x", b)
}

func addrString(b []byte) string {
	if a := addrFrom(b); a.IsValid() {
		return a.String()
	}
	return fmt.Sprintf("% x", b)
}

// firstDecoder is gopacket's decoder for a frame of link type lt: its own
// for the types it knows, the bytes as data for the others.
func firstDecoder(lt packet.LinkType) gopacket.Decoder {
	switch lt {
	case packet.LinkTypeEthernet:
		return layers.LayerTypeEthernet
	case packet.LinkTypeIPv4:
		return layers.LayerTypeIPv4
	case packet.LinkTypeIPv6:
		return layers.LayerTypeIPv6
	case packet.LinkTypeNull, packet.LinkTypeLoop, packet.LinkTypePPP, packet.LinkTypeRaw,
		packet.LinkTypeSLL, packet.LinkTypeSLL2, packet.LinkTypeRadiotap:
		return layers.LinkType(lt)
	}
	return gopacket.LayerTypePayload
}
