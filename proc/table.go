package proc

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Owner is what the kernel recorded of a socket's owner.
type Owner struct {
	Tgid, Pid uint32 // the process and the thread
	CgroupID  uint64 // its cgroup v2 (the directory's inode number)
	Comm      string // the process's name
}

// Info is what is known of a process.
type Info struct {
	Pid       uint32
	Comm      string
	CgroupID  uint64
	Cgroup    string    // its cgroup v2 path ("/system.slice/nginx.service"), "" if not found
	Container Container // the zero Container if none
	Unit      string    // the systemd unit, "" if none (or a container)
}

// Label is how the flow table and the files name the process:
// "curl[4123]", then its container's short id or its systemd unit.
func (i *Info) Label() string {
	comm := i.Comm
	if comm == "" {
		comm = "?"
	}
	s := comm + "[" + strconv.FormatUint(uint64(i.Pid), 10) + "]"
	switch {
	case i.Container.ID != "":
		s += " " + i.Container.Short()
	case i.Unit != "":
		s += " " + i.Unit
	}
	return s
}

// Comments are the pcapng packet comments that name the process:
// "process: curl (pid 4123)", then "container: docker ID" or "cgroup:
// PATH" when known and not the root (Wireshark's frame.comment finds them).
func (i *Info) Comments() []string {
	c := []string{"process: " + i.Comm + " (pid " + strconv.FormatUint(uint64(i.Pid), 10) + ")"}
	switch {
	case i.Container.ID != "":
		c = append(c, "container: "+i.Container.Runtime+" "+i.Container.Short())
	case i.Cgroup != "" && i.Cgroup != "/": // the root says nothing
		c = append(c, "cgroup: "+i.Cgroup)
	}
	return c
}

// Comments is Info.Comments of pid, nil for 0 or a pid the kernel
// recorded nothing of. The slice is shared: do not change it.
func (t *Table) Comments(pid uint32) []string {
	if e := t.get(pid, time.Time{}); e != nil {
		return e.comments
	}
	return nil
}

// Table names processes by pid, from what the kernel recorded of them
// (lookup) and the cgroup v2 hierarchy mounted at root. It caches, and
// asks the kernel again about a pid seen more than refresh ago (a pid
// reused by a process that opened a socket since). It keeps the last few
// processes it saw behind a pid, each with when it began (its start time
// from /proc/PID/stat, else when it was first seen), so that traffic
// from before a pid was reused keeps its old name (LabelAt). Safe for
// concurrent use.
type Table struct {
	lookup func(pid uint32) (Owner, bool)
	root   string
	now    func() time.Time
	start  func(pid uint32, comm string) (time.Time, bool) // startTime; tests replace it
	procfs func(pid uint32) (Owner, bool)                  // t.fromProc; tests replace it

	mu      sync.Mutex
	byPid   map[uint32][]*entry  // oldest first, at most maxGens
	missed  map[uint32]time.Time // pids neither the kernel nor /proc named, when last asked
	cgroups map[uint64]string    // cgroup id -> path, from the last walk
	walked  time.Time            // when the hierarchy was last walked
}

type entry struct {
	info     Info
	label    string
	comments []string
	at       time.Time // when the kernel was last asked (the newest entry's)
	from     time.Time // when the process began, as far as known
	started  bool      // from is its start time (/proc), not when it was seen
}

// startSlack is how far before a process's start time (from /proc, in
// clock ticks) a packet may seem to be and still be its.
const startSlack = 100 * time.Millisecond

// refresh is how long a pid's name is kept before the kernel is asked
// again; walkEvery how often at most a cgroup not found sends Table
// walking the hierarchy.
const (
	refresh   = time.Second
	walkEvery = 5 * time.Second
	maxPids   = 65536 // the cache is emptied when it holds more
	maxGens   = 4     // processes kept per pid
)

// NewTable makes a Table. root is the cgroup v2 mount ("" if none).
func NewTable(root string, lookup func(pid uint32) (Owner, bool)) *Table {
	t := &Table{lookup: lookup, root: root, now: time.Now, byPid: map[uint32][]*entry{}, missed: map[uint32]time.Time{}, cgroups: map[uint64]string{}, start: startTime}
	t.procfs = t.fromProc
	return t
}

// Lookup returns what is known of pid; false when the kernel recorded
// nothing of it.
func (t *Table) Lookup(pid uint32) (Info, bool) {
	return t.LookupAt(pid, time.Time{})
}

// LookupAt is Lookup of the process that was pid at time at (the zero
// time: now), as far as the table saw pid change hands.
func (t *Table) LookupAt(pid uint32, at time.Time) (Info, bool) {
	e := t.get(pid, at)
	if e == nil {
		return Info{}, false
	}
	return e.info, true
}

// Label is Info.Label of pid, "" for 0 or a pid the kernel recorded
// nothing of.
func (t *Table) Label(pid uint32) string {
	return t.LabelAt(pid, time.Time{})
}

// LabelAt is Label of the process that was pid at time at (the zero
// time: now): a flow is named from its last packet's time, so a pid
// reused since does not rename it.
func (t *Table) LabelAt(pid uint32, at time.Time) string {
	if e := t.get(pid, at); e != nil {
		return e.label
	}
	return ""
}

// get returns the entry of the process that was pid at at (zero: now),
// asking the kernel again when the newest is older than refresh.
func (t *Table) get(pid uint32, at time.Time) *entry {
	if pid == 0 {
		return nil
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	gens := t.byPid[pid]
	if n := len(gens); n == 0 || now.Sub(gens[n-1].at) >= refresh {
		gens = t.askLocked(pid, gens, now)
	}
	return pick(gens, at)
}

// pick returns the newest of gens (oldest first) that began by at, or the
// oldest when at is before them all, unless the oldest is known to have
// started after at (the pid was another process's then: none); the newest
// for the zero at.
func pick(gens []*entry, at time.Time) *entry {
	if len(gens) == 0 {
		return nil
	}
	if !at.IsZero() {
		for i := len(gens) - 1; i > 0; i-- {
			if !gens[i].from.After(at) {
				return gens[i]
			}
		}
		if g := gens[0]; g.started && at.Before(g.from.Add(-startSlack)) {
			return nil
		}
		return gens[0]
	}
	return gens[len(gens)-1]
}

// askLocked asks the kernel about pid, whose entries were gens, and
// returns them with a new one if the kernel's record changed. A pid the
// kernel has no record of (evicted from its LRU map, or it opened no
// socket since the capture began) is named from /proc if it is alive;
// else what it was, if anything, is kept, and the pid is not asked about
// again for refresh (the text lines and the files ask on every packet).
func (t *Table) askLocked(pid uint32, gens []*entry, now time.Time) []*entry {
	var e *entry
	if n := len(gens); n > 0 {
		e = gens[n-1]
	}
	if at, ok := t.missed[pid]; ok && now.Sub(at) < refresh {
		return gens
	}
	o, ok := t.lookup(pid)
	if !ok {
		o, ok = t.procfs(pid)
	}
	if !ok {
		if e != nil {
			e.at = now
		} else {
			if len(t.missed) >= maxPids {
				clear(t.missed)
			}
			t.missed[pid] = now
		}
		return gens
	}
	delete(t.missed, pid)
	if e != nil && e.info.Comm == o.Comm && e.info.CgroupID == o.CgroupID {
		e.at = now
		return gens
	}
	info := Info{Pid: pid, Comm: o.Comm, CgroupID: o.CgroupID}
	info.Cgroup = t.cgroupPathLocked(pid, o.CgroupID, now)
	if c, ok := ContainerOf(info.Cgroup); ok {
		info.Container = c
	} else {
		info.Unit = UnitOf(info.Cgroup)
	}
	if len(t.byPid) >= maxPids {
		clear(t.byPid)
		gens = nil
	}
	from, started := now, false
	if st, ok := t.start(pid, o.Comm); ok && (e == nil || st.After(e.from)) {
		from, started = st, true // the process behind pid now is the kernel's
	}
	if len(gens) == maxGens {
		gens = append(gens[:0], gens[1:]...)
	}
	gens = append(gens, &entry{info: info, label: info.Label(), comments: info.Comments(), at: now, from: from, started: started})
	t.byPid[pid] = gens
	return gens
}

// cgroupPathLocked finds the path of cgroup id: the process's own
// (/proc/PID/cgroup) if it is that cgroup still, else from a walk of the
// hierarchy (the process has exited or moved).
func (t *Table) cgroupPathLocked(pid uint32, id uint64, now time.Time) string {
	if t.root == "" || id == 0 {
		return ""
	}
	if p, ok := t.cgroups[id]; ok {
		return p
	}
	if b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/cgroup"); err == nil {
		if p := cgroupOfProc(b); p != "" && inode(filepath.Join(t.root, p)) == id {
			t.cgroups[id] = p
			return p
		}
	}
	if now.Sub(t.walked) < walkEvery {
		return ""
	}
	t.walked = now
	clear(t.cgroups)
	_ = filepath.WalkDir(t.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(t.root, path)
		p := "/" + filepath.ToSlash(rel)
		if rel == "." {
			p = "/"
		}
		t.cgroups[inode(path)] = p
		return nil
	})
	return t.cgroups[id]
}

// inode is a file's inode number (a cgroup's id), 0 if it cannot be read.
func inode(path string) uint64 {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return 0
	}
	return st.Ino
}

// fromProc names a live process from /proc/PID/comm and its cgroup from
// /proc/PID/cgroup, for a pid the kernel's map has no record of.
func (t *Table) fromProc(pid uint32) (Owner, bool) {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	comm, err := os.ReadFile(dir + "/comm")
	if err != nil || len(comm) == 0 {
		return Owner{}, false
	}
	o := Owner{Tgid: pid, Pid: pid, Comm: strings.TrimSuffix(string(comm), "\n")}
	if b, err := os.ReadFile(dir + "/cgroup"); err == nil && t.root != "" {
		if p := cgroupOfProc(b); p != "" {
			o.CgroupID = inode(filepath.Join(t.root, p))
		}
	}
	return o, true
}
