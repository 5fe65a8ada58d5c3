package proc

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
