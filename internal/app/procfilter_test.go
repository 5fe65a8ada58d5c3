package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/filter"
)

func TestValidateProcFilter(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // in the error; "" for none
	}{
		{Config{Pid: 12}, ""},
		{Config{Comm: "nginx", Cgroup: "/system.slice"}, ""},
		{Config{Pid: -1}, "invalid --pid -1"},
		{Config{Pid: 1 << 22}, "not a process id"},
		{Config{Comm: "x", NoProc: true}, "drop --no-proc"},
		{Config{Cgroup: "x", XDP: true}, "capture at tc"},
		{Config{Pid: 3, Read: "f.pcap"}, "drop them with -r"},
		{Config{NoProc: true, XDP: true}, ""},
	} {
		err := tc.cfg.validateProcFilter()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	c := Config{Comm: "systemd-resolved"} // the kernel's comm: systemd-resolve
	if err := c.validateProcFilter(); err != nil || c.Comm != "systemd-resolve" {
		t.Errorf("long name: %q %v", c.Comm, err)
	}
}

func TestThreadGroup(t *testing.T) {
	root := t.TempDir()
	for pid, status := range map[string]string{
		"100": "Name:\tx\nTgid:\t90\nPid:\t100\n",
		"101": "Name:\tx\nPid:\t101\n",
	} {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "status"), []byte(status), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if g, err := threadGroup(root, 100); err != nil || g != 90 {
		t.Errorf("thread 100: %d %v, want 90", g, err)
	}
	if _, err := threadGroup(root, 101); err == nil {
		t.Error("no Tgid line: no error")
	}
	if _, err := threadGroup(root, 102); err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("gone: %v", err)
	}
	if g, err := threadGroup("/proc", os.Getpid()); err != nil || g != uint32(os.Getpid()) {
		t.Errorf("this process: %d %v", g, err)
	}
}

func TestDroppedNote(t *testing.T) {
	k := bpf.Counters{Filtered: 8, ProcFiltered: 5}
	prog := filter.Program{{}}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{prog: prog}, "8 not matching the filter"},
		{Config{Pid: 3}, "5 of other processes (--pid)"},
		{Config{prog: prog, Comm: "a", Cgroup: "b"}, "8 not matching the filter and 5 of other processes (--comm, --cgroup)"},
	} {
		if got := droppedNote(&tc.cfg, k); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
	if got := procFilterNote(&Config{Pid: 3, Cgroup: "/x"}); got != `, --pid 3 --cgroup "/x"` {
		t.Errorf("start line: %q", got)
	}
}
