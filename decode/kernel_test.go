package decode

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TestSetKernelCounts: the kernel's counts of packets the ring lost, given
// by endpoint (lo, hi), add to the flow's decoded A->B and B->A counts
// whichever endpoint A is, and only for the flow with that key.
func TestSetKernelCounts(t *testing.T) {
	fr := framesByName(t)
	e := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 16, KernelCounts: true})
	// A = 10.0.0.2:443, the hi endpoint: its SYN-ACK came first.
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Ifindex: 3, Data: fr["tcp-synack"]})
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Ifindex: 3, Data: fr["tcp-syn"]})
	lo := netip.MustParseAddr("10.0.0.1").As16()
	hi := netip.MustParseAddr("10.0.0.2").As16()
	kf := KernelFlow{FlowKey: packet.FlowKey{Ifindex: 3, EtherType: 0x0800, Proto: ProtoTCP, Lo: lo, Hi: hi, LoPort: 40000, HiPort: 443},
		FlowCounts: packet.FlowCounts{Pkts: [2]uint64{5, 1}, Bytes: [2]uint64{500, 10}}}
	other := kf
	other.Ifindex = 4 // the same endpoints on another interface: another flow
	other.Pkts = [2]uint64{100, 100}
	e.TakeEvicted(nil) // as the live view does before each SetKernelCounts
	if m := e.SetKernelCounts([]KernelFlow{kf, other}, testTS); m != 1 {
		t.Fatalf("matched %d flows, want 1", m)
	}
	f := e.Flows(SortBytes, "", testTS)[0]
	if f.A != "10.0.0.2:443" {
		t.Fatalf("A is %s", f.A)
	}
	// A->B is hi->lo: 1 packet of 60 bytes decoded, and the kernel's 1
	// lost, 10 bytes; B->A (lo->hi): 1 of 60 decoded, 5 and 500 lost.
	if f.PktsAB != 2 || f.BytesAB != 70 || f.PktsBA != 6 || f.BytesBA != 560 || f.DecodedPkts != 2 || f.KernelPkts != 6 {
		t.Errorf("AB %d/%d BA %d/%d (decoded %d, kernel %d), want 2/70 6/560 (2, 6)", f.PktsAB, f.BytesAB, f.PktsBA, f.BytesBA, f.DecodedPkts, f.KernelPkts)
	}
	// Counts from the kernel never go down (an entry it dropped starts
	// again from zero there).
	kf.Pkts, kf.Bytes = [2]uint64{}, [2]uint64{}
	e.TakeEvicted(nil)
	e.SetKernelCounts([]KernelFlow{kf}, testTS)
	if f := e.Flows(SortBytes, "", testTS)[0]; f.Packets() != 8 {
		t.Errorf("after the kernel's entry started again: %d packets, want 8", f.Packets())
	}
}

// TestTakeEvicted: flows evicted from the table are handed over once, by
// key, so the caller can forget them in the kernel too.
func TestTakeEvicted(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 2, RingBytes: 1 << 16, KernelCounts: true})
	for i := range 3 {
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Millisecond)), Data: udpFrame(t, uint16(1000+i), 10)})
	}
	ev, all := e.TakeEvicted(nil)
	if all || len(ev) != 1 || ev[0].EtherType != 0x0800 || ev[0].Proto != ProtoUDP || ev[0].LoPort != 9 && ev[0].HiPort != 9 ||
		ev[0].LoPort != 1000 && ev[0].HiPort != 1000 {
		t.Fatalf("evicted %+v, want the flow from port 1000", ev)
	}
	if ev, _ := e.TakeEvicted(nil); len(ev) != 0 {
		t.Errorf("handed over twice: %+v", ev)
	}
	plain := NewEngine(Config{MaxFlows: 2, RingBytes: 1 << 16})
	for i := range 3 {
		plain.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: udpFrame(t, uint16(1000+i), 10)})
	}
	if ev, _ := plain.TakeEvicted(nil); len(ev) != 0 {
		t.Errorf("kept without KernelCounts: %+v", ev)
	}
}

// TestKernelCountsOfAKeyUsedAgain: a flow evicted and made again under the
// same key must not show the kernel's count of the old one, which the
// kernel holds until the caller deletes it.
func TestKernelCountsOfAKeyUsedAgain(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 1, RingBytes: 1 << 16, KernelCounts: true})
	kernelOf := func(sport uint16, pkts uint64) []KernelFlow {
		k, _, _ := KernelKeyOf(udpFrame(t, sport, 10), 0)
		return []KernelFlow{{FlowKey: k, FlowCounts: packet.FlowCounts{Pkts: [2]uint64{pkts, pkts}}}}
	}
	old := kernelOf(1000, 50)
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: udpFrame(t, 1000, 10)})
	e.TakeEvicted(nil)
	if m := e.SetKernelCounts(old, testTS); m != 1 {
		t.Fatalf("matched %d", m)
	}
	// Evicted by another flow, then made again after the caller took the
	// evicted keys, before it read the kernel: the stale 100 must not show.
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: udpFrame(t, 2000, 10)})
	ev, _ := e.TakeEvicted(nil)
	if len(ev) != 1 {
		t.Fatalf("evicted %+v", ev)
	}
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: udpFrame(t, 1000, 10)}) // evicts 2000, makes 1000 again
	if m := e.SetKernelCounts(old, testTS); m != 0 {
		t.Errorf("a flow made after TakeEvicted took the kernel's counts")
	}
	if f := e.Flows(SortBytes, "", testTS)[0]; f.Packets() != 1 {
		t.Errorf("flow made again shows %d packets, want 1", f.Packets())
	}
	// The next round hands 2000 over; 1000 keeps its own count.
	ev, _ = e.TakeEvicted(nil)
	if len(ev) != 1 || ev[0].LoPort != 2000 && ev[0].HiPort != 2000 {
		t.Fatalf("evicted %+v", ev)
	}
	if m := e.SetKernelCounts(kernelOf(1000, 1), testTS); m != 1 {
		t.Errorf("the flow did not take the kernel's fresh count")
	}

	// Evicted beyond what is kept: all the kernel's counts are dropped.
	e = NewEngine(Config{MaxFlows: 1, RingBytes: 1 << 16, KernelCounts: true})
	for i := range maxEvicted + 2 {
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: udpFrame(t, uint16(i), 10)})
	}
	if ev, all := e.TakeEvicted(nil); !all || len(ev) != maxEvicted {
		t.Errorf("%d keys, all=%v after %d evictions", len(ev), all, maxEvicted+1)
	}
	if _, all := e.TakeEvicted(nil); all {
		t.Error("all reported twice")
	}
}

// TestKernelOnlyFlows: once the ring lost packets, a flow only the kernel
// counted (every packet of it lost) joins the table with the kernel's
// counts, A being an endpoint that sent; tunnel keys and a full table add
// nothing, and before any loss nothing is added.
func TestKernelOnlyFlows(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 2, RingBytes: 1 << 16, KernelCounts: true})
	lo := netip.MustParseAddr("10.0.0.1").As16()
	hi := netip.MustParseAddr("10.0.0.2").As16()
	lost := KernelFlow{FlowKey: packet.FlowKey{Ifindex: 3, EtherType: 0x0800, Proto: ProtoUDP, Lo: lo, Hi: hi, LoPort: 53, HiPort: 5353},
		FlowCounts: packet.FlowCounts{Pkts: [2]uint64{0, 7}, Bytes: [2]uint64{0, 700}}}
	vxlan := lost
	vxlan.HiPort = 4789
	gre := lost
	gre.Proto, gre.LoPort, gre.HiPort = ProtoGRE, 0, 0
	e.TakeEvicted(nil)
	if m := e.SetKernelCounts([]KernelFlow{lost}, testTS); m != 0 || len(e.Flows(SortBytes, "", testTS)) != 0 {
		t.Fatal("a flow was added before any packet was lost")
	}
	e.SetCaptureCounters(7, 0)
	if m := e.SetKernelCounts([]KernelFlow{lost, vxlan, gre}, testTS); m != 1 {
		t.Fatalf("matched %d, want the lost flow only", m)
	}
	fs := e.Flows(SortBytes, "", testTS)
	if len(fs) != 1 {
		t.Fatalf("flows %+v", fs)
	}
	f := fs[0]
	if f.A != "10.0.0.2:5353" || f.PktsAB != 7 || f.BytesAB != 700 || f.PktsBA != 0 || f.DecodedPkts != 0 || f.KernelPkts != 7 {
		t.Errorf("added flow %+v", f)
	}
	// Its packets decoded later count in it.
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Ifindex: 3, Data: serialize(t, eth(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolUDP), udp(5353, 53), payload(make([]byte, 10)))})
	if fs := e.Flows(SortBytes, "", testTS); len(fs) != 1 || fs[0].DecodedPkts != 1 || fs[0].Packets() != 8 {
		t.Errorf("after a decoded packet: %+v", fs)
	}
	// A full table takes no more.
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: udpFrame(t, 1000, 10)})
	other := lost
	other.LoPort = 54
	e.TakeEvicted(nil)
	e.SetKernelCounts([]KernelFlow{other}, testTS)
	if n := len(e.Flows(SortBytes, "", testTS)); n != 2 {
		t.Errorf("%d flows in a table of 2", n)
	}
}

// TestRawPorts: a TCP header that does not decode (cut short, here after
// an IPv6 routing and a hop-by-hop header) gives its ports from its first 4
// bytes, as the kernel's key does; its flags stay unknown, so the flow has
// no TCP state.
func TestRawPorts(t *testing.T) {
	f := []byte{
		0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x86, 0xdd, // Ethernet
		0x60, 0, 0, 0, 0, 26, 43, 64, // IPv6: payload 26, routing next
	}
	f = append(f, netip.MustParseAddr("2001:db8::1").AsSlice()...)
	f = append(f, netip.MustParseAddr("2001:db8::2").AsSlice()...)
	f = append(f, 0, 0, 0, 0, 0, 0, 0, 0)                         // routing: hop-by-hop next, 8 bytes
	f = append(f, 6, 0, 1, 4, 0, 0, 0, 0)                         // hop-by-hop: TCP next, PadN
	f = append(f, 0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0x02, 0x50) // 10 bytes of a TCP SYN
	e := NewEngine(Config{MaxFlows: 4, RingBytes: 1 << 16, KernelCounts: true})
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: f})
	st := e.Stats(testTS)
	if st.Panics != 0 {
		t.Fatalf("decoder panicked: %+v", st)
	}
	fs := e.Flows(SortBytes, "", testTS)
	if len(fs) != 1 || fs[0].A != "[2001:db8::1]:40000" || fs[0].B != "[2001:db8::2]:443" || fs[0].State != "" {
		t.Fatalf("flows %+v", fs)
	}
	kf, srcIsLo, ok := KernelKeyOf(f, 0)
	if !ok || !srcIsLo || kf.Proto != ProtoTCP || kf.LoPort != 40000 || kf.HiPort != 443 {
		t.Errorf("kernel key %+v lo=%v ok=%v", kf, srcIsLo, ok)
	}
}

// TestKernelOnlyNotAnEvictedFlow: a flow evicted since the last
// TakeEvicted is not brought back from the kernel's count, which its
// delete in the kernel has yet to clear.
func TestKernelOnlyNotAnEvictedFlow(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 4, RingBytes: 1 << 16, IdleTimeout: time.Second, KernelCounts: true})
	e.SetCaptureCounters(1, 0)
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: udpFrame(t, 1000, 10)})
	e.TakeEvicted(nil)
	key, _, _ := KernelKeyOf(udpFrame(t, 1000, 10), 0)
	old := KernelFlow{FlowKey: key, FlowCounts: packet.FlowCounts{Pkts: [2]uint64{50, 0}}}
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(2 * time.Second)), Data: udpFrame(t, 2000, 10)}) // 1000 idles out
	if m := e.SetKernelCounts([]KernelFlow{old}, testTS.Add(2*time.Second)); m != 0 {
		t.Errorf("the evicted flow came back with the kernel's old count")
	}
	if n := len(e.Flows(SortBytes, "", testTS.Add(2*time.Second))); n != 1 {
		t.Errorf("%d flows, want 1", n)
	}
}

// TestAliasesFullOnlyForANewKey: a key already noted as an alias, seen
// again when the set is full, is no new alias: the set is not full for it
// (which would stop every kernel-only flow).
func TestAliasesFullOnlyForANewKey(t *testing.T) {
	var kt kernelTrack
	data := udpFrame(t, 1000, 10)
	var other packet.FlowKey // decode keyed the frame otherwise
	kt.noteKey(data, 0, &other)
	if len(kt.aliases) != 1 || kt.aliasesFull {
		t.Fatalf("%d aliases, full %v: want the frame's kernel key", len(kt.aliases), kt.aliasesFull)
	}
	for i := 0; len(kt.aliases) < maxAliases; i++ {
		kt.aliases[packet.FlowKey{Ifindex: uint32(i + 1)}] = struct{}{}
	}
	kt.noteKey(data, 0, &other)
	if kt.aliasesFull {
		t.Fatal("a known alias seen again marked the set full")
	}
	kt.noteKey(udpFrame(t, 2000, 10), 0, &other)
	if !kt.aliasesFull {
		t.Fatal("a new alias with the set full did not mark it full")
	}
}
