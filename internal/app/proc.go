package app

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
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
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread and its namespace go with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			done <- result{err: err}
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			done <- result{err: err}
			return
		}
		if err := unix.Mount("cgroup2", dir, "cgroup2", 0, ""); err != nil {
			done <- result{err: err}
			return
		}
		fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		done <- result{fd, err}
	}()
	r := <-done
	if r.err != nil {
		return "", fmt.Errorf("mount the cgroup v2 hierarchy: %w", r.err)
	}
	return fmt.Sprintf("/proc/self/fd/%d/", r.fd), nil
}

// procLine puts the process of a packet (named by name; nothing when pid
// is 0 or unknown) at the end of its first line: ", process curl[4123]".
func procLine(line []byte, pid uint32, name func(uint32) string) []byte {
	if pid == 0 {
		return line
	}
	label := name(pid)
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
