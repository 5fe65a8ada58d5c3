package decode

import (
	"encoding/binary"
	"testing"

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
