package decode

import (
	"fmt"
	"strconv"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Field is one key: value line of a LayerDetail. Both are sanitized.
type Field struct {
	Key, Value string
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
func Detail(data []byte, origLen int) (out []LayerDetail) {
	defer func() {
		if r := recover(); r != nil {
			out = append(out, LayerDetail{Name: "Error", Fields: []Field{{"panic", printableString(fmt.Sprint(r))}}})
		}
	}()
	out = append(out, LayerDetail{
		Name:   "Frame",
		Length: len(data),
		Fields: []Field{
			{"on wire", strconv.Itoa(max(origLen, len(data))) + " bytes"},
			{"captured", strconv.Itoa(len(data)) + " bytes"},
		},
	})
	p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.DecodeOptions{NoCopy: true})
	off := 0
	for _, l := range p.Layers() {
		n := len(l.LayerContents())
		d := LayerDetail{
			Name:   printableString(l.LayerType().String()),
			Offset: min(off, len(data)),
			Length: n,
			Fields: layerFields(l),
		}
		if d.Offset+d.Length > len(data) {
			d.Length = len(data) - d.Offset
		}
		out = append(out, d)
		off += n
	}
	var s Summary
	NewDecoder().Decode(data, origLen, &s)
	if s.App != AppNone {
		out = append(out, LayerDetail{
			Name:   s.Proto() + " (hint)",
			Offset: min(off, len(data)),
			Fields: []Field{{"info", string(s.appendApp(nil))}},
		})
	}
	if s.Flags&(FlagTruncated|FlagMalformed|FlagUnsupported) != 0 {
		out = append(out, LayerDetail{
			Name:   "Decode",
			Offset: min(off, len(data)),
			Fields: []Field{{"note", s.Info()}},
		})
	}
	return out
}

// layerFields picks the fields worth showing for the common layers.
func layerFields(l gopacket.Layer) []Field {
	var f []Field
	add := func(k string, v any) { f = append(f, Field{k, printableString(fmt.Sprint(v))}) }
	switch l := l.(type) {
	case *layers.Ethernet:
		add("src", l.SrcMAC)
		add("dst", l.DstMAC)
		add("type", l.EthernetType)
		if l.Length != 0 {
			add("length", l.Length)
		}
	case *layers.Dot1Q:
		add("vlan", l.VLANIdentifier)
		add("priority", l.Priority)
		add("type", l.Type)
	case *layers.ARP:
		add("operation", l.Operation)
		add("sender mac", hwString(l.SourceHwAddress))
		add("sender ip", addrString(l.SourceProtAddress))
		add("target mac", hwString(l.DstHwAddress))
		add("target ip", addrString(l.DstProtAddress))
	case *layers.IPv4:
		add("src", l.SrcIP)
		add("dst", l.DstIP)
		add("protocol", l.Protocol)
		add("ttl", l.TTL)
		add("length", l.Length)
		add("id", l.Id)
		add("flags", l.Flags)
		add("frag offset", l.FragOffset)
		add("tos", l.TOS)
		add("checksum", fmt.Sprintf("0x%04x", l.Checksum))
	case *layers.IPv6:
		add("src", l.SrcIP)
		add("dst", l.DstIP)
		add("next header", l.NextHeader)
		add("hop limit", l.HopLimit)
		add("payload length", l.Length)
		add("traffic class", l.TrafficClass)
		add("flow label", l.FlowLabel)
	case *layers.IPv6HopByHop:
		add("next header", l.NextHeader)
		add("options", len(l.Options))
	case *layers.IPv6Routing:
		add("next header", l.NextHeader)
		add("routing type", l.RoutingType)
		add("segments left", l.SegmentsLeft)
	case *layers.IPv6Destination:
		add("next header", l.NextHeader)
		add("options", len(l.Options))
	case *layers.IPv6Fragment:
		add("next header", l.NextHeader)
		add("offset", l.FragmentOffset)
		add("more", l.MoreFragments)
		add("id", l.Identification)
	case *layers.TCP:
		add("src port", uint16(l.SrcPort))
		add("dst port", uint16(l.DstPort))
		add("seq", l.Seq)
		add("ack", l.Ack)
		var fl uint8
		if len(l.Contents) > 13 {
			fl = l.Contents[13]
		}
		add("flags", string(appendTCPFlags(nil, fl)))
		add("window", l.Window)
		add("checksum", fmt.Sprintf("0x%04x", l.Checksum))
		for _, o := range l.Options {
			add("option", o.OptionType)
		}
	case *layers.UDP:
		add("src port", uint16(l.SrcPort))
		add("dst port", uint16(l.DstPort))
		add("length", l.Length)
		add("checksum", fmt.Sprintf("0x%04x", l.Checksum))
	case *layers.ICMPv4:
		add("type", l.TypeCode)
		add("id", l.Id)
		add("seq", l.Seq)
	case *layers.ICMPv6:
		add("type", l.TypeCode)
	case *layers.SCTP:
		add("src port", uint16(l.SrcPort))
		add("dst port", uint16(l.DstPort))
		add("verification tag", l.VerificationTag)
	case *layers.GRE:
		add("protocol", l.Protocol)
		if l.KeyPresent {
			add("key", l.Key)
		}
		if l.SeqPresent {
			add("seq", l.Seq)
		}
	case *layers.VXLAN:
		add("vni", l.VNI)
		add("valid", l.ValidIDFlag)
	case *layers.DNS:
		add("id", l.ID)
		add("response", l.QR)
		add("opcode", l.OpCode)
		add("rcode", l.ResponseCode)
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
	case *gopacket.DecodeFailure:
		add("error", l.Error())
	case *gopacket.Payload:
		add("bytes", len(l.Payload()))
	}
	return f
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
