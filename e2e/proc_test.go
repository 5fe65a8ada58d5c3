package e2e

import (
	"bufio"
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

// startHelper runs the helper mode as a process named comm in namespace
// ns; a server's start waits until it listens. The pid is the helper's
// (ip netns exec executes it in its own place).
func startHelper(t *testing.T, ns, comm, mode string, args ...string) (*proc, *syncBuffer) {
	t.Helper()
	cmd := testutil.Cmd(ns, helperAs(t, comm), args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out := &syncBuffer{}
	cmd.Stdout = out
	p := startCmd(t, cmd)
	if strings.HasSuffix(mode, "-echo") {
		testutil.Eventually(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "ready") },
			"%s never listened: %s", comm, p.stderr)
	}
	return p, out
}

// runClient runs a client helper to its end.
func runClient(t *testing.T, ns, comm, mode string, args ...string) int {
	t.Helper()
	p, out := startHelper(t, ns, comm, mode, args...)
	pid := p.cmd.Process.Pid
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil || !strings.Contains(out.String(), "done") {
			t.Fatalf("%s: %v: %s", comm, err, p.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not finish: %s", comm, p.stderr)
	}
	return pid
}

// startProcCapture runs bpftop-cap on the pair's interface A with args,
// its stdout kept, and waits until capture is live.
func startProcCapture(t *testing.T, pair *testutil.Pair, args ...string) (*proc, *syncBuffer) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := testutil.Cmd(pair.NsA, binary, append([]string{"-i", pair.IfA, "--ready-file", ready}, args...)...)
	out := &syncBuffer{}
	cmd.Stdout = out
	p := startCmd(t, cmd)
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Stat(ready)
		return err == nil
	}, "bpftop-cap never became ready:\n%s", p.stderr)
	return p, out
}

// tsharkRows reads fields of every packet of a pcapng file with tshark.
func tsharkRows(t *testing.T, file string, fields ...string) [][]string {
	t.Helper()
	tshark := testutil.RequireTool(t, "tshark")
	args := []string{"-r", file, "-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var rows [][]string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		rows = append(rows, strings.Split(sc.Text(), "|"))
	}
	return rows
}

// TestProcUDP: a UDP server started before the capture and a client
// started after it, both in the capture's namespace, each talking to a
// peer in the other namespace: every packet of each, both ways, names its
// process and pid in the pcapng file's comments (tshark's frame.comment),
// with a packet id unique in the file and the CPU as its queue, and at the
// end of its text line.
func TestProcUDP(t *testing.T) {
	pair := testutil.NewPair(t)
	srv, _ := startHelper(t, pair.NsA, "bpcudpsrv", "udp-echo", pair.AddrA+":7001")
	startHelper(t, pair.NsB, "bpcpeer", "udp-echo", pair.AddrB+":7002")
	file := filepath.Join(t.TempDir(), "proc.pcapng")
	cap, text := startProcCapture(t, pair, "-w", file, "--print", "udp")
	cliPid := runClient(t, pair.NsA, "bpcudpcli", "udp-client", pair.AddrB+":7002", "5")
	runClient(t, pair.NsB, "bpcpeercli", "udp-client", pair.AddrA+":7001", "5")
	if err := cap.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("bpftop-cap: %v\n%s", err, cap.stderr)
	}
	want := map[string]string{ // port on A -> its process's comment
		"7001": "process: bpcudpsrv (pid " + strconv.Itoa(srv.cmd.Process.Pid) + ")",
	}
	ids := map[string]bool{}
	n := map[string]int{}
	for _, r := range tsharkRows(t, file, "frame.comment", "frame.packet_id", "frame.interface_queue", "udp.srcport", "udp.dstport") {
		comment, id, queue, sport, dport := r[0], r[1], r[2], r[3], r[4]
		wantComment := want["7001"]
		if sport != "7001" && dport != "7001" {
			wantComment = "process: bpcudpcli (pid " + strconv.Itoa(cliPid) + ")"
		}
		if !strings.Contains(comment, wantComment) || !strings.Contains(comment, "hook: tc") {
			t.Errorf("packet %s (%s -> %s): comment %q, want %q", id, sport, dport, comment, wantComment)
		}
		if id == "" || ids[id] {
			t.Errorf("packet id %q missing or repeated", id)
		}
		ids[id] = true
		if _, err := strconv.Atoi(queue); err != nil {
			t.Errorf("packet %s: queue %q, want the CPU", id, queue)
		}
		n[wantComment]++
	}
	for comment, k := range n {
		if k != 10 {
			t.Errorf("%d packets named %q, want 10 (5 each way)", k, comment)
		}
	}
	if len(n) != 2 {
		t.Errorf("processes named: %v", n)
	}
	lines := 0
	for _, l := range strings.Split(text.String(), "\n") {
		if l == "" {
			continue
		}
		lines++
		wantProc := ", process bpcudpcli[" + strconv.Itoa(cliPid) + "]"
		if strings.Contains(l, ".7001") {
			wantProc = ", process bpcudpsrv[" + strconv.Itoa(srv.cmd.Process.Pid) + "]"
		}
		if !strings.Contains(l, wantProc) {
			t.Errorf("text line %q does not end with %q", l, wantProc)
		}
	}
	if lines != 20 {
		t.Errorf("%d text lines, want 20:\n%s", lines, text)
	}
}
