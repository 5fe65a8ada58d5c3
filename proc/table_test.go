package proc

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestTable: names come from the kernel's record, are cached, asked for
// again after refresh (a reused pid gets its new name), and a cgroup id
// finds its path (and container) in the hierarchy by the directory's
// inode, whether or not the process is still there.
func TestTable(t *testing.T) {
	root := t.TempDir()
	id := strings.Repeat("0123abcd", 8)
	scope := filepath.Join(root, "system.slice", "docker-"+id+".scope")
	if err := os.MkdirAll(scope, 0o755); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(root, "system.slice", "nginx.service")
	if err := os.MkdirAll(unit, 0o755); err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	owners := map[uint32]Owner{
		// pids no process has (above pid_max): the walk must find them.
		4194301: {Tgid: 4194301, Comm: "redis-server", CgroupID: inode(scope)},
		4194302: {Tgid: 4194302, Comm: "nginx", CgroupID: inode(unit)},
	}
	tab := NewTable(root, func(pid uint32) (Owner, bool) {
		asked.Add(1)
		o, ok := owners[pid]
		return o, ok
	})
	now := time.Unix(1000, 0)
	tab.now = func() time.Time { return now }
	if got := tab.Label(4194301); got != "redis-server[4194301] "+id[:12] {
		t.Errorf("container: %q", got)
	}
	if got := tab.Label(4194302); got != "nginx[4194302] nginx.service" {
		t.Errorf("unit: %q", got)
	}
	if info, _ := tab.Lookup(4194302); info.Cgroup != "/system.slice/nginx.service" {
		t.Errorf("cgroup path %q", info.Cgroup)
	}
	if got := tab.Comments(4194301); len(got) != 2 || got[0] != "process: redis-server (pid 4194301)" || got[1] != "container: docker "+id[:12] {
		t.Errorf("comments: %q", got)
	}
	if got := tab.Comments(4194302); len(got) != 2 || got[1] != "cgroup: /system.slice/nginx.service" {
		t.Errorf("comments: %q", got)
	}
	if got := tab.Label(0); got != "" {
		t.Errorf("pid 0: %q", got)
	}
	if got := tab.Label(4194300); got != "" {
		t.Errorf("unknown pid: %q", got)
	}
	n := asked.Load()
	tab.Label(4194302)
	if asked.Load() != n {
		t.Error("a cached name was asked for again")
	}
	owners[4194302] = Owner{Tgid: 4194302, Comm: "curl"}
	now = now.Add(2 * refresh)
	if got := tab.Label(4194302); got != "curl[4194302]" {
		t.Errorf("after the pid was reused: %q", got)
	}
}

// TestTablePidReuse: when another process comes to be behind a pid, what
// was named at a time before it began keeps the old name; it began at its
// start time when /proc has it, else when the table saw the change.
func TestTablePidReuse(t *testing.T) {
	const pid = 4123
	owners := map[uint32]Owner{pid: {Tgid: pid, Comm: "curl"}}
	tab := NewTable("", func(p uint32) (Owner, bool) { o, ok := owners[p]; return o, ok })
	t0 := time.Unix(1000, 0)
	now := t0
	tab.now = func() time.Time { return now }
	starts := map[string]time.Time{"curl": t0.Add(-time.Minute), "sshd": t0.Add(1500 * time.Millisecond)}
	tab.start = func(p uint32, comm string) (time.Time, bool) { st, ok := starts[comm]; return st, ok }

	curlFlow := t0.Add(500 * time.Millisecond) // curl's last packet
	if got := tab.LabelAt(pid, curlFlow); got != "curl[4123]" {
		t.Fatalf("curl: %q", got)
	}
	owners[pid] = Owner{Tgid: pid, Comm: "sshd"} // curl exited, sshd has its pid
	now = t0.Add(2 * time.Second)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{curlFlow, "curl[4123]"},
		{t0.Add(-time.Hour), ""}, // before curl started: not curl's
		{t0.Add(-30 * time.Second), "curl[4123]"},
		{t0.Add(1800 * time.Millisecond), "sshd[4123]"},
		{time.Time{}, "sshd[4123]"}, // now
	} {
		if got := tab.LabelAt(pid, tc.at); got != tc.want {
			t.Errorf("at %v: %q, want %q", tc.at, got, tc.want)
		}
	}
	if got := tab.Label(pid); got != "sshd[4123]" {
		t.Errorf("Label: %q", got)
	}
	// A pid first seen as a process that started after the packet: the
	// pid was another's then, unknown.
	owners[4124] = Owner{Tgid: 4124, Comm: "newproc"}
	starts["newproc"] = t0.Add(time.Minute)
	if got := tab.LabelAt(4124, t0); got != "" {
		t.Errorf("a packet before newproc began named %q", got)
	}
	if got := tab.LabelAt(4124, t0.Add(time.Minute+time.Millisecond)); got != "newproc[4124]" {
		t.Errorf("newproc: %q", got)
	}
	// No start time (/proc has no such process): from when it was seen.
	owners[pid] = Owner{Tgid: pid, Comm: "nc"}
	now = t0.Add(4 * time.Second)
	if got := tab.LabelAt(pid, t0.Add(3*time.Second)); got != "sshd[4123]" {
		t.Errorf("before nc was seen: %q", got)
	}
	if got := tab.LabelAt(pid, now); got != "nc[4123]" {
		t.Errorf("nc: %q", got)
	}
	// Only the last few are kept.
	for i := range 2 * maxGens {
		owners[pid] = Owner{Tgid: pid, Comm: "p" + strconv.Itoa(i)}
		now = now.Add(2 * refresh)
		tab.Label(pid)
	}
	if n := len(tab.byPid[pid]); n != maxGens {
		t.Errorf("%d processes kept for a pid, want %d", n, maxGens)
	}
}

// TestParseStat: a name holding parentheses and spaces does not shift
// the fields after it; a short or garbled line is refused.
func TestParseStat(t *testing.T) {
	line := "4123 (a) b (c) S 1 4123 4123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n"
	st, comm, ok := parseStat([]byte(line))
	if !ok || st != 987654 || comm != "a) b (c" {
		t.Errorf("got %d %q %v", st, comm, ok)
	}
	for _, bad := range []string{"", "4123 (x", "4123 (x) S 1 2", "4123 (x) S 1 4123 4123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 zz 1000"} {
		if _, _, ok := parseStat([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	// This process's own: it began before now.
	if st, ok := startTime(uint32(os.Getpid()), selfComm(t)); !ok || st.After(time.Now()) || time.Since(st) > time.Hour {
		t.Errorf("own start time %v %v", st, ok)
	}
}

func selfComm(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		testutil.SkipOrFail(t, "%v", err)
	}
	return strings.TrimSpace(string(b))
}

// TestTableMisses: a pid the kernel has no record of is asked about once
// per refresh, not on every packet, and named from /proc when the process
// is alive there (evicted from the kernel's LRU map).
func TestTableMisses(t *testing.T) {
	var asked, procAsked int
	alive := map[uint32]Owner{}
	tab := NewTable("", func(uint32) (Owner, bool) { asked++; return Owner{}, false })
	tab.procfs = func(pid uint32) (Owner, bool) { procAsked++; o, ok := alive[pid]; return o, ok }
	now := time.Unix(1000, 0)
	tab.now = func() time.Time { return now }
	for range 100 {
		if got := tab.Label(4194300); got != "" {
			t.Fatalf("unknown pid: %q", got)
		}
		tab.Comments(4194300)
	}
	if asked != 1 || procAsked != 1 {
		t.Errorf("200 names of an unknown pid asked the kernel %d times, /proc %d; want 1", asked, procAsked)
	}
	alive[4194300] = Owner{Tgid: 4194300, Comm: "redis"}
	now = now.Add(refresh / 2)
	if got := tab.Label(4194300); got != "" {
		t.Errorf("within the refresh: %q", got)
	}
	now = now.Add(refresh)
	if got := tab.Label(4194300); got != "redis[4194300]" || asked != 2 {
		t.Errorf("after the refresh, from /proc: %q (kernel asked %d times)", got, asked)
	}
	// Known, then gone from both: the name stays, asked once per refresh.
	delete(alive, 4194300)
	now = now.Add(2 * refresh)
	for range 100 {
		if got := tab.Label(4194300); got != "redis[4194300]" {
			t.Fatalf("gone: %q", got)
		}
	}
	if asked != 3 {
		t.Errorf("kernel asked %d times, want 3", asked)
	}
}

// TestFromProc: this process, which the kernel's map has no record of, is
// named from /proc.
func TestFromProc(t *testing.T) {
	tab := NewTable("", func(uint32) (Owner, bool) { return Owner{}, false })
	pid := uint32(os.Getpid())
	if got, want := tab.Label(pid), selfComm(t)+"["+strconv.Itoa(os.Getpid())+"]"; got != want {
		t.Errorf("Label(self) = %q, want %q", got, want)
	}
}
