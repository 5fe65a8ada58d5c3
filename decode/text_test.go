package decode

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/gopacket/gopacket"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// FuzzText: a text line never panics and carries no control character
// but the line ends and the tabs of the dumps, whatever the bytes and
// the link type.
func FuzzText(f *testing.F) {
	for _, tf := range testFrames(f) {
		f.Add(tf.data, uint8(0), uint8(0))
	}
	n := 0
	func() {
		if testing.Short() {
			return
		}
		defer func() { _ = recover() }() // a missing corpus only means fewer seeds
		eachCorpusPacket(f, func(_ string, data []byte, _ gopacket.CaptureInfo) {
			if n++; n%23 == 0 && len(data) <= 2048 {
				f.Add(data, uint8(n), uint8(n>>8))
			}
		})
	}()
	links := []packet.LinkType{packet.LinkTypeEthernet, packet.LinkTypeRaw, packet.LinkTypeSLL, packet.LinkTypeSLL2,
		packet.LinkTypeNull, packet.LinkTypeLoop, packet.LinkTypePPP, packet.LinkTypeIPv4, packet.LinkTypeIPv6,
		packet.LinkTypeCHDLC, packet.LinkTypeNFLOG, packet.LinkTypeRadiotap}
	f.Fuzz(func(t *testing.T, data []byte, link, opts uint8) {
		p := NewTextPrinter(TextOptions{
			Time: int(opts % 6), Verbose: int(opts>>3) & 3, Link: opts&0x20 != 0, Quiet: opts&0x40 != 0,
			Hex: int(link>>4) & 3, HexASCII: int(link>>6) & 1, ASCII: int(opts >> 7),
		})
		var pk packet.Packet
		pk.Data, pk.OrigLen, pk.Nanos = data, uint32(len(data)+int(opts)), 1_700_000_000_123_456_789
		pk.SetLinkType(links[int(link&0xf)%len(links)])
		for range 2 { // the second sees the first's TCP connection
			line := p.Append(nil, &pk, "eth0")
			if bytes.Contains(line, []byte("[|printer panic]")) {
				t.Fatalf("printer panic on %x", data)
			}
			if len(line) == 0 || line[len(line)-1] != '\n' {
				t.Fatalf("line %q does not end in a newline", line)
			}
			for i := 0; i < len(line); {
				r, size := utf8.DecodeRune(line[i:])
				if r == utf8.RuneError && size == 1 || r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r < 0xa0 {
					t.Fatalf("byte %#x at %d in %q", line[i], i, line)
				}
				i += size
			}
		}
	})
}
