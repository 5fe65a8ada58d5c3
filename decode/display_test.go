package decode

import (
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TestDisplayFilterExpression: a pcap-filter expression as display filter
// keeps the flows with a matching packet, decided by the same matcher as
// the kernel filter; "~" and text is a substring filter; an expression
// that does not compile keeps none.
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
		{"~2004", "text", 1},
		{"~no-such-text", "text", 0},
		{"~", "text", 6},
		{"2004", "invalid", 0},
		{"tcp prot 8080", "invalid", 0},
	} {
		if k := CheckFilter(tc.filter).Kind.String(); k != tc.kind {
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
	if fs := e.Flows(SortBytes, "~veth7", testTS); len(fs) != 1 || fs[0].Ifindex != 7 {
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
	const expr = "udp src port 2000 and greater 1" // the length: not decided by the key
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

func TestCheckFilter(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   FilterCheck
	}{
		{"", FilterCheck{Kind: FilterNone}},
		{"  ", FilterCheck{Kind: FilterNone}},
		{"~CLOSED", FilterCheck{Kind: FilterText}},
		{"tcp port 443", FilterCheck{Kind: FilterPcap}},
		{"tcp prot 8080", FilterCheck{Kind: FilterInvalid, Pos: 4, Msg: `unknown word "prot": did you mean "port"?`}},
		{"host", FilterCheck{Kind: FilterInvalid, Pos: 4, Msg: `expected an address after "host"`}},
		{"(udp", FilterCheck{Kind: FilterInvalid, Pos: 4, Msg: `expected ")"`}},
	} {
		if got := CheckFilter(tc.filter); got != tc.want {
			t.Errorf("CheckFilter(%q) = %+v, want %+v", tc.filter, got, tc.want)
		}
	}
}

// TestDisplayFilterMatchesKeys: an expression keeps the flows whose key
// matches it even when none of their packets is left in the ring, in the
// directions the flow sent packets; what the key does not hold (flags,
// lengths) is decided by the packets still retained only.
func TestDisplayFilterMatchesKeys(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 64, RingBytes: 1 << 14})
	ts := testTS
	add := func(d []byte) {
		ts = ts.Add(time.Millisecond)
		e.Add(packet.Packet{Nanos: packet.Nanos(ts), Dir: packet.DirIn, OrigLen: uint32(len(d)), Data: d})
	}
	add(serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 443, TCPSyn, 1, 0)))
	add(serialize(t, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolTCP), tcp(443, 40000, TCPSyn|TCPAck, 9, 2)))
	add(serialize(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(40001, 443, TCPAck, 1, 1)))
	add(serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(5353, 53), payload(make([]byte, 20))))
	add(serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: ip4A.To4(),
			DstHwAddress: make([]byte, 6), DstProtAddress: ip4B.To4()}))
	early := e.Stats(ts).LastSeq
	for range 1000 { // flow after flow of UDP to port 9: the packets above leave the ring
		add(udpFrame(t, 7000, 100))
	}
	if st := e.Stats(ts); st.FirstSeq <= early || st.Flows != 5 {
		t.Fatalf("ring from %d (the first flows' packets end at %d), %d flows", st.FirstSeq, early, st.Flows)
	}
	for _, tc := range []struct {
		filter string
		want   []string // the flows kept, by String
	}{
		{"tcp port 443", []string{"TCP 10.0.0.1:40000 <-> 10.0.0.2:443 SYN-ACK", "TCP [2001:db8::a]:40001 <-> [2001:db8::b]:443 ESTABLISHED"}},
		{"ip6 and tcp", []string{"TCP [2001:db8::a]:40001 <-> [2001:db8::b]:443 ESTABLISHED"}},
		{"tcp src port 443 and host 10.0.0.1", []string{"TCP 10.0.0.1:40000 <-> 10.0.0.2:443 SYN-ACK"}},
		{"udp dst port 53", []string{"UDP 10.0.0.1:5353 <-> 10.0.0.2:53"}},
		{"udp src port 53", nil}, // only 5353 -> 53 was seen
		{"arp", []string{"ARP 02:00:00:00:00:0a <-> ff:ff:ff:ff:ff:ff"}},
		{"tcp[tcpflags] & tcp-syn != 0", nil}, // flags: only in packets, gone
		{"tcp port 443 and greater 10", nil},  // lengths: the same
		{"udp port 9 and greater 10", []string{"UDP 10.0.0.1:7000 <-> 10.0.0.2:9"}},
	} {
		var got []string
		for _, f := range e.Flows(SortFirstSeen, tc.filter, ts) {
			got = append(got, f.String())
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.filter, got, tc.want)
		}
	}
}
