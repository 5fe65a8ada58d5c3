package packet

import (
	"testing"
	"unsafe"
)

func TestLinkTypeZeroIsEthernet(t *testing.T) {
	var p Packet
	if p.LinkType() != LinkTypeEthernet {
		t.Fatalf("zero Packet: link type %d, want Ethernet", p.LinkType())
	}
	for _, lt := range []LinkType{LinkTypeNull, LinkTypeEthernet, LinkTypeRaw, LinkTypeSLL2, 0xffff} {
		p.SetLinkType(lt)
		if p.LinkType() != lt {
			t.Errorf("SetLinkType(%d): LinkType() = %d", lt, p.LinkType())
		}
	}
	// The reader writes millions a second: the link type rides in padding.
	if n := unsafe.Sizeof(p); n != 48 {
		t.Errorf("sizeof(Packet) = %d, want 48", n)
	}
}
