package decode

import (
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// checkFast runs fastParse on a frame and, when it takes the frame,
// checks it against the full decode: no flag the counters count, no
// tunnel, the same flow key and direction, a decoded transport header
// with the same TCP flags, and label set whenever the payload gave the
// decoder a text that could become a flow's label. It returns whether
// the fast path took the frame, and what it read.
func checkFast(t testing.TB, name string, data []byte, origLen int) (bool, fastPacket) {
	t.Helper()
	var k packet.FlowKey
	var fp fastPacket
	if !fastParse(data, origLen > len(data), &k, &fp) {
		return false, fp
	}
	var s Summary
	NewDecoder().Decode(data, origLen, &s)
	if bad := s.Flags & (FlagTruncated | FlagMalformed | FlagUnsupported | FlagPanic | FlagFragment); bad != 0 {
		t.Errorf("%s: fast path took a frame the decoder flags %#x (%v)", name, bad, s.Err)
	}
	if s.Tunnel != TunnelNone {
		t.Errorf("%s: fast path took a %v frame", name, s.Tunnel)
	}
	var want packet.FlowKey
	if srcIsLo := keyOf(&s, &want); k != want || srcIsLo != fp.srcIsLo {
		t.Errorf("%s: fast key %+v (src lo %v), decoder's %+v (src lo %v)", name, k, fp.srcIsLo, want, srcIsLo)
	}
	if !s.transportDecoded() {
		t.Errorf("%s: fast path took a frame whose transport header the decoder did not decode", name)
	}
	if isTCP := s.IPProto == ProtoTCP; fp.tcp != isTCP || isTCP && fp.flags != s.TCPFlags {
		t.Errorf("%s: fast TCP %v flags %#x, decoder's protocol %d flags %#x", name, fp.tcp, fp.flags, s.IPProto, s.TCPFlags)
	}
	if s.textLen > 0 && !fp.label {
		t.Errorf("%s: payload with text %q not marked as a possible label", name, s.rawText())
	}
	return true, fp
}

// fastFrames are frames made for the fast path's edges, with whether it
// must take them and whether their payload may label a flow.
func fastFrames(tb testing.TB) []struct {
	name        string
	data        []byte
	origLen     int // 0: len(data)
	fast, label bool
} {
	type frame = struct {
		name        string
		data        []byte
		origLen     int
		fast, label bool
	}
	udp64 := serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(40000, 9999), payload(make([]byte, 22)))
	patch := func(b []byte, at int, v ...byte) []byte {
		b = append([]byte(nil), b...)
		copy(b[at:], v)
		return b
	}
	ts := tcp(40000, 443, TCPAck, 1, 1)
	ts.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)}}
	mptcp := tcp(40000, 443, TCPAck, 1, 1)
	mptcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMultipathTCP, OptionLength: 4, OptionData: []byte{0x20, 0x01}}}
	badOpt := tcp(40000, 443, TCPAck, 1, 1)
	badOpt.Options = []layers.TCPOption{{OptionType: 8, OptionLength: 10, OptionData: make([]byte, 8)}}
	badOptFrame := serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), badOpt)
	badOptFrame[14+20+20+1] = 40 // an option length past the options: the decoder stops reading them
	opt4 := ip4(layers.IPProtocolUDP)
	opt4.Options = []layers.IPv4Option{{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}} // router alert
	threeTags := serialize(tb, eth(layers.EthernetTypeQinQ), vlanTag(10, layers.EthernetTypeDot1Q), vlanTag(20, layers.EthernetTypeDot1Q),
		vlanTag(30, layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(1000, 2000), payload([]byte("x")))
	ip6udp := serialize(tb, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(1000, 2000), payload([]byte("six")))
	ip6trail := append(append([]byte(nil), ip6udp...), 0xde, 0xad, 0xbe, 0xef)
	get := serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40001, 80, TCPPsh|TCPAck, 1, 1), payload([]byte("GET / HTTP/1.1\r\n\r\n")))
	ack6 := serialize(tb, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(40005, 443, TCPAck, 1, 1), payload([]byte{0x17, 3, 3, 0, 1, 0}))
	return []frame{
		{name: "udp64", data: udp64, fast: true},
		{name: "udp64-trailer", data: append(append([]byte(nil), udp64...), make([]byte, 6)...), fast: true}, // Ethernet padding past the IP packet
		{name: "udp64-snap-payload", data: udp64[:50], origLen: len(udp64), fast: true},
		{name: "udp64-snap-header", data: udp64[:40], origLen: len(udp64)},
		{name: "udp64-cut-header", data: udp64[:40]},
		{name: "udp-length-short", data: patch(udp64, 14+20+4, 0, 4)},
		{name: "udp-length-long", data: patch(udp64, 14+20+4, 0, 200)},
		{name: "udp-length-long-snap", data: patch(udp64, 14+20+4, 0, 200), origLen: 400, fast: true},
		{name: "udp-length-zero", data: patch(udp64, 14+20+4, 0, 0), fast: true},
		{name: "udp-ports-zero", data: patch(udp64, 14+20, 0, 0, 0, 0)},
		{name: "ip-length-long", data: patch(udp64, 14+2, 0, 200)},
		{name: "ip-length-zero", data: patch(udp64, 14+2, 0, 0)},
		{name: "ip-version-6", data: patch(udp64, 14, 0x65)},
		{name: "ip-options", data: serialize(tb, eth(layers.EthernetTypeIPv4), opt4, udp(1000, 2000), payload([]byte("x")))},
		{name: "ip-dont-fragment", data: patch(udp64, 14+6, 0x40), fast: true},
		{name: "ip-more-fragments", data: patch(udp64, 14+6, 0x20)},
		{name: "ip-fragment-offset", data: patch(udp64, 14+7, 1)},
		{name: "three-vlan-tags", data: threeTags},
		{name: "vxlan-src-port", data: patch(udp64, 14+20, 0x12, 0xb5)},
		{name: "tcp-timestamps", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), ts), fast: true},
		{name: "tcp-mptcp", data: serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), mptcp)},
		{name: "tcp-bad-option", data: badOptFrame, fast: true},
		{name: "tcp-offset-past-frame", data: patch(serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(1, 2, TCPAck, 1, 1)), 14+20+12, 0xf0)},
		{name: "http-get", data: get, fast: true, label: true},
		{name: "http-get-snap", data: get[:56], origLen: len(get), fast: true, label: true},
		{name: "ipv6-udp", data: ip6udp, fast: true},
		{name: "ipv6-udp-trailer", data: ip6trail, fast: true},
		{name: "ipv6-length-zero", data: patch(ip6udp, 14+4, 0, 0)},
		{name: "ipv6-length-long", data: patch(ip6udp, 14+4, 1, 0)},
		{name: "ipv6-tls-appdata", data: ack6, fast: true},
	}
}

func TestFastParseFrames(t *testing.T) {
	for _, tf := range testFrames(t) {
		origLen := tf.origLen
		if origLen == 0 {
			origLen = len(tf.data)
		}
		checkFast(t, tf.name, tf.data, origLen)
	}
	// Which of the table's frames the fast path takes, and which it
	// marks as possibly labelling a flow.
	want := map[string]struct{ fast, label bool }{
		"tcp-syn": {true, false}, "tcp-synack": {true, false}, "tcp-ack": {true, false}, "tcp-fin": {true, false}, "tcp-rst": {true, false},
		"http-get": {true, true}, "http-200": {true, true}, "tls-client-hello": {true, true}, "tls-appdata": {true, false},
		"dns-query": {true, true}, "dns-response": {true, true}, "dns-nxdomain": {true, true}, "dns-tcp": {true, true}, "udp-1400": {true, false},
		"vlan-tcp": {true, false}, "qinq-udp": {true, false}, "ipv6-tcp": {true, false},
		"snaplen-payload": {true, true}, "hostile-dns": {true, true}, "hostile-sni": {true, true}, "hostile-http": {true, true},
	}
	for _, tf := range testFrames(t) {
		origLen := max(tf.origLen, len(tf.data))
		var k packet.FlowKey
		var fp fastPacket
		got := fastParse(tf.data, origLen > len(tf.data), &k, &fp)
		w := want[tf.name]
		if got != w.fast || got && fp.label != w.label {
			t.Errorf("%s: fast %v label %v, want fast %v label %v", tf.name, got, fp.label, w.fast, w.label)
		}
	}
	for _, ff := range fastFrames(t) {
		origLen := max(ff.origLen, len(ff.data))
		got, fp := checkFast(t, ff.name, ff.data, origLen)
		if got != ff.fast || got && fp.label != ff.label {
			t.Errorf("%s: fast %v label %v, want fast %v label %v", ff.name, got, fp.label, ff.fast, ff.label)
		}
	}
}

// TestFastParseCorpus checks the fast path against the decoder on every
// packet of the tcpdump test captures.
func TestFastParseCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	var fast, full int
	eachCorpusPacket(t, func(file string, data []byte, ci gopacket.CaptureInfo) {
		if ok, _ := checkFast(t, file, data, ci.Length); ok {
			fast++
		} else {
			full++
		}
	})
	t.Logf("corpus: %d packets for the fast path, %d for the full decode", fast, full)
	if fast == 0 || full == 0 {
		t.Fatalf("fast %d, full %d: the corpus should have both", fast, full)
	}
}

// engineState is everything the view can read of an engine at now.
type engineState struct {
	Stats   Stats
	Flows   []FlowView
	Packets [][]PacketView
}

func stateOf(e *Engine, now time.Time) engineState {
	st := engineState{Stats: e.Stats(now), Flows: e.Flows(SortBytes, "", now)}
	for _, f := range st.Flows {
		st.Packets = append(st.Packets, e.FlowPackets(f.ID, 50))
	}
	return st
}

// diffStates reports the first difference between the states of an
// engine with the fast path and one without.
func diffStates(t *testing.T, fast, full engineState) {
	t.Helper()
	if !reflect.DeepEqual(fast.Stats, full.Stats) {
		t.Errorf("stats:\nfast %+v\nfull %+v", fast.Stats, full.Stats)
	}
	if len(fast.Flows) != len(full.Flows) {
		t.Fatalf("%d flows with the fast path, %d without", len(fast.Flows), len(full.Flows))
	}
	for i := range fast.Flows {
		if !reflect.DeepEqual(fast.Flows[i], full.Flows[i]) {
			t.Fatalf("flow %d:\nfast %+v\nfull %+v", i, fast.Flows[i], full.Flows[i])
		}
		if !reflect.DeepEqual(fast.Packets[i], full.Packets[i]) {
			t.Fatalf("packets of flow %d (%s) differ", i, fast.Flows[i].String())
		}
	}
}

// twoEngines adds every frame to an engine with the fast path and to one
// without, and checks that the view sees the same in both.
type twoEngines struct {
	fast, full *Engine
	last       time.Time
}

func newTwoEngines(cfg Config) *twoEngines {
	te := &twoEngines{fast: NewEngine(cfg), full: NewEngine(cfg)}
	te.full.noFast = true
	return te
}

func (te *twoEngines) add(p packet.Packet) {
	te.fast.Add(p)
	te.full.Add(p)
	te.last = fromUnixNano(p.Nanos)
}

func (te *twoEngines) check(t *testing.T) {
	t.Helper()
	diffStates(t, stateOf(te.fast, te.last), stateOf(te.full, te.last))
	for _, filter := range []string{"tcp", "udp port 53", "vlan"} { // a pcap-filter display filter
		a, b := te.fast.Flows(SortPackets, filter, te.last), te.full.Flows(SortPackets, filter, te.last)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("filter %q: %d flows with the fast path, %d without", filter, len(a), len(b))
		}
	}
}

// TestFastPathSameEngine feeds the tcpdump test captures to an engine
// with the fast path and to one without: flows, counters, the ring and
// the filtered flows must come out the same. The small table and ring
// make flows and packets leave them meanwhile.
func TestFastPathSameEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	te := newTwoEngines(Config{MaxFlows: 256, RingBytes: 1 << 20, KernelCounts: true})
	te.fast.Flows(SortBytes, "tcp", time.Time{}) // a display filter set while adding
	te.full.Flows(SortBytes, "tcp", time.Time{})
	eachCorpusPacket(t, func(_ string, data []byte, ci gopacket.CaptureInfo) {
		te.add(packet.Packet{Nanos: packet.Nanos(ci.Timestamp), Ifindex: uint32(ci.InterfaceIndex), OrigLen: uint32(ci.Length), Data: data})
	})
	if te.fast.fastPackets == 0 || te.full.fastPackets != 0 {
		t.Fatalf("fast path took %d and %d packets", te.fast.fastPackets, te.full.fastPackets)
	}
	t.Logf("%d of %d packets through the fast path", te.fast.fastPackets, te.fast.Stats(te.last).Packets)
	te.check(t)
}

// TestFastPathLabels: a flow picked up mid-stream takes the fast path
// until a packet that may carry its label, which the decoder reads; a
// labelled flow's packets take the fast path again.
func TestFastPathLabels(t *testing.T) {
	te := newTwoEngines(Config{})
	ack := serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40002, 443, TCPAck, 1, 1), payload([]byte{0x17, 3, 3, 0, 1, 0}))
	ackBA := serialize(t, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolTCP), tcp(443, 40002, TCPAck, 1, 1))
	hello := serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40002, 443, TCPPsh|TCPAck, 1, 1), payload(clientHello("late.example")))
	fin := serialize(t, ethBA(layers.EthernetTypeIPv4), ip4BA(layers.IPProtocolTCP), tcp(443, 40002, TCPFin|TCPAck, 1, 1))
	dnsQ := serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(53000, 53), payload(dnsMsg(1, false, 0, []string{"example", "com"}, 1)))
	var i int
	add := func(frames ...[]byte) {
		for _, d := range frames {
			te.add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Millisecond)), Ifindex: 2, OrigLen: uint32(len(d)), Data: d})
			i++
		}
	}
	add(ack, ackBA, ack, ackBA)
	if got := te.fast.fastPackets; got != 3 {
		t.Errorf("%d of 4 mid-stream packets through the fast path; the first TLS record names the flow's application", got)
	}
	add(hello, ack, ackBA, fin)
	if got := te.fast.fastPackets; got != 6 {
		t.Errorf("%d of 8 packets through the fast path; the ClientHello goes to the decoder", got)
	}
	add(dnsQ, dnsQ, dnsQ)
	if got := te.fast.fastPackets; got != 8 {
		t.Errorf("%d of 11 packets through the fast path; the first DNS query goes to the decoder", got)
	}
	fs := te.fast.Flows(SortFirstSeen, "", te.last)
	if len(fs) != 2 || fs[1].Label != "late.example" || fs[1].State != "FIN" || fs[0].Label != "example.com." {
		t.Fatalf("flows %+v", fs)
	}
	te.check(t)
}

// TestFlowFindAfterEviction: the flow find tries first (the last one)
// may have left the table, its slot free or reused by another flow.
func TestFlowFindAfterEviction(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 2, IdleTimeout: time.Second})
	a, b, c := udpFrame(t, 1, 10), udpFrame(t, 2, 10), udpFrame(t, 3, 10)
	add := func(d []byte, at time.Duration) {
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(at)), OrigLen: uint32(len(d)), Data: d})
	}
	add(a, 0)
	add(a, 10*time.Millisecond)
	add(a, 3*time.Second) // idle past the timeout: a new flow, in the slot just freed
	add(b, 3*time.Second)
	add(c, 3*time.Second) // the table is full: a (least recently seen) goes, c takes its slot
	add(c, 3*time.Second)
	add(a, 3*time.Second) // b goes
	fs := e.Flows(SortFirstSeen, "", testTS.Add(3*time.Second))
	var got []uint64
	for _, f := range fs {
		got = append(got, uint64(f.APort), f.Packets())
	}
	if want := []uint64{3, 2, 1, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("flows (port, packets) %v, want %v", got, want)
	}
	if st := e.Stats(testTS); st.EvictedIdle != 1 || st.EvictedFull != 2 {
		t.Errorf("evicted %d idle, %d full; want 1 and 2", st.EvictedIdle, st.EvictedFull)
	}
}

// FuzzFastPath checks the fast path against the decoder on any frame, and
// that an engine with it and one without see the same.
func FuzzFastPath(f *testing.F) {
	for _, tf := range testFrames(f) {
		f.Add(tf.data, uint16(0))
	}
	for _, ff := range fastFrames(f) {
		f.Add(ff.data, uint16(max(ff.origLen-len(ff.data), 0)))
	}
	vlan6 := serialize(f, eth(layers.EthernetTypeDot1Q), vlanTag(5, layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(1, 2, TCPAck, 1, 1))
	f.Add(vlan6, uint16(0))
	f.Add(serialize(f, eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, IHL: 5, TTL: 1, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{1, 2, 3, 4}, DstIP: net.IP{1, 2, 3, 4}},
		udp(7, 7)), uint16(0))

	f.Fuzz(func(t *testing.T, data []byte, extra uint16) {
		origLen := len(data) + int(extra)
		checkFast(t, "fuzz", data, origLen)
		te := newTwoEngines(Config{MaxFlows: 4, RingBytes: 512, IdleTimeout: time.Second})
		for i := range 3 {
			te.add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Millisecond)), OrigLen: uint32(origLen), Data: data})
		}
		diffStates(t, stateOf(te.fast, te.last), stateOf(te.full, te.last))
	})
}
