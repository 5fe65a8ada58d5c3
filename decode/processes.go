package decode

import (
	"cmp"
	"slices"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// The processes view (Engine.Processes): packets, bytes and rates in and
// out per process owning flows on this host, kept as packets are added.
// A packet counts for its own process (the pid it names), else for the
// owner of its local side of the flow: a flow keeps an owner per side
// (flow.owner). Traffic between two local processes (loopback, recorded
// once, at ingress, naming the receiver) counts for both: in for the
// side the packet names, out for the other side's owner. pid 0 gathers the traffic no local socket owns.
// Per packet this costs what a flow's rate does: a flow keeps the slot of
// each side's process, and the table's map is looked up only when a side
// changes hands.

// noPid marks a free slot of the procTable (pid 0 is a row: no process).
const noPid = ^uint32(0)

// procStat is one process's counters; index 0 of the pairs is in, 1 out.
type procStat struct {
	pid         uint32 // noPid: a free slot
	flows       int32  // flows of the table it owns a side of (pid 0: flows of no owner)
	pkts, bytes [2]uint64
	rate        [2]rate
	first, last int64
}

// procTable holds a procStat for every process counted, by slot: a flow
// keeps its sides' processes' slots + 1 (flow.proc). A process is kept
// while it owns a flow of the table and until it has been idle for the
// flow table's timeout (expire); the processes without a flow are also
// dropped when they outnumber the flows' (bound), so the table is bounded
// by the flow table.
type procTable struct {
	index map[uint32]int32 // pid -> slot
	procs []procStat
	free  []int32
	bound int // entries beyond which the processes without a flow go
}

func newProcTable(maxFlows int) *procTable {
	return &procTable{index: map[uint32]int32{}, bound: 2*maxFlows + 16}
}

// side returns the side of a flow whose process a packet sent in
// direction dir of the flow (0: A to B) and seen in pdir names: the
// sender's leaving, else the receiver's (In is what was not seen leaving).
func side(dir int, pdir packet.Dir) int {
	if pdir == packet.DirOut {
		return dir
	}
	return 1 - dir
}

// account counts a packet of n bytes of flow fl, naming process pid (0:
// none), seen at ts in direction pdir, sent in direction dir of the flow:
// for pid, which then owns its side of the flow, or with no pid for the
// owner of that side; and, the other way, for the owner of the other
// side if it has one (a flow between two local processes).
func (t *procTable) account(fl *flow, dir int, pdir packet.Dir, pid uint32, ts int64, n int) {
	s := side(dir, pdir)
	if !fl.inProcs {
		t.addFlow(fl, ts)
	}
	if pid == 0 {
		pid = fl.owner[s]
	} else if pid != fl.owner[s] {
		t.setOwner(fl, s, pid, ts)
	}
	i := fl.proc[s] - 1
	if i < 0 || t.procs[i].pid != pid {
		i = t.slot(pid, ts)
		fl.proc[s] = i + 1
	}
	d := 0
	if pdir == packet.DirOut {
		d = 1
	}
	t.procs[i].add(d, ts, n)
	// The other side local too (loopback, where one copy of each packet
	// is recorded): the packet left, or entered, its process as well.
	if o := fl.owner[1-s]; o != 0 {
		j := fl.proc[1-s] - 1
		if j < 0 || t.procs[j].pid != o {
			j = t.slot(o, ts)
			fl.proc[1-s] = j + 1
		}
		t.procs[j].add(1-d, ts, n)
	}
}

// add counts a packet of n bytes seen at ts, in (d 0) or out (1).
func (p *procStat) add(d int, ts int64, n int) {
	p.pkts[d]++
	p.bytes[d] += uint64(n)
	p.rate[d].add(ts, n)
	p.first = min(p.first, ts)
	p.last = max(p.last, ts)
}

// slot returns the slot of pid's entry, making it if there is none.
func (t *procTable) slot(pid uint32, ts int64) int32 {
	if i, ok := t.index[pid]; ok {
		return i
	}
	if len(t.index) >= t.bound {
		t.drop(func(p *procStat) bool { return p.flows == 0 })
	}
	var i int32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		t.procs = append(t.procs, procStat{})
		i = int32(len(t.procs) - 1)
	}
	t.procs[i] = procStat{pid: pid, first: ts, last: ts}
	t.index[pid] = i
	return i
}

// owners returns the processes a flow with sides' owners o is counted
// for: each local one once, or pid 0 when it has none.
func owners(o [2]uint32) (a, b uint32, n int) {
	switch {
	case o[0] == 0 && o[1] == 0:
		return 0, 0, 1
	case o[0] == 0:
		return o[1], 0, 1
	case o[1] == 0 || o[1] == o[0]:
		return o[0], 0, 1
	}
	return o[0], o[1], 2
}

// count adds d to the flow counts of the processes of a flow whose sides'
// owners are o.
func (t *procTable) count(o [2]uint32, d int32, ts int64) {
	a, b, n := owners(o)
	t.countOne(a, d, ts)
	if n == 2 {
		t.countOne(b, d, ts)
	}
}

// countOne adds d to pid's flow count; an entry left with neither a flow
// nor a packet (the pid 0 of a flow until its first packet named its
// process) goes at once.
func (t *procTable) countOne(pid uint32, d int32, ts int64) {
	i := t.slot(pid, ts)
	p := &t.procs[i]
	if p.flows += d; p.flows == 0 && p.pkts == [2]uint64{} {
		delete(t.index, pid)
		*p = procStat{pid: noPid}
		t.free = append(t.free, i)
	}
}

// addFlow starts counting flow fl (of no owner yet) among its processes'.
func (t *procTable) addFlow(fl *flow, ts int64) {
	fl.inProcs = true
	t.count(fl.owner, 1, ts)
}

// setOwner makes pid the owner of side s of flow fl.
func (t *procTable) setOwner(fl *flow, s int, pid uint32, ts int64) {
	t.count(fl.owner, -1, ts)
	fl.owner[s] = pid
	t.count(fl.owner, 1, ts)
}

// removeFlow stops counting flow fl (idle or evicted); its processes stay
// until they are idle.
func (t *procTable) removeFlow(fl *flow) {
	if !fl.inProcs {
		return
	}
	fl.inProcs = false
	t.count(fl.owner, -1, 0)
}

// expire drops the processes without a flow idle for longer than idle
// before now (idle <= 0: never).
func (t *procTable) expire(now, idle int64) {
	if idle > 0 {
		t.drop(func(p *procStat) bool { return p.flows == 0 && now-p.last > idle })
	}
}

// drop frees the slots of the processes gone says are gone.
func (t *procTable) drop(gone func(*procStat) bool) {
	for i := range t.procs {
		p := &t.procs[i]
		if p.pid == noPid || !gone(p) {
			continue
		}
		delete(t.index, p.pid)
		*p = procStat{pid: noPid}
		t.free = append(t.free, int32(i))
	}
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
	Flows              int // flows of the table it owns a side of (pid 0: flows of no owner)
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
// process ("docker 3f2a1b2c3d4e"; "" for none) at time at, for
// ProcessView.Container.
// Like SetProcessNames's, it is called outside the engine's lock and must
// be cheap and safe for concurrent use.
func (e *Engine) SetProcessContainers(container func(pid uint32, at time.Time) string) {
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

// Processes returns the processes counted (with pid 0 for the traffic of
// none) that own a flow of the table or were seen within its idle
// timeout, sorted by key as Flows sorts flows
// (ties by pid), with rates and histories as of now; nil before
// SetProcessNames, which starts the counting. Flows and processes idle
// past the timeout at now are evicted first. It copies in steps as Flows does.
func (e *Engine) Processes(key SortKey, now time.Time) []ProcessView {
	nowNs := unixNano(now)
	e.mu.Lock()
	t := e.procs
	if t == nil {
		e.mu.Unlock()
		return nil
	}
	e.flows.expire(nowNs)
	t.expire(nowNs, e.flows.idle)
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
			if p.pid == noPid {
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
					v.Process = name(v.Pid, v.Last)
				}
				if container != nil {
					v.Container = container(v.Pid, v.Last)
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
