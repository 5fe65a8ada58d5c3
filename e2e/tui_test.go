package e2e

import (
	be "encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// screen is a terminal: a tmux session on its own server, running one
// command in dir, with the command's stderr going to a file.
type screen struct {
	t      *testing.T
	sock   string
	name   string
	stderr string
	pid    int // the live view's, once startLiveView saw it ready
}

var screenSeq int

// startScreen runs argv in a w×h tmux session whose working directory is
// dir. The session ends when the command exits.
func startScreen(t *testing.T, dir string, w, h int, argv ...string) *screen {
	t.Helper()
	testutil.RequireTool(t, "tmux")
	screenSeq++
	s := &screen{
		t:      t,
		sock:   fmt.Sprintf("bpftop-e2e-%d-%d", os.Getpid(), screenSeq),
		name:   "tui",
		stderr: filepath.Join(t.TempDir(), "stderr"),
	}
	cmd := "exec " + shellQuote(argv...) + " 2>" + shellQuote(s.stderr)
	out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), "-c", dir, cmd)
	if err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	// The command runs as the pane's process (exec): remember it, so that
	// a test that fails with it hung still leaves nothing running.
	pid := 0
	if out, err := s.tmux("display-message", "-p", "-t", s.name, "#{pane_pid}"); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		s.tmux("kill-server")
		// Only if that PID is still ours (not reused by another process).
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); pid > 0 && err == nil && strings.Contains(string(cmd), binary) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return s
}

func (s *screen) tmux(args ...string) ([]byte, error) {
	return exec.Command("tmux", append([]string{"-L", s.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
}

// text is what the terminal shows now.
func (s *screen) text() string {
	out, err := s.tmux("capture-pane", "-p", "-t", s.name)
	if err != nil {
		return ""
	}
	return string(out)
}

// alive reports whether the command still runs.
func (s *screen) alive() bool {
	_, err := s.tmux("has-session", "-t", s.name)
	return err == nil
}

func (s *screen) errText() string {
	b, _ := os.ReadFile(s.stderr)
	return string(b)
}

// keys types keys, named as tmux send-keys names them.
func (s *screen) keys(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...); err != nil {
		s.t.Fatalf("tmux send-keys %v: %v\n%s", keys, err, out)
	}
}

// waitFor polls the screen until cond holds, failing with the screen and
// stderr if the command exits or the time runs out.
func (s *screen) waitFor(what string, cond func(string) bool) string {
	s.t.Helper()
	var last string
	testutil.Eventually(s.t, 10*time.Second, func() bool {
		last = s.text()
		if cond(last) {
			return true
		}
		if !s.alive() {
			s.t.Fatalf("bpftop-cap exited while waiting for %s; stderr:\n%s", what, s.errText())
		}
		return false
	}, "waiting for %s; screen:\n%s\nstderr:\n%s", what, stringer(func() string { return last }), stringer(s.errText))
	return last
}

// waitExit waits until the command has exited.
func (s *screen) waitExit() {
	s.t.Helper()
	testutil.Eventually(s.t, 15*time.Second, func() bool { return !s.alive() },
		"bpftop-cap still running; screen:\n%s", stringer(s.text))
}

type stringer func() string

func (f stringer) String() string { return f() }

func contains(subs ...string) func(string) bool {
	return func(text string) bool {
		for _, sub := range subs {
			if !strings.Contains(text, sub) {
				return false
			}
		}
		return true
	}
}

func shellQuote(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

var savedRE = regexp.MustCompile(`saved (\d+) packets to (\S+\.pcap(?:ng)?)`)

// saveFromScreen presses w, waits for the status line and returns the saved
// file's path (in dir) and the count it reported.
func saveFromScreen(t *testing.T, s *screen, dir string) (string, int) {
	t.Helper()
	s.keys("w")
	text := s.waitFor("the saved file", func(text string) bool { return savedRE.MatchString(text) })
	m := savedRE.FindStringSubmatch(text)
	n, _ := strconv.Atoi(m[1])
	path := m[2]
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("saved file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("saved file mode %v, want 0600", st.Mode().Perm())
	}
	return path, n
}

// startLiveView runs the live view with args in namespace ns, in a 120x40
// screen working in dir, and waits until it is capturing.
func startLiveView(t *testing.T, dir, ns string, args ...string) *screen {
	t.Helper()
	return startLiveViewUnder(t, dir, nil, ns, args...)
}

// startLiveViewUnder is startLiveView with the command run by wrap (a
// shell that stays its parent, say) instead of by tmux itself.
func startLiveViewUnder(t *testing.T, dir string, wrap []string, ns string, args ...string) *screen {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	argv := append(append(wrap, "ip", "netns", "exec", ns, binary, "--ready-file", ready), args...)
	s := startScreen(t, dir, 120, 40, argv...)
	testutil.Eventually(t, 10*time.Second, func() bool {
		if _, err := os.Stat(ready); err == nil {
			return true
		}
		if !s.alive() {
			t.Fatalf("bpftop-cap exited before it was ready; stderr:\n%s", s.errText())
		}
		return false
	}, "bpftop-cap never became ready; screen:\n%s", stringer(s.text))
	s.pid = readyPID(t, ready)
	return s
}

// TestTUILive runs the live view in a terminal on the veth pair: the flow of
// tagged datagrams shows up, drilling into it shows the payload in hex, w
// saves the ring to a pcap that tcpdump reads and that holds every
// datagram, q quits and nothing stays attached.
func TestTUILive(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	for _, format := range []string{"pcap", "pcapng"} {
		t.Run(format, func(t *testing.T) { testTUILive(t, format) })
	}
}

func testTUILive(t *testing.T, format string) {
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	s := startLiveView(t, dir, pair.NsA, "-i", pair.IfA, "--format", format)
	if left, _ := testutil.Attached(pair.NsA, pair.IfA); len(left) == 0 {
		t.Fatalf("bpftop-cap is ready but nothing is attached to %s", pair.IfA)
	}

	const n = 8
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = 600
	}
	sendUDP(t, pair, 9000, sizes)
	dst := pair.AddrA + ":9000"
	s.waitFor("the flow", contains(dst, pair.AddrB+":"))

	// Narrow the table to the flow, then drill into it and a packet.
	s.keys("/")
	s.keys("-l", "~"+dst) // ~: a text search, not an expression
	s.keys("Enter")
	s.waitFor("the filtered table", contains(`filter "~`+dst+`"`, "Flows 1 of"))
	s.keys("Enter")
	s.waitFor("the packet list", contains("Packets of UDP", fmt.Sprintf("· %d retained", n)))
	s.keys("Enter")
	s.waitFor("the payload in hex", contains("62 70 66 74 6f 70", "bpftop"))

	path, saved := saveFromScreen(t, s, dir)
	if filepath.Dir(path) != dir || !strings.HasPrefix(filepath.Base(path), "bpftop-cap-"+pair.IfA+"-") ||
		filepath.Ext(path) != "."+format {
		t.Errorf("saved to %s, want bpftop-cap-%s-DATE-TIME.%s in %s", path, pair.IfA, format, dir)
	}
	if c := tcpdumpCount(t, path); c != saved {
		t.Errorf("status says %d packets saved, tcpdump -r reads %d", saved, c)
	}
	out, err := exec.Command("tcpdump", "-nn", "-A", "-r", path, "udp", "port", "9000").Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v", path, err)
	}
	if got := len(tagRE.FindAll(out, -1)); got != n {
		t.Errorf("tcpdump finds %d of the %d datagrams in the saved ring", got, n)
	}
	if format == "pcap" {
		frames := readPcap(t, path)
		if got := byTag(t, frames, "saved ring"); len(got) != n || len(frames) != saved {
			t.Errorf("saved ring holds %d of the %d datagrams, %d packets (status: %d)", len(got), n, len(frames), saved)
		}
	}

	s.keys("q")
	s.waitExit()
	captured, lost, _ := summary(t, s.errText())
	if captured < n || lost != 0 {
		t.Errorf("summary: %d captured, %d lost; want at least %d and 0\n%s", captured, lost, n, s.errText())
	}
	requireNothingAttached(t, pair)
}

// TestTUIReadFile opens a saved capture in the live view (no root needed):
// the flows are there, the packet's bytes show in hex, a filter expression
// applies while loading, and w saves what is shown.
func TestTUIReadFile(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pcap")
	writeTestPcap(t, in)

	s := startScreen(t, dir, 100, 30, binary, "-r", in)
	s.waitFor("the flows", contains("in.pcap file", "192.0.2.1:5353 <-> 192.0.2.2:53", "192.0.2.3:4000 <-> 192.0.2.4:4001"))
	s.keys("/")
	s.keys("-l", "~:4001") // ~: a text search
	s.keys("Enter", "Enter", "Enter")
	s.waitFor("the payload in hex", contains("62 70 66 2d 66 69", "bpf-fi"))
	path, saved := saveFromScreen(t, s, dir)
	if saved != 4 || !strings.HasPrefix(filepath.Base(path), "bpftop-cap-in-") {
		t.Errorf("saved %d packets to %s, want 4 to bpftop-cap-in-...", saved, path)
	}
	if c := tcpdumpCount(t, path); c != 4 {
		t.Errorf("tcpdump -r %s: %d packets, want 4", path, c)
	}
	s.keys("q")
	s.waitExit()
	if !strings.Contains(s.errText(), "4 packets read, 4 shown") {
		t.Errorf("stderr: %s", s.errText())
	}

	// A filter expression applies while loading.
	s = startScreen(t, dir, 100, 30, binary, "-r", in, "udp", "port", "53")
	s.waitFor("the DNS flow", contains("192.0.2.1:5353 <-> 192.0.2.2:53", "Flows 1"))
	s.keys("q")
	s.waitExit()
	if !strings.Contains(s.errText(), "4 packets read, 1 shown") {
		t.Errorf("stderr: %s", s.errText())
	}
}

// writeTestPcap writes one DNS query and three datagrams between two other
// hosts.
func writeTestPcap(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pw, err := pcapfile.NewPcapWriter(f, 262144, 1)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	dns := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'b', 'p', 'f', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}
	for i, p := range []struct {
		src, dst   string
		sport, dpt uint16
		payload    []byte
	}{
		{"192.0.2.1", "192.0.2.2", 5353, 53, dns},
		{"192.0.2.3", "192.0.2.4", 4000, 4001, []byte("bpf-file-1")},
		{"192.0.2.3", "192.0.2.4", 4000, 4001, []byte("bpf-file-2")},
		{"192.0.2.3", "192.0.2.4", 4000, 4001, []byte("bpf-file-3")},
	} {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.ParseIP(p.src).To4(), DstIP: net.ParseIP(p.dst).To4()}
		udp := &layers.UDP{SrcPort: layers.UDPPort(p.sport), DstPort: layers.UDPPort(p.dpt)}
		udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
			ip, udp, gopacket.Payload(p.payload)); err != nil {
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
}

// TestTUIInterfaceGone deletes the veth under the live view: the view
// stays, says capture stopped, w still saves what was captured, and q
// exits with the reason on stderr.
func TestTUIInterfaceGone(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	ready := filepath.Join(t.TempDir(), "ready")
	s := startScreen(t, dir, 120, 40, "ip", "netns", "exec", pair.NsA, binary, "-i", pair.IfA, "-Q", "in", "--ready-file", ready)
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil },
		"not ready; stderr:\n%s", stringer(s.errText))
	sendUDP(t, pair, 9050, []int{300, 300, 300, 300})
	s.waitFor("the flow", contains(pair.AddrA+":9050"))
	if out, err := exec.Command("ip", "-n", pair.NsA, "link", "del", pair.IfA).CombinedOutput(); err != nil {
		t.Fatalf("delete %s: %v %s", pair.IfA, err, out)
	}
	s.waitFor("the stopped notice", contains("STOPPED: interface went away: "+pair.IfA))
	s.keys("w")
	screen := s.waitFor("the save", contains("saved "))
	i := strings.Index(screen, "saved ")
	fields := strings.Fields(screen[i:])
	if len(fields) < 5 {
		t.Fatalf("save line: %q", screen[i:])
	}
	file := filepath.Join(dir, strings.TrimSpace(fields[4]))
	if n := len(byTag(t, readPcap(t, file), "saved")); n != 4 {
		t.Errorf("saved file has %d of the 4 datagrams", n)
	}
	s.keys("q")
	s.waitExit()
	if !strings.Contains(s.errText(), "interface went away: "+pair.IfA) {
		t.Errorf("stderr does not give the reason:\n%s", s.errText())
	}
}

// TestTUISignals: SIGTERM and SIGINT end the live view every time, with the
// terminal restored and the summary printed (Bubble Tea's own signal
// handler used to race ours and could hang the exit).
func TestTUISignals(t *testing.T) {
	testutil.RequireRoot(t)
	pair := testutil.NewPair(t)
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGTERM, syscall.SIGINT, syscall.SIGTERM, syscall.SIGTERM} {
		ready := filepath.Join(t.TempDir(), "ready")
		s := startScreen(t, t.TempDir(), 100, 30, "ip", "netns", "exec", pair.NsA, binary, "-i", pair.IfA, "--ready-file", ready)
		testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil },
			"run %d: not ready; stderr:\n%s", i, stringer(s.errText))
		pid := readyPID(t, ready)
		s.waitFor("the view", contains("Flows"))
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatal(err)
		}
		s.waitExit()
		if !strings.Contains(s.errText(), "packets captured") {
			t.Errorf("run %d (%v): no summary; stderr:\n%s", i, sig, s.errText())
		}
		requireNothingAttached(t, pair)
	}
}

// TestTUIBulkTCPSave runs the live view on the sender's egress during a
// bulk TCP transfer (64 KiB GSO frames, which the retention ring keeps in
// the reader's batch buffers rather than copying them) and saves the ring:
// every saved data segment carries exactly the bytes sent at its sequence
// number, so no buffer was reused while the ring still showed it.
func TestTUIBulkTCPSave(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	s := startLiveView(t, dir, pair.NsB, "-i", pair.IfB, "-Q", "out", "tcp")

	// The stream is a run of 8-byte big-endian words, each its own offset
	// in the stream, so any segment says where it belongs.
	const total = 48 << 20
	sendStream(t, pair, "9600", total)
	s.waitFor("the flow", contains(pair.AddrA+":9600"))
	path, saved := saveFromScreen(t, s, dir)
	s.keys("q")
	s.waitExit()
	if c := tcpdumpCount(t, path); c != saved {
		t.Errorf("status says %d packets saved, tcpdump -r reads %d", saved, c)
	}

	segments, big, bytesSeen := 0, 0, 0
	isn := int64(-1)
	for i, f := range readPcap(t, path) {
		pkt := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.NoCopy)
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || tcp.DstPort != 9600 || len(tcp.Payload) < 16 || f.ci.CaptureLength != f.ci.Length {
			continue
		}
		segments++
		if f.ci.Length > 1514 {
			big++
		}
		bytesSeen += len(tcp.Payload)
		// The first whole word: its offset in the payload is where the
		// stream offset (seq - isn - 1) is a multiple of 8.
		start := -1
		for k := range 8 {
			w := int64(be.BigEndian.Uint64(tcp.Payload[k:]))
			if w%8 == 0 && (isn < 0 || (int64(tcp.Seq)-isn-1+int64(k))&0xffffffff == w&0xffffffff) {
				start = k
				if isn < 0 {
					isn = (int64(tcp.Seq) - 1 + int64(k) - w) & 0xffffffff
				}
				break
			}
		}
		if start < 0 {
			t.Fatalf("saved packet %d (seq %d, %d bytes): no word of the stream where it belongs", i, tcp.Seq, len(tcp.Payload))
		}
		for k := start; k+8 <= len(tcp.Payload); k += 8 {
			want := (int64(tcp.Seq) - isn - 1 + int64(k)) & 0xffffffff
			if got := int64(be.BigEndian.Uint64(tcp.Payload[k:])) & 0xffffffff; got != want {
				t.Fatalf("saved packet %d (seq %d): byte %d reads stream offset %d, want %d", i, tcp.Seq, k, got, want)
			}
		}
	}
	if segments == 0 || big == 0 {
		t.Fatalf("%d data segments saved, %d of them GSO frames; want some of both", segments, big)
	}
	t.Logf("%d packets saved, %d data segments (%d GSO frames) checked, %d of %d stream bytes; %s",
		saved, segments, big, bytesSeen, total, strings.TrimSpace(s.errText()))
}

// TestTUIFlowCountsSurviveLoss stops the live view while more datagrams of
// one flow than its 64 KiB perf ring holds go by, then a few datagrams of a
// second flow, all lost: the flow table shows every packet and byte of the
// first flow and the second flow too, counted by the kernel program.
func TestTUIFlowCountsSurviveLoss(t *testing.T) {
	testutil.RequireRoot(t)
	pair := testutil.NewPair(t)
	// Under a shell: tmux continues a stopped child of its own.
	s := startLiveViewUnder(t, t.TempDir(), []string{"sh", "-c", `"$@"; exit $?`, "sh"},
		pair.NsA, "-i", pair.IfA, "--perf-buffer", "64KiB", "udp", "portrange", "9010-9011")
	if err := syscall.Kill(s.pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// A stopped process ignores the hangup that ends its terminal: go on
	// before that, whatever fails below.
	t.Cleanup(func() { _ = syscall.Kill(s.pid, syscall.SIGCONT) })
	// Sent from one CPU, the packets go to that CPU's ring: 90 x 1442-byte
	// frames (1474 with the record header) fill it, and few enough that
	// the receiving socket's buffer takes them all even if its reader lags.
	// The second flow's 5 then find it full.
	const n, n2 = 90, 5
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = 1400
	}
	testutil.OnOneCPU(t, func() {
		sendUDP(t, pair, 9010, sizes)
		sendUDP(t, pair, 9011, sizes[:n2])
	})
	if err := syscall.Kill(s.pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	row := func(port int) *regexp.Regexp {
		return regexp.MustCompile(`UDP +\S+ <-> ` + regexp.QuoteMeta(pair.AddrA) + fmt.Sprintf(":%d", port) + ` +(\d+) +(\S+) +\S+(?: +(.*))?`)
	}
	first, second := row(9010), row(9011)
	s.waitFor("both flows with all their packets", func(text string) bool {
		m, m2 := first.FindStringSubmatch(text), second.FindStringSubmatch(text)
		return m != nil && m[1] == strconv.Itoa(n) && m[2] == "129.8kB" && // 90 x 1442 bytes
			m2 != nil && m2[1] == strconv.Itoa(n2) && m2[2] == "7.2kB" && // 5 x 1442
			strings.Contains(m2[3], "all lost in") // after PROCESS; the rest may be cut at 120 columns
	})
	s.keys("q")
	s.waitExit()
	captured, lost, _ := summary(t, s.errText())
	if lost < n2 || captured+lost != n+n2 {
		t.Errorf("%d captured, %d lost in ring: the ring was meant to lose the second flow and some of the first, %d in all", captured, lost, n+n2)
	}
}
