package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// streamView runs pipeline (a shell command line, bpftop-cap's exit code
// written to the file rc names) in a terminal, with the FIFO it reads
// from made in dir; the test is the writer, holding the FIFO open for
// reading and writing so that its open never waits for the reader.
func streamView(t *testing.T, dir, pipeline string) (s *screen, fifo *os.File, rc string) {
	t.Helper()
	path := filepath.Join(dir, "stream")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rc = filepath.Join(dir, "rc")
	s = startScreen(t, dir, 120, 30, "sh", "-c", pipeline)
	return s, f, rc
}

// streamExit waits for the exit code a pipeline wrote to rc.
func streamExit(t *testing.T, s *screen, rc string) int {
	t.Helper()
	var b []byte
	testutil.Eventually(t, 15*time.Second, func() bool {
		b, _ = os.ReadFile(rc)
		return bytes.HasSuffix(b, []byte("\n"))
	}, "bpftop-cap still running; screen:\n%s\nstderr:\n%s", stringer(s.text), stringer(s.errText))
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("exit code %q: %v", b, err)
	}
	return n
}

// udpPcap returns a pcap header (if header) and one Ethernet/IPv4/UDP
// record per payload from src:sport to dst:dport.
func udpPcap(t *testing.T, header bool, src, dst string, sport, dport uint16, payloads ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	pw, err := pcapfile.NewPcapWriter(&out, 262144, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Flush(); err != nil {
		t.Fatal(err)
	}
	if !header {
		out.Reset()
	}
	ts := time.Now()
	for i, p := range payloads {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
			ip, udp, gopacket.Payload(p)); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		if err := pw.WriteRecord(ts.Add(time.Duration(i)*time.Millisecond), uint32(len(data)), uint32(len(data)), data); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestTUIStreamPipe reads a pipe (-r -) that the test writes in two
// batches: the first batch's flow is on screen while the writer still
// holds the pipe open and before the second is written, the second
// follows, closing the pipe shows that the stream ended, and q quits with
// exit code 0.
func TestTUIStreamPipe(t *testing.T) {
	dir := t.TempDir()
	s, fifo, rc := streamView(t, dir, "cat stream | { "+shellQuote(binary, "-r", "-")+"; echo $? > rc; }")
	s.waitFor("the stream waited for", contains("stdin stream", "live: waiting for the stream"))
	if _, err := fifo.Write(udpPcap(t, true, "192.0.2.1", "192.0.2.2", 1111, 2222, "one", "two")); err != nil {
		t.Fatal(err)
	}
	text := s.waitFor("the first batch", contains("192.0.2.1:1111 <-> 192.0.2.2:2222", "2 pkts", "│ live │"))
	if strings.Contains(text, "192.0.2.3") {
		t.Fatalf("the second batch is on screen before it was written:\n%s", text)
	}
	if _, err := fifo.Write(udpPcap(t, false, "192.0.2.3", "192.0.2.4", 3333, 4444, "three", "four", "five")); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the second batch", contains("192.0.2.3:3333 <-> 192.0.2.4:4444", "5 pkts", "│ live │"))
	if err := fifo.Close(); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the end of the stream", contains("stream ended after 5 packets", "192.0.2.1:1111 <-> 192.0.2.2:2222", "192.0.2.3:3333"))
	s.keys("q")
	if code := streamExit(t, s, rc); code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, s.errText())
	}
	s.waitExit()
	if !strings.Contains(s.errText(), "5 packets read, 5 shown") {
		t.Errorf("stderr: %s", s.errText())
	}
}

// TestTUIStreamWriterLastWords: a stream's writer shares the terminal
// (`bpftop-cap -w - | bpftop-cap -r -`) and prints its summary there as
// it ends, over the view and scrolling it; the view paints itself whole
// again when the stream ends, so the line goes and the view is whole.
func TestTUIStreamWriterLastWords(t *testing.T) {
	dir := t.TempDir()
	const words = "WRITER-SUMMARY 5 packets captured"
	// The writer's words go to the pane's terminal, after the stream ends
	// and before the view can see the end (the pipe is still open then).
	s, fifo, _ := streamView(t, dir, "{ cat stream; printf '\\n%s\\n\\n' "+shellQuote(words)+" >/dev/tty; sleep 0.2; } | "+shellQuote(binary, "-r", "-"))
	if _, err := fifo.Write(udpPcap(t, true, "192.0.2.1", "192.0.2.2", 1111, 2222, "one", "two")); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the stream", contains("192.0.2.1:1111 <-> 192.0.2.2:2222", "│ live │"))
	if err := fifo.Close(); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the end of the stream, painted whole", func(text string) bool {
		return strings.Contains(text, "stream ended after 2 packets") && !strings.Contains(text, words) &&
			strings.Count(text, "Flows 1") == 1
	})
	s.keys("q")
	s.waitExit()
}

// TestTUIStreamQuitEarly presses q before any packet came: with no writer
// on a FIFO yet (-r FIFO), and with a pipe that has had only its header
// (-r -) and whose writer goes on holding it. Either quits at once, with
// exit code 0.
func TestTUIStreamQuitEarly(t *testing.T) {
	t.Run("fifo without a writer", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "empty")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		s := startScreen(t, dir, 120, 30, "sh", "-c", shellQuote(binary, "-r", "empty")+"; echo $? > rc")
		s.waitFor("the view", contains("empty stream", "live: waiting for the stream"))
		s.keys("q")
		if code := streamExit(t, s, filepath.Join(dir, "rc")); code != 0 {
			t.Errorf("exit code %d; stderr:\n%s", code, s.errText())
		}
	})
	t.Run("pipe with only a header", func(t *testing.T) {
		dir := t.TempDir()
		s, fifo, rc := streamView(t, dir, "cat stream | { "+shellQuote(binary, "-r", "-")+"; echo $? > rc; }")
		if _, err := fifo.Write(udpPcap(t, true, "", "", 0, 0)); err != nil {
			t.Fatal(err)
		}
		s.waitFor("the header read", contains("stdin stream", "0 pkts", "│ live │"))
		s.keys("q")
		if code := streamExit(t, s, rc); code != 0 {
			t.Errorf("exit code %d; stderr:\n%s", code, s.errText())
		}
		if !strings.Contains(s.errText(), "0 packets read, 0 shown") {
			t.Errorf("stderr: %s", s.errText())
		}
	})
}

// TestStreamTextAndWrite reads a FIFO the test writes to, without the
// view: the lines (stdout a pipe) and -w OUT -U's packets come out while
// the writer still holds the FIFO open, before it writes the rest.
func TestStreamTextAndWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{{"text", nil}, {"write", []string{"-w", "out.pcap", "-U"}}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "stream")
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			fifo, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer fifo.Close()
			cmd := exec.Command(binary, append([]string{"-r", path}, tc.args...)...)
			cmd.Dir = dir
			var stdout syncBuffer
			cmd.Stdout = &stdout
			p := startCmd(t, cmd)
			stderr := p.stderr
			out := filepath.Join(dir, "out.pcap")
			got := func() int {
				if tc.args == nil {
					return strings.Count(stdout.String(), "\n")
				}
				if _, err := os.Stat(out); err != nil {
					return 0
				}
				return len(readGrowingPcap(t, out))
			}
			if _, err := fifo.Write(udpPcap(t, true, "192.0.2.1", "192.0.2.2", 1111, 2222, "one", "two")); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 10*time.Second, func() bool { return got() == 2 },
				"the first 2 packets not out while the stream is open; stdout:\n%s\nstderr:\n%s", &stdout, stderr)
			if _, err := fifo.Write(udpPcap(t, false, "192.0.2.3", "192.0.2.4", 3333, 4444, "three")); err != nil {
				t.Fatal(err)
			}
			fifo.Close()
			select {
			case err := <-p.done:
				p.done <- err
				if err != nil {
					t.Fatalf("bpftop-cap: %v\n%s", err, stderr)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("bpftop-cap still running after the stream ended; stderr:\n%s", stderr)
			}
			if n := got(); n != 3 {
				t.Errorf("%d packets out, want 3; stdout:\n%s\nstderr:\n%s", n, &stdout, stderr)
			}
		})
	}
}
