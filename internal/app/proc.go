package app

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/internal/nsutil"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
	"github.com/bpftop-cap/bpftop-cap/proc"
)

// Process attribution (on unless --no-proc): the kernel puts in each
// record the process owning the packet's socket (bpf/proc.go); this file
// attaches the owner hooks, tells the kernel the owners of the sockets
// already open, and names the processes for the outputs.

// procSetup returns capture.Config.BeforeAttach for c: it fills c.procs,
// and says on one line what attribution lacks, if anything.
func procSetup(c *run) func(*bpf.Objects) {
	return func(objs *bpf.Objects) {
		defer objs.LoadDone()
		if why := objs.ProcUnavailable(); why != "" {
			fmt.Fprintf(c.stderr, "bpftop-cap: no process attribution: %s\n", why)
			return
		}
		var lacks []string
		root, err := c.cgroup2.root()
		if err != nil {
			lacks = append(lacks, "new sockets ("+err.Error()+")")
		}
		if root != "" {
			missing, err := objs.AttachProc(root)
			switch {
			case err != nil:
				lacks = append(lacks, "new sockets ("+err.Error()+")")
			case len(missing) > 0:
				lacks = append(lacks, "hooks on "+strings.Join(missing, ", "))
			}
		}
		socks, _ := proc.Sockets("/proc")
		if _, err := proc.Seed("/proc", root, socks, func(fd int, o proc.Owner) error {
			return objs.SeedOwner(fd, bpf.Owner(o))
		}); err != nil {
			lacks = append(lacks, "sockets older than the capture ("+err.Error()+")")
		}
		c.procs = proc.NewTable(root, func(pid uint32) (proc.Owner, bool) {
			o, ok := objs.LookupOwner(pid)
			return proc.Owner(o), ok
		})
		if len(lacks) > 0 {
			fmt.Fprintf(c.stderr, "bpftop-cap: process attribution without %s\n", strings.Join(lacks, "; "))
		}
	}
}

// cgroup2 is where the cgroup v2 hierarchy is, found once: for the
// process filters, then for the owner hooks.
type cgroup2 struct {
	once sync.Once
	path string
	err  error
}

func (g *cgroup2) root() (string, error) {
	g.once.Do(func() { g.path, g.err = cgroup2Root() })
	return g.path, g.err
}

// cgroup2Root finds the cgroup v2 hierarchy: in this process's mounts,
// else (ip netns exec mounts a sysfs of its own over /sys, hiding the
// cgroup file systems) mounted privately (privateCgroup2).
func cgroup2Root() (string, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	root, err := bpf.Cgroup2Root(string(mi))
	if err == nil {
		return root, nil
	}
	if r, err1 := privateCgroup2(); err1 == nil {
		return r, nil
	}
	return "", err
}

// privateCgroup2 mounts the cgroup v2 hierarchy in a mount namespace of
// one thread's own, which goes with the thread, and returns a path to it
// that works from every thread: /proc/self/fd/N/ of a descriptor kept
// open for the process's life. Nothing is mounted where others see it.
func privateCgroup2() (string, error) {
	dir, err := os.MkdirTemp("", "bpftop-cap-cgroup-")
	if err != nil {
		return "", err
	}
	defer os.Remove(dir)
	type result struct {
		fd  int
		err error
	}
	var r result
	nsutil.OffMain(func() { // the thread and its mount namespace end after
		if r.err = unix.Unshare(unix.CLONE_NEWNS); r.err != nil {
			return
		}
		if r.err = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); r.err != nil {
			return
		}
		if r.err = unix.Mount("cgroup2", dir, "cgroup2", 0, ""); r.err != nil {
			return
		}
		r.fd, r.err = unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	})
	if r.err != nil {
		return "", fmt.Errorf("mount the cgroup v2 hierarchy: %w", r.err)
	}
	return fmt.Sprintf("/proc/self/fd/%d/", r.fd), nil
}

// procLine puts the process of a packet (named by name; nothing when pid
// is 0 or unknown) at the end of its first line: ", process curl[4123]".
// A process names itself (prctl, its file's name; a cgroup its unit), so
// the label is made printable as packet bytes are.
func procLine(line []byte, pid uint32, name func(uint32) string) []byte {
	if pid == 0 {
		return line
	}
	label := decode.Printable([]byte(name(pid)))
	if label == "" {
		return line
	}
	end := bytes.IndexByte(line, '\n')
	if end < 0 {
		end = len(line)
	}
	tail := len(line) - end
	add := ", process " + label
	line = append(line, add...) // room
	copy(line[end+len(add):], line[end:end+tail])
	copy(line[end:], add)
	return line
}

// nameProcesses has a pcapng file name each packet's process in its
// comments, if attribution is on.
func (c *run) nameProcesses(ng *pcapfile.PcapngWriter) {
	if c.procs != nil && ng != nil {
		ng.SetProcessComments(c.procs.Comments)
	}
}

// procLabels names processes for the text lines and the flow table, nil
// without attribution.
func (c *run) procLabels() func(uint32) string {
	if c.procs == nil {
		return nil
	}
	return c.procs.Label
}

// containerOf names the container of a process (as of at) for the
// processes view: "docker 3f2a1b2c3d4e", "" if none.
func containerOf(t *proc.Table) func(uint32, time.Time) string {
	return func(pid uint32, at time.Time) string {
		if i, ok := t.LookupAt(pid, at); ok && i.Container.ID != "" {
			return i.Container.Runtime + " " + i.Container.Short()
		}
		return ""
	}
}

// fileProcInfo is what a pcapng file's comments say of pid at time at, as
// the live capture's proc.Info: "container: RUNTIME ID", else the systemd
// unit of "cgroup: PATH". in gives the file, nil while a stream is not
// open yet.
func fileProcInfo(in func() *pcapfile.File, pid uint32, at time.Time) (proc.Info, bool) {
	f := in()
	if f == nil {
		return proc.Info{}, false
	}
	p, ok := f.Process(pid, at)
	if !ok {
		return proc.Info{}, false
	}
	i := proc.Info{Pid: p.Pid, Comm: p.Comm, Cgroup: p.Cgroup}
	if rt, id, ok := strings.Cut(p.Container, " "); ok {
		i.Container = proc.Container{Runtime: rt, ID: id}
	} else {
		i.Unit = proc.UnitOf(p.Cgroup)
	}
	return i, true
}

// fileProcLabel names the processes of a file read (-r) as the live view
// does, from the file's comments.
func fileProcLabel(in func() *pcapfile.File) func(uint32, time.Time) string {
	return func(pid uint32, at time.Time) string {
		if i, ok := fileProcInfo(in, pid, at); ok {
			return i.Label()
		}
		return ""
	}
}

// fileProcContainer is containerOf for a file read (-r).
func fileProcContainer(in func() *pcapfile.File) func(uint32, time.Time) string {
	return func(pid uint32, at time.Time) string {
		if i, ok := fileProcInfo(in, pid, at); ok && i.Container.ID != "" {
			return i.Container.Runtime + " " + i.Container.Short()
		}
		return ""
	}
}

// noProcesses is what the view's p says when the capture names no
// processes.
func noProcesses(cfg *Config) string {
	switch {
	case cfg.NoProc:
		return "no process names: --no-proc"
	case cfg.XDP:
		return "no process names at XDP: it runs before the stack finds a packet's socket"
	}
	return "no process names: attribution could not start (the first lines said why)"
}
