package decode

import (
	"slices"
	"time"
)

// SetProcessNames gives the function that names the process owning a
// flow (FlowView.Process, and so the text filter): a pid to "curl[4123]"
// with its container or systemd unit, "" when it knows none, as it was at
// time at (a flow's or process's last packet: a pid reused since must not
// rename the traffic of the process it was). It is called
// outside the engine's lock, once per flow and view, and must be cheap
// (a cache) and safe for concurrent use.
//
// It also starts counting the traffic of each process (Processes): the
// packets added before are not counted.
func (e *Engine) SetProcessNames(name func(pid uint32, at time.Time) string) {
	e.mu.Lock()
	e.procName = name
	if e.procs == nil && name != nil {
		e.procs = newProcTable(e.cfg.MaxFlows)
		e.flows.procs = e.procs
	}
	e.mu.Unlock()
}

// ownedBy reports whether a flow whose sides' owners are o is one of the
// processes pids (sorted; 0: of no process).
func ownedBy(o [2]uint32, pids []uint32) bool {
	a, b, n := owners(o)
	_, of := slices.BinarySearch(pids, a)
	if !of && n == 2 {
		_, of = slices.BinarySearch(pids, b)
	}
	return of
}

// flowProcess names the processes of flow v with name (nil: none): "" for
// none, "curl[4123]", or both ends' when both are local, A's first
// ("?[PID]" for one of the two not named).
func flowProcess(v *FlowView, name func(pid uint32, at time.Time) string) string {
	if v.Pid == 0 || name == nil {
		return ""
	}
	s := name(v.Pid, v.Last)
	if v.PeerPid == 0 {
		return s
	}
	if s == "" {
		s = "?[" + itoa(uint64(v.Pid)) + "]"
	}
	t := name(v.PeerPid, v.Last)
	if t == "" {
		t = "?[" + itoa(uint64(v.PeerPid)) + "]"
	}
	return s + ", " + t
}
