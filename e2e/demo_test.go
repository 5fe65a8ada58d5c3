package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/demo"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// processRE finds a process in a pcapng packet's comments.
var processRE = regexp.MustCompile(`process: (\S+) \(pid (\d+)\)`)

// demoLeftovers lists demo namespaces still present.
func demoLeftovers(t *testing.T) []string {
	t.Helper()
	m, _ := filepath.Glob("/run/netns/bpftop-demo-*")
	return m
}

// demoProcs lists the running processes of this test's binary that the
// demo named as its traffic processes (comm demo-*): pid -> comm. ppid,
// if not 0, keeps only its children. A zombie (killed, not yet reaped)
// has no executable and is not listed.
func demoProcs(t *testing.T, ppid int) map[int]string {
	t.Helper()
	self, err := filepath.EvalSymlinks(binary)
	if err != nil {
		t.Fatal(err)
	}
	found := map[int]string{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		stat, err := os.ReadFile(d + "/stat") // pid (comm) state ppid ...
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		comm, rest := string(stat[open+1:end]), strings.Fields(string(stat[end+1:]))
		if !strings.HasPrefix(comm, "demo-") || len(rest) < 2 {
			continue
		}
		if exe, err := os.Readlink(d + "/exe"); err != nil || exe != self {
			continue
		}
		if p, _ := strconv.Atoi(rest[1]); ppid != 0 && p != ppid {
			continue
		}
		found[pid] = comm
	}
	return found
}

// watchDemoProcs collects the demo's traffic processes (demoProcs of
// cmd) until done closes.
func watchDemoProcs(t *testing.T, cmd *exec.Cmd, done <-chan struct{}) map[int]string {
	t.Helper()
	seen := map[int]string{}
	for {
		for pid, comm := range demoProcs(t, cmd.Process.Pid) {
			seen[pid] = comm
		}
		select {
		case <-done:
			return seen
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestDemoHeadless runs `--demo -w FILE -c N` and checks with tshark that
// every kind of demo traffic is in the file, that its packets name the
// demo's processes (at least three, each a child of the demo with that
// name while it ran), and that no process nor namespace (and with it the
// veth pair) of the demo is left afterwards.
func TestDemoHeadless(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tshark")
	if left := demoLeftovers(t); len(left) > 0 {
		t.Fatalf("demo namespaces present before the test: %v", left)
	}
	out := filepath.Join(t.TempDir(), "demo.pcapng")
	cmd := exec.Command(binary, "--demo", "-w", out, "-c", "1500")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // see testutil.Cmd
	var msg syncBuffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var err error
	go func() { err = cmd.Wait(); close(done) }()
	children := watchDemoProcs(t, cmd, done)
	if err != nil {
		t.Fatalf("--demo: %v\n%s", err, msg.String())
	}
	if !strings.Contains(msg.String(), "1500 packets captured") {
		t.Errorf("summary:\n%s", msg.String())
	}
	if left := demoProcs(t, 0); len(left) > 0 {
		t.Errorf("demo processes left running: %v", left)
	}
	fields := []string{"dns.flags.response", "dns.qry.name", "dns.a", "http.request.method", "http.response.code",
		"tls.handshake.extensions_server_name", "icmp.type", "udp.dstport", "tcp.dstport", "tcp.len", "frame.comment"}
	args := []string{"-r", out, "-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	got, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	found := map[string]bool{}
	named := map[string]int{} // "name pid" -> packets
	for _, line := range strings.Split(string(got), "\n") {
		v := strings.Split(line, "|")
		if len(v) != len(fields) {
			continue
		}
		f := map[string]string{}
		for i, name := range fields {
			f[name] = v[i]
		}
		switch {
		case f["dns.qry.name"] != "" && (f["dns.flags.response"] == "0" || f["dns.flags.response"] == "False"):
			found["DNS queries"] = true
		case f["dns.a"] != "":
			found["DNS answers"] = true
		case f["http.request.method"] == "GET":
			found["HTTP requests"] = true
		case f["http.response.code"] == "200":
			found["HTTP responses"] = true
		case strings.HasSuffix(f["tls.handshake.extensions_server_name"], "example.test"):
			found["TLS ClientHello with SNI"] = true
		case f["icmp.type"] == "8":
			found["ICMP echo requests"] = true
		case f["icmp.type"] == "0":
			found["ICMP echo replies"] = true
		case f["udp.dstport"] == "9999":
			found["UDP burst"] = true
		}
		if n, _ := strconv.Atoi(f["tcp.len"]); f["tcp.dstport"] == "5001" && n > 1000 {
			found["TCP bulk"] = true
		}
		for _, m := range processRE.FindAllStringSubmatch(f["frame.comment"], -1) {
			named[m[1]+" "+m[2]]++
		}
	}
	// Every packet that names a process names one of the demo's, with the
	// pid it had: none is bpftop-cap's own.
	names := map[string]bool{}
	for np, n := range named {
		name, pidStr, _ := strings.Cut(np, " ")
		pid, _ := strconv.Atoi(pidStr)
		if children[pid] != name {
			t.Errorf("%d packets name process %s (pid %d), not a demo process (those were %v)", n, name, pid, children)
			continue
		}
		names[name] = true
	}
	if len(names) < 3 {
		t.Errorf("packets name %d demo processes, want 3 or more: %v (the demo's were %v)", len(names), named, children)
	}
	for _, what := range []string{"DNS queries", "DNS answers", "HTTP requests", "HTTP responses", "TLS ClientHello with SNI",
		"ICMP echo requests", "ICMP echo replies", "UDP burst", "TCP bulk"} {
		if !found[what] {
			t.Errorf("no %s in the demo capture", what)
		}
	}
	if left := demoLeftovers(t); len(left) > 0 {
		t.Errorf("demo namespaces left behind: %v", left)
	}
}

// TestDemoInterrupted stops a demo with SIGINT: exit 0, file readable,
// nothing left behind.
func TestDemoInterrupted(t *testing.T) {
	testutil.RequireRoot(t)
	out := filepath.Join(t.TempDir(), "demo.pcap")
	cmd := exec.Command(binary, "--demo", "-w", out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // see testutil.Cmd
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		st, err := os.Stat(out)
		return strings.Contains(stderr.String(), "capturing on") && err == nil && st.Size() > 10000 &&
			len(demoProcs(t, cmd.Process.Pid)) >= 3
	}, "demo did not start capturing, or its processes:\n%s", &stderr)
	_ = cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	if n := tcpdumpCount(t, out); n == 0 {
		t.Error("empty capture")
	}
	if left := demoProcs(t, 0); len(left) > 0 {
		t.Errorf("demo processes left running: %v", left)
	}
	if left := demoLeftovers(t); len(left) > 0 {
		t.Errorf("demo namespaces left behind: %v", left)
	}
}

// TestDemoKilled kills a demo with SIGKILL, the demo alone (not its
// process group): its traffic processes die with it, and its capture ends
// itself; the namespaces it could not remove go with demo.RemoveStale, as
// the next --demo does.
func TestDemoKilled(t *testing.T) {
	testutil.RequireRoot(t)
	out := filepath.Join(t.TempDir(), "demo.pcapng")
	cmd := exec.Command(binary, "--demo", "-w", out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // see testutil.Cmd
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	var capture []int
	t.Cleanup(func() {
		// After a failure: what outlived the demo, then what it left.
		for p := range demoProcs(t, 0) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		self, _ := filepath.EvalSymlinks(binary)
		for _, p := range capture {
			if exe, err := os.Readlink("/proc/" + strconv.Itoa(p) + "/exe"); err == nil && exe == self {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		testutil.Eventually(t, 10*time.Second, func() bool { return len(demoProcs(t, 0)) == 0 }, "demo processes left")
		demo.RemoveStale()
		for _, ns := range demoLeftovers(t) {
			if strings.Contains(ns, "-"+strconv.Itoa(pid)+"-") {
				t.Errorf("namespace %s left after RemoveStale", ns)
			}
		}
	})
	var children map[int]string
	testutil.Eventually(t, 20*time.Second, func() bool {
		children = demoProcs(t, pid)
		st, err := os.Stat(out)
		return len(children) >= 3 && err == nil && st.Size() > 10000
	}, "demo did not start its processes and capture:\n%s", &stderr)
	// The capture: bpftop-cap, a child of the demo too.
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, _ := os.ReadFile(d)
		if f := strings.Fields(string(b)); len(f) > 3 && f[1] == "(bpftop-cap)" && f[3] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(f[0])
			capture = append(capture, n)
		}
	}
	if len(capture) != 1 {
		t.Errorf("the demo's capture process: found %v", capture)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	testutil.Eventually(t, 10*time.Second, func() bool { return len(demoProcs(t, 0)) == 0 },
		"the demo's processes %v outlived it: %v", children, demoProcs(t, 0))
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, p := range capture {
			if _, err := os.Stat("/proc/" + strconv.Itoa(p) + "/exe"); err == nil {
				return false
			}
		}
		return true
	}, "the demo's capture (pid %v) outlived it", capture)
}
