package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestPriority: a capture runs every thread at --nice (default -10) and
// raises its terminal session's autogroup to it while it runs, giving the
// group its own value back at exit; --nice 0 changes nothing.
func TestPriority(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"default", nil, -10},
		{"nice 0", []string{"--nice", "0"}, 0},
		{"nice -3", []string{"--nice", "-3"}, -3},
	} {
		own := threadNices(t, os.Getpid())[os.Getpid()]
		want := raised(own, tc.want)
		t.Run(tc.name, func(t *testing.T) {
			pair := testutil.NewPair(t)
			dir := t.TempDir()
			ready, peerFile := filepath.Join(dir, "ready"), filepath.Join(dir, "peer")
			// A session of its own, shared with a sleep that outlives the
			// capture: the group's value is read through the sleep.
			args := append([]string{"-i", pair.IfA, "--ready-file", ready, "-w", filepath.Join(dir, "p.pcap")}, tc.args...)
			script := `sleep 120 </dev/null >/dev/null 2>&1 & echo $! > "$1"; shift; exec "$@"`
			cmd := exec.Command("sh", append([]string{"-c", script, "sh", peerFile, "ip", "netns", "exec", pair.NsA, binary}, args...)...)
			p := startCmd(t, cmd) // in a session of its own
			testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "not ready:\n%s", p.stderr)
			peer := readyPID(t, peerFile) // written before the capture started
			defer syscall.Kill(peer, syscall.SIGKILL)

			threads := threadNices(t, p.cmd.Process.Pid)
			for tid, n := range threads {
				if n != want {
					t.Errorf("thread %d runs at nice %d, want %d (all: %v)", tid, n, want, threads)
				}
			}
			grouped := autogroupsOn(t)
			if grouped {
				if n := groupNice(t, peer); n != raised(0, tc.want) {
					t.Errorf("session's autogroup at nice %d while capturing, want %d", n, raised(0, tc.want))
				}
			}
			if err := p.stop(t, syscall.SIGINT); err != nil {
				t.Fatalf("exit: %v\n%s", err, p.stderr)
			}
			if grouped {
				if n := groupNice(t, peer); n != 0 {
					t.Errorf("session's autogroup left at nice %d after the capture, want 0", n)
				}
			}
			if strings.Contains(p.stderr.String(), "--nice") {
				t.Errorf("unexpected warning:\n%s", p.stderr)
			}
		})
	}
}

// raised is the nice value of something at from after --nice n: a
// negative n only raises, 0 leaves it.
func raised(from, n int) int {
	if n == 0 || n < 0 && from <= n {
		return from
	}
	return n
}

// TestTUIPriority: the live view runs at the default priority too.
func TestTUIPriority(t *testing.T) {
	testutil.RequireRoot(t)
	pair := testutil.NewPair(t)
	s := startLiveView(t, t.TempDir(), pair.NsA, "-i", pair.IfA)
	want := raised(threadNices(t, os.Getpid())[os.Getpid()], -10)
	threads := threadNices(t, s.pid)
	for tid, n := range threads {
		if n != want {
			t.Errorf("thread %d of the live view at nice %d, want %d (all: %v)", tid, n, want, threads)
		}
	}
	s.keys("q")
	s.waitExit()
}

// TestPriorityWithoutCapSysNice: without CAP_SYS_NICE the default capture
// runs at the priority it was given, saying nothing; a --nice asked for
// says in one line that it was not applied, and the capture goes on.
func TestPriorityWithoutCapSysNice(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "setpriv")
	for _, tc := range []struct {
		name string
		args []string
		warn bool
	}{
		{"default", nil, false},
		{"asked", []string{"--nice", "-5"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair := testutil.NewPair(t)
			dir := t.TempDir()
			ready, out := filepath.Join(dir, "ready"), filepath.Join(dir, "p.pcap")
			args := append([]string{"--inh-caps=-sys_nice", "--bounding-set=-sys_nice", "ip", "netns", "exec", pair.NsA, binary,
				"-i", pair.IfA, "--ready-file", ready, "-w", out}, tc.args...)
			p := startCmd(t, exec.Command("setpriv", args...))
			testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "not ready:\n%s", p.stderr)
			own := threadNices(t, os.Getpid())[os.Getpid()]
			for tid, n := range threadNices(t, p.cmd.Process.Pid) {
				if n != own {
					t.Errorf("thread %d at nice %d without CAP_SYS_NICE (started at %d)", tid, n, own)
				}
			}
			sendUDP(t, pair, 9400, []int{100, 200})
			if err := p.stop(t, syscall.SIGINT); err != nil {
				t.Fatalf("exit: %v\n%s", err, p.stderr)
			}
			var warnings []string
			for _, l := range strings.Split(p.stderr.String(), "\n") {
				if strings.Contains(l, "--nice") {
					warnings = append(warnings, l)
				}
			}
			if tc.warn && (len(warnings) != 1 || !strings.Contains(warnings[0], "CAP_SYS_NICE")) {
				t.Errorf("want one line naming CAP_SYS_NICE, got:\n%s", p.stderr)
			}
			if !tc.warn && len(warnings) != 0 {
				t.Errorf("the default priority is best effort, but it warned:\n%s", p.stderr)
			}
			if n := len(byTag(t, readPcap(t, out), "capture")); n != 2 {
				t.Errorf("captured %d of 2 datagrams", n)
			}
		})
	}
}

// threadNices reads the nice value of every thread of pid (field 19 of
// /proc/PID/task/TID/stat, counted after the command name's parenthesis).
func threadNices(t *testing.T, pid int) map[int]int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]int{}
	for _, e := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, e.Name()))
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		n, err := strconv.Atoi(f[16])
		if err != nil {
			t.Fatalf("stat of %s: %v", e.Name(), err)
		}
		tid, _ := strconv.Atoi(e.Name())
		m[tid] = n
	}
	if len(m) == 0 {
		t.Fatalf("no threads read for %d", pid)
	}
	return m
}

// groupNice reads the nice value of pid's autogroup.
func groupNice(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/autogroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	n, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		t.Fatalf("autogroup %q: %v", b, err)
	}
	return n
}

func autogroupsOn(t *testing.T) bool {
	b, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled")
	if err != nil {
		t.Logf("no autogroups (%v): only the threads are checked", err)
		return false
	}
	if strings.TrimSpace(string(b)) != "1" {
		t.Log("autogroups are off: only the threads are checked")
		return false
	}
	return true
}
