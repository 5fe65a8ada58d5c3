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
	for _, tc := range []struct {
		pid     uint32
		cpu     int
		wantPid uint32
		wantCPU int
	}{{0, -1, 0, -1}, {4123, 0, 4123, 0}, {1<<22 - 1, 1022, 1<<22 - 1, 1022}, {1 << 22, 1023, 0, -1}, {7, -5, 7, -1}} {
		p.SetTask(tc.pid, tc.cpu)
		if p.Pid() != tc.wantPid || p.CPU() != tc.wantCPU || p.LinkType() != 0xffff {
			t.Errorf("SetTask(%d, %d): pid %d cpu %d link %d", tc.pid, tc.cpu, p.Pid(), p.CPU(), p.LinkType())
		}
	}
	// The reader writes millions a second: the link type, the pid and the
	// CPU ride in what was padding.
	if n := unsafe.Sizeof(p); n != 48 {
		t.Errorf("sizeof(Packet) = %d, want 48", n)
	}
}
