package decode

import (
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TestDisplayFilterExpression: a pcap-filter expression as display filter
// keeps the flows with a matching packet, decided by the same matcher as
// the kernel filter; other text is a substring filter.
func TestDisplayFilterExpression(t *testing.T) {
	fr := framesByName(t)
	e := NewEngine(Config{MaxFlows: 64, RingBytes: 1 << 20})
	ts := testTS
	add := func(name string) {
		ts = ts.Add(time.Millisecond)
		e.Add(packet.Packet{Nanos: packet.Nanos(ts), Dir: packet.DirIn, OrigLen: uint32(len(fr[name])), Data: fr[name]})
	}
	add("tcp-syn")
	add("tcp-synack")
	for i := range 5 {
		e.Add(packet.Packet{Nanos: packet.Nanos(ts.Add(time.Duration(i+2) * time.Millisecond)), Dir: packet.DirIn, OrigLen: 100, Data: udpFrame(t, uint16(2000+i), 50)})
	}
	all := len(e.Flows(SortBytes, "", ts))
	if all != 6 {
		t.Fatalf("%d flows, want 6", all)
	}
	for _, tc := range []struct {
		filter, kind string
		want         int
	}{
		{"tcp", "pcap-filter", 1},
		{"tcp[tcpflags] & tcp-syn != 0", "pcap-filter", 1},
		{"udp and src port 2003", "pcap-filter", 1},
		{"udp portrange 2000-2002", "pcap-filter", 3},
		{"icmp", "pcap-filter", 0},
		{"not tcp", "pcap-filter", 5},
		{"2004", "text", 1},
		{"no-such-text", "text", 0},
	} {
		if k := e.FilterKind(tc.filter); k != tc.kind {
			t.Errorf("%q: kind %q, want %q", tc.filter, k, tc.kind)
		}
		if got := len(e.Flows(SortBytes, tc.filter, ts)); got != tc.want {
			t.Errorf("%q: %d flows, want %d", tc.filter, got, tc.want)
		}
	}
	// Packets added after the filter was set are matched as they come.
	e.Flows(SortBytes, "udp port 7777", ts)
	e.Add(packet.Packet{Nanos: packet.Nanos(ts.Add(time.Second)), Dir: packet.DirIn, OrigLen: 100, Data: udpFrame(t, 7777, 10)})
	if got := len(e.Flows(SortBytes, "udp port 7777", ts.Add(time.Second))); got != 1 {
		t.Errorf("new matching packet: %d flows, want 1", got)
	}
}

// TestFlowsPerInterface: the same conversation seen on two interfaces is
// two flows, each named by its interface, which the text filter matches.
func TestFlowsPerInterface(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 20})
	e.SetInterfaceNames(map[int]string{2: "eth0", 7: "veth7"})
	d := udpFrame(t, 1234, 20)
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Ifindex: 2, Dir: packet.DirIn, OrigLen: uint32(len(d)), Data: d})
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Ifindex: 7, Dir: packet.DirOut, OrigLen: uint32(len(d)), Data: d})
	fs := e.Flows(SortBytes, "", testTS)
	if len(fs) != 2 {
		t.Fatalf("%d flows, want one per interface", len(fs))
	}
	got := map[string]bool{}
	for _, f := range fs {
		got[f.Iface] = true
	}
	if !got["eth0"] || !got["veth7"] {
		t.Errorf("interfaces %v", got)
	}
	if fs := e.Flows(SortBytes, "veth7", testTS); len(fs) != 1 || fs[0].Ifindex != 7 {
		t.Errorf("text filter on the interface name: %+v", fs)
	}
}

// TestDisplayFilterScansInSlices: a new expression is matched against the
// ring a slice at a time, and every flow with a match shows once the scan
// is through; clearing the filter stops matching.
func TestDisplayFilterScansInSlices(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 16, RingBytes: 64 << 20})
	a, b := udpFrame(t, 1000, 10), udpFrame(t, 2000, 10)
	n := scanSlice*2 + 10
	for i := range n {
		d := a
		if i == n-scanSlice-5 { // one packet of flow B, in the second slice
			d = b
		}
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i))), Dir: packet.DirIn, OrigLen: uint32(len(d)), Data: d})
	}
	const expr = "udp src port 2000"
	calls := 0
	for len(e.Flows(SortBytes, expr, testTS)) == 0 {
		if calls++; calls > 4 {
			t.Fatal("the flow with a matching packet never showed")
		}
	}
	if calls == 0 {
		t.Errorf("the whole ring was matched in one call")
	}
	e.Flows(SortBytes, "", testTS)
	e.mu.Lock()
	disp := e.disp
	e.mu.Unlock()
	if disp != nil {
		t.Errorf("display filter still set after clearing it")
	}
}
