package app

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/proc"
)

// The process filters (--pid, --comm, --cgroup): the kernel drops the
// packets whose socket's owner is not the process asked for (or that have
// no owner) before writing their record, and counts them (bpf.ProcMatch).

// procFiltered reports whether a process filter was given.
func (c *Config) procFiltered() bool { return c.Pid != 0 || c.Comm != "" || c.Cgroup != "" }

// validateProcFilter checks the process filters against the rest.
func (c *Config) validateProcFilter() error {
	if !c.procFiltered() {
		return nil
	}
	switch {
	case c.Pid < 0 || c.Pid >= 1<<22:
		return usageErr("invalid --pid %d: not a process id", c.Pid)
	case c.NoProc:
		return usageErr("--pid, --comm and --cgroup filter by the packets' processes: drop --no-proc")
	case c.XDP:
		return usageErr("--pid, --comm and --cgroup with --xdp: XDP runs before the stack finds a packet's socket; capture at tc")
	case c.Read != "":
		return usageErr("--pid, --comm and --cgroup filter a capture in the kernel: drop them with -r")
	}
	if len(c.Comm) > 15 {
		// The kernel keeps 15 bytes of a name (ps -o comm shows them).
		c.Comm = c.Comm[:15]
	}
	return nil
}

// procMatch resolves the process filters: --pid to its process (a thread
// to its thread group), --cgroup to the ids of the cgroup and those below
// it. Zero without a filter.
func (c *run) procMatch() (bpf.ProcMatch, error) {
	cfg := c.cfg
	m := bpf.ProcMatch{Comm: cfg.Comm}
	if cfg.Pid > 0 {
		tgid, err := threadGroup("/proc", cfg.Pid)
		if err != nil {
			return m, fmt.Errorf("--pid %d: %w", cfg.Pid, err)
		}
		m.Tgid = tgid
	}
	if cfg.Cgroup != "" {
		root, err := c.cgroup2.root()
		if err != nil {
			return m, fmt.Errorf("--cgroup: %w", err)
		}
		_, ids, err := proc.FindCgroup(root, cfg.Cgroup)
		if err != nil {
			return m, fmt.Errorf("--cgroup: %w", err)
		}
		m.Cgroups = ids
	}
	return m, nil
}

// threadGroup is the process (thread group) that thread or process pid
// is in, from procRoot/PID/status.
func threadGroup(procRoot string, pid int) (uint32, error) {
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(pid) + "/status")
	if os.IsNotExist(err) {
		return 0, fmt.Errorf("no such process")
	}
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil || n == 0 {
				break
			}
			return uint32(n), nil
		}
	}
	return 0, fmt.Errorf("no thread group in %s/%d/status", procRoot, pid)
}

// droppedNote says what the kernel dropped: "8 not matching the filter",
// "5 of other processes (--pid)", or both.
func droppedNote(cfg *Config, k bpf.Counters) string {
	var parts []string
	if len(cfg.prog) > 0 {
		parts = append(parts, fmt.Sprintf("%d not matching the filter", k.Filtered))
	}
	if cfg.procFiltered() {
		var flags []string
		for _, f := range []struct {
			on   bool
			name string
		}{{cfg.Pid != 0, "--pid"}, {cfg.Comm != "", "--comm"}, {cfg.Cgroup != "", "--cgroup"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		parts = append(parts, fmt.Sprintf("%d of other processes (%s)", k.ProcFiltered, strings.Join(flags, ", ")))
	}
	return strings.Join(parts, " and ")
}

// procFilterNote describes the process filters for the start line:
// ", --pid 4123 --comm "curl"".
func procFilterNote(cfg *Config) string {
	var b strings.Builder
	if cfg.Pid != 0 {
		fmt.Fprintf(&b, " --pid %d", cfg.Pid)
	}
	if cfg.Comm != "" {
		fmt.Fprintf(&b, " --comm %q", cfg.Comm)
	}
	if cfg.Cgroup != "" {
		fmt.Fprintf(&b, " --cgroup %q", cfg.Cgroup)
	}
	if b.Len() == 0 {
		return ""
	}
	return "," + b.String()
}
