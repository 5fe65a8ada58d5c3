package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// privateNull makes a null device of the test's own in dir (char 1,3, mode
// 0666, root's): never the system's /dev/null.
func privateNull(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "null")
	if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("mknod %s: %v", p, err)
	}
	if err := os.Chmod(p, 0o666); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return p
}

// fifo makes a FIFO in dir, mode 0640 and owned by nobody (65534), so that
// a chmod or chown by the capture would show.
func fifo(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkSystemNull fails the test if the system's /dev/null changed while
// it ran (it is only looked at, never opened).
func checkSystemNull(t *testing.T) {
	t.Helper()
	before := testutil.NodeOf(t, "/dev/null")
	t.Cleanup(func() {
		if after := testutil.NodeOf(t, "/dev/null"); after != before {
			t.Errorf("/dev/null changed: %+v, was %+v", after, before)
		}
	})
}

// udpDstPorts counts the frames of a capture by UDP destination port.
func udpDstPorts(frames []frame) map[int]int {
	m := map[int]int{}
	for _, f := range frames {
		pkt := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.NoCopy)
		if udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			m[int(udp.DstPort)]++
		}
	}
	return m
}

// TestOutputDeviceAndFIFO: -w onto a device node and onto a FIFO writes
// through them as they are, mode and owner untouched, and the FIFO's
// packets are read by tcpdump on its other end.
func TestOutputDeviceAndFIFO(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	pair := testutil.NewPair(t)
	checkSystemNull(t)
	dir := t.TempDir()

	t.Run("device", func(t *testing.T) {
		null := privateNull(t, dir)
		before := testutil.NodeOf(t, null)
		bc := startCapture(t, pair, "-w", null, "-Q", "in")
		sendUDP(t, pair, 9301, datagramSizes())
		if err := bc.stop(t, syscall.SIGINT); err != nil {
			t.Fatalf("exit: %v\n%s", err, bc.stderr)
		}
		if captured, _, _ := summary(t, bc.stderr.String()); captured < len(datagramSizes()) {
			t.Errorf("%d captured, want the %d datagrams", captured, len(datagramSizes()))
		}
		if after := testutil.NodeOf(t, null); after != before {
			t.Errorf("device now %+v, was %+v", after, before)
		}
	})

	t.Run("fifo", func(t *testing.T) {
		ff := fifo(t, dir)
		before := testutil.NodeOf(t, ff)
		// tcpdump opens the FIFO first (its open waits for a writer, and
		// ours for a reader), and ends at the end of the stream.
		var out syncBuffer
		td := exec.Command("tcpdump", "-nn", "-A", "-r", ff, "udp", "dst", "port", "9302")
		td.Stdout = &out
		rd := startCmd(t, td)
		bc := startCapture(t, pair, "-w", ff, "-Q", "in")
		sizes := datagramSizes()
		sendUDP(t, pair, 9302, sizes)
		if err := bc.stop(t, syscall.SIGINT); err != nil {
			t.Fatalf("exit: %v\n%s", err, bc.stderr)
		}
		if code := exitCode(t, rd, 10*time.Second); code != 0 {
			t.Fatalf("tcpdump -r FIFO: exit %d\n%s", code, rd.stderr)
		}
		seen := map[string]bool{}
		for _, m := range tagRE.FindAllString(out.String(), -1) {
			seen[m] = true
		}
		if len(seen) != len(sizes) {
			t.Errorf("tcpdump read %d of the %d datagrams from the FIFO:\n%s", len(seen), len(sizes), rd.stderr)
		}
		if after := testutil.NodeOf(t, ff); after != before {
			t.Errorf("FIFO now %+v, was %+v", after, before)
		}
	})
}

// TestOutputOverwrite: -w onto a file a previous run wrote replaces it
// (no --force needed), keeping the mode it was given in between.
func TestOutputOverwrite(t *testing.T) {
	pair := testutil.NewPair(t)
	file := filepath.Join(t.TempDir(), "twice.pcap")
	runs := []struct{ port, n int }{{9311, 30}, {9312, 10}}
	for i, r := range runs {
		bc := startCapture(t, pair, "-w", file, "-Q", "in", "udp")
		sendUDP(t, pair, r.port, make([]int, r.n))
		if err := bc.stop(t, syscall.SIGINT); err != nil {
			t.Fatalf("run %d exit: %v\n%s", i+1, err, bc.stderr)
		}
		if i == 0 {
			if m := testutil.NodeOf(t, file).Mode; m != 0o600 {
				t.Errorf("new file mode %v, want -rw-------", m)
			}
			if err := os.Chmod(file, 0o640); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := udpDstPorts(readPcap(t, file))
	if got[runs[1].port] != runs[1].n || got[runs[0].port] != 0 {
		t.Errorf("file holds %v (by UDP port); want the second run's %d datagrams to port %d only", got, runs[1].n, runs[1].port)
	}
	if n := tcpdumpCount(t, file); n != runs[1].n {
		t.Errorf("tcpdump reads %d packets, want %d", n, runs[1].n)
	}
	if m := testutil.NodeOf(t, file).Mode; m != 0o640 {
		t.Errorf("overwritten file mode %v, want the -rw-r----- it had", m)
	}
}

// TestOutputAfterFailedStart: a capture that fails after opening its
// output (an XDP program on a veth whose peer's MTU is 9000, which the
// kernel refuses) removes a file it created and nothing else: not a device,
// not a FIFO, not a file that was there before.
func TestOutputAfterFailedStart(t *testing.T) {
	pair := testutil.NewPair(t)
	checkSystemNull(t)
	for _, c := range [][]string{
		{"-n", pair.NsB, "link", "set", pair.IfB, "mtu", "9000"},
		{"-n", pair.NsA, "link", "set", pair.IfA, "mtu", "9000"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	dir := t.TempDir()
	fail := func(t *testing.T, path string) {
		t.Helper()
		p := start(t, pair.NsA, binary, "-i", pair.IfA, "--xdp", "-w", path)
		if code := exitCode(t, p, 15*time.Second); code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, p.stderr)
		}
		if msg := p.stderr.String(); !strings.Contains(msg, "attach XDP") || strings.Count(msg, "\n") != 1 {
			t.Fatalf("want one line saying the XDP attach failed, got:\n%s", msg)
		}
	}

	t.Run("new file", func(t *testing.T) {
		path := filepath.Join(dir, "new.pcap")
		fail(t, path)
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("the new file was left behind: %v", err)
		}
	})
	t.Run("existing file", func(t *testing.T) {
		path := filepath.Join(dir, "old.pcap")
		if err := os.WriteFile(path, []byte("an older capture"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		before := testutil.NodeOf(t, path)
		fail(t, path)
		if after := testutil.NodeOf(t, path); after != before {
			t.Errorf("existing file now %+v, was %+v", after, before)
		}
		// tcpdump opens its output once capture is up: a failed start
		// leaves an older capture as it was, not emptied.
		if b, _ := os.ReadFile(path); string(b) != "an older capture" {
			t.Errorf("existing file holds %q after a failed start", b)
		}
	})
	t.Run("device", func(t *testing.T) {
		null := privateNull(t, dir)
		before := testutil.NodeOf(t, null)
		fail(t, null)
		if after := testutil.NodeOf(t, null); after != before {
			t.Errorf("device now %+v, was %+v", after, before)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		ff := fifo(t, dir)
		before := testutil.NodeOf(t, ff)
		// A reader that never blocks, so that the capture's open does not.
		rd, err := os.OpenFile(ff, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		fail(t, ff)
		if after := testutil.NodeOf(t, ff); after != before {
			t.Errorf("FIFO now %+v, was %+v", after, before)
		}
	})
}
