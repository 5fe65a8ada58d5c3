package decode

import (
	"net/netip"
	"testing"
	"time"
)

// TestSetKernelCounts: the kernel's counts, given by endpoint (lo, hi),
// reach the flow's A->B and B->A counts whichever endpoint A is, only where
// they exceed what was decoded, and only for the flow with that key.
func TestSetKernelCounts(t *testing.T) {
	fr := framesByName(t)
	e := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 16, KernelCounts: true})
	// A = 10.0.0.2:443, the hi endpoint: its SYN-ACK came first.
	e.Add(Frame{TS: testTS, Ifindex: 3, Data: fr["tcp-synack"]})
	e.Add(Frame{TS: testTS, Ifindex: 3, Data: fr["tcp-syn"]})
	lo := netip.MustParseAddr("10.0.0.1").As16()
	hi := netip.MustParseAddr("10.0.0.2").As16()
	kf := KernelFlow{Ifindex: 3, EtherType: 0x0800, Proto: ProtoTCP, Lo: lo, Hi: hi, LoPort: 40000, HiPort: 443,
		Pkts: [2]uint64{5, 1}, Bytes: [2]uint64{500, 10}}
	other := kf
	other.Ifindex = 4 // the same endpoints on another interface: another flow
	other.Pkts = [2]uint64{100, 100}
	if m := e.SetKernelCounts([]KernelFlow{kf, other}); m != 1 {
		t.Fatalf("matched %d flows, want 1", m)
	}
	f := e.Flows(SortBytes, "", testTS)[0]
	if f.A != "10.0.0.2:443" {
		t.Fatalf("A is %s", f.A)
	}
	// A->B is hi->lo: the kernel's 1 packet, 10 bytes are fewer than the
	// 60 decoded; B->A (lo->hi): its 5 packets, 500 bytes.
	if f.PktsAB != 1 || f.BytesAB != 60 || f.PktsBA != 5 || f.BytesBA != 500 {
		t.Errorf("AB %d/%d BA %d/%d, want 1/60 5/500", f.PktsAB, f.BytesAB, f.PktsBA, f.BytesBA)
	}
}

// TestTakeEvicted: flows evicted from the table are handed over once, by
// key, so the caller can forget them in the kernel too.
func TestTakeEvicted(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 2, RingBytes: 1 << 16, KernelCounts: true})
	for i := range 3 {
		e.Add(Frame{TS: testTS.Add(time.Duration(i) * time.Millisecond), Data: udpFrame(t, uint16(1000+i), 10)})
	}
	ev := e.TakeEvicted(nil)
	if len(ev) != 1 || ev[0].EtherType != 0x0800 || ev[0].Proto != ProtoUDP || ev[0].LoPort != 9 && ev[0].HiPort != 9 ||
		ev[0].LoPort != 1000 && ev[0].HiPort != 1000 {
		t.Fatalf("evicted %+v, want the flow from port 1000", ev)
	}
	if ev := e.TakeEvicted(nil); len(ev) != 0 {
		t.Errorf("handed over twice: %+v", ev)
	}
	plain := NewEngine(Config{MaxFlows: 2, RingBytes: 1 << 16})
	for i := range 3 {
		plain.Add(Frame{TS: testTS, Data: udpFrame(t, uint16(1000+i), 10)})
	}
	if ev := plain.TakeEvicted(nil); len(ev) != 0 {
		t.Errorf("kept without KernelCounts: %+v", ev)
	}
}
