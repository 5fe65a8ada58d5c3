package decode

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

func framesByName(t *testing.T) map[string][]byte {
	m := map[string][]byte{}
	for _, tf := range testFrames(t) {
		m[tf.name] = tf.data
	}
	return m
}

func TestFlowCanonicalBothWays(t *testing.T) {
	fr := framesByName(t)
	e := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 16})
	ts := testTS
	// A SYN from 10.0.0.1, a SYN-ACK back, an ACK: one flow, A = 10.0.0.1.
	for i, name := range []string{"tcp-syn", "tcp-synack", "tcp-ack", "tcp-ack"} {
		e.Add(packet.Packet{Nanos: packet.Nanos(ts.Add(time.Duration(i) * time.Millisecond)), Dir: packet.DirOut, OrigLen: uint32(len(fr[name])), Data: fr[name]})
	}
	fs := e.Flows(SortBytes, "", ts)
	if len(fs) != 1 {
		t.Fatalf("got %d flows, want 1: %+v", len(fs), fs)
	}
	f := fs[0]
	if f.A != "10.0.0.1:40000" || f.B != "10.0.0.2:443" || f.Proto != "TCP" {
		t.Errorf("endpoints %s %s <-> %s", f.Proto, f.A, f.B)
	}
	if f.PktsAB != 3 || f.PktsBA != 1 || f.BytesAB != 3*60 || f.BytesBA != 60 {
		t.Errorf("counters AB %d/%d BA %d/%d", f.PktsAB, f.BytesAB, f.PktsBA, f.BytesBA)
	}
	if f.State != "ESTABLISHED" {
		t.Errorf("state %q", f.State)
	}
	if !f.First.Equal(ts) || !f.Last.Equal(ts.Add(3*time.Millisecond)) {
		t.Errorf("first %v last %v", f.First, f.Last)
	}

	// Started from the other side, the first sender is A.
	e2 := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 16})
	e2.Add(packet.Packet{Nanos: packet.Nanos(ts), Data: fr["tcp-synack"]})
	e2.Add(packet.Packet{Nanos: packet.Nanos(ts), Data: fr["tcp-syn"]})
	f = e2.Flows(SortBytes, "", ts)[0]
	if f.A != "10.0.0.2:443" || f.PktsAB != 1 || f.PktsBA != 1 {
		t.Errorf("reverse: %+v", f)
	}
}

func TestFlowTCPStates(t *testing.T) {
	fr := framesByName(t)
	for _, tc := range []struct {
		seq  []string
		want string
	}{
		{[]string{"tcp-syn"}, "SYN"},
		{[]string{"tcp-syn", "tcp-synack"}, "SYN-ACK"},
		{[]string{"tcp-syn", "tcp-synack", "tcp-ack"}, "ESTABLISHED"},
		{[]string{"tcp-ack"}, "ESTABLISHED"},
		{[]string{"tcp-ack", "tcp-fin"}, "FIN"},
		{[]string{"tcp-ack", "tcp-rst"}, "CLOSED"},
	} {
		e := NewEngine(Config{MaxFlows: 4, RingBytes: 1 << 12})
		for _, n := range tc.seq {
			e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: fr[n]})
		}
		if got := e.Flows(SortBytes, "", testTS)[0].State; got != tc.want {
			t.Errorf("%v: state %q, want %q", tc.seq, got, tc.want)
		}
	}
}

func TestFlowNonIPAndLabels(t *testing.T) {
	fr := framesByName(t)
	e := NewEngine(Config{})
	for _, n := range []string{"arp-request", "arp-reply", "lldp", "tls-client-hello", "dns-query", "dns-response", "vxlan-tcp"} {
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: fr[n]})
	}
	byProto := map[string][]FlowView{}
	for _, f := range e.Flows(SortBytes, "", testTS) {
		byProto[f.Proto] = append(byProto[f.Proto], f)
	}
	if len(byProto["ARP"]) != 2 || len(byProto["LLDP"]) != 1 {
		t.Errorf("non-IP flows: %+v", byProto)
	}
	if a := byProto["ARP"]; len(a) > 0 && !strings.Contains(a[0].A+a[0].B, "02:00:00:00:00:0") {
		t.Errorf("ARP endpoints: %+v", a[0])
	}
	if u := byProto["UDP"]; len(u) != 1 || u[0].PktsAB != 1 || u[0].PktsBA != 1 || u[0].Label != "example.com." {
		t.Errorf("DNS flow: %+v", u)
	}
	found := false
	for _, f := range byProto["TCP"] {
		if f.Label == "example.com" {
			found = true
		}
		if f.BPort == 80 && f.Tunnel != "VXLAN vni=42" {
			t.Errorf("vxlan flow: %+v", f)
		}
	}
	if !found {
		t.Errorf("no flow labelled with the SNI: %+v", byProto["TCP"])
	}
	if got := e.Flows(SortBytes, "~EXAMPLE.COM", testTS); len(got) != 2 {
		t.Errorf("filter: %d flows", len(got))
	}
}

// udpFrame builds a UDP frame from 10.0.0.1:sport to 10.0.0.2:53 with n payload bytes.
func udpFrame(t testing.TB, sport uint16, n int) []byte {
	return serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(sport, 9), payload(make([]byte, n)))
}

func TestFlowEviction(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 8, RingBytes: 1 << 16, IdleTimeout: 10 * time.Second})
	// Full table: 20 flows through 8 slots evicts the 12 least recently seen.
	for i := range 20 {
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Millisecond)), Data: udpFrame(t, uint16(1000+i), 10)})
	}
	st := e.Stats(testTS)
	if st.Flows != 8 || st.EvictedFull != 12 || st.EvictedIdle != 0 {
		t.Fatalf("full: %+v", st)
	}
	// The survivors are the newest, 1012..1019; touching 1012 keeps it
	// from being the next victim.
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Second)), Data: udpFrame(t, 1012, 10)})
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Second)), Data: udpFrame(t, 2000, 10)})
	var ports []int
	for _, f := range e.Flows(SortBytes, "", testTS.Add(time.Second)) {
		ports = append(ports, int(f.APort))
	}
	slices.Sort(ports)
	if want := []int{1012, 1014, 1015, 1016, 1017, 1018, 1019, 2000}; !slices.Equal(ports, want) {
		t.Errorf("LRU survivors %v, want %v", ports, want)
	}
	// Idle: flows last seen more than 10 s before a packet are evicted.
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(10500 * time.Millisecond)), Data: udpFrame(t, 3000, 10)})
	st = e.Stats(testTS)
	if st.Flows != 3 || st.EvictedIdle != 6 {
		// 1012 and 2000 were seen at +1 s, within 10 s of +10.5 s.
		t.Errorf("idle: %+v", st)
	}
	if fs := e.Flows(SortBytes, "", testTS.Add(time.Hour)); len(fs) != 0 {
		t.Errorf("all flows should expire at now+1h, got %d", len(fs))
	}
}

func TestFlowRates(t *testing.T) {
	e := NewEngine(Config{})
	data := udpFrame(t, 1, 100-42)
	base := time.Unix(1_700_000_000, 0)
	// 10 s at 100 pkt/s of 100 bytes.
	for s := range 10 {
		for i := range 100 {
			e.Add(packet.Packet{Nanos: packet.Nanos(base.Add(time.Duration(s)*time.Second + time.Duration(i)*10*time.Millisecond)), Data: data})
		}
	}
	now := base.Add(10 * time.Second)
	f := e.Flows(SortRate, "", now)[0]
	if f.PPS < 99 || f.PPS > 101 || f.BPS < 79_000 || f.BPS > 81_000 {
		t.Errorf("flow rate %v pps %v bps", f.PPS, f.BPS)
	}
	st := e.Stats(now)
	if st.PPS < 99 || st.PPS > 101 {
		t.Errorf("total rate %v pps", st.PPS)
	}
	// A flow gone quiet is at 0 a second after its last packet, not a
	// decaying average.
	if st := e.Stats(now.Add(time.Second)); st.PPS != 0 {
		t.Errorf("rate a second after the last packet: %v", st.PPS)
	}
	if f := e.Flows(SortRate, "", now.Add(time.Second))[0]; f.PPS != 0 || f.BPS != 0 {
		t.Errorf("flow rate a second after its last packet: %v pps %v bps", f.PPS, f.BPS)
	}
	// Half a second on, half of the last second's packets are still in
	// the window.
	if st := e.Stats(now.Add(500 * time.Millisecond)); st.PPS < 45 || st.PPS > 55 {
		t.Errorf("rate half a second after: %v, want about 50", st.PPS)
	}
}

// TestRateShowsABurstAtOnce: a flow that moved a lot in the current second
// shows it now, not a second later.
func TestRateShowsABurstAtOnce(t *testing.T) {
	var r rate
	base := time.Unix(1_700_000_000, 0).UnixNano()
	for i := range 100 {
		r.add(base+int64(i)*int64(time.Millisecond), 1000)
	}
	pps, bps := r.at(base + int64(200*time.Millisecond))
	if pps != 100 || bps != 800_000 {
		t.Errorf("mid-second after a burst: %v pps %v bps, want 100 and 800000", pps, bps)
	}
	// A gap of more than a second forgets the old bucket.
	r.add(base+int64(3*time.Second), 1000)
	if pps, _ := r.at(base + int64(3*time.Second) + 1); pps != 1 {
		t.Errorf("after a gap: %v pps, want 1", pps)
	}
}

func TestRingBounds(t *testing.T) {
	const ringBytes = 4096
	e := NewEngine(Config{RingBytes: ringBytes})
	sizes := []int{60, 1400, 100, 700, 60, 1500, 300}
	var added [][]byte
	for i := range 200 {
		data := udpFrame(t, uint16(i%5), sizes[i%len(sizes)])
		data[len(data)-1] = byte(i) // tell packets apart
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Millisecond)), Ifindex: 3, Dir: packet.DirIn, OrigLen: uint32(len(data) + 4), Data: data})
		added = append(added, data)
		st := e.Stats(testTS)
		if st.RingBytes > ringBytes || st.RingFill > 100 {
			t.Fatalf("after %d: ring holds %d bytes (%.1f%%) of %d", i, st.RingBytes, st.RingFill, ringBytes)
		}
	}
	st := e.Stats(testTS)
	if st.RingEvicted == 0 || st.LastSeq != 200 || st.FirstSeq != 200-uint64(st.RingPackets)+1 {
		t.Fatalf("ring stats: %+v", st)
	}
	if st.RingFill < 50 {
		t.Errorf("fill %.1f%%", st.RingFill)
	}
	// The oldest are gone, the newest are intact.
	if _, ok := e.Packet(1); ok {
		t.Error("packet 1 should have been evicted")
	}
	for seq := st.FirstSeq; seq <= st.LastSeq; seq++ {
		f, ok := e.Packet(seq)
		if !ok || !bytes.Equal(f.Data, added[seq-1]) || f.Ifindex != 3 || f.Dir != packet.DirIn || int(f.OrigLen) != len(f.Data)+4 {
			t.Fatalf("packet %d: ok=%v %d bytes", seq, ok, len(f.Data))
		}
	}
	snap, _ := e.Snapshot()
	if len(snap) != st.RingPackets {
		t.Fatalf("snapshot %d packets, ring %d", len(snap), st.RingPackets)
	}
	for i, f := range snap {
		if !bytes.Equal(f.Data, added[int(st.FirstSeq)-1+i]) {
			t.Fatalf("snapshot[%d] out of order", i)
		}
		if i > 0 && f.Time().Before(snap[i-1].Time()) {
			t.Fatalf("snapshot not in time order at %d", i)
		}
	}
	// The snapshot is a copy.
	snap[0].Data[0] ^= 0xff
	if f, _ := e.Packet(st.FirstSeq); f.Data[0] == snap[0].Data[0] {
		t.Error("snapshot aliases the ring")
	}
}

func TestRingSnapshotTimeOrder(t *testing.T) {
	e := NewEngine(Config{RingBytes: 1 << 16})
	// Per-CPU perf rings deliver slightly out of order.
	for _, ms := range []int{0, 2, 1, 3} {
		data := udpFrame(t, uint16(ms), 10)
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(ms) * time.Millisecond)), Data: data})
	}
	var got []int
	for _, f := range first(e.Snapshot()) {
		got = append(got, int(f.Time().Sub(testTS).Milliseconds()))
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("snapshot order %v", got)
		}
	}
}

func TestFlowPackets(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 2, RingBytes: 2048})
	// Interleave two flows, 64-byte frames.
	for i := range 40 {
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Millisecond)), Dir: packet.DirOut, Data: udpFrame(t, uint16(1+i%2), 10)})
	}
	fs := e.Flows(SortBytes, "", testTS)
	if len(fs) != 2 {
		t.Fatalf("%d flows", len(fs))
	}
	st := e.Stats(testTS)
	for _, f := range fs {
		pkts := e.FlowPackets(f.ID, 1000)
		// Only what the ring retains, all of this flow, oldest first.
		if len(pkts) == 0 || len(pkts) > st.RingPackets/2+1 {
			t.Fatalf("flow %d: %d packets, ring holds %d", f.APort, len(pkts), st.RingPackets)
		}
		for i, p := range pkts {
			if !strings.Contains(p.Src, ":"+itoa(uint64(f.APort))) || p.Dir != packet.DirOut {
				t.Errorf("packet %d of flow %d: %+v", p.Seq, f.APort, p)
			}
			if i > 0 && p.Seq <= pkts[i-1].Seq {
				t.Errorf("not oldest first: %d after %d", p.Seq, pkts[i-1].Seq)
			}
		}
		if got := e.FlowPackets(f.ID, 3); len(got) != 3 || got[2].Seq != pkts[len(pkts)-1].Seq {
			t.Errorf("max 3: %+v", got)
		}
	}
	// Evict both flows from the table: their retained packets are still found.
	id := fs[0].ID
	before := e.FlowPackets(id, 1000)
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: udpFrame(t, 100, 10)})
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: udpFrame(t, 101, 10)})
	if _, ok := e.Flow(id, testTS); ok {
		t.Fatal("flow should have been evicted")
	}
	after := e.FlowPackets(id, 1000)
	if len(after) == 0 || len(after) > len(before) || after[len(after)-1].Seq != before[len(before)-1].Seq {
		t.Errorf("after flow eviction: %d packets, before %d", len(after), len(before))
	}
}

func TestEngineCounters(t *testing.T) {
	e := NewEngine(Config{})
	for _, tf := range testFrames(t) {
		origLen := tf.origLen
		if origLen == 0 {
			origLen = len(tf.data)
		}
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS), OrigLen: uint32(origLen), Data: tf.data})
	}
	e.SetCaptureCounters(3, 4)
	st := e.Stats(testTS)
	if st.Packets != uint64(len(testFrames(t))) || st.Malformed != 3 || st.Truncated != 1 || st.Lost != 3 || st.Dropped != 4 || st.Panics != 0 {
		t.Errorf("%+v", st)
	}
	if st.DecodeErrors() != 3 {
		t.Errorf("decode errors %d", st.DecodeErrors())
	}
}

func TestEngineCopiesData(t *testing.T) {
	e := NewEngine(Config{})
	data := udpFrame(t, 7, 10)
	orig := slices.Clone(data)
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: data})
	for i := range data {
		data[i] = 0
	}
	if f, ok := e.Packet(1); !ok || !bytes.Equal(f.Data, orig) {
		t.Fatal("ring did not copy the frame")
	}
}

// TestFlowPacketsCache: the views FlowPackets keeps between calls are
// those a fresh call would build, whatever came in, left the ring, or was
// asked for (another flow, another max) in between.
func TestFlowPacketsCache(t *testing.T) {
	e := NewEngine(Config{MaxFlows: 4, RingBytes: 4096})
	rng := rand.New(rand.NewPCG(3, 4))
	var ids []uint64
	for step := range 400 {
		for range rng.IntN(5) {
			i := rng.IntN(3)
			e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(step) * time.Millisecond)), Dir: packet.DirIn, Data: udpFrame(t, uint16(1+i), 10+rng.IntN(300))})
		}
		if len(ids) == 0 || step%50 == 0 {
			ids = ids[:0]
			for _, f := range e.Flows(SortBytes, "", testTS) {
				ids = append(ids, f.ID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		id, max := ids[rng.IntN(len(ids))], 1+rng.IntN(20)
		got := e.FlowPackets(id, max)
		e.viewMu.Lock()
		e.viewCache = nil
		e.viewMu.Unlock()
		if want := e.FlowPackets(id, max); !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d, flow %d, max %d: from the cache\n%+v\nfresh\n%+v", step, id, max, got, want)
		}
		if len(e.viewCache) > max {
			t.Fatalf("step %d: the cache holds %d views for a list of %d", step, len(e.viewCache), max)
		}
	}
}

// TestFlowPacketsWhileAdding: FlowPackets lets the engine go between
// chunks of decoding, so packets may leave the ring under it. What it
// returns is packets of the flow asked about, oldest first, each a real
// view: a packet gone in between is left out, never a zero view or
// another packet in its slot.
func TestFlowPacketsWhileAdding(t *testing.T) {
	defer func(n int) { flowPacketsChunk = n }(flowPacketsChunk)
	flowPacketsChunk = 4 // let go often: much interleaving
	e := NewEngine(Config{MaxFlows: 4, RingBytes: 64 << 10})
	w := e.Writer()
	mine, other := udpFrame(t, 9, 100), udpFrame(t, 7, 120)
	// Alternately one frame at a time (Add) and a pass of 4 KiB of them
	// through a Writer, as the capture adds them.
	add := func(rounds int) {
		for r := range rounds {
			if r%2 == 0 {
				e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Dir: packet.DirOut, Data: mine, OrigLen: uint32(len(mine))})
				e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Dir: packet.DirOut, Data: other, OrigLen: uint32(len(other))})
				continue
			}
			for n := 0; n+len(mine)+len(other) <= 4096; n += len(mine) + len(other) {
				for _, f := range [][]byte{mine, other} {
					_ = w.Write(&packet.Packet{Nanos: packet.Nanos(testTS), Dir: packet.DirOut, Data: f, OrigLen: uint32(len(f))})
				}
			}
			_ = w.Flush()
		}
	}
	add(100)
	var id uint64
	for _, f := range e.Flows(SortBytes, "", testTS) {
		if f.APort == 9 || f.BPort == 9 {
			id = f.ID
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		add(20_000) // the ring holds a few hundred packets: it evicts all along
	}()
	calls, empty := 0, 0
	for running := true; running; calls++ {
		select {
		case <-done:
			running = false
		default:
		}
		e.viewMu.Lock()
		e.viewCache = nil // decode every packet, every call
		e.viewMu.Unlock()
		pkts := e.FlowPackets(id, 1000)
		if len(pkts) == 0 {
			empty++ // the ring turned over while one call decoded
		}
		for i, p := range pkts {
			if p.Seq == 0 || p.Len != len(mine) || !strings.Contains(p.Src+p.Dst, ":9") {
				t.Fatalf("call %d, packet %d: %+v", calls, i, p)
			}
			if i > 0 && p.Seq <= pkts[i-1].Seq {
				t.Fatalf("call %d: not oldest first: %d after %d", calls, p.Seq, pkts[i-1].Seq)
			}
		}
	}
	if empty == calls {
		t.Error("every call came back empty: nothing was checked")
	}
	t.Logf("%d calls, %d empty (the ring turned over during one)", calls, empty)
}

// first is a call's first result.
func first[T any](v T, _ int) T { return v }
