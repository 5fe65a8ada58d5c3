package e2e

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestGSOFrames captures a TCP bulk transfer on the sender's egress, where
// veth hands tc segmentation-offload frames of up to 64 KiB: they are
// captured (cut at the 65400 bytes one perf record carries, with their
// wire length kept), and tcpdump reads the file.
func TestGSOFrames(t *testing.T) {
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	out, ready := filepath.Join(dir, "gso.pcap"), filepath.Join(dir, "ready")
	p := start(t, pair.NsB, binary, "-i", pair.IfB, "-Q", "out", "-w", out, "--ready-file", ready, "tcp")
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "not ready:\n%s", p.stderr)

	sendStream(t, pair, "9500", 4<<20)
	if err := p.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr)
	}
	frames := readPcap(t, out)
	big, maxLen := 0, 0
	for _, f := range frames {
		maxLen = max(maxLen, f.ci.Length)
		if f.ci.Length > 1514 {
			big++
		}
		if f.ci.CaptureLength != min(f.ci.Length, 65400) || len(f.data) != f.ci.CaptureLength {
			t.Fatalf("frame of %d bytes on the wire captured as %d (%d in the file)", f.ci.Length, f.ci.CaptureLength, len(f.data))
		}
	}
	if big == 0 {
		t.Fatalf("no frame over 1514 bytes among %d: veth gave tc no GSO frames (largest %d)", len(frames), maxLen)
	}
	t.Logf("%d frames, %d larger than 1514 bytes, the largest %d bytes", len(frames), big, maxLen)
	if n := tcpdumpCount(t, out); n != len(frames) {
		t.Errorf("tcpdump reads %d of %d frames", n, len(frames))
	}
	_, lost, dropped := summary(t, p.stderr.String())
	if lost != 0 || dropped != 0 {
		t.Errorf("lost %d, dropped %d", lost, dropped)
	}
}
