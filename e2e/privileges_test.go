package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestWithoutPrivileges runs the binary as an unprivileged user with no
// capabilities: one line naming the capabilities needed, exit 1.
func TestWithoutPrivileges(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "setpriv")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o1777); err != nil { // writable for the unprivileged user
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.pcap")
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", binary, "-i", "lo", "-w", out)
	msg, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; output:\n%s", err, msg)
	}
	s := string(msg)
	for _, want := range []string{"missing privileges", "CAP_NET_ADMIN", "CAP_BPF", "CAP_PERFMON", "run as root"} {
		if !strings.Contains(s, want) {
			t.Errorf("message %q does not mention %q", s, want)
		}
	}
	if strings.Count(s, "\n") != 1 {
		t.Errorf("want one line, got:\n%s", s)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an empty capture file was left behind")
	}
}

// TestCapabilitiesWithoutIPCLock runs the capture as an unprivileged user
// with the capabilities to load and attach but not CAP_IPC_LOCK: the perf
// rings, locked memory past perf_event_mlock_kb, cannot be mapped, and the
// one line says what would (CAP_IPC_LOCK, or --ringbuf, whose memory is
// not locked memory); with --ringbuf the capture then works.
func TestCapabilitiesWithoutIPCLock(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "setpriv")
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	// The user must reach the directory through the test's own temp dir.
	for _, d := range []string{filepath.Dir(dir), dir} {
		mode := os.FileMode(0o711)
		if d == dir {
			mode = 0o1777
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	const caps = "+bpf,+perfmon,+net_admin,+net_raw"
	capture := func(args ...string) *exec.Cmd {
		return testutil.Cmd(pair.NsA, "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups",
			"--inh-caps=" + caps, "--ambient-caps=" + caps, binary, "-i", pair.IfA, "--no-proc"}, args...)...)
	}

	out := filepath.Join(dir, "perf.pcap")
	msg, err := capture("-w", out).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("perf rings without CAP_IPC_LOCK: exit %v, want 1; output:\n%s", err, msg)
	}
	s := string(msg)
	for _, want := range []string{"CAP_IPC_LOCK", "--ringbuf"} {
		if !strings.Contains(s, want) {
			t.Errorf("message %q does not mention %q", s, want)
		}
	}
	if strings.Count(s, "\n") != 1 {
		t.Errorf("want one line, got:\n%s", s)
	}
	requireNothingAttached(t, pair)

	out = filepath.Join(dir, "ringbuf.pcap")
	ready := filepath.Join(dir, "ready")
	p := startCmd(t, capture("--ringbuf", "4MiB", "-c", "3", "--ready-file", ready, "-w", out, "udp"))
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Stat(ready)
		return err == nil
	}, "the --ringbuf capture never became ready:\n%s", p.stderr)
	sendUDP(t, pair, 7300, []int{100, 200, 300})
	if err := p.wait(t, 15*time.Second, "--ringbuf -c 3 did not end"); err != nil {
		t.Fatalf("--ringbuf capture without CAP_IPC_LOCK: %v\n%s", err, p.stderr)
	}
	if n := tcpdumpCount(t, out); n != 3 {
		t.Errorf("--ringbuf capture wrote %d packets, want 3:\n%s", n, p.stderr)
	}
	requireNothingAttached(t, pair)
}
