package decode

import (
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// benchMix returns a realistic mix over ~1000 flows: small TCP ACKs,
// 1,400-byte UDP datagrams and DNS queries and responses.
func benchMix(b *testing.B) [][]byte {
	const flows = 1000
	dnsQ := dnsMsg(0x1234, false, 0, []string{"www", "example", "com"}, 1)
	dnsR := dnsMsg(0x1234, true, 0, []string{"www", "example", "com"}, 1, net.IP{93, 184, 216, 34})
	var out [][]byte
	for i := range 4096 {
		f := i % flows
		a := net.IP{10, 1, byte(f >> 8), byte(f)}
		c := net.IP{10, 2, 0, byte(f % 7)}
		ipv4 := func(p layers.IPProtocol, src, dst net.IP) *layers.IPv4 {
			return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: src, DstIP: dst}
		}
		sport := uint16(30000 + f)
		var data []byte
		switch i % 10 {
		case 0, 1, 2, 3, 4: // TCP ACK, alternating direction
			if i%2 == 0 {
				data = serialize(b, eth(layers.EthernetTypeIPv4), ipv4(layers.IPProtocolTCP, a, c), tcp(sport, 443, TCPAck, uint32(i), 1))
			} else {
				data = serialize(b, ethBA(layers.EthernetTypeIPv4), ipv4(layers.IPProtocolTCP, c, a), tcp(443, sport, TCPAck, 1, uint32(i)))
			}
		case 5, 6, 7:
			data = serialize(b, eth(layers.EthernetTypeIPv4), ipv4(layers.IPProtocolUDP, a, c), udp(sport, 4433), payload(make([]byte, 1400)))
		case 8:
			data = serialize(b, eth(layers.EthernetTypeIPv4), ipv4(layers.IPProtocolUDP, a, c), udp(sport, 53), payload(dnsQ))
		case 9:
			data = serialize(b, ethBA(layers.EthernetTypeIPv4), ipv4(layers.IPProtocolUDP, c, a), udp(53, sport), payload(dnsR))
		}
		out = append(out, data)
	}
	return out
}

func BenchmarkEngineAdd(b *testing.B) {
	mix := benchMix(b)
	e := NewEngine(Config{})
	base := time.Unix(1_700_000_000, 0)
	// Warm up: create the flows and fill the ring once around.
	for i := range 100_000 {
		e.Add(packet.Packet{Nanos: packet.Nanos(base.Add(time.Duration(i) * 500)), Data: mix[i%len(mix)], OrigLen: uint32(len(mix[i%len(mix)]))})
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		d := mix[i%len(mix)]
		e.Add(packet.Packet{Nanos: packet.Nanos(base.Add(time.Duration(100_000+i) * 500)), Data: d, OrigLen: uint32(len(d))})
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pkts/s")
}

func BenchmarkDecode(b *testing.B) {
	mix := benchMix(b)
	d := NewDecoder()
	var s Summary
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := mix[i%len(mix)]
		d.Decode(p, len(p), &s)
	}
}

// BenchmarkGopacketNewPacket is the baseline: the same mix through
// gopacket.NewPacket with the default options, plus the same flow update.
func BenchmarkGopacketNewPacket(b *testing.B) {
	mix := benchMix(b)
	t := newFlowTable(DefaultMaxFlows, int64(DefaultIdleTimeout))
	base := time.Unix(1_700_000_000, 0).UnixNano()
	var s Summary
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		d := mix[i%len(mix)]
		p := gopacket.NewPacket(d, layers.LayerTypeEthernet, gopacket.Default)
		summaryFromPacket(p, &s)
		t.update(&s, 0, base+int64(i)*500, len(d))
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pkts/s")
}

// summaryFromPacket fills the fields the flow table needs from a
// gopacket.Packet.
func summaryFromPacket(p gopacket.Packet, s *Summary) {
	*s = Summary{Len: len(p.Data())}
	if ip, ok := p.NetworkLayer().(*layers.IPv4); ok {
		s.Net = NetIPv4
		s.SrcAddr, s.DstAddr = addrFrom(ip.SrcIP), addrFrom(ip.DstIP)
		s.IPProto = uint8(ip.Protocol)
	}
	switch t := p.TransportLayer().(type) {
	case *layers.TCP:
		s.SrcPort, s.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
		s.TCPFlags = t.Contents[13]
	case *layers.UDP:
		s.SrcPort, s.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
	}
	if dns, ok := p.Layer(layers.LayerTypeDNS).(*layers.DNS); ok && len(dns.Questions) > 0 {
		s.App = AppDNS
		s.setText(dns.Questions[0].Name)
	}
}

// BenchmarkEngineBigFrames adds 64 KB TCP segments (what tc sees of a bulk
// TCP transfer with segmentation offload) through a Writer, as the live
// view does: each is copied into the ring.
func BenchmarkEngineBigFrames(b *testing.B) {
	frame := serialize(b, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 5001, TCPAck, 1, 1), payload(make([]byte, 65000)))
	base := time.Unix(1_700_000_000, 0)
	e := NewEngine(Config{})
	w := e.Writer()
	p := packet.Packet{Data: frame, OrigLen: uint32(len(frame))}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p.Nanos = packet.Nanos(base.Add(time.Duration(n) * time.Microsecond))
		_ = w.Write(&p)
		if n++; n%32 == 0 { // a pass of 2 MiB
			_ = w.Flush()
		}
	}
	_ = w.Flush()
}

// BenchmarkFlowPacketsRefresh is the live view's packet list refreshing
// (1000 rows) while its flow gets 50 new packets between refreshes (1000
// packets/s at 20 refreshes a second).
func BenchmarkFlowPacketsRefresh(b *testing.B) { benchFlowPackets(b, 200, time.Millisecond, 50) }

// benchFlowPackets lists a flow's newest 1000 packets of payload bytes,
// every gap apart, with fresh new ones added before each listing.
func benchFlowPackets(b *testing.B, payload int, gap time.Duration, fresh int) {
	e := NewEngine(Config{})
	base := time.Unix(1_700_000_000, 0)
	frame := udpFrame(b, 5000, payload)
	n := 0
	add := func(k int) {
		for range k {
			e.Add(packet.Packet{Nanos: packet.Nanos(base.Add(time.Duration(n) * gap)), Data: frame, OrigLen: uint32(len(frame))})
			n++
		}
	}
	add(2000)
	id := e.Flows(SortBytes, "", base)[0].ID
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		add(fresh)
		b.StartTimer()
		if len(e.FlowPackets(id, 1000)) != 1000 {
			b.Fatal("short list")
		}
	}
}

// BenchmarkAddPath adds packets to an engine with a 64 MiB ring one at a
// time through a Writer flushed every 1024, as the live view's capture
// adds them: a one-flow stream of 64-byte UDP frames (the veth
// benchmark's 64-byte mix) and benchMix, through the full decode and
// through the fast path (and with a display filter, and with processes
// counted), so that one run gives their ratios.
func BenchmarkAddPath(b *testing.B) {
	udp64 := [][]byte{udpFrame(b, 40000, 22)}
	for _, mix := range []struct {
		name   string
		frames [][]byte
	}{{"udp64", udp64}, {"mix", benchMix(b)}} {
		for _, path := range []string{"full", "fast", "fast-filter", "fast-proc"} {
			b.Run(mix.name+"/"+path, func(b *testing.B) {
				e := NewEngine(Config{})
				e.noFast = path == "full"
				switch path {
				case "fast-filter": // a pcap-filter display filter, matched on every packet
					e.Flows(SortBytes, "udp port 53", time.Time{})
				case "fast-proc": // each frame of a process, counted for it (Processes)
					e.SetProcessNames(func(uint32, time.Time) string { return "" })
				}
				benchWriter(b, e, mix.frames, path == "fast-proc")
			})
		}
	}
}

// benchWriter adds frames round and round through a Writer, flushed every
// 1024, after a warm-up that fills the ring once around; b.N counts
// packets. With pids, each flow is of one of 8 processes (by its ports).
func benchWriter(b *testing.B, e *Engine, frames [][]byte, pids bool) {
	pkts := make([]packet.Packet, len(frames))
	dec := NewDecoder()
	for i, d := range frames {
		pkts[i] = packet.Packet{Data: d, OrigLen: uint32(len(d))}
		if pids {
			var s Summary
			var key packet.FlowKey
			dec.Decode(d, len(d), &s)
			keyOf(&s, &key)
			pkts[i].SetTask(uint32(1000+(key.LoPort^key.HiPort)%8), 0)
		}
	}
	w := e.Writer()
	base := time.Unix(1_700_000_000, 0).UnixNano()
	n := 0
	add := func(k int) {
		for range k {
			p := &pkts[n%len(pkts)]
			p.Nanos = base + int64(n)*500
			_ = w.Write(p)
			if n++; n%1024 == 0 {
				_ = w.Flush()
			}
		}
		_ = w.Flush()
	}
	add(e.ring.size / 64)
	b.ReportAllocs()
	b.ResetTimer()
	add(b.N)
}

// BenchmarkFlowPacketsAllNew is the packet list refreshing under a high
// rate: all 1000 packets listed are new at every refresh.
func BenchmarkFlowPacketsAllNew(b *testing.B) { benchFlowPackets(b, 22, time.Microsecond, 1000) }

// BenchmarkProcesses is one refresh of the processes view: 1,000
// processes of 4 flows each (the view's cost grows with the processes,
// not with the packets).
func BenchmarkProcesses(b *testing.B) {
	e := NewEngine(Config{})
	e.SetProcessNames(func(uint32, time.Time) string { return "" })
	base := time.Unix(1_700_000_000, 0)
	for i := range 4000 {
		d := udpFrame(b, uint16(1000+i), 64)
		p := packet.Packet{Nanos: packet.Nanos(base.Add(time.Duration(i) * time.Microsecond)), Data: d, OrigLen: uint32(len(d))}
		p.SetTask(uint32(100+i/4), 0)
		e.Add(p)
	}
	now := base.Add(time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if ps := e.Processes(SortRate, now); len(ps) != 1000 {
			b.Fatalf("%d processes", len(ps))
		}
	}
}
