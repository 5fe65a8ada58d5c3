package e2e

import (
	"bytes"
	be "encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe to write from a command while read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a command started in a namespace.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func start(t *testing.T, ns, name string, args ...string) *proc {
	t.Helper()
	return startCmd(t, testutil.Cmd(ns, name, args...))
}

// startCmd starts cmd as start does: stderr kept, killed at cleanup, in a
// session of its own unless cmd says otherwise. A capture raises its
// session's priority (--nice) and a kill -9 leaves it so: the session must
// not be the test's.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	name := cmd.Path
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	return p
}

// stop sends sig and waits for the exit, returning the exit error.
func (p *proc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	return p.wait(t, 15*time.Second, "%s did not exit within 15s of %v; stderr", p.cmd.Path, sig)
}

// failIfExited fails the test if p has exited already (format and a say
// what p is), with its exit and stderr.
func (p *proc) failIfExited(t *testing.T, format string, a ...any) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		t.Fatalf(format+" exited early (%v):\n%s", append(a, err, p.stderr)...)
	default:
	}
}

// wait waits up to d for p to exit and returns the exit error; past d the
// test fails with the message format and a, then p's stderr.
func (p *proc) wait(t *testing.T, d time.Duration, format string, a ...any) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(d):
		t.Fatalf(format+":\n%s", append(a, p.stderr)...)
	}
	return nil
}

// startCapture runs bpftop-cap in the pair's namespace A on its interface and
// waits until it says capture is live.
func startCapture(t *testing.T, pair *testutil.Pair, args ...string) *proc {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	args = append([]string{"-i", pair.IfA, "--ready-file", ready}, args...)
	p := start(t, pair.NsA, binary, args...)
	testutil.Eventually(t, 10*time.Second, func() bool {
		p.failIfExited(t, "bpftop-cap")
		_, err := os.Stat(ready)
		return err == nil
	}, "bpftop-cap never became ready:\n%s", p.stderr)
	return p
}

// startTcpdump runs tcpdump on the pair's interface A, writing nanosecond
// pcap to file, and waits until it listens.
func startTcpdump(t *testing.T, pair *testutil.Pair, file string) *proc {
	t.Helper()
	testutil.RequireTool(t, "tcpdump")
	p := start(t, pair.NsA, "tcpdump", "-i", pair.IfA, "--immediate-mode", "-B", "65536", "-U", "-nn", "-s", "262144",
		"--time-stamp-precision=nano", "-w", file, "udp")
	testutil.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(p.stderr.String(), "listening on")
	}, "tcpdump never started listening:\n%s", p.stderr)
	return p
}

// tag is the payload prefix that marks datagram i.
func tag(i int) string { return fmt.Sprintf("bpftop-e2e-%06d;", i) }

var tagRE = regexp.MustCompile(`bpftop-e2e-(\d{6});`)

// sendUDP sends one datagram per size from namespace B to A's address and
// port, each payload starting with its tag and padded to its size, to a
// socket in A (so no ICMP comes back), and waits until that socket has
// received them all: the capture hooks on A's interface ran before that.
// It returns the payloads.
func sendUDP(t *testing.T, pair *testutil.Pair, port int, sizes []int) [][]byte {
	t.Helper()
	sink := listenUDP(t, pair.NsA, net.JoinHostPort(pair.AddrA, strconv.Itoa(port)))
	defer sink.conn.Close()
	tx := dialUDP(t, pair.NsB, net.JoinHostPort(pair.AddrA, strconv.Itoa(port)))
	defer tx.Close()
	var payloads [][]byte
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		copy(p, tag(i))
		if _, err := tx.Write(p); err != nil {
			t.Fatalf("send datagram %d: %v", i, err)
		}
		payloads = append(payloads, p)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return sink.n.Load() >= int64(len(sizes)) },
		"%d datagrams sent to port %d were not all received", len(sizes), port)
	return payloads
}

// udpSink counts the datagrams a socket receives.
type udpSink struct {
	conn net.PacketConn
	n    atomic.Int64
}

func listenUDP(t *testing.T, ns, addr string) *udpSink {
	t.Helper()
	s := &udpSink{}
	if err := testutil.InNetns(ns, func() (err error) {
		s.conn, err = net.ListenPacket("udp4", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.conn.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := s.conn.ReadFrom(buf); err != nil {
				return
			}
			s.n.Add(1)
		}
	}()
	return s
}

// dialUDP is a UDP socket in namespace ns sending to addr.
func dialUDP(t *testing.T, ns, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	if err := testutil.InNetns(ns, func() (err error) {
		c, err = net.Dial("udp4", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// readerOf drains a PacketConn as an io.Reader.
type pcReader struct{ net.PacketConn }

func (r pcReader) Read(b []byte) (int, error) {
	n, _, err := r.ReadFrom(b)
	return n, err
}

func readerOf(c net.PacketConn) io.Reader { return pcReader{c} }

// frame is one packet read back from a pcap file.
type frame struct {
	ci   gopacket.CaptureInfo
	data []byte
}

// readPcap reads every packet of a pcap (or pcapng) file with pcapgo.
func readPcap(t *testing.T, path string) []frame {
	t.Helper()
	return readPcapFile(t, path, false)
}

// readGrowingPcap reads a capture another program is still writing: tcpdump
// -U flushes whole packets, but a flush can reach the file in two writes, so
// a half-written last record (or header) ends the read instead of failing it.
func readGrowingPcap(t *testing.T, path string) []frame {
	t.Helper()
	return readPcapFile(t, path, true)
}

func readPcapFile(t *testing.T, path string, growing bool) []frame {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var magic [4]byte
	_, _ = f.ReadAt(magic[:], 0)
	if magic == [4]byte{0x0a, 0x0d, 0x0d, 0x0a} {
		r, err = pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{})
	} else {
		r, err = pcapgo.NewReader(f)
	}
	if growing && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var out []frame
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || growing && errors.Is(err, io.ErrUnexpectedEOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		out = append(out, frame{ci, data})
	}
}

// byTag indexes frames by the tag in their payload; frames without one are
// left out. A tag seen twice fails the test.
func byTag(t *testing.T, frames []frame, what string) map[int]frame {
	t.Helper()
	m := map[int]frame{}
	for _, f := range frames {
		mm := tagRE.FindSubmatch(f.data)
		if mm == nil {
			continue
		}
		i, _ := strconv.Atoi(string(mm[1]))
		if _, dup := m[i]; dup {
			t.Errorf("%s: datagram %d captured twice", what, i)
		}
		m[i] = f
	}
	return m
}

var summaryRE = regexp.MustCompile(`(\d+) packets captured, (\d+) lost in ring, (\d+) dropped`)

// summary parses bpftop-cap's closing line.
func summary(t *testing.T, stderr string) (captured, lost, dropped int) {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line in stderr:\n%s", stderr)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return a, b, c
}

// tcpdumpCount runs tcpdump -r on a file and returns how many packets it
// printed; it fails the test if tcpdump cannot read the file.
func tcpdumpCount(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command("tcpdump", "-nn", "-r", path).Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v", path, err)
	}
	return bytes.Count(out, []byte("\n"))
}

// requireNothingAttached fails unless interface A has no program attached.
func requireNothingAttached(t *testing.T, pair *testutil.Pair) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left, err := testutil.Attached(pair.NsA, pair.IfA)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still attached to %s after exit: %v", pair.IfA, left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readyPID returns the PID in a --ready-file that exists. It fails the
// test rather than return a PID of 0 or less, which kill(2) would take to
// mean our own process group.
func readyPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil || pid <= 0 {
		t.Fatalf("ready file %s: %q (%v)", path, b, err)
	}
	return pid
}

// sendStream sends total bytes over one TCP connection from namespace B to
// A's port, each 8-byte word holding its offset in the stream, and waits
// until A has received them all.
func sendStream(t *testing.T, pair *testutil.Pair, port string, total int) {
	t.Helper()
	var ln net.Listener
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		ln, err = net.Listen("tcp4", net.JoinHostPort(pair.AddrA, port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- 0
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	var c net.Conn
	if err := testutil.InNetns(pair.NsB, func() (err error) {
		c, err = net.Dial("tcp4", net.JoinHostPort(pair.AddrA, port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, total)
	for off := 0; off+8 <= total; off += 8 {
		be.BigEndian.PutUint64(buf[off:], uint64(off))
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := <-done; n != int64(total) {
		t.Fatalf("server got %d of %d bytes", n, total)
	}
}

// TestReadGrowingPcap: a capture cut at any byte reads as the whole packets
// before the cut, which is what a poll of tcpdump's -U file can see.
func TestReadGrowingPcap(t *testing.T) {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, 1); err != nil {
		t.Fatal(err)
	}
	var ends []int // file length after each packet
	for i, n := range []int{60, 1400, 200} {
		data := bytes.Repeat([]byte{byte(i)}, n)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: n, Length: n}, data); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, buf.Len())
	}
	path := filepath.Join(t.TempDir(), "g.pcap")
	for cut := 0; cut <= buf.Len(); cut++ {
		if err := os.WriteFile(path, buf.Bytes()[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, e := range ends {
			if cut >= e {
				want++
			}
		}
		if got := len(readGrowingPcap(t, path)); got != want {
			t.Fatalf("cut at %d: %d packets, want %d", cut, got, want)
		}
	}
}
