package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// datagramSizes are the UDP payload sizes sent, 25 of each.
func datagramSizes() []int {
	var s []int
	for range 25 {
		s = append(s, 20, 200, 512, 1400)
	}
	return s
}

// TestHeadlessCapture captures UDP datagrams of several sizes with -w on each
// hook, side by side with tcpdump, and checks that every datagram is in our
// file byte for byte, stamped within 1 ms of tcpdump's stamp, that tcpdump
// reads the file, that nothing was lost, and that nothing stays attached.
func TestHeadlessCapture(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		mode string
	}{
		{"tcx", []string{"--tc-attach=tcx"}, "tcx"},
		{"clsact", []string{"--tc-attach=clsact"}, "clsact"},
		{"xdp", []string{"--xdp"}, "xdp"},
		// The BPF ring buffer instead of the perf rings, at both hooks.
		{"ringbuf-tcx", []string{"--tc-attach=tcx", "--ringbuf", "16MiB"}, "tcx"},
		{"ringbuf-xdp", []string{"--xdp", "--ringbuf", "16MiB"}, "xdp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair := testutil.NewPair(t)
			dir := t.TempDir()
			ours, theirs := filepath.Join(dir, "ours.pcap"), filepath.Join(dir, "tcpdump.pcap")

			td := startTcpdump(t, pair, theirs)
			bc := startCapture(t, pair, append([]string{"-w", ours}, tc.args...)...)
			if !strings.Contains(bc.stderr.String(), "("+tc.mode+",") {
				t.Errorf("expected attach mode %s, stderr:\n%s", tc.mode, bc.stderr)
			}
			if left, _ := testutil.Attached(pair.NsA, pair.IfA); len(left) == 0 {
				t.Fatalf("bpftop-cap is ready but nothing is attached to %s", pair.IfA)
			}
			sizes := datagramSizes()
			payloads := sendUDP(t, pair, 9000, sizes)

			// Wait until tcpdump has them all (it writes each packet with -U),
			// then stop both.
			testutil.Eventually(t, 10*time.Second, func() bool {
				return len(byTag(t, readGrowingPcap(t, theirs), "tcpdump")) == len(sizes)
			}, "tcpdump did not see all %d datagrams", len(sizes))
			if err := bc.stop(t, syscall.SIGINT); err != nil {
				t.Fatalf("bpftop-cap exit: %v\n%s", err, bc.stderr)
			}
			_ = td.stop(t, syscall.SIGINT)

			st, err := os.Stat(ours)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("capture file mode %v, want 0600", st.Mode().Perm())
			}
			ourFrames := readPcap(t, ours)
			got := byTag(t, ourFrames, "bpftop-cap")
			want := byTag(t, readPcap(t, theirs), "tcpdump")
			for i, p := range payloads {
				g, ok := got[i]
				if !ok {
					t.Errorf("datagram %d (%d bytes) missing from our capture", i, len(p))
					continue
				}
				w := want[i]
				if !bytes.Equal(g.data, w.data) {
					t.Errorf("datagram %d: our frame differs from tcpdump's (%d vs %d bytes)", i, len(g.data), len(w.data))
				}
				if !bytes.HasSuffix(g.data, p) {
					t.Errorf("datagram %d: frame does not end in the payload sent", i)
				}
				if g.ci.Length != len(g.data) || g.ci.CaptureLength != len(g.data) {
					t.Errorf("datagram %d: lengths %d/%d for %d bytes", i, g.ci.CaptureLength, g.ci.Length, len(g.data))
				}
				if d := g.ci.Timestamp.Sub(w.ci.Timestamp).Abs(); d > time.Millisecond {
					t.Errorf("datagram %d: our stamp %v is %v from tcpdump's %v", i, g.ci.Timestamp, d, w.ci.Timestamp)
				}
			}
			if n := tcpdumpCount(t, ours); n != len(ourFrames) {
				t.Errorf("tcpdump -r reads %d packets, pcapgo %d", n, len(ourFrames))
			}
			captured, lost, dropped := summary(t, bc.stderr.String())
			if captured != len(ourFrames) || lost != 0 || dropped != 0 {
				t.Errorf("summary says %d captured, %d lost, %d dropped; file has %d", captured, lost, dropped, len(ourFrames))
			}
			requireNothingAttached(t, pair)
		})
	}
}

// TestHeadlessCount stops by itself after -c packets and writes exactly them.
func TestHeadlessCount(t *testing.T) {
	pair := testutil.NewPair(t)
	out := filepath.Join(t.TempDir(), "c.pcap")
	bc := startCapture(t, pair, "-w", out, "-c", "10", "-Q", "in")
	sendUDP(t, pair, 9001, datagramSizes())
	if err := bc.wait(t, 10*time.Second, "bpftop-cap -c 10 did not stop"); err != nil {
		t.Fatalf("exit: %v\n%s", err, bc.stderr)
	}
	if n := len(readPcap(t, out)); n != 10 {
		t.Errorf("file has %d packets, want 10", n)
	}
	if n := tcpdumpCount(t, out); n != 10 {
		t.Errorf("tcpdump reads %d packets, want 10", n)
	}
	requireNothingAttached(t, pair)
}

// TestSIGKILLLeavesNothing: tcx and XDP are bpf links, so a killed process
// leaves nothing attached. The clsact fallback cannot promise that; its
// filter is found and removed by the next start.
func TestSIGKILLLeavesNothing(t *testing.T) {
	for _, args := range [][]string{{"--tc-attach=tcx"}, {"--xdp"}} {
		t.Run(args[0], func(t *testing.T) {
			pair := testutil.NewPair(t)
			bc := startCapture(t, pair, append([]string{"-w", filepath.Join(t.TempDir(), "k.pcap")}, args...)...)
			_ = bc.stop(t, syscall.SIGKILL)
			requireNothingAttached(t, pair)
		})
	}
	t.Run("clsact", func(t *testing.T) {
		pair := testutil.NewPair(t)
		dir := t.TempDir()
		bc := startCapture(t, pair, "-w", filepath.Join(dir, "k1.pcap"), "--tc-attach=clsact")
		_ = bc.stop(t, syscall.SIGKILL)
		left, err := testutil.Attached(pair.NsA, pair.IfA)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			t.Fatal("expected the killed run's clsact filters to remain until the next start")
		}
		bc = startCapture(t, pair, "-w", filepath.Join(dir, "k2.pcap"), "--tc-attach=clsact")
		if err := bc.stop(t, syscall.SIGTERM); err != nil {
			t.Fatalf("exit: %v\n%s", err, bc.stderr)
		}
		requireNothingAttached(t, pair)
	})
}

// TestStdout streams pcap to stdout, read by tcpdump -r -.
func TestStdout(t *testing.T) {
	pair := testutil.NewPair(t)
	testutil.RequireTool(t, "tcpdump")
	ready := filepath.Join(t.TempDir(), "ready")
	var out syncBuffer
	p := &proc{cmd: testutil.Cmd(pair.NsA, binary, "-i", pair.IfA, "-w", "-", "-c", "20", "--ready-file", ready), stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = &out, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "not ready:\n%s", p.stderr)
	sendUDP(t, pair, 9002, datagramSizes())
	if code := exitCode(t, p, 10*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
	file := filepath.Join(t.TempDir(), "stdout.pcap")
	if err := os.WriteFile(file, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := tcpdumpCount(t, file); n != 20 {
		t.Errorf("tcpdump reads %d packets from stdout, want 20", n)
	}
	requireNothingAttached(t, pair)
}

// TestTwoClsactRuns: two captures on one interface through the clsact
// fallback do not remove each other's filters, and no filter is left when
// both are gone. (The qdisc stays with the second run's exit: only its
// creator removes it, when empty; an empty clsact qdisc does nothing.)
func TestTwoClsactRuns(t *testing.T) {
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	first := startCapture(t, pair, "-w", filepath.Join(dir, "1.pcap"), "--tc-attach=clsact", "-Q", "in")
	second := startCapture(t, pair, "-w", filepath.Join(dir, "2.pcap"), "--tc-attach=clsact", "-Q", "in")
	sendUDP(t, pair, 9010, []int{100, 100, 100})
	if err := first.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("first: %v\n%s", err, first.stderr)
	}
	if left, _ := testutil.Attached(pair.NsA, pair.IfA); len(left) != 1 {
		t.Errorf("after the first run exits, attached: %v (want the second run's filter)", left)
	}
	sendUDP(t, pair, 9011, []int{100, 100})
	if err := second.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("second: %v\n%s", err, second.stderr)
	}
	if n := len(byTag(t, readPcap(t, filepath.Join(dir, "1.pcap")), "first")); n != 3 {
		t.Errorf("first run has %d of 3 datagrams", n)
	}
	if n := len(readPcap(t, filepath.Join(dir, "2.pcap"))); n < 5 {
		t.Errorf("second run has %d packets, want the 5 datagrams", n)
	}
	requireNothingAttached(t, pair)
}

// TestLossIsExplained stops the capture (SIGSTOP) while more traffic than
// its 64 KiB perf ring holds goes by: the packets the ring could not take
// are counted as lost, the summary says so with the ring's size and the
// flag that makes it larger, and the file still has what was kept.
func TestLossIsExplained(t *testing.T) {
	pair := testutil.NewPair(t)
	out := filepath.Join(t.TempDir(), "loss.pcap")
	statsFile := filepath.Join(t.TempDir(), "stats.json")
	bc := startCapture(t, pair, "-w", out, "--perf-buffer", "64KiB", "--stats-file", statsFile, "udp")
	if err := bc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// 60 x 1.4 KB: more than the ring holds, and few enough that the
	// receiving socket's buffer takes them all even if its reader lags.
	// Sent from one CPU, they all go to that CPU's ring (spread over two,
	// each ring would hold its share).
	sizes := make([]int, 60)
	for i := range sizes {
		sizes[i] = 1400
	}
	testutil.OnOneCPU(t, func() { sendUDP(t, pair, 9010, sizes) })
	if err := bc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := bc.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("exit: %v\n%s", err, bc.stderr)
	}
	captured, lost, _ := summary(t, bc.stderr.String())
	if lost == 0 || captured == 0 || captured+lost != len(sizes) {
		t.Errorf("%d captured and %d lost of %d sent; want both, adding up:\n%s", captured, lost, len(sizes), bc.stderr)
	}
	if want := "a perf ring (64KiB per CPU) filled up; a larger --perf-buffer"; !strings.Contains(bc.stderr.String(), want) {
		t.Errorf("stderr does not explain the loss (%q):\n%s", want, bc.stderr)
	}
	if n := tcpdumpCount(t, out); n != captured {
		t.Errorf("tcpdump reads %d packets, the summary says %d captured", n, captured)
	}
	// The stats file, written once more at the end, counts the loss as
	// the summary does (perf's own count can lag the kernel's).
	b, err := os.ReadFile(statsFile)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Lost, Received uint64
		LostPerf       uint64 `json:"lost_perf"`
		Kernel         struct{ Failed uint64 }
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("stats file: %v\n%s", err, b)
	}
	if st.Lost != uint64(lost) || st.Lost != max(st.LostPerf, st.Kernel.Failed) || st.Received != uint64(captured) {
		t.Errorf("stats file %s: want lost %d = max(lost_perf, kernel.failed), received %d", b, lost, captured)
	}
}
