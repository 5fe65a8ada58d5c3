package decode

import (
	"regexp"
	"strings"

	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket"

	"github.com/gopacket/gopacket/layers"
)

// rng is a byte range [off, off+n) in the frame.
type rng struct{ off, n int }

// fieldRanges returns the range of every field of layer i of ls by key
// (the first field of each key).
func fieldRanges(t *testing.T, ls []LayerDetail, i int) map[string]rng {
	t.Helper()
	if i >= len(ls) {
		t.Fatalf("no layer %d in %d", i, len(ls))
	}
	m := map[string]rng{}
	for _, f := range ls[i].Fields {
		if _, ok := m[f.Key]; !ok {
			m[f.Key] = rng{f.Offset, f.Length}
		}
	}
	return m
}

func TestDetailRangesIPv4TCP(t *testing.T) {
	tc := tcp(40000, 443, TCPSyn, 1000, 0)
	tc.Options = []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
	}
	data := serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tc)
	ls := Detail(data, len(data))
	// Frame, Ethernet, IPv4, TCP.
	if len(ls) < 4 {
		t.Fatalf("%d layers", len(ls))
	}
	for i, want := range []rng{{0, len(data)}, {0, 14}, {14, 20}, {34, 28}} {
		if got := (rng{ls[i].Offset, ls[i].Length}); got != want {
			t.Errorf("layer %d %s: range %v, want %v", i, ls[i].Name, got, want)
		}
	}
	for _, tt := range []struct {
		layer int
		key   string
		want  rng
	}{
		{1, "dst", rng{0, 6}},
		{1, "src", rng{6, 6}},
		{1, "type", rng{12, 2}},
		{2, "tos", rng{15, 1}},
		{2, "length", rng{16, 2}},
		{2, "id", rng{18, 2}},
		{2, "flags", rng{20, 1}},
		{2, "frag offset", rng{20, 2}},
		{2, "ttl", rng{22, 1}},
		{2, "protocol", rng{23, 1}},
		{2, "checksum", rng{24, 2}},
		{2, "src", rng{26, 4}},
		{2, "dst", rng{30, 4}},
		{3, "src port", rng{34, 2}},
		{3, "dst port", rng{36, 2}},
		{3, "seq", rng{38, 4}},
		{3, "ack", rng{42, 4}},
		{3, "flags", rng{47, 1}},
		{3, "window", rng{48, 2}},
		{3, "checksum", rng{50, 2}},
		{3, "option", rng{54, 4}}, // MSS, the first option
	} {
		if got := fieldRanges(t, ls, tt.layer)[tt.key]; got != tt.want {
			t.Errorf("%s %s: range %v, want %v", ls[tt.layer].Name, tt.key, got, tt.want)
		}
	}
	// The ranges point at the values they name.
	r := fieldRanges(t, ls, 3)
	if p := binary.BigEndian.Uint16(data[r["dst port"].off:]); p != 443 {
		t.Errorf("dst port bytes hold %d", p)
	}
	if ttl := data[fieldRanges(t, ls, 2)["ttl"].off]; ttl != 64 {
		t.Errorf("ttl byte holds %d", ttl)
	}
	var opts []rng
	for _, f := range ls[3].Fields {
		if f.Key == "option" {
			opts = append(opts, rng{f.Offset, f.Length})
		}
	}
	if want := []rng{{54, 4}, {58, 1}, {59, 3}}; len(opts) < 3 || opts[0] != want[0] || opts[1] != want[1] || opts[2] != want[2] {
		t.Errorf("tcp options at %v, want %v first", opts, want)
	}
}

func TestDetailRangesIPv6UDP(t *testing.T) {
	data := serialize(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(40000, 7000), payload([]byte("hello")))
	ls := Detail(data, len(data))
	// Frame, Ethernet, IPv6, UDP, Payload.
	if len(ls) < 5 {
		t.Fatalf("%d layers", len(ls))
	}
	for i, want := range []rng{{0, len(data)}, {0, 14}, {14, 40}, {54, 8}, {62, 5}} {
		if got := (rng{ls[i].Offset, ls[i].Length}); got != want {
			t.Errorf("layer %d %s: range %v, want %v", i, ls[i].Name, got, want)
		}
	}
	for _, tt := range []struct {
		layer int
		key   string
		want  rng
	}{
		{2, "traffic class", rng{14, 2}},
		{2, "flow label", rng{15, 3}},
		{2, "payload length", rng{18, 2}},
		{2, "next header", rng{20, 1}},
		{2, "hop limit", rng{21, 1}},
		{2, "src", rng{22, 16}},
		{2, "dst", rng{38, 16}},
		{3, "src port", rng{54, 2}},
		{3, "dst port", rng{56, 2}},
		{3, "length", rng{58, 2}},
		{3, "checksum", rng{60, 2}},
		{4, "bytes", rng{62, 5}}, // no place finer than the layer
	} {
		if got := fieldRanges(t, ls, tt.layer)[tt.key]; got != tt.want {
			t.Errorf("%s %s: range %v, want %v", ls[tt.layer].Name, tt.key, got, tt.want)
		}
	}
	if !ip6B.Equal(data[38:54]) {
		t.Errorf("dst bytes % x", data[38:54])
	}
	if p := binary.BigEndian.Uint16(data[56:]); p != 7000 {
		t.Errorf("dst port bytes hold %d", p)
	}
}

// TestDetailFieldRangesInLayer checks every table frame, whole and cut at
// every length: each field lies within its layer and the frame.
func TestDetailFieldRangesInLayer(t *testing.T) {
	for _, tf := range testFrames(t) {
		for n := 0; n <= len(tf.data); n++ {
			for _, l := range Detail(tf.data[:n], len(tf.data)) {
				for _, f := range l.Fields {
					if f.Offset < l.Offset || f.Length < 0 || f.Offset+f.Length > l.Offset+l.Length || f.Offset+f.Length > n {
						t.Fatalf("%s cut at %d: %s field %s at %d+%d outside the layer %d+%d", tf.name, n, l.Name, f.Key, f.Offset, f.Length, l.Offset, l.Length)
					}
				}
			}
		}
	}
}

// goIdent matches what looks like a Go type name: two or more words run
// together in CamelCase.
var goIdent = regexp.MustCompile(`^[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*$`)

func TestLayerNames(t *testing.T) {
	qinq := serialize(t, eth(layers.EthernetTypeQinQ), vlanTag(10, layers.EthernetTypeDot1Q), vlanTag(20, layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(40000, 7000), payload([]byte("x")))
	unknown := serialize(t, eth(layers.EthernetType(0x88b6+0x1000)), payload(make([]byte, 46)))
	mpls := serialize(t, eth(layers.EthernetTypeMPLSUnicast), &layers.MPLS{Label: 1000, TrafficClass: 5, StackBottom: true, TTL: 63}, ip4(layers.IPProtocolUDP), udp(40000, 7000), payload([]byte("x")))
	for _, tt := range []struct {
		name string
		data []byte
		want []string
	}{
		{"qinq", qinq, []string{"Frame", "Ethernet II", "802.1ad (QinQ) tag", "802.1Q VLAN", "IPv4", "UDP", "Data"}},
		{"unknown ethertype", unknown, []string{"Frame", "Ethernet II", "Unknown EtherType 0x98b6"}},
		{"mpls", mpls, []string{"Frame", "Ethernet II", "MPLS", "IPv4", "UDP", "Data"}},
	} {
		var got []string
		for _, l := range Detail(tt.data, len(tt.data)) {
			got = append(got, l.Name)
		}
		// Then maybe the summary decoder's own note (Decode).
		if len(got) > len(tt.want) && got[len(tt.want)] == "Decode" {
			got = got[:len(tt.want)]
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: layers %q, want %q", tt.name, got, tt.want)
		}
	}
	m := fieldRanges(t, Detail(mpls, len(mpls)), 2)
	if m["label"] != (rng{14, 3}) || m["ttl"] != (rng{17, 1}) {
		t.Errorf("mpls fields %v", m)
	}
	for _, f := range Detail(mpls, len(mpls))[2].Fields {
		if f.Key == "label" && f.Value != "1000" || f.Key == "ttl" && f.Value != "63" || f.Key == "bottom of stack" && f.Value != "true" {
			t.Errorf("mpls %s = %s", f.Key, f.Value)
		}
	}
	for in, want := range map[string]string{"CiscoDiscoveryInfo": "Cisco Discovery Info", "MLDv2MulticastListenerReport": "MLDv2 Multicast Listener Report", "IPv4": "IPv4"} {
		if got := spaceWords(in); got != want {
			t.Errorf("spaceWords(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCorpusDetail runs Detail over every packet of the tcpdump test
// captures: it never panics, no layer is named like a Go type, no layer is
// left without fields, and every range lies in the frame and its layer.
func TestCorpusDetail(t *testing.T) {
	names := map[string]int{}
	var ospf, packets int
	eachCorpusPacket(t, func(file string, data []byte, ci gopacket.CaptureInfo) {
		packets++
		for _, l := range Detail(data, ci.Length) {
			names[l.Name]++
			if l.Name == "Error" {
				t.Errorf("%s: Detail panicked: %v", file, l.Fields)
			}
			if goIdent.MatchString(l.Name) {
				t.Errorf("%s: layer named like a Go type: %q", file, l.Name)
			}
			if l.Length > 0 && len(l.Fields) == 0 {
				t.Errorf("%s: layer %s [%d:%d] has no fields", file, l.Name, l.Offset, l.Offset+l.Length)
			}
			if l.Offset < 0 || l.Length < 0 || l.Offset+l.Length > len(data) {
				t.Errorf("%s: layer %s at %d+%d outside %d bytes", file, l.Name, l.Offset, l.Length, len(data))
			}
			for _, f := range l.Fields {
				if f.Offset < l.Offset || f.Length < 0 || f.Offset+f.Length > l.Offset+l.Length {
					t.Errorf("%s: %s field %s at %d+%d outside the layer", file, l.Name, f.Key, f.Offset, f.Length)
				}
			}
			if strings.HasPrefix(l.Name, "OSPF") {
				ospf++
				if m := fieldRanges(t, []LayerDetail{l}, 0); m["router id"].n != 4 {
					t.Errorf("%s: %s without a router id: %v", file, l.Name, l.Fields)
				}
			}
		}
	})
	if packets == 0 || ospf == 0 {
		t.Fatalf("%d packets, %d OSPF layers", packets, ospf)
	}
	t.Logf("%d packets, %d layer names", packets, len(names))
}
