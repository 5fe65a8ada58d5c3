package decode

import (
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// statsEngine feeds a mix of flows one millisecond apart and returns the
// engine and the frames by name:
//
//	10.0.0.1 <-> 10.0.0.2: a TCP handshake (40000->443), HTTP, TLS, DNS, ICMP echo
//	10.0.0.9 -> 10.0.0.8:  one UDP datagram of 1,400 bytes
//	2001:db8::a -> ::b:    a TCP SYN and an ICMPv6 echo
//	ARP: a request from A to broadcast, a reply from B to A
func statsEngine(t *testing.T) (*Engine, map[string][]byte, []string) {
	fr := framesByName(t)
	fr["udp-big"] = serialize(t, eth(layers.EthernetTypeIPv4),
		&layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 9}, DstIP: net.IP{10, 0, 0, 8}},
		udp(5000, 6000), payload(make([]byte, 1400)))
	order := []string{
		"tcp-syn", "tcp-synack", "tcp-ack", "http-get", "http-200", "tls-client-hello", "tls-appdata",
		"dns-query", "dns-response", "icmp-echo", "udp-big", "ipv6-tcp", "icmpv6-echo", "arp-request", "arp-reply",
	}
	e := NewEngine(Config{MaxFlows: 64, RingBytes: 1 << 20})
	for i, n := range order {
		d := fr[n]
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Millisecond)), OrigLen: uint32(len(d)), Data: d})
	}
	return e, fr, order
}

func TestStatistics(t *testing.T) {
	e, fr, order := statsEngine(t)
	size := func(names ...string) uint64 {
		n := 0
		for _, s := range names {
			n += len(fr[s])
		}
		return uint64(n)
	}
	ms := func(i int) time.Time { return testTS.Add(time.Duration(i) * time.Millisecond) }
	a4, b4 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	a6, b6 := netip.MustParseAddr("2001:db8::a"), netip.MustParseAddr("2001:db8::b")
	macA, macB, bcast := "02:00:00:00:00:0a", "02:00:00:00:00:0b", "ff:ff:ff:ff:ff:ff"

	// From 10.0.0.1 to 10.0.0.2 and back.
	ab := []string{"tcp-syn", "tcp-ack", "http-get", "tls-client-hello", "dns-query", "icmp-echo"}
	ba := []string{"tcp-synack", "http-200", "tls-appdata", "dns-response"}
	main := Conversation{A: "10.0.0.1", B: "10.0.0.2", AAddr: a4, BAddr: b4, PktsAB: 6, PktsBA: 4,
		BytesAB: size(ab...), BytesBA: size(ba...), Flows: 5, First: ms(0), Last: ms(9)}
	big := Conversation{A: "10.0.0.8", B: "10.0.0.9", AAddr: netip.MustParseAddr("10.0.0.8"), BAddr: netip.MustParseAddr("10.0.0.9"),
		PktsBA: 1, BytesBA: size("udp-big"), Flows: 1, First: ms(10), Last: ms(10)}
	v6 := Conversation{A: "2001:db8::a", B: "2001:db8::b", AAddr: a6, BAddr: b6, PktsAB: 2,
		BytesAB: size("ipv6-tcp", "icmpv6-echo"), Flows: 2, First: ms(11), Last: ms(12)}
	arpReq := Conversation{A: macA, B: bcast, PktsAB: 1, BytesAB: size("arp-request"), Flows: 1, First: ms(13), Last: ms(13)}
	arpRep := Conversation{A: macA, B: macB, PktsBA: 1, BytesBA: size("arp-reply"), Flows: 1, First: ms(14), Last: ms(14)}
	if main.Bytes() >= big.Bytes() || v6.Bytes() <= arpReq.Bytes() || arpReq.Bytes() != arpRep.Bytes() {
		t.Fatalf("the frames no longer make the orders below differ: %d %d %d %d", main.Bytes(), big.Bytes(), v6.Bytes(), arpReq.Bytes())
	}

	st := utcTimes(e.Statistics(SortBytes, ms(15)))
	if st.Flows != 10 || st.Packets != uint64(len(order)) || st.Bytes != size(order...) {
		t.Errorf("totals: %d flows, %d packets, %d bytes", st.Flows, st.Packets, st.Bytes)
	}
	// Equal counters: MAC pairs in address order.
	if want := []Conversation{big, main, v6, arpRep, arpReq}; !reflect.DeepEqual(st.Conversations, want) {
		t.Errorf("conversations by bytes:\n got %+v\nwant %+v", st.Conversations, want)
	}
	if d, bps := main.Duration(), st.Conversations[1].BPS(); d != 9*time.Millisecond || bps != float64(main.Bytes())*8/0.009 {
		t.Errorf("duration %v, %v b/s", d, bps)
	}
	if bps := st.Conversations[0].BPS(); bps != 0 {
		t.Errorf("one instant: %v b/s, want 0", bps)
	}

	ep := func(addr string, ip netip.Addr, txP, txB, rxP, rxB uint64, flows int) Endpoint {
		return Endpoint{Addr: addr, IP: ip, TxPkts: txP, TxBytes: txB, RxPkts: rxP, RxBytes: rxB, Flows: flows}
	}
	e1 := ep("10.0.0.1", a4, 6, size(ab...), 4, size(ba...), 5)
	e2 := ep("10.0.0.2", b4, 4, size(ba...), 6, size(ab...), 5)
	e8 := ep("10.0.0.8", netip.MustParseAddr("10.0.0.8"), 0, 0, 1, size("udp-big"), 1)
	e9 := ep("10.0.0.9", netip.MustParseAddr("10.0.0.9"), 1, size("udp-big"), 0, 0, 1)
	e6a := ep("2001:db8::a", a6, 2, v6.Bytes(), 0, 0, 2)
	e6b := ep("2001:db8::b", b6, 0, 0, 2, v6.Bytes(), 2)
	eMA := ep(macA, netip.Addr{}, 1, size("arp-request"), 1, size("arp-reply"), 2)
	eMB := ep(macB, netip.Addr{}, 1, size("arp-reply"), 0, 0, 1)
	eBC := ep(bcast, netip.Addr{}, 0, 0, 1, size("arp-request"), 1)
	if want := []Endpoint{e8, e9, e1, e2, e6a, e6b, eMA, eMB, eBC}; !reflect.DeepEqual(st.Endpoints, want) {
		t.Errorf("endpoints by bytes:\n got %+v\nwant %+v", st.Endpoints, want)
	}

	type node struct {
		name    string
		depth   int
		packets uint64
		bytes   uint64
	}
	tcp4 := []string{"tcp-syn", "tcp-synack", "tcp-ack", "http-get", "http-200", "tls-client-hello", "tls-appdata"}
	udp4 := []string{"dns-query", "dns-response", "udp-big"}
	ip4 := append(append(append([]string{}, tcp4...), udp4...), "icmp-echo")
	wantProtos := func(by SortKey) []node {
		eth := node{"Ethernet", 0, uint64(len(order)), size(order...)}
		v4 := node{"IPv4", 1, 11, size(ip4...)}
		tcp := node{"TCP", 2, 7, size(tcp4...)}
		tls := node{"TLS", 3, 2, size("tls-client-hello", "tls-appdata")}
		http := node{"HTTP", 3, 2, size("http-get", "http-200")}
		udp := node{"UDP", 2, 3, size(udp4...)}
		dns := node{"DNS", 3, 2, size("dns-query", "dns-response")}
		icmp := node{"ICMP", 2, 1, size("icmp-echo")}
		v6 := node{"IPv6", 1, 2, size("ipv6-tcp", "icmpv6-echo")}
		v6tcp := node{"TCP", 2, 1, size("ipv6-tcp")}
		icmp6 := node{"ICMPv6", 2, 1, size("icmpv6-echo")}
		arp := node{"ARP", 1, 2, size("arp-request", "arp-reply")}
		if by == SortPackets {
			// TCP (7) before UDP (3); IPv6 and ARP tie at 2 packets, IPv6 has more bytes.
			return []node{eth, v4, tcp, tls, http, udp, dns, icmp, v6, v6tcp, icmp6, arp}
		}
		// UDP has the 1,400-byte datagram.
		return []node{eth, v4, udp, dns, tcp, tls, http, icmp, v6, v6tcp, icmp6, arp}
	}
	if tls, http := size("tls-client-hello", "tls-appdata"), size("http-get", "http-200"); tls <= http || size(udp4...) <= size(tcp4...) {
		t.Fatalf("the frames no longer make the orders differ: TLS %d HTTP %d", tls, http)
	}
	check := func(by SortKey, got []ProtoStat) {
		t.Helper()
		var nodes []node
		for _, p := range got {
			nodes = append(nodes, node{p.Name, p.Depth, p.Packets, p.Bytes})
			if ps, bs := 100*float64(p.Packets)/float64(len(order)), 100*float64(p.Bytes)/float64(size(order...)); p.PktShare != ps || p.ByteShare != bs {
				t.Errorf("%s: share %v%% of packets, %v%% of bytes; want %v, %v", p.Name, p.PktShare, p.ByteShare, ps, bs)
			}
		}
		if want := wantProtos(by); !reflect.DeepEqual(nodes, want) {
			t.Errorf("hierarchy (sort %d):\n got %v\nwant %v", by, nodes, want)
		}
	}
	check(SortBytes, st.Protocols)
	if st.Protocols[0].PktShare != 100 || st.Protocols[0].ByteShare != 100 {
		t.Errorf("root share %v %v", st.Protocols[0].PktShare, st.Protocols[0].ByteShare)
	}

	st = utcTimes(e.Statistics(SortPackets, ms(15)))
	check(SortPackets, st.Protocols)
	if want := []Conversation{main, v6, big, arpRep, arpReq}; !reflect.DeepEqual(st.Conversations, want) {
		t.Errorf("conversations by packets:\n got %+v\nwant %+v", st.Conversations, want)
	}
	if want := []Endpoint{e1, e2, e6a, e6b, eMA, e8, e9, eMB, eBC}; !reflect.DeepEqual(st.Endpoints, want) {
		t.Errorf("endpoints by packets:\n got %+v\nwant %+v", st.Endpoints, want)
	}
}

// utcTimes puts the conversations' times in UTC, as the test's are, for
// reflect.DeepEqual.
func utcTimes(st Statistics) Statistics {
	for i := range st.Conversations {
		c := &st.Conversations[i]
		c.First, c.Last = c.First.UTC(), c.Last.UTC()
	}
	return st
}

// A TLS flow picked up mid-stream has no label (no ClientHello) but is
// TLS all the same; an mDNS flow is MDNS.
func TestStatisticsAppWithoutLabel(t *testing.T) {
	fr := framesByName(t)
	mdns := serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(5353, 5353),
		payload(dnsMsg(0, false, 0, []string{"printer", "local"}, 1)))
	e := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 16})
	for i, d := range [][]byte{fr["tls-appdata"], fr["tls-appdata"], mdns} {
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i))), OrigLen: uint32(len(d)), Data: d})
	}
	var names []string
	for _, p := range e.Statistics(SortPackets, testTS).Protocols {
		names = append(names, p.Name)
	}
	if want := []string{"Ethernet", "IPv4", "TCP", "TLS", "UDP", "MDNS"}; !reflect.DeepEqual(names, want) {
		t.Errorf("hierarchy %v, want %v", names, want)
	}
}

// The idle timeout applies as for Flows; an empty table has no hierarchy.
func TestStatisticsEmpty(t *testing.T) {
	e, _, _ := statsEngine(t)
	st := e.Statistics(SortBytes, testTS.Add(time.Hour))
	if st.Flows != 0 || len(st.Conversations) != 0 || len(st.Endpoints) != 0 || st.Protocols != nil {
		t.Errorf("after the idle timeout: %+v", st)
	}
}

// BenchmarkStatistics is one refresh of the statistics view over a full
// table of 65,536 flows.
func BenchmarkStatistics(b *testing.B) {
	e := NewEngine(Config{MaxFlows: 1 << 16})
	base := time.Unix(1_700_000_000, 0)
	for i := range 1 << 16 {
		// 256 clients, 16 servers, 16 ports a pair: 65,536 flows in
		// 4,096 conversations.
		src := net.IP{10, 1, 0, byte(i >> 8)}
		dst := net.IP{10, 2, 0, byte(i & 0xf)}
		d := serialize(b, eth(layers.EthernetTypeIPv4),
			&layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst},
			tcp(uint16(30000+i>>4&0xf), 443, TCPAck, 1, 1))
		e.Add(packet.Packet{Nanos: packet.Nanos(base.Add(time.Duration(i))), OrigLen: uint32(len(d)), Data: d})
	}
	if n := e.Stats(base).Flows; n != 1<<16 {
		b.Fatalf("%d flows", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		if st := e.Statistics(SortBytes, base.Add(time.Second)); st.Flows != 1<<16 {
			b.Fatalf("%d flows", st.Flows)
		}
	}
}
