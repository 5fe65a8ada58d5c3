package e2e

import (
	"bytes"
	le "encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestListLinkTypesAsTcpdump: -L prints for a veth and for loopback what
// tcpdump -L prints (on its stderr; ours on stdout); -y EN10MB captures as
// without it, -y DOCSIS writes the frames as DOCSIS as tcpdump -y DOCSIS
// does, and a link type the interface does not offer is one line.
func TestListLinkTypesAsTcpdump(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	pair := testutil.NewPair(t)
	for _, ifname := range []string{pair.IfA, "lo"} {
		var theirs bytes.Buffer
		td := testutil.Cmd(pair.NsA, "tcpdump", "-L", "-i", ifname)
		td.Stderr = &theirs
		if err := td.Run(); err != nil {
			t.Fatalf("tcpdump -L -i %s: %v\n%s", ifname, err, theirs.String())
		}
		ours, err := testutil.Cmd(pair.NsA, binary, "-L", "-i", ifname).Output()
		if err != nil {
			t.Fatalf("bpftop-cap -L -i %s: %v", ifname, err)
		}
		if string(ours) != theirs.String() {
			t.Errorf("-L -i %s:\n%s\ntcpdump -L:\n%s", ifname, ours, theirs.String())
		}
	}

	dir := t.TempDir()
	for _, tc := range []struct {
		lt   string
		want uint32
	}{{"EN10MB", 1}, {"DOCSIS", 143}} {
		file := filepath.Join(dir, tc.lt+".pcap")
		bc := startCapture(t, pair, "-y", tc.lt, "-w", file, "-Q", "in")
		sendUDP(t, pair, 9401, make([]int, 5))
		if err := bc.stop(t, syscall.SIGINT); err != nil {
			t.Fatalf("-y %s: %v\n%s", tc.lt, err, bc.stderr)
		}
		b, err := os.ReadFile(file)
		if err != nil || len(b) < 24 {
			t.Fatalf("-y %s: %v (%d bytes)", tc.lt, err, len(b))
		}
		if lt := le.LittleEndian.Uint32(b[20:24]); lt != tc.want {
			t.Errorf("-y %s: link type %d in the file, want %d", tc.lt, lt, tc.want)
		}
		if !strings.Contains(bc.stderr.String(), "link-type "+tc.lt+" (") {
			t.Errorf("-y %s: the first line does not say link-type %s:\n%s", tc.lt, tc.lt, bc.stderr)
		}
		if out, err := exec.Command("tcpdump", "-r", file).CombinedOutput(); err != nil || !strings.Contains(string(out), "link-type "+tc.lt) {
			t.Errorf("tcpdump -r of -y %s: %v\n%s", tc.lt, err, out)
		}
	}
	out, err := testutil.Cmd(pair.NsA, binary, "-y", "LINUX_SLL2", "-i", pair.IfA, "-w", filepath.Join(dir, "x")).CombinedOutput()
	if want := "bpftop-cap: -y LINUX_SLL2: " + pair.IfA + " is captured as EN10MB or DOCSIS (see -L)\n"; err == nil || string(out) != want {
		t.Errorf("-y LINUX_SLL2: %v, %q; want %q", err, out, want)
	}
}

// TestDropPrivileges: -Z nobody, as root: once attached, every thread of
// the capture is nobody, with nobody's group and no capability; the file
// it created is nobody's (mode 0600); the packets are in it; the programs
// are gone after. With clsact, which nobody could remove, -Z is refused
// in one line and nothing stays attached.
func TestDropPrivileges(t *testing.T) {
	testutil.RequireRoot(t)
	pair := testutil.NewPair(t)
	// A directory nobody can write the ready file to (t.TempDir's parent
	// is root's only).
	dir, err := os.MkdirTemp("", "bpftop-cap-e2e-Z-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	file, ready := filepath.Join(dir, "nobody.pcap"), filepath.Join(dir, "ready")
	bc := start(t, pair.NsA, binary, "-i", pair.IfA, "-Z", "nobody", "-w", file, "-Q", "in", "--ready-file", ready)
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil },
		"never ready:\n%s", bc.stderr)
	pid := readyPID(t, ready)
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil || len(tasks) < 2 {
		t.Fatalf("threads of %d: %v (%d)", pid, err, len(tasks))
	}
	for _, task := range tasks {
		status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/status")
		if err != nil {
			continue // ended
		}
		for _, want := range []string{"Uid:\t65534\t65534\t65534\t65534", "Gid:\t65534\t65534\t65534\t65534", "CapEff:\t0000000000000000", "CapPrm:\t0000000000000000"} {
			if !bytes.Contains(status, []byte(want+"\n")) {
				t.Errorf("thread %s does not have %q:\n%s", task.Name(), want, status)
			}
		}
	}
	sendUDP(t, pair, 9402, make([]int, 10))
	if err := bc.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("exit: %v\n%s", err, bc.stderr)
	}
	node := testutil.NodeOf(t, file)
	if node.UID != 65534 || node.GID != 65534 || node.Mode != 0o600 {
		t.Errorf("file %+v, want nobody's (65534:65534) and 0600", node)
	}
	if got := udpDstPorts(readPcap(t, file))[9402]; got != 10 {
		t.Errorf("%d datagrams in the file, want 10", got)
	}
	requireNothingAttached(t, pair)

	out, err := testutil.Cmd(pair.NsA, binary, "-i", pair.IfA, "--tc-attach", "clsact", "-Z", "nobody", "-w", filepath.Join(dir, "clsact.pcap")).CombinedOutput()
	if err == nil || !strings.HasSuffix(string(out), "-Z: the clsact filters on "+pair.IfA+" need root to be removed at the end, and tcx (Linux 6.6) is not there: capture without -Z\n") {
		t.Errorf("-Z with clsact: %v\n%s", err, out)
	}
	requireNothingAttached(t, pair)
	if _, err := os.Stat(filepath.Join(dir, "clsact.pcap")); err == nil {
		t.Error("the refused capture left its file")
	}
}

// TestRotateLive: -C with -W keeps a ring of complete files; -C alone
// numbers them on; with pcapng each file has its section and interface
// blocks; -G with -W ends the capture itself after that many files, named
// by strftime; capinfos reads every file whole, and together they hold
// every packet captured.
func TestRotateLive(t *testing.T) {
	testutil.RequireTool(t, "capinfos")
	pair := testutil.NewPair(t)
	sizes := make([]int, 80)
	for i := range sizes {
		sizes[i] = 600
	}
	for _, tc := range []struct {
		name  string
		args  []string
		files func(names []string) bool
		all   bool // every packet is in the files (no ring overwrote any)
	}{
		{"C", []string{"-C", "8k"}, func(n []string) bool { return len(n) >= 5 && n[0] == "o" && n[1] == "o1" }, true},
		{"CW", []string{"-C", "8k", "-W", "3"}, func(n []string) bool { return strings.Join(n, " ") == "o0 o1 o2" }, false},
		{"pcapng", []string{"-C", "8k", "--format", "pcapng"}, func(n []string) bool { return len(n) >= 5 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bc := startCapture(t, pair, append([]string{"-w", filepath.Join(dir, "o"), "-Q", "in", "udp"}, tc.args...)...)
			sendUDP(t, pair, 9403, sizes)
			if err := bc.stop(t, syscall.SIGINT); err != nil {
				t.Fatalf("exit: %v\n%s", err, bc.stderr)
			}
			captured, _, _ := summary(t, bc.stderr.String())
			names := fileNames(t, dir)
			if !tc.files(names) {
				t.Fatalf("files %q", names)
			}
			total := 0
			for _, name := range names {
				total += capinfosPackets(t, filepath.Join(dir, name))
				if m := testutil.NodeOf(t, filepath.Join(dir, name)).Mode; m != 0o600 {
					t.Errorf("%s: mode %v", name, m)
				}
			}
			if tc.all && (total != captured || captured != len(sizes)) {
				t.Errorf("%d packets in the files, %d captured, %d sent", total, captured, len(sizes))
			}
			if !tc.all && (total == 0 || total > captured) {
				t.Errorf("%d packets in the ring's files, %d captured", total, captured)
			}
		})
	}

	t.Run("GW", func(t *testing.T) {
		dir := t.TempDir()
		bc := startCapture(t, pair, "-w", filepath.Join(dir, "g-%Y%m%d-%H%M%S.pcap"), "-G", "1", "-W", "2", "-Q", "in", "udp")
		// Packets keep coming until the capture ends itself: -G rotates
		// at a packet, as tcpdump's.
		var tx net.Conn
		if err := testutil.InNetns(pair.NsB, func() (err error) {
			tx, err = net.Dial("udp4", net.JoinHostPort(pair.AddrA, "9404"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer tx.Close()
		var stop atomic.Bool
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			for !stop.Load() {
				_, _ = tx.Write([]byte("rotate"))
				time.Sleep(20 * time.Millisecond)
			}
		}()
		defer func() { stop.Store(true); <-sent }()
		code := exitCode(t, bc, 60*time.Second)
		stop.Store(true)
		if code != 0 || !strings.Contains(bc.stderr.String(), "maximum file limit reached: 2") {
			t.Fatalf("exit %d:\n%s", code, bc.stderr)
		}
		names := fileNames(t, dir)
		if len(names) != 2 {
			t.Fatalf("files %q, want 2", names)
		}
		captured, _, _ := summary(t, bc.stderr.String())
		total := 0
		for _, name := range names {
			if _, err := time.Parse("g-20060102-150405.pcap", name); err != nil {
				t.Errorf("%s is not named by the strftime format: %v", name, err)
			}
			total += capinfosPackets(t, filepath.Join(dir, name))
		}
		if total != captured || total == 0 {
			t.Errorf("%d packets in the files, %d captured", total, captured)
		}
	})
}

// TestPacketBufferedAndBuffer: -U and -B are taken: with -U the packets
// are in the file while the capture runs; -B 1024 captures them all.
func TestPacketBufferedAndBuffer(t *testing.T) {
	pair := testutil.NewPair(t)
	file := filepath.Join(t.TempDir(), "u.pcap")
	bc := startCapture(t, pair, "-U", "-B", "1024", "--immediate-mode", "-nn", "-w", file, "-Q", "in", "udp")
	sendUDP(t, pair, 9405, make([]int, 5))
	testutil.Eventually(t, 10*time.Second, func() bool { return udpDstPorts(readGrowingPcap(t, file))[9405] == 5 },
		"the 5 datagrams are not in the file while capturing:\n%s", bc.stderr)
	if err := bc.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("exit: %v\n%s", err, bc.stderr)
	}
}

// fileNames lists dir, sorted.
func fileNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// capinfosPackets reads a capture with capinfos, failing the test unless
// it is whole, and returns its packet count.
func capinfosPackets(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command("capinfos", "-M", "-c", path).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("cut short")) {
		t.Fatalf("capinfos %s: %v\n%s", path, err, out)
	}
	f := strings.Fields(string(out))
	n, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		t.Fatalf("capinfos %s: %s", path, out)
	}
	return n
}
