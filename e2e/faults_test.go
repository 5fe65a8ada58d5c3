package e2e

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// exitCode waits for p and returns its exit status.
func exitCode(t *testing.T, p *proc, within time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatalf("wait: %v", err)
	case <-time.After(within):
		t.Fatalf("did not exit within %v:\n%s", within, p.stderr)
	}
	return -1
}

// TestSignalsFlushAndDetach: SIGINT, SIGTERM and SIGHUP each end a -w
// capture with exit 0, a complete file and nothing attached.
func TestSignalsFlushAndDetach(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			pair := testutil.NewPair(t)
			out := filepath.Join(t.TempDir(), "s.pcap")
			bc := startCapture(t, pair, "-w", out, "-Q", "in")
			sendUDP(t, pair, 9300, []int{100, 200, 300, 400, 500})
			testutil.Eventually(t, 5*time.Second, func() bool {
				return strings.Contains(bc.stderr.String(), "capturing on")
			}, "no start line")
			// The reader flushes every 50 ms; the signal must still drain
			// whatever is in the ring.
			if err := bc.stop(t, sig); err != nil {
				t.Fatalf("exit after %v: %v\n%s", sig, err, bc.stderr)
			}
			if n := len(byTag(t, readPcap(t, out), "ours")); n != 5 {
				t.Errorf("file has %d of 5 datagrams", n)
			}
			tcpdumpCount(t, out)
			requireNothingAttached(t, pair)
		})
	}
}

// TestInterfaceDisappears deletes the veth under a running capture: a clear
// message, exit 1, the packets captured so far saved and readable.
func TestInterfaceDisappears(t *testing.T) {
	pair := testutil.NewPair(t)
	out := filepath.Join(t.TempDir(), "gone.pcap")
	bc := startCapture(t, pair, "-w", out, "-Q", "in")
	sendUDP(t, pair, 9301, []int{64, 64, 64})
	if o, err := exec.Command("ip", "-n", pair.NsA, "link", "del", pair.IfA).CombinedOutput(); err != nil {
		t.Fatalf("delete %s: %v %s", pair.IfA, err, o)
	}
	if code := exitCode(t, bc, 5*time.Second); code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, bc.stderr)
	}
	if !strings.Contains(bc.stderr.String(), "interface went away: "+pair.IfA) {
		t.Errorf("stderr does not say the interface went away:\n%s", bc.stderr)
	}
	if n := len(byTag(t, readPcap(t, out), "ours")); n != 3 {
		t.Errorf("file has %d of the 3 datagrams sent before the interface went", n)
	}
	tcpdumpCount(t, out)
}

// TestDiskFull writes to a 64 KiB tmpfs: a clear error naming the cause,
// exit 1, nothing left attached.
func TestDiskFull(t *testing.T) {
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	if o, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "bpftop-cap-test", dir).CombinedOutput(); err != nil {
		testutil.SkipOrFail(t, "mount a small tmpfs: %v %s", err, o)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	bc := startCapture(t, pair, "-w", filepath.Join(dir, "full.pcap"), "-Q", "in")
	for range 10 {
		sendUDP(t, pair, 9302, []int{1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400})
	}
	if code := exitCode(t, bc, 10*time.Second); code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, bc.stderr)
	}
	if !strings.Contains(bc.stderr.String(), "no space left on device") {
		t.Errorf("stderr does not name the cause:\n%s", bc.stderr)
	}
	if strings.Contains(bc.stderr.String(), "goroutine") {
		t.Errorf("stack trace:\n%s", bc.stderr)
	}
	requireNothingAttached(t, pair)
}

// TestPanicIsContained injects a panic into the pcap writer: one line on
// stderr naming the crash file (no stack trace), exit 1, the packets
// written before it still readable, nothing attached.
func TestPanicIsContained(t *testing.T) {
	pair := testutil.NewPair(t)
	out := filepath.Join(t.TempDir(), "p.pcap")
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := testutil.Cmd(pair.NsA, binary, "-i", pair.IfA, "-w", out, "-c", "5", "-Q", "in", "--ready-file", ready)
	cmd.Env = append(os.Environ(), "BPFTOP_CAP_FAULT=panic-writer")
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "not ready:\n%s", p.stderr)
	sendUDP(t, pair, 9303, []int{100, 100, 100, 100, 100, 100, 100, 100})
	if code := exitCode(t, p, 10*time.Second); code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, p.stderr)
	}
	msg := p.stderr.String()
	if !strings.Contains(msg, "internal error: injected fault at writer (stack saved in ") || strings.Contains(msg, "goroutine ") {
		t.Errorf("want one line naming the crash file, no stack trace:\n%s", msg)
	}
	if n := len(readPcap(t, out)); n != 5 {
		t.Errorf("file has %d packets, want the 5 written before the panic", n)
	}
	if i := strings.Index(msg, "stack saved in "); i >= 0 {
		crash := strings.Fields(msg[i+len("stack saved in "):])[0]
		crash = strings.TrimSuffix(crash, ";")
		if b, err := os.ReadFile(crash); err != nil || !strings.Contains(string(b), "goroutine") {
			t.Errorf("crash file %s: %v", crash, err)
		}
		os.Remove(crash)
	}
	requireNothingAttached(t, pair)
}

// TestClosedPipe: `-w - | head -c 100`: when the reader of stdout goes
// away, bpftop-cap ends through its normal path (one line, exit 1), not
// killed by SIGPIPE before cleanup: even the clsact filter is removed.
func TestClosedPipe(t *testing.T) {
	pair := testutil.NewPair(t)
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := testutil.Cmd(pair.NsA, binary, "-i", pair.IfA, "-w", "-", "--tc-attach=clsact", "--ready-file", ready)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "not ready:\n%s", p.stderr)
	// Traffic until bpftop-cap exits: it only learns of the closed pipe
	// when it next writes, as tcpdump does.
	var rx net.PacketConn
	var tx net.Conn
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		rx, err = net.ListenPacket("udp4", net.JoinHostPort(pair.AddrA, "9304"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	go io.Copy(io.Discard, readerOf(rx))
	if err := testutil.InNetns(pair.NsB, func() (err error) {
		tx, err = net.Dial("udp4", rx.LocalAddr().String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	defer close(exited)
	go func() {
		defer tx.Close()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-exited:
				return
			case <-tick.C:
				tx.Write(make([]byte, 200))
			}
		}
	}()
	head := make([]byte, 100)
	if _, err := io.ReadFull(stdout, head); err != nil {
		t.Fatalf("read the first 100 bytes: %v", err)
	}
	stdout.Close() // head exits
	if code := exitCode(t, p, 10*time.Second); code != 1 {
		t.Errorf("exit %d, want 1 (a write error):\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "broken pipe") {
		t.Errorf("stderr does not name the broken pipe:\n%s", p.stderr)
	}
	requireNothingAttached(t, pair)
}
