package decode

import (
	"slices"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

func TestSeries(t *testing.T) {
	const base = 1_000_000 // seconds
	ns := func(sec int64) int64 { return sec * 1e9 }
	var s series
	s.add(base, 10)
	s.add(base, 5)
	s.add(base+2, 7)
	s.add(base+1, 1) // late, still in the window
	got := s.appendTo(nil, ns(base+3)+5e8)
	if len(got) != HistorySeconds {
		t.Fatalf("len %d, want %d", len(got), HistorySeconds)
	}
	want := make([]uint32, HistorySeconds)
	want[HistorySeconds-3], want[HistorySeconds-2], want[HistorySeconds-1] = 15, 1, 7
	if !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	// The second still running is left out.
	if got := s.appendTo(nil, ns(base+2)+1); got[HistorySeconds-1] != 1 || got[HistorySeconds-2] != 15 {
		t.Fatalf("history during second base+2: %v", got[HistorySeconds-3:])
	}
	// Time moves on: the old seconds leave the window, the buckets are
	// reused without their old counts.
	s.add(base+HistorySeconds, 3)
	got = s.appendTo(nil, ns(base+HistorySeconds+1))
	want = make([]uint32, HistorySeconds)
	want[HistorySeconds-1] = 3
	want[0], want[1] = 1, 7 // base+1 and base+2 are still in the window
	if !slices.Equal(got, want) {
		t.Fatalf("after wrapping %v, want %v", got, want)
	}
	// Too old for the window: dropped, not counted in a reused bucket.
	s.add(base, 100)
	if got := s.appendTo(nil, ns(base+HistorySeconds+1)); !slices.Equal(got, want) {
		t.Fatalf("an old second changed the history: %v", got)
	}
	// A long silence clears everything.
	s.add(base+10*HistorySeconds, 1)
	got = s.appendTo(nil, ns(base+10*HistorySeconds+1))
	want = make([]uint32, HistorySeconds)
	want[HistorySeconds-1] = 1
	if !slices.Equal(got, want) {
		t.Fatalf("after a silence %v, want %v", got, want)
	}
	// Saturates rather than wrapping.
	var big series
	big.add(base, 1<<31)
	big.add(base, 1<<31)
	big.add(base, 1<<31)
	if got := big.appendTo(nil, ns(base+1)); got[HistorySeconds-1] != 1<<32-1 {
		t.Fatalf("saturated bucket %d", got[HistorySeconds-1])
	}
}

func TestHistories(t *testing.T) {
	e := NewEngine(Config{})
	start := time.Unix(1_700_000_000, 0)
	data := udpFrame(t, 1, 100-42)
	other := udpFrame(t, 2, 200-42)
	for s := range 5 {
		for range s + 1 { // 1, 2, 3, 4, 5 packets in seconds 0..4
			e.Add(packet.Packet{Nanos: packet.Nanos(start.Add(time.Duration(s) * time.Second)), Data: data})
		}
	}
	e.Add(packet.Packet{Nanos: packet.Nanos(start.Add(4 * time.Second)), Data: other})
	now := start.Add(5*time.Second + 100*time.Millisecond)
	flows := e.Flows(SortBytes, "", now)
	if len(flows) != 2 {
		t.Fatalf("%d flows", len(flows))
	}
	ids := []uint64{flows[0].ID, flows[1].ID, 12345}
	h := e.Histories(ids, now)
	if len(h) != 2 {
		t.Fatalf("histories of %d flows, want 2 (the unknown ID left out)", len(h))
	}
	var busy, quiet History
	for _, f := range flows {
		if f.APort == 1 {
			busy = h[f.ID]
		} else {
			quiet = h[f.ID]
		}
	}
	if want := []uint32{100, 200, 300, 400, 500}; !slices.Equal(busy[HistorySeconds-5:], want) {
		t.Fatalf("busy flow's last seconds %v, want %v", busy[HistorySeconds-5:], want)
	}
	if quiet[HistorySeconds-1] != 200 || quiet[HistorySeconds-2] != 0 {
		t.Fatalf("quiet flow's last seconds %v", quiet[HistorySeconds-3:])
	}
	st := e.Stats(now)
	if want := []uint32{1, 2, 3, 4, 6}; !slices.Equal(st.PacketsHistory[HistorySeconds-5:], want) {
		t.Fatalf("packets history %v, want %v", st.PacketsHistory[HistorySeconds-5:], want)
	}
	if got := st.BytesHistory[HistorySeconds-1]; got != 700 {
		t.Fatalf("bytes in the last second %d, want 700", got)
	}
}

func TestPacketRange(t *testing.T) {
	e := NewEngine(Config{RingBytes: 4096})
	start := time.Unix(1_700_000_000, 0)
	if v, f, l := e.PacketRange(1, 10); v != nil || f != 0 || l != 0 {
		t.Fatalf("empty ring: %v %d %d", v, f, l)
	}
	for i := range 100 {
		e.Add(packet.Packet{Nanos: packet.Nanos(start.Add(time.Duration(i) * time.Millisecond)), Data: udpFrame(t, uint16(1+i%3), 100-42)})
	}
	v, first, last := e.PacketRange(0, 1000)
	if last != 100 || first <= 1 {
		t.Fatalf("ring holds %d..%d, want ..100 with the oldest gone", first, last)
	}
	if len(v) != int(last-first+1) || v[0].Seq != first || v[len(v)-1].Seq != last {
		t.Fatalf("%d views %d..%d for ring %d..%d", len(v), v[0].Seq, v[len(v)-1].Seq, first, last)
	}
	flows := map[uint64]bool{}
	for i, pv := range v {
		if pv.Proto != "UDP" || pv.Len != 100 || pv.Flow == 0 || (i > 0 && pv.Seq != v[i-1].Seq+1) {
			t.Fatalf("view %d: %+v", i, pv)
		}
		flows[pv.Flow] = true
	}
	if len(flows) != 3 {
		t.Fatalf("views name %d flows, want 3", len(flows))
	}
	// A window inside the ring, and one past its end.
	if v, _, _ := e.PacketRange(last-4, last+10); len(v) != 5 || v[4].Seq != last {
		t.Fatalf("tail window: %d views", len(v))
	}
	if v, _, _ := e.PacketRange(last+1, last+10); len(v) != 0 {
		t.Fatalf("window past the end: %d views", len(v))
	}
}

// TestFragmentsJoinTheirFlow: a fragment after the first has no ports; it
// counts in its datagram's flow when the first fragment was seen, and in
// a flow of its own without ports when it was not.
func TestFragmentsJoinTheirFlow(t *testing.T) {
	fr := framesByName(t)
	e := NewEngine(Config{IdleTimeout: -1})
	add := func(name string) {
		t.Helper()
		d, ok := fr[name]
		if !ok {
			t.Fatalf("no frame %q", name)
		}
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS), OrigLen: uint32(len(d)), Data: d})
	}
	add("ipv4-frag-next") // its first not seen yet: a flow without ports
	add("ipv4-frag-first")
	add("ipv4-frag-next")
	add("ipv6-frag-first")
	add("ipv6-frag-next")
	got := map[string]uint64{}
	for _, f := range e.Flows(SortBytes, "", testTS) {
		got[f.Proto+" "+f.A+" "+f.B] = f.Packets()
	}
	want := map[string]uint64{
		"UDP 10.0.0.1:1000 10.0.0.2:2000":           2,
		"UDP 10.0.0.1 10.0.0.2":                     1,
		"UDP [2001:db8::a]:1000 [2001:db8::b]:2000": 2,
	}
	if len(got) != len(want) {
		t.Fatalf("flows %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("flow %q: %d packets, want %d (flows %v)", k, got[k], n, got)
		}
	}
}

func TestPacketTail(t *testing.T) {
	e := NewEngine(Config{})
	if v, f, l := e.PacketTail(5); v != nil || f != 0 || l != 0 {
		t.Fatalf("empty ring: %v %d %d", v, f, l)
	}
	for i := range 20 {
		e.Add(packet.Packet{Nanos: packet.Nanos(time.Unix(1_700_000_000, int64(i))), Data: udpFrame(t, 7, 10)})
	}
	v, first, last := e.PacketTail(5)
	if first != 1 || last != 20 || len(v) != 5 || v[0].Seq != 16 || v[4].Seq != 20 {
		t.Fatalf("tail of 5: %d views from #%d, ring #%d..#%d", len(v), v[0].Seq, first, last)
	}
	if v, _, _ := e.PacketTail(100); len(v) != 20 || v[0].Seq != 1 {
		t.Fatalf("tail of 100 in a ring of 20: %d views", len(v))
	}
}
