package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// newCgroup makes a cgroup v2 of the test's own under the hierarchy's
// root (found in mountinfo), removed at the end with whatever processes
// are still in it killed. It returns its path from the hierarchy's root
// ("/name") and its directory.
func newCgroup(t *testing.T) (rel, dir string) {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	root, err := bpf.Cgroup2Root(string(mi))
	if err != nil {
		testutil.SkipOrFail(t, "cgroup v2: %v", err)
	}
	rel = fmt.Sprintf("/bpctest-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	dir = filepath.Join(root, rel)
	if err := os.Mkdir(dir, 0o755); err != nil {
		testutil.SkipOrFail(t, "make a cgroup: %v", err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0) // Linux 5.14+
		for i := 0; i < 100; i++ {
			if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond) // the killed leave it
		}
		t.Errorf("cgroup %s left behind", dir)
	})
	return rel, dir
}

// startWaiting starts a UDP client helper named comm in namespace ns that
// waits for go() before it sends n datagrams to dst.
func startWaiting(t *testing.T, ns, comm, dst string, n int) (p *proc, out *syncBuffer, goOn func()) {
	t.Helper()
	cmd := testutil.Cmd(ns, helperAs(t, comm), dst, strconv.Itoa(n))
	cmd.Env = append(os.Environ(), helperEnv+"=udp-client", helperWaitEnv+"=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out = &syncBuffer{}
	cmd.Stdout = out
	p = startCmd(t, cmd)
	testutil.Eventually(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "waiting") },
		"%s never started: %s", comm, p.stderr)
	return p, out, func() {
		if _, err := in.Write([]byte("go\n")); err != nil {
			t.Fatal(err)
		}
		finishClient(t, p, out, comm)
	}
}

var procDropped = regexp.MustCompile(`(\d+) of other processes \(([-a-z, ]+)\) were dropped in the kernel`)

// TestProcFilters: --cgroup, --pid and --comm, each with a capture
// filter, keep in the file exactly the packets of the process they name
// (a client moved into a cgroup of the test's making before it connects)
// and drop in the kernel, counted on the summary line, those of another
// client and of a server older than the capture. With "dst port" in the
// capture filter only the client's datagrams out are kept, and only the
// other client's datagrams out, which pass that filter, are dropped for
// their process.
func TestProcFilters(t *testing.T) {
	pair := testutil.NewPair(t)
	rel, dir := newCgroup(t)
	startHelper(t, pair.NsA, "bpcfsrv", "udp-echo", pair.AddrA+":7005")
	startHelper(t, pair.NsB, "bpcfpeer", "udp-echo", pair.AddrB+":7006")
	const mine, other, peer = 4, 3, 2 // datagrams sent (each echoed)
	for _, tc := range []struct {
		name    string
		args    func(pid int) []string
		filter  []string
		kept    int // packets in the file, all the client's in the cgroup
		dropped int // for their process
	}{
		{"cgroup", func(int) []string { return []string{"--cgroup", rel} }, []string{"udp"}, 2 * mine, 2 * (other + peer)},
		{"pid", func(pid int) []string { return []string{"--pid", strconv.Itoa(pid)} }, []string{"udp"}, 2 * mine, 2 * (other + peer)},
		{"comm", func(int) []string { return []string{"--comm", "bpcfincg"} }, []string{"udp"}, 2 * mine, 2 * (other + peer)},
		{"comm and dst port", func(int) []string { return []string{"--comm", "bpcfincg"} }, []string{"udp", "and", "dst", "port", "7006"}, mine, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, _, goOn := startWaiting(t, pair.NsA, "bpcfincg", pair.AddrB+":7006", mine)
			pid := cli.cmd.Process.Pid
			if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
				t.Fatalf("move %d into %s: %v", pid, dir, err)
			}
			file := filepath.Join(t.TempDir(), "f.pcapng")
			args := append(append(tc.args(pid), "-w", file), tc.filter...)
			cap, _ := startProcCapture(t, pair, args...)
			goOn()
			runClient(t, pair.NsA, "bpcfother", "udp-client", pair.AddrB+":7006", strconv.Itoa(other))
			runClient(t, pair.NsB, "bpcfpeercli", "udp-client", pair.AddrA+":7005", strconv.Itoa(peer))
			if err := cap.stop(t, syscall.SIGINT); err != nil {
				t.Fatalf("bpftop-cap: %v\n%s", err, cap.stderr)
			}
			want := "process: bpcfincg (pid " + strconv.Itoa(pid) + ")"
			rows := tsharkRows(t, file, "frame.comment", "udp.srcport", "udp.dstport")
			if len(rows) != tc.kept {
				t.Errorf("%d packets kept, want %d: %v", len(rows), tc.kept, rows)
			}
			for i, r := range rows {
				if !strings.Contains(r[0], want) {
					t.Errorf("packet %d (%s -> %s): comment %q, want %q", i+1, r[1], r[2], r[0], want)
				}
			}
			t.Logf("%s", cap.stderr)
			m := procDropped.FindStringSubmatch(cap.stderr.String())
			if m == nil {
				t.Fatalf("no count of what the process filter dropped:\n%s", cap.stderr)
			}
			if n, _ := strconv.Atoi(m[1]); n != tc.dropped || m[2] != tc.args(pid)[0] {
				t.Errorf("kernel dropped %s for their process (%s), want %d (%s)", m[1], m[2], tc.dropped, tc.args(pid)[0])
			}
		})
	}
}

// TestProcFilterErrors: a process, cgroup or container that is not
// there is one line and no capture.
func TestProcFilterErrors(t *testing.T) {
	pair := testutil.NewPair(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pid", "4194000"}, "--pid 4194000: no such process"},
		{[]string{"--cgroup", "/no-such-cgroup-here"}, `--cgroup: no cgroup "/no-such-cgroup-here"`},
		{[]string{"--cgroup", "f00dfeedf00d"}, `--cgroup: no cgroup or container "f00dfeedf00d"`},
		{[]string{"--pid", "1", "--no-proc"}, "drop --no-proc"},
	} {
		out, err := exec.Command("ip", append([]string{"netns", "exec", pair.NsA, binary, "-i", pair.IfA, "-w", filepath.Join(t.TempDir(), "x.pcap")}, tc.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 {
			t.Errorf("%v: %v: %q, want one line with %q", tc.args, err, out, tc.want)
		}
	}
}
