package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// tseg is one TCP packet of a test conversation: from the client (c2s)
// or the server, with its flags, sequence and acknowledgment numbers.
type tseg struct {
	c2s      bool
	flags    uint8
	seq, ack uint32
	data     string
}

// convOpts vary how a conversation's frames are built.
type convOpts struct {
	v6   bool
	vlan uint16 // a VLAN tag when not 0
}

// tcpConv builds the frames of segs, a millisecond apart, client
// 10.0.0.1:40000 (or 2001:db8::a), server 10.0.0.2:80 (2001:db8::b).
func tcpConv(tb testing.TB, o convOpts, segs ...tseg) []packet.Packet {
	tb.Helper()
	var out []packet.Packet
	for i, s := range segs {
		sp, dp := uint16(40000), uint16(80)
		if !s.c2s {
			sp, dp = dp, sp
		}
		out = append(out, frameOf(tb, o, s.c2s, layers.IPProtocolTCP, tcp(sp, dp, s.flags, s.seq, s.ack), []byte(s.data), i))
	}
	return out
}

func frameOf(tb testing.TB, o convOpts, c2s bool, proto layers.IPProtocol, l4 gopacket.SerializableLayer, data []byte, i int) packet.Packet {
	tb.Helper()
	var ls []gopacket.SerializableLayer
	et := layers.EthernetTypeIPv4
	if o.v6 {
		et = layers.EthernetTypeIPv6
	}
	if c2s {
		ls = append(ls, eth(et))
	} else {
		ls = append(ls, ethBA(et))
	}
	if o.vlan != 0 {
		ls[0].(*layers.Ethernet).EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, vlanTag(o.vlan, et))
	}
	switch {
	case o.v6 && c2s:
		ls = append(ls, ip6(proto))
	case o.v6:
		ip := ip6(proto)
		ip.SrcIP, ip.DstIP = ip6B, ip6A
		ls = append(ls, ip)
	case c2s:
		ls = append(ls, ip4(proto))
	default:
		ls = append(ls, ip4BA(proto))
	}
	ls = append(ls, l4, payload(data))
	b := serialize(tb, ls...)
	return packet.Packet{Data: b, OrigLen: uint32(len(b)), Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Millisecond))}
}

// streamText writes a stream compactly: "C:bytes|" and "S:bytes|" for
// data, "C[3 lost]" for a gap (snap, start).
func streamText(st Stream) string {
	var b strings.Builder
	for _, s := range st.Segments {
		d := "C"
		if s.Dir == ServerToClient {
			d = "S"
		}
		switch s.GapWhy {
		case GapLost:
			fmt.Fprintf(&b, "%s[%d lost]", d, s.Gap)
		case GapSnap:
			fmt.Fprintf(&b, "%s[%d snap]", d, s.Gap)
		case GapStart:
			fmt.Fprintf(&b, "%s[start]", d)
		}
		if len(s.Data) > 0 {
			fmt.Fprintf(&b, "%s:%s|", d, s.Data)
		}
	}
	return b.String()
}

// handshake is a connection's opening with client ISN c and server ISN s.
func handshake(c, s uint32) []tseg {
	return []tseg{
		{true, TCPSyn, c, 0, ""},
		{false, TCPSyn | TCPAck, s, c + 1, ""},
		{true, TCPAck, c + 1, s + 1, ""},
	}
}

const ack = TCPAck | TCPPsh

func TestReassembleTCP(t *testing.T) {
	const c, s = 1000, 5000
	hs := handshake(c, s)
	for _, tc := range []struct {
		name    string
		o       convOpts
		segs    []tseg
		want    string
		gaps    int
		missing [2]int
	}{
		{
			name: "in order",
			segs: append(hs,
				tseg{true, ack, c + 1, s + 1, "GET / HTTP/1.1\r\n"},
				tseg{true, ack, c + 17, s + 1, "\r\n"},
				tseg{false, ack, s + 1, c + 19, "HTTP/1.1 200 OK\r\n\r\n"},
				tseg{false, ack, s + 20, c + 19, "hello"},
				tseg{false, ack | TCPFin, s + 25, c + 19, ""},
				tseg{true, ack | TCPFin, c + 19, s + 26, ""},
			),
			want: "C:GET / HTTP/1.1\r\n\r\n|S:HTTP/1.1 200 OK\r\n\r\nhello|",
		},
		{
			// The second half of the request comes first: the request is
			// readable, whole, when the first half arrives, after the
			// server's early bytes.
			name: "out of order",
			segs: append(hs,
				tseg{true, ack, c + 4, s + 1, "def"},
				tseg{false, ack, s + 1, c + 1, "220 ready\r\n"},
				tseg{true, ack, c + 1, s + 12, "abc"},
				tseg{true, ack, c + 7, s + 12, "ghi"},
			),
			want: "S:220 ready\r\n|C:abcdefghi|",
		},
		{
			name: "retransmission",
			segs: append(hs,
				tseg{true, ack, c + 1, s + 1, "abc"},
				tseg{true, ack, c + 1, s + 1, "abc"},
				tseg{false, ack, s + 1, c + 4, "xyz"},
				tseg{true, ack, c + 1, s + 4, "abc"},
				tseg{true, ack, c + 4, s + 4, "def"},
			),
			want: "C:abc|S:xyz|C:def|",
		},
		{
			// Overlaps: the bytes first in sequence order win, the
			// extra bytes of a longer retransmission are kept.
			name: "overlap",
			segs: append(hs,
				tseg{true, ack, c + 1, s + 1, "abcdef"},
				tseg{true, ack, c + 5, s + 1, "XXghij"},
				tseg{true, ack, c + 1, s + 1, "YYYYYYYYYYk"},
				tseg{true, ack, c + 3, s + 1, "Z"},
			),
			want: "C:abcdefghijk|",
		},
		{
			name: "lost segment",
			segs: append(hs,
				tseg{true, ack, c + 1, s + 1, "aaa"},
				// c+4: "bbbb" lost
				tseg{true, ack, c + 8, s + 1, "ccc"},
				tseg{false, ack, s + 1, c + 11, "ok"},
			),
			want:    "C:aaa|C[4 lost]C:ccc|S:ok|",
			gaps:    1,
			missing: [2]int{4, 0},
		},
		{
			// The last segments are missing: the FIN and the peer's
			// acknowledgment say how many bytes.
			name: "lost at the end",
			segs: append(hs,
				tseg{true, ack, c + 1, s + 1, "req"},
				tseg{false, ack, s + 1, c + 4, "resp"},
				// s+5: 10 bytes lost
				tseg{false, ack | TCPFin, s + 15, c + 4, ""},
				tseg{true, ack, c + 4, s + 16, ""},
				// c+4: 6 bytes lost, acknowledged by the server
				tseg{false, TCPAck, s + 16, c + 10, ""},
			),
			want:    "C:req|S:resp|S[10 lost]C[6 lost]",
			gaps:    2,
			missing: [2]int{6, 10},
		},
		{
			// The handshake left the ring; the data is picked up mid-stream.
			name: "mid-stream",
			segs: []tseg{
				{true, ack, c + 100, s + 50, "more"},
				{false, ack, s + 50, c + 104, "data"},
				{true, ack, c + 104, s + 54, "!"},
			},
			want: "C[start]C:more|S[start]S:data|C:!|",
			gaps: 2,
		},
		{
			// The SYN is gone but the SYN-ACK tells where the client's
			// bytes start; its first segment is missing.
			name: "SYN gone, first bytes lost",
			segs: []tseg{
				{false, TCPSyn | TCPAck, s, c + 1, ""},
				{true, TCPAck, c + 1, s + 1, ""},
				{true, ack, c + 6, s + 1, "world"},
			},
			want:    "C[5 lost]C:world|",
			gaps:    1,
			missing: [2]int{5, 0},
		},
		{
			name: "sequence wraps around",
			segs: append(handshake(0xfffffffc, 0xfffffffe),
				tseg{true, ack, 0xfffffffd, 0xffffffff, "0123"},
				tseg{true, ack, 0x00000005, 0xffffffff, "89"},
				tseg{true, ack, 0x00000001, 0xffffffff, "4567"},
				tseg{false, ack, 0xffffffff, 0x00000007, "wrap"},
				tseg{false, ack, 0x00000003, 0x00000007, "ped"},
			),
			want: "C:0123456789|S:wrapped|",
		},
		{
			name: "IPv6 in a VLAN",
			o:    convOpts{v6: true, vlan: 42},
			segs: append(hs,
				tseg{true, ack, c + 1, s + 1, "v6 hello"},
				tseg{false, ack, s + 1, c + 9, "v6 bye"},
			),
			want: "C:v6 hello|S:v6 bye|",
		},
		{
			// Packets on the wire from the server side first, then a
			// SYN: the SYN's sender is the client all the same.
			name: "client is the SYN's sender",
			segs: []tseg{
				{false, TCPRst | TCPAck, 9, 0, ""},
				{true, TCPSyn, c, 0, ""},
				{false, TCPSyn | TCPAck, s, c + 1, ""},
				{true, ack, c + 1, s + 1, "hi"},
			},
			want: "C:hi|",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := Reassemble(tcpConv(t, tc.o, tc.segs...), 1<<20)
			if st.Kind != StreamTCP || st.Proto != "TCP" {
				t.Fatalf("kind %d proto %q", st.Kind, st.Proto)
			}
			if got := streamText(st); got != tc.want {
				t.Errorf("stream\n got %q\nwant %q", got, tc.want)
			}
			if st.Gaps != tc.gaps || st.Missing != tc.missing {
				t.Errorf("gaps %d missing %v, want %d %v", st.Gaps, st.Missing, tc.gaps, tc.missing)
			}
			checkStream(t, st, len(tc.segs), 1<<20)
		})
	}
}

// checkStream checks what every stream must satisfy: the byte counts add
// up, indexes are in range, times follow them, nothing beyond maxBytes.
func checkStream(t *testing.T, st Stream, npkts, maxBytes int) {
	t.Helper()
	var n [2]int
	for i, s := range st.Segments {
		n[s.Dir] += len(s.Data)
		if s.Dir > ServerToClient || s.Gap < 0 || s.Index < 0 || s.Index >= npkts {
			t.Fatalf("segment %d: %+v", i, s)
		}
		if len(s.Data) == 0 && s.GapWhy == GapNone {
			t.Fatalf("segment %d is empty", i)
		}
	}
	if n != st.Bytes || n[0]+n[1] > maxBytes {
		t.Fatalf("bytes %v, counted %v (max %d)", st.Bytes, n, maxBytes)
	}
}

func TestReassembleClientEndpoints(t *testing.T) {
	st := Reassemble(tcpConv(t, convOpts{}, handshake(1, 2)...), 100)
	if st.Client != "10.0.0.1:40000" || st.Server != "10.0.0.2:80" {
		t.Errorf("client %q server %q", st.Client, st.Server)
	}
	st = Reassemble(tcpConv(t, convOpts{v6: true}, handshake(1, 2)...), 100)
	if st.Client != "[2001:db8::a]:40000" || st.Server != "[2001:db8::b]:80" {
		t.Errorf("v6: client %q server %q", st.Client, st.Server)
	}
	// The SYN-ACK alone names the client too.
	st = Reassemble(tcpConv(t, convOpts{}, handshake(1, 2)[1:]...), 100)
	if st.Client != "10.0.0.1:40000" {
		t.Errorf("from the SYN-ACK: client %q", st.Client)
	}
}

func TestReassembleSnapLength(t *testing.T) {
	const c, s = 100, 200
	pkts := tcpConv(t, convOpts{}, append(handshake(c, s),
		tseg{true, ack, c + 1, s + 1, "0123456789"},
		tseg{true, ack, c + 11, s + 1, "abcdefghij"},
	)...)
	// The first data segment captured to its sixth payload byte.
	p := &pkts[3]
	p.Data = p.Data[:len(p.Data)-4]
	st := Reassemble(pkts, 1<<20)
	if got, want := streamText(st), "C:012345|C[4 snap]C:abcdefghij|"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	// At the end, the cut shows as a gap of its own.
	st = Reassemble(pkts[:4], 1<<20)
	if got, want := streamText(st), "C:012345|C[4 snap]"; got != want {
		t.Errorf("cut last: got %q want %q", got, want)
	}
}

func TestReassembleDatagrams(t *testing.T) {
	o := convOpts{}
	var pkts []packet.Packet
	add := func(c2s bool, data string) {
		sp, dp := uint16(5353), uint16(53)
		if !c2s {
			sp, dp = dp, sp
		}
		pkts = append(pkts, frameOf(t, o, c2s, layers.IPProtocolUDP, udp(sp, dp), []byte(data), len(pkts)))
	}
	add(false, "first sender is the client")
	add(true, "query")
	add(true, "")
	add(true, "query")
	add(false, "answer:0123456789abc")
	pkts[4].Data = pkts[4].Data[:len(pkts[4].Data)-10] // snap length
	st := Reassemble(pkts, 1<<20)
	if st.Kind != StreamDatagrams || st.Proto != "UDP" || st.Client != "10.0.0.2:53" {
		t.Fatalf("kind %d proto %q client %q", st.Kind, st.Proto, st.Client)
	}
	// Each datagram is a segment of its own, even two alike in a row.
	want := "C:first sender is the client|S:query|S:query|C:answer:012|C[10 snap]"
	if got := streamText(st); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if st.Segments[2].Index != 3 || !st.Segments[2].Time.Equal(testTS.Add(3*time.Millisecond)) {
		t.Errorf("third datagram: index %d time %v", st.Segments[2].Index, st.Segments[2].Time)
	}
	checkStream(t, st, len(pkts), 1<<20)
}

func TestReassembleCut(t *testing.T) {
	const c, s = 1, 1
	pkts := tcpConv(t, convOpts{}, append(handshake(c, s),
		tseg{true, ack, c + 1, s + 1, "0123456789"},
		tseg{false, ack, s + 1, c + 11, "abcdefghij"},
	)...)
	st := Reassemble(pkts, 15)
	if got, want := streamText(st), "C:0123456789|S:abcde|"; got != want || !st.Cut {
		t.Errorf("got %q cut %v, want %q cut", got, st.Cut, want)
	}
	st = Reassemble(pkts, 10)
	if got, want := streamText(st), "C:0123456789|"; got != want || !st.Cut {
		t.Errorf("at a boundary: got %q cut %v, want %q cut", got, st.Cut, want)
	}
	if st = Reassemble(pkts, 20); st.Cut {
		t.Error("cut when everything fits")
	}
}

func TestReassembleNothingToFollow(t *testing.T) {
	arp := serialize(t, eth(layers.EthernetTypeARP), &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
		SourceHwAddress: macA, SourceProtAddress: ip4A, DstHwAddress: make([]byte, 6), DstProtAddress: ip4B,
	})
	for _, pkts := range [][]packet.Packet{nil, {{Data: arp}}, {{Data: []byte{1, 2, 3}}}} {
		if st := Reassemble(pkts, 100); st.Kind != StreamNone || len(st.Segments) != 0 {
			t.Errorf("%d packets: %+v", len(pkts), st)
		}
	}
}

func TestFlowStream(t *testing.T) {
	const c, s = 7, 70
	pkts := tcpConv(t, convOpts{}, append(handshake(c, s),
		tseg{true, ack, c + 1, s + 1, "GET / HTTP/1.1\r\n\r\n"},
		tseg{false, ack, s + 1, c + 19, "HTTP/1.1 200 OK\r\n\r\n"},
		tseg{false, ack, s + 20, c + 19, strings.Repeat("x", 700)},
		tseg{false, ack, s + 720, c + 19, "end"},
	)...)
	// A ring that keeps about the last three packets: the handshake and
	// the request leave it.
	e := NewEngine(Config{RingBytes: 1200})
	for _, p := range pkts {
		e.Add(p)
	}
	flows := e.Flows(SortBytes, "", testTS)
	if len(flows) != 1 {
		t.Fatalf("%d flows", len(flows))
	}
	st, ok := e.FlowStream(flows[0].ID, 1<<20)
	if !ok {
		t.Fatal("no stream")
	}
	if st.Packets >= len(pkts) || st.Packets == 0 {
		t.Fatalf("%d packets in the stream, want fewer than %d", st.Packets, len(pkts))
	}
	// The client's side left the ring; the server's bytes are there,
	// the start of its response aged out.
	got := streamText(st)
	if !strings.HasSuffix(got, strings.Repeat("x", 700)+"end|") || !strings.Contains(got, "S[") {
		t.Errorf("stream %q", got)
	}
	last := st.Segments[len(st.Segments)-1]
	if stats := e.Stats(testTS); last.Seq < stats.FirstSeq || last.Seq > stats.LastSeq {
		t.Errorf("segment seq %d outside the ring [%d,%d]", last.Seq, stats.FirstSeq, stats.LastSeq)
	}
	if p, ok := e.Packet(last.Seq); !ok || !bytes.Contains(p.Data, last.Data[:10]) {
		t.Errorf("segment seq %d is not its packet", last.Seq)
	}
	if _, ok := e.FlowStream(flows[0].ID+99, 100); ok {
		t.Error("a stream for a flow that does not exist")
	}

	// A big ring holds it all; a small maxBytes cuts it.
	e = NewEngine(Config{})
	for _, p := range pkts {
		e.Add(p)
	}
	id := e.Flows(SortBytes, "", testTS)[0].ID
	st, _ = e.FlowStream(id, 1<<20)
	if want := Reassemble(pkts, 1<<20); streamText(st) != streamText(want) || st.Gaps != 0 {
		t.Errorf("from the engine %q, want %q", streamText(st), streamText(want))
	}
	for i, sg := range st.Segments {
		if sg.Seq != uint64(sg.Index)+1 {
			t.Errorf("segment %d: seq %d of packet %d", i, sg.Seq, sg.Index)
		}
	}
	if st, _ = e.FlowStream(id, 20); !st.Cut || st.Bytes[0]+st.Bytes[1] != 20 {
		t.Errorf("maxBytes 20: cut %v bytes %v", st.Cut, st.Bytes)
	}
}

// FuzzReassemble builds a TCP or UDP conversation from a script (each
// five bytes: direction and flags, a sequence number step, a payload
// length) and adds one raw frame: reassembly never panics and keeps its
// invariants.
func FuzzReassemble(f *testing.F) {
	f.Add([]byte{0x02, 0, 0, 0, 0, 0x92, 0, 0, 0, 0, 0x18, 0, 0, 0, 5, 0x98, 0, 0, 0, 9}, []byte{}, uint16(100), false)
	f.Add([]byte{0x18, 0xff, 0xff, 0xff, 3, 0x18, 0, 0, 0, 9, 0x99, 0x80, 0, 0, 1}, []byte{0xff}, uint16(4), false)
	f.Add([]byte{0x00, 0, 0, 0, 5, 0x80, 0, 0, 0, 0}, []byte{}, uint16(7), true)
	for _, tf := range testFrames(f) {
		f.Add([]byte{0x18, 0, 0, 0, 1}, tf.data, uint16(50), false)
	}
	f.Fuzz(func(t *testing.T, script, raw []byte, maxBytes uint16, isUDP bool) {
		var pkts []packet.Packet
		var seq [2]uint32
		pl := bytes.Repeat([]byte("0123456789abcdef"), 16)
		for i := 0; i+5 <= len(script) && len(pkts) < 64; i += 5 {
			c2s := script[i]&0x80 == 0
			d := 0
			if !c2s {
				d = 1
			}
			seq[d] += binary.BigEndian.Uint32(script[i+1:])
			data := pl[:int(script[i+4])%len(pl)]
			sp, dp := uint16(1000), uint16(2000)
			if !c2s {
				sp, dp = dp, sp
			}
			var l4 gopacket.SerializableLayer = tcp(sp, dp, script[i]&0x3f, seq[d], seq[1-d])
			proto := layers.IPProtocolTCP
			if isUDP {
				l4, proto = udp(sp, dp), layers.IPProtocolUDP
			}
			p := frameOf(t, convOpts{v6: script[i]&0x40 != 0}, c2s, proto, l4, data, len(pkts))
			if n := int(script[i+4]); n < len(p.Data) && script[i]&0x20 != 0 {
				p.Data = p.Data[:len(p.Data)-n] // snap length
			}
			pkts = append(pkts, p)
		}
		pkts = append(pkts, packet.Packet{Data: raw, OrigLen: uint32(len(raw)) + uint32(maxBytes)})
		st := Reassemble(pkts, int(maxBytes))
		checkStream(t, st, len(pkts), int(maxBytes))
	})
}

// BenchmarkFlowStream follows a bulk download of 2 MiB in 1448-byte
// segments (the view shows its first MiB), as follow stream does on every
// refresh while the flow moves.
func BenchmarkFlowStream(b *testing.B) {
	const c, s, mss = 1, 1, 1448
	segs := handshake(c, s)
	segs = append(segs, tseg{true, ack, c + 1, s + 1, "GET /big HTTP/1.1\r\n\r\n"})
	body := strings.Repeat("0123456789abcdef", mss/16+1)[:mss]
	for off := 0; off < 2<<20; off += mss {
		segs = append(segs, tseg{false, ack, s + 1 + uint32(off), c + 22, body})
	}
	e := NewEngine(Config{})
	for _, p := range tcpConv(b, convOpts{}, segs...) {
		e.Add(p)
	}
	id := e.Flows(SortBytes, "", testTS)[0].ID
	b.ReportAllocs()
	for b.Loop() {
		if st, ok := e.FlowStream(id, 1<<20); !ok || !st.Cut {
			b.Fatal("no stream")
		}
	}
}
