package decode

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// procPacket is a UDP datagram of flow port, 142 bytes on the wire, of
// process pid (0: none), seen in dir at testTS + ms.
func procPacket(t testing.TB, port uint16, pid uint32, dir packet.Dir, ms int) packet.Packet {
	d := udpFrame(t, port, 100)
	p := packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(ms) * time.Millisecond)), Dir: dir, Data: d, OrigLen: uint32(len(d))}
	p.SetTask(pid, 0)
	return p
}

func procEngine(cfg Config) *Engine {
	e := NewEngine(cfg)
	e.SetProcessNames(func(pid uint32, _ time.Time) string { return fmt.Sprintf("p%d[%d]", pid, pid) })
	e.SetProcessContainers(func(pid uint32, _ time.Time) string {
		if pid == 200 || pid == 300 {
			return "docker abc"
		}
		return ""
	})
	return e
}

// TestProcesses: each process's packets, bytes, rates and history in and
// out, its flows, and pid 0 for the flows of no process; a flow that
// comes to name a process moves to it, the packets before staying where
// they were counted.
func TestProcesses(t *testing.T) {
	e := procEngine(Config{MaxFlows: 16, RingBytes: 1 << 16})
	ms := 0
	add := func(port uint16, pid uint32, dir packet.Dir, n int) {
		for range n {
			ms++
			e.Add(procPacket(t, port, pid, dir, ms))
		}
	}
	add(1000, 100, packet.DirOut, 3)
	add(1000, 100, packet.DirIn, 2)
	add(1001, 100, packet.DirOut, 1)
	add(1002, 200, packet.DirIn, 1)
	add(1003, 300, packet.DirOut, 1)
	add(1004, 0, packet.DirIn, 2)
	add(1005, 0, packet.DirUnknown, 1) // no direction: in
	add(1005, 400, packet.DirIn, 1)

	const size = 142
	type want struct {
		process, container      string
		flows                   int
		pktsIn, pktsOut         uint64
		ppsIn, ppsOut           float64
		wantBytesIn, wantBytesO uint64
	}
	wants := map[uint32]want{
		// 1000's frames name 100 leaving and entering: both its sides are
		// 100's (a connection to itself), and what entered left it too.
		100: {"p100[100]", "", 2, 2, 6, 2, 6, 2 * size, 6 * size},
		200: {"p200[200]", "docker abc", 1, 1, 0, 1, 0, size, 0},
		300: {"p300[300]", "docker abc", 1, 0, 1, 0, 1, 0, size},
		0:   {"", "", 1, 3, 0, 3, 0, 3 * size, 0},
		400: {"p400[400]", "", 1, 1, 0, 1, 0, size, 0},
	}
	// Within the second of the packets: the rate is what it counted.
	now := testTS.Add(500 * time.Millisecond)
	ps := e.Processes(SortBytes, now)
	if len(ps) != len(wants) {
		t.Fatalf("%d processes, want %d: %+v", len(ps), len(wants), ps)
	}
	for _, p := range ps {
		w, ok := wants[p.Pid]
		if !ok {
			t.Errorf("process %d, not expected", p.Pid)
			continue
		}
		if p.Process != w.process || p.Container != w.container || p.Flows != w.flows ||
			p.PktsIn != w.pktsIn || p.PktsOut != w.pktsOut || p.BytesIn != w.wantBytesIn || p.BytesOut != w.wantBytesO {
			t.Errorf("process %d: %q %q %d flows, %d/%d packets, %d/%d bytes; want %+v", p.Pid, p.Process, p.Container, p.Flows, p.PktsIn, p.PktsOut, p.BytesIn, p.BytesOut, w)
		}
		if p.PPSIn != w.ppsIn || p.PPSOut != w.ppsOut || p.BPSIn != 8*float64(w.wantBytesIn) || p.BPSOut != 8*float64(w.wantBytesO) {
			t.Errorf("process %d: %v/%v pps, %v/%v bps; want %+v", p.Pid, p.PPSIn, p.PPSOut, p.BPSIn, p.BPSOut, w)
		}
		if got := len(e.FlowsOf([]uint32{p.Pid}, SortBytes, "", now)); got != p.Flows {
			t.Errorf("process %d: %d flows, FlowsOf lists %d", p.Pid, p.Flows, got)
		}
	}
	// Largest first; ties by container, then pid.
	var order []uint32
	for _, p := range ps {
		order = append(order, p.Pid)
	}
	if want := []uint32{100, 0, 400, 200, 300}; !slices.Equal(order, want) {
		t.Errorf("order by bytes %v, want %v", order, want)
	}
	if got := e.FlowsOf([]uint32{200, 300}, SortBytes, "", now); len(got) != 2 {
		t.Errorf("FlowsOf(200, 300): %d flows", len(got))
	}
	if got := e.FlowsOf([]uint32{}, SortBytes, "", now); len(got) != 0 {
		t.Errorf("FlowsOf(none): %d flows", len(got))
	}

	// Two seconds on: no rate, and the history holds what was counted.
	later := testTS.Add(2 * time.Second)
	for _, p := range e.Processes(SortRate, later) {
		var sum uint64
		for _, v := range p.History {
			sum += uint64(v)
		}
		if sum != p.Bytes() || p.BPS() != 0 || len(p.History) != HistorySeconds {
			t.Errorf("process %d: history %v (sum %d) for %d bytes, %v bps", p.Pid, p.History, sum, p.Bytes(), p.BPS())
		}
	}
}

// TestProcessesEviction: a process outlives its flows (evicted for room
// or idle) until it is idle itself, and keeps its counts when a flow of
// it comes back.
func TestProcessesEviction(t *testing.T) {
	e := procEngine(Config{MaxFlows: 2, RingBytes: 1 << 16, IdleTimeout: 10 * time.Second})
	e.Add(procPacket(t, 1000, 100, packet.DirOut, 1))
	e.Add(procPacket(t, 1001, 200, packet.DirOut, 2))
	e.Add(procPacket(t, 1002, 200, packet.DirOut, 3)) // evicts 1000's flow, not 100
	now := testTS.Add(time.Second)
	ps := e.Processes(SortBytes, now)
	if len(ps) != 2 || ps[0].Pid != 200 || ps[0].Flows != 2 || ps[0].PktsOut != 2 || ps[1].Pid != 100 || ps[1].Flows != 0 || ps[1].PktsOut != 1 {
		t.Fatalf("after an eviction: %+v", ps)
	}
	e.Add(procPacket(t, 1000, 100, packet.DirOut, 4)) // evicts 1001's
	ps = e.Processes(SortPackets, now)
	if len(ps) != 2 || ps[0].Pid != 100 || ps[0].Flows != 1 || ps[0].PktsOut != 2 || ps[1].Pid != 200 || ps[1].Flows != 1 || ps[1].PktsOut != 2 {
		t.Fatalf("100 back: %+v", ps)
	}
	// Idle past the timeout, its flow gone: so is a process. Both were
	// idle over 10 s when 200 sent again: it counts afresh.
	e.Add(procPacket(t, 1002, 200, packet.DirOut, 11_000))
	ps = e.Processes(SortBytes, testTS.Add(13*time.Second))
	if len(ps) != 1 || ps[0].Pid != 200 || ps[0].PktsOut != 1 {
		t.Fatalf("100 idle: %+v", ps)
	}
	if ps := e.Processes(SortBytes, testTS.Add(time.Minute)); len(ps) != 0 {
		t.Errorf("idle: %+v", ps)
	}
	if n := len(e.procs.index); n != 0 {
		t.Errorf("%d processes kept with no flow", n)
	}
	// Without names there is no count.
	if ps := NewEngine(Config{}).Processes(SortBytes, now); ps != nil {
		t.Errorf("no SetProcessNames: %+v", ps)
	}
}

// TestProcessesExpireWithoutView: processes whose flows went idle are
// dropped as packets keep coming, without the processes view asking
// (Processes), so a host starting process after process does not fill
// the table up to its bound.
func TestProcessesExpireWithoutView(t *testing.T) {
	e := procEngine(Config{MaxFlows: 64, RingBytes: 1 << 16, IdleTimeout: 2 * time.Second})
	for i := range 50 { // 50 short-lived processes, a flow each
		e.Add(procPacket(t, uint16(2000+i), uint32(1000+i), packet.DirOut, i))
	}
	if n := len(e.procs.index); n != 50 {
		t.Fatalf("%d processes after their packets, want 50", n)
	}
	// Later, only one process sends: the others' flows idle out, and so
	// do they, with no call to Processes.
	for ms := 5000; ms <= 7000; ms += 500 {
		e.Add(procPacket(t, 3000, 7, packet.DirOut, ms))
	}
	if n := len(e.procs.index); n != 1 {
		t.Errorf("%d processes kept, want only the one still sending", n)
	}
}

// TestProcessesFlowCounts: whatever the flows' comings, goings and
// changes of hands, every flow of the table is counted for each process
// owning a side of it (FlowView.Pid and PeerPid), or for pid 0, and no
// process is kept idle without a flow.
func TestProcessesFlowCounts(t *testing.T) {
	e := procEngine(Config{MaxFlows: 20, RingBytes: 1 << 18, IdleTimeout: 2 * time.Second})
	r := rand.New(rand.NewPCG(1, 2))
	var now time.Time
	for i := range 5000 {
		p := procPacket(t, uint16(1000+r.IntN(60)), uint32(r.IntN(6)), packet.Dir(r.IntN(3)), i)
		e.Add(p)
		if i%500 != 499 {
			continue
		}
		now = p.Time()
		flows := e.Flows(SortBytes, "", now)
		byPid := map[uint32]int{}
		owned := 0
		for _, f := range flows {
			byPid[f.Pid]++
			owned++
			if f.PeerPid != 0 {
				byPid[f.PeerPid]++
				owned++
			}
		}
		total := 0
		for _, v := range e.Processes(SortBytes, now) {
			total += v.Flows
			if v.Flows != byPid[v.Pid] || v.Flows == 0 && v.Packets() == 0 {
				t.Fatalf("packet %d: process %d counts %d flows, the table %d", i, v.Pid, v.Flows, byPid[v.Pid])
			}
		}
		if total != owned {
			t.Fatalf("packet %d: processes count %d flows, the table's have %d owners", i, total, owned)
		}
	}
	// Idle: every flow and process gone.
	if ps := e.Processes(SortBytes, now.Add(time.Minute)); len(ps) != 0 || len(e.procs.index) != 0 {
		t.Errorf("after the idle timeout: %d processes", len(ps))
	}
}

// TestGroupProcesses: a container's row sums its processes and comes
// before them, placed by its sums among the processes of no container.
func TestGroupProcesses(t *testing.T) {
	h := func(v uint32) History { return History{v, 2 * v} }
	ps := []ProcessView{
		{Pid: 1, Process: "a[1]", BytesIn: 500, PktsIn: 5, History: h(1), Flows: 1},
		{Pid: 2, Process: "b[2]", Container: "docker c1", BytesOut: 300, BPSOut: 8, History: h(2), Flows: 2, Last: testTS},
		{Pid: 3, Process: "c[3]", Container: "docker c1", BytesIn: 400, BPSIn: 16, History: h(3), Flows: 1, First: testTS},
		{Pid: 0, BytesIn: 600, History: h(4), Flows: 3},
		{Pid: 4, Process: "d[4]", Container: "podman c2", BytesIn: 50, History: h(5), Flows: 1},
	}
	got := GroupProcesses(ps, SortBytes)
	var rows []string
	for _, p := range got {
		rows = append(rows, fmt.Sprintf("%s/%d/%d", p.Container, p.Pid, p.Members))
	}
	want := []string{"docker c1/0/2", "docker c1/3/0", "docker c1/2/0", "/0/0", "/1/0", "podman c2/0/1", "podman c2/4/0"}
	if !slices.Equal(rows, want) {
		t.Fatalf("rows %v, want %v", rows, want)
	}
	c := got[0]
	if c.Bytes() != 700 || c.BytesIn != 400 || c.BytesOut != 300 || c.Flows != 3 || c.BPS() != 24 ||
		!slices.Equal(c.History, History{5, 10}) || !c.First.Equal(testTS) || !c.Last.Equal(testTS) {
		t.Errorf("container row %+v", c)
	}
	if ps[1].History[0] != 2 {
		t.Error("GroupProcesses changed a process's history")
	}
}

// TestProcessesLoopback: on lo each packet is recorded once, entering
// its receiver and naming it, so a flow's sides name the client and the
// server in turn: both processes keep their counts, in for what named
// them, out for what their peer received once the peer's side was known;
// the flow names both, and a packet naming no process counts for the
// owners of its sides.
func TestProcessesLoopback(t *testing.T) {
	e := procEngine(Config{MaxFlows: 16, RingBytes: 1 << 20})
	toSrv, toCli := udpFrame(t, 1000, 64), udpFrame(t, 1000, 64)
	swapUDP(toCli)
	add := func(d []byte, pid uint32, ms int) {
		p := packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(ms) * time.Millisecond)), Dir: packet.DirIn, Data: d, OrigLen: uint32(len(d))}
		p.SetTask(pid, 0)
		e.Add(p)
	}
	for i := range 10 {
		if i%2 == 0 {
			add(toSrv, 200, i) // the client's datagram, entering the server
		} else {
			add(toCli, 100, i) // the reply, entering the client
		}
	}
	add(toSrv, 0, 10) // naming none: the server's side's owner
	now := testTS.Add(500 * time.Millisecond)
	got := map[uint32][2]uint64{}
	for _, v := range e.Processes(SortBytes, now) {
		got[v.Pid] = [2]uint64{v.PktsIn, v.PktsOut}
		if v.Flows != 1 {
			t.Errorf("process %d: %d flows, want 1", v.Pid, v.Flows)
		}
	}
	// The client's first datagram came before its side was known.
	if want := map[uint32][2]uint64{100: {5, 5}, 200: {6, 5}}; len(got) != 2 || got[100] != want[100] || got[200] != want[200] {
		t.Errorf("in/out by process %v, want %v", got, want)
	}
	fs := e.Flows(SortBytes, "", now)
	if len(fs) != 1 || fs[0].Pid != 100 || fs[0].PeerPid != 200 || fs[0].Process != "p100[100], p200[200]" {
		t.Fatalf("flow: %+v", fs)
	}
	for _, pid := range []uint32{100, 200} {
		if n := len(e.FlowsOf([]uint32{pid}, SortBytes, "", now)); n != 1 {
			t.Errorf("FlowsOf(%d): %d flows", pid, n)
		}
	}
	if fs := e.Flows(SortBytes, "~p200[200]", now); len(fs) != 1 {
		t.Errorf("text filter on the receiver: %d flows", len(fs))
	}
}

// swapUDP swaps the addresses and ports of an Ethernet, IPv4, UDP frame
// (the checksums are not checked).
func swapUDP(d []byte) {
	ip := d[14:]
	for i := range 4 {
		ip[12+i], ip[16+i] = ip[16+i], ip[12+i]
	}
	u := ip[20:]
	u[0], u[1], u[2], u[3] = u[2], u[3], u[0], u[1]
}
