package proc

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
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
	if e := t.get(pid); e != nil {
		return e.comments
	}
	return nil
}

// Table names processes by pid, from what the kernel recorded of them
// (lookup) and the cgroup v2 hierarchy mounted at root. It caches, and
// asks the kernel again about a pid seen more than refresh ago (a pid
// reused by a process that opened a socket since). Safe for concurrent
// use.
type Table struct {
	lookup func(pid uint32) (Owner, bool)
	root   string
	now    func() time.Time

	mu      sync.Mutex
	byPid   map[uint32]*entry
	cgroups map[uint64]string // cgroup id -> path, from the last walk
	walked  time.Time         // when the hierarchy was last walked
}

type entry struct {
	info     Info
	label    string
	comments []string
	at       time.Time
}

// refresh is how long a pid's name is kept before the kernel is asked
// again; walkEvery how often at most a cgroup not found sends Table
// walking the hierarchy.
const (
	refresh   = time.Second
	walkEvery = 5 * time.Second
	maxPids   = 65536 // the cache is emptied when it holds more
)

// NewTable makes a Table. root is the cgroup v2 mount ("" if none).
func NewTable(root string, lookup func(pid uint32) (Owner, bool)) *Table {
	return &Table{lookup: lookup, root: root, now: time.Now, byPid: map[uint32]*entry{}, cgroups: map[uint64]string{}}
}

// Lookup returns what is known of pid; false when the kernel recorded
// nothing of it.
func (t *Table) Lookup(pid uint32) (Info, bool) {
	e := t.get(pid)
	if e == nil {
		return Info{}, false
	}
	return e.info, true
}

// Label is Info.Label of pid, "" for 0 or a pid the kernel recorded
// nothing of.
func (t *Table) Label(pid uint32) string {
	if e := t.get(pid); e != nil {
		return e.label
	}
	return ""
}

func (t *Table) get(pid uint32) *entry {
	if pid == 0 {
		return nil
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byPid[pid]
	if e != nil && now.Sub(e.at) < refresh {
		return e
	}
	o, ok := t.lookup(pid)
	if !ok {
		return e // what it was, if it was
	}
	if e != nil && e.info.Comm == o.Comm && e.info.CgroupID == o.CgroupID {
		e.at = now
		return e
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
	}
	e = &entry{info: info, label: info.Label(), comments: info.Comments(), at: now}
	t.byPid[pid] = e
	return e
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
