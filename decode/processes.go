package decode

import (
	"cmp"
	"slices"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// The processes view (Engine.Processes): packets, bytes and rates in and
// out per process owning flows on this host, kept as packets are added.
// A packet counts for its flow's process (flow.pid: the newest packet of
// the flow that named one), so a packet that names none counts for its
// flow's owner, and pid 0 gathers the traffic of flows no local socket
// owns. Per packet this costs what a flow's rate does: the flow keeps the
// slot of its process, and the table's map is looked up only when a flow
// changes hands.

// procStat is one process's counters; index 0 of the pairs is in, 1 out.
type procStat struct {
	pid         uint32
	flows       int32 // flows of the table attributed to it; the slot is freed at 0
	pkts, bytes [2]uint64
	rate        [2]rate
	first, last int64
}

// procTable holds a procStat for every process some flow of the table is
// attributed to (so it is bounded by the flow table), by slot: a flow
// keeps its process's slot + 1 (flow.proc).
type procTable struct {
	index map[uint32]int32 // pid -> slot
	procs []procStat
	free  []int32
}

func newProcTable() *procTable {
	return &procTable{index: map[uint32]int32{}}
}

// account counts a packet of n bytes of flow fl seen at ts, in direction
// dir, for the flow's process, moving the flow to it first if it changed.
func (t *procTable) account(fl *flow, dir packet.Dir, ts int64, n int) {
	i := fl.proc - 1
	if i < 0 || t.procs[i].pid != fl.pid {
		i = t.attach(fl, ts)
	}
	p := &t.procs[i]
	d := 0
	if dir == packet.DirOut {
		d = 1
	}
	p.pkts[d]++
	p.bytes[d] += uint64(n)
	p.rate[d].add(ts, n)
	p.first = min(p.first, ts)
	p.last = max(p.last, ts)
}

// attach moves flow fl from the process it was counted for, if any, to
// that of fl.pid, making its entry if there is none, and returns its slot.
func (t *procTable) attach(fl *flow, ts int64) int32 {
	if fl.proc != 0 {
		t.release(fl.proc - 1)
	}
	i, ok := t.index[fl.pid]
	if !ok {
		if n := len(t.free); n > 0 {
			i, t.free = t.free[n-1], t.free[:n-1]
		} else {
			t.procs = append(t.procs, procStat{})
			i = int32(len(t.procs) - 1)
		}
		t.procs[i] = procStat{pid: fl.pid, first: ts, last: ts}
		t.index[fl.pid] = i
	}
	t.procs[i].flows++
	fl.proc = i + 1
	return i
}

// release drops a flow from the process in slot i, and the process when
// it has no flow left (its flows went idle or were evicted).
func (t *procTable) release(i int32) {
	p := &t.procs[i]
	if p.flows--; p.flows > 0 {
		return
	}
	delete(t.index, p.pid)
	*p = procStat{}
	t.free = append(t.free, i)
}

// ProcessView is one process's traffic, for the processes view. In is
// what was not seen leaving (ingress, or of no known direction).
type ProcessView struct {
	// Pid is the process (its tgid); 0 gathers the flows no local process
	// owns (forwarded traffic, a socket closed before it was seen).
	Pid uint32
	// Process names it as FlowView.Process does ("curl[4123]" and its
	// container or unit), "" for pid 0 or a process not named;
	// Container is its container ("docker 3f2a1b2c3d4e",
	// SetProcessContainers), "" if none.
	Process, Container string
	Flows              int // flows of the table attributed to it
	PktsIn, PktsOut    uint64
	BytesIn, BytesOut  uint64
	PPSIn, PPSOut      float64 // over the last second
	BPSIn, BPSOut      float64
	First, Last        time.Time
	// History is its bytes per second, both ways, over the HistorySeconds
	// whole seconds before the moment asked for, oldest first.
	History History
	// Members is, on a container's row (GroupProcesses), how many
	// processes it sums; 0 on a process's.
	Members int
}

// Packets returns the packets both ways.
func (v *ProcessView) Packets() uint64 { return v.PktsIn + v.PktsOut }

// Bytes returns the bytes both ways.
func (v *ProcessView) Bytes() uint64 { return v.BytesIn + v.BytesOut }

// BPS returns the bits per second both ways.
func (v *ProcessView) BPS() float64 { return v.BPSIn + v.BPSOut }

// SetProcessContainers gives the function that names the container of a
// process ("docker 3f2a1b2c3d4e"; "" for none), for ProcessView.Container.
// Like SetProcessNames's, it is called outside the engine's lock and must
// be cheap and safe for concurrent use.
func (e *Engine) SetProcessContainers(container func(pid uint32) string) {
	e.mu.Lock()
	e.procContainer = container
	e.mu.Unlock()
}

// procCopy is what Processes copies of a process under the lock.
type procCopy struct {
	pid         uint32
	flows       int32
	pkts, bytes [2]uint64
	pps, bps    [2]float64
	first, last int64
	hist        [HistorySeconds]uint32
}

// Processes returns the processes the flows of the table are attributed
// to (with pid 0 for those of none), sorted by key as Flows sorts flows
// (ties by pid), with rates and histories as of now; nil before
// SetProcessNames, which starts the counting. Flows idle past the timeout
// at now are evicted first. It copies in steps as Flows does.
func (e *Engine) Processes(key SortKey, now time.Time) []ProcessView {
	nowNs := unixNano(now)
	e.mu.Lock()
	t := e.procs
	if t == nil {
		e.mu.Unlock()
		return nil
	}
	e.flows.expire(nowNs)
	n := len(t.index)
	e.mu.Unlock()

	out := make([]ProcessView, 0, n)
	hists := make([]uint32, 0, n*HistorySeconds) // one allocation for them all
	step := make([]procCopy, 0, min(flowsStep, n+16))
	var buf [HistorySeconds]uint32
	for slot, more := 0, true; more; {
		e.mu.Lock()
		step = step[:0]
		for end := min(slot+flowsStep, len(t.procs)); slot < end; slot++ {
			p := &t.procs[slot]
			if p.flows == 0 {
				continue // a free slot
			}
			c := procCopy{pid: p.pid, flows: p.flows, pkts: p.pkts, bytes: p.bytes, first: p.first, last: p.last}
			for d := range 2 {
				c.pps[d], c.bps[d] = p.rate[d].at(nowNs)
				for i, v := range p.rate[d].hist.appendTo(buf[:0], nowNs) {
					c.hist[i] += v
				}
			}
			step = append(step, c)
		}
		more = slot < len(t.procs)
		name, container := e.procName, e.procContainer
		if more {
			e.yieldLocked()
		}
		e.mu.Unlock()
		for i := range step {
			c := &step[i]
			v := ProcessView{
				Pid: c.pid, Flows: int(c.flows),
				PktsIn: c.pkts[0], PktsOut: c.pkts[1], BytesIn: c.bytes[0], BytesOut: c.bytes[1],
				PPSIn: c.pps[0], PPSOut: c.pps[1], BPSIn: c.bps[0], BPSOut: c.bps[1],
				First: fromUnixNano(c.first), Last: fromUnixNano(c.last),
			}
			k := len(hists)
			hists = append(hists, c.hist[:]...)
			v.History = History(hists[k:len(hists):len(hists)])
			if v.Pid != 0 {
				if name != nil {
					v.Process = name(v.Pid)
				}
				if container != nil {
					v.Container = container(v.Pid)
				}
			}
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b ProcessView) int { return compareProcesses(&a, &b, key) })
	return out
}

// compareProcesses orders two rows as Flows orders flows by key, largest
// first; ties by container, then pid, so that rows that do not change do
// not move.
func compareProcesses(a, b *ProcessView, key SortKey) int {
	var c int
	switch key {
	case SortPackets:
		c = cmp.Compare(b.Packets(), a.Packets())
	case SortRate:
		c = cmp.Compare(b.BPS(), a.BPS())
	case SortLastSeen:
		c = b.Last.Compare(a.Last)
	case SortFirstSeen:
		c = b.First.Compare(a.First)
	default:
		c = cmp.Compare(b.Bytes(), a.Bytes())
	}
	if c == 0 {
		c = cmp.Compare(a.Container, b.Container)
	}
	if c == 0 {
		c = cmp.Compare(a.Pid, b.Pid)
	}
	return c
}

// GroupProcesses puts the processes of a container under a row of their
// container's (Members > 0, Pid 0, the sums of theirs), placed among the
// other processes by key and followed by its processes in the order of
// key; a process of no container stays a row of its own.
func GroupProcesses(ps []ProcessView, key SortKey) []ProcessView {
	type group struct {
		row     ProcessView
		members []ProcessView
	}
	var top []*group
	byName := map[string]*group{}
	for _, p := range ps {
		if p.Container == "" {
			top = append(top, &group{row: p})
			continue
		}
		g := byName[p.Container]
		if g == nil {
			g = &group{row: ProcessView{Container: p.Container, History: make(History, len(p.History))}}
			byName[p.Container] = g
			top = append(top, g)
		}
		g.members = append(g.members, p)
		r := &g.row
		r.Members++
		r.Flows += p.Flows
		r.PktsIn += p.PktsIn
		r.PktsOut += p.PktsOut
		r.BytesIn += p.BytesIn
		r.BytesOut += p.BytesOut
		r.PPSIn += p.PPSIn
		r.PPSOut += p.PPSOut
		r.BPSIn += p.BPSIn
		r.BPSOut += p.BPSOut
		if r.First.IsZero() || p.First.Before(r.First) {
			r.First = p.First
		}
		if p.Last.After(r.Last) {
			r.Last = p.Last
		}
		for i := range min(len(r.History), len(p.History)) {
			r.History[i] += p.History[i]
		}
	}
	slices.SortStableFunc(top, func(a, b *group) int { return compareProcesses(&a.row, &b.row, key) })
	out := make([]ProcessView, 0, len(ps)+len(byName))
	for _, g := range top {
		out = append(out, g.row)
		slices.SortFunc(g.members, func(a, b ProcessView) int { return compareProcesses(&a, &b, key) })
		out = append(out, g.members...)
	}
	return out
}
