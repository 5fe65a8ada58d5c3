package e2e

import (
	"bytes"
	"fmt"
	"io"
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

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// extcapTshark runs tshark in the pair's namespace A with bpftop-cap as its
// only extcap: a link to the binary in a folder of the test's, mounted over
// Wireshark's extcap folder in a mount namespace of tshark's own, so the
// machine's folder is never written and the link goes with the namespace.
// (tshark ignores WIRESHARK_EXTCAP_DIR when run as root, and 4.0 has no
// personal extcap folder.) HOME, XDG_CONFIG_HOME and TMPDIR (where tshark
// makes the FIFO) are the test's too.
type extcapTshark struct {
	pair      *testutil.Pair
	dir, home string
	global    string // Wireshark's extcap folder, as tshark -G folders names it
}

func newExtcapTshark(t *testing.T, pair *testutil.Pair) *extcapTshark {
	t.Helper()
	testutil.RequireTool(t, "tshark")
	testutil.RequireTool(t, "unshare")
	out, err := exec.Command("tshark", "-G", "folders").Output()
	if err != nil {
		t.Fatalf("tshark -G folders: %v", err)
	}
	m := regexp.MustCompile(`(?m)^(?:Global )?Extcap path:\s*(\S.*)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("tshark -G folders names no extcap folder:\n%s", out)
	}
	x := &extcapTshark{pair: pair, dir: t.TempDir(), home: t.TempDir(), global: strings.TrimSpace(string(m[1]))}
	// The name Wireshark runs it by is the link's; it is a link, as make
	// install-extcap makes.
	if err := os.Symlink(binary, filepath.Join(x.dir, "bpftop-cap")); err != nil {
		t.Fatal(err)
	}
	return x
}

// cmd is tshark with args, in namespace A, seeing only our extcap folder.
func (x *extcapTshark) cmd(args ...string) *exec.Cmd {
	script := `mount --bind "$1" "$2" && shift 2 && exec tshark "$@"`
	cmd := testutil.Cmd(x.pair.NsA, "unshare", append([]string{"--mount", "--propagation", "private",
		"sh", "-c", script, "sh", x.dir, x.global}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+x.home, "XDG_CONFIG_HOME="+filepath.Join(x.home, "config"), "TMPDIR="+x.home)
	return cmd
}

// bpftopProcs lists the processes running the bpftop-cap binary at exe.
func bpftopProcs(t *testing.T, exe string) []string {
	t.Helper()
	want, err := filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == want {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			found = append(found, e.Name()+": "+string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	return found
}

// requireExtcapGone fails unless nothing is attached on interface A and no
// bpftop-cap process is left (of the test's binary, or the one at exe).
func requireExtcapGone(t *testing.T, pair *testutil.Pair, exe ...string) {
	t.Helper()
	requireNothingAttached(t, pair)
	deadline := time.Now().Add(5 * time.Second)
	if len(exe) == 0 {
		exe = []string{binary}
	}
	for left := bpftopProcs(t, exe[0]); len(left) > 0; left = bpftopProcs(t, exe[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("bpftop-cap still running after tshark ended: %q", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitAttached waits until bpftop-cap's programs are on interface A: the
// capture is live from then (what arrives before its reader runs waits in
// the rings). tshark has no ready signal of its own.
func waitAttached(t *testing.T, pair *testutil.Pair, p *proc) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, func() bool {
		p.failIfExited(t, "tshark")
		left, err := testutil.Attached(pair.NsA, pair.IfA)
		return err == nil && len(left) > 0
	}, "bpftop-cap never attached to %s under tshark:\n%s", pair.IfA, p.stderr)
}

// TestExtcapTshark: tshark, through the same extcap machinery as
// Wireshark, lists bpftop-cap's interfaces and captures through one:
// datagrams both ways on the veth, with a capture filter and the direction
// set as a preference, read back with their interface name and direction,
// the same packets tcpdump captured beside it; a bad filter is one error
// naming it; and each time nothing stays attached and no bpftop-cap runs.
func TestExtcapTshark(t *testing.T) {
	pair := testutil.NewPair(t)
	x := newExtcapTshark(t, pair)
	ext := "bpftop-cap:" + pair.IfA

	t.Run("list", func(t *testing.T) {
		out, err := x.cmd("-D").Output()
		if err != nil {
			t.Fatalf("tshark -D: %v", err)
		}
		for _, want := range []string{
			ext + " (bpftop-cap eBPF: " + pair.IfA + ")",
			"bpftop-cap:lo (bpftop-cap eBPF: lo)",
			"bpftop-cap:any (bpftop-cap eBPF: any interface)",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("tshark -D does not list %q:\n%s", want, out)
			}
		}
		// The namespace's own interfaces stay listed as Wireshark's.
		if !regexp.MustCompile(`(?m)^\d+\. ` + regexp.QuoteMeta(pair.IfA) + `$`).Match(out) {
			t.Errorf("tshark -D lost its own %s:\n%s", pair.IfA, out)
		}
	})

	t.Run("capture", func(t *testing.T) {
		testutil.RequireTool(t, "tcpdump")
		const n, port = 12, 7411
		dir := t.TempDir()
		file, tdFile := filepath.Join(dir, "tshark.pcapng"), filepath.Join(dir, "tcpdump.pcap")
		td := startTcpdump(t, pair, tdFile)
		ts := startCmd(t, x.cmd("-i", ext, "-f", fmt.Sprintf("udp port %d", port), "-c", strconv.Itoa(2*n), "-w", file))
		waitAttached(t, pair, ts)
		dirs := sendBothWays(t, pair, port, n)
		if err := ts.wait(t, 30*time.Second, "tshark -c %d did not end", 2*n); err != nil {
			t.Fatalf("tshark: %v\n%s", err, ts.stderr)
		}
		if strings.Contains(ts.stderr.String(), "Error by extcap") {
			t.Errorf("tshark reports an extcap error:\n%s", ts.stderr)
		}
		requireExtcapGone(t, pair)
		// tcpdump wrote each packet as it came (-U): all of them are in
		// its file once tshark had its own.
		if err := td.stop(t, syscall.SIGINT); err != nil {
			t.Fatalf("tcpdump: %v\n%s", err, td.stderr)
		}

		ours, theirs := byTag(t, readPcap(t, file), "tshark"), byTag(t, readPcap(t, tdFile), "tcpdump")
		if len(ours) != 2*n || len(theirs) != 2*n {
			t.Fatalf("tshark through bpftop-cap has %d datagrams, tcpdump %d; want %d each", len(ours), len(theirs), 2*n)
		}
		for i := range 2 * n {
			o, th := ours[i], theirs[i]
			if !bytes.Equal(o.data, th.data) || o.ci.Length != th.ci.Length {
				t.Errorf("datagram %d: %d bytes (wire %d), tcpdump's %d (wire %d), or other bytes", i, len(o.data), o.ci.Length, len(th.data), th.ci.Length)
			}
		}

		fields, err := exec.Command("tshark", "-r", file, "-T", "fields", "-E", "separator=|",
			"-e", "frame.interface_name", "-e", "frame.packet_flags_direction", "-e", "data.data").Output()
		if err != nil {
			t.Fatalf("tshark -r: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(fields)), "\n")
		if len(lines) != 2*n {
			t.Fatalf("tshark -r reads %d packets, want %d:\n%s", len(lines), 2*n, fields)
		}
		for _, l := range lines {
			f := strings.Split(l, "|")
			if len(f) != 3 || f[0] != pair.IfA {
				t.Fatalf("tshark -r line %q: want interface %s", l, pair.IfA)
			}
			i := tagOfHex(t, f[2])
			if f[1] != dirs[i] {
				t.Errorf("datagram %d: direction %s, want %s", i, f[1], dirs[i])
			}
		}
	})

	t.Run("direction-preference", func(t *testing.T) {
		// A setting of the capture dialog, given as Wireshark keeps it.
		const n, port = 5, 7412
		file := filepath.Join(t.TempDir(), "in.pcapng")
		pref := "extcap." + strings.NewReplacer("-", "_", ":", "_").Replace(ext) + ".direction:in"
		ts := startCmd(t, x.cmd("-o", pref, "-i", ext, "-f", fmt.Sprintf("udp port %d", port), "-c", strconv.Itoa(n), "-w", file))
		waitAttached(t, pair, ts)
		dirs := sendBothWays(t, pair, port, n)
		if err := ts.wait(t, 30*time.Second, "tshark -c %d did not end", n); err != nil {
			t.Fatalf("tshark: %v\n%s", err, ts.stderr)
		}
		requireExtcapGone(t, pair)
		got := byTag(t, readPcap(t, file), "tshark")
		if len(got) != n {
			t.Fatalf("%d datagrams, want %d", len(got), n)
		}
		for i := range got {
			if dirs[i] != dirIn {
				t.Errorf("datagram %d went out and was captured with -Q in", i)
			}
		}
	})

	t.Run("stop", func(t *testing.T) {
		// tshark interrupted, as a user stops Wireshark: it sends the
		// extcap SIGTERM, and the file holds what came.
		const n, port = 4, 7413
		file := filepath.Join(t.TempDir(), "stop.pcapng")
		ts := startCmd(t, x.cmd("-i", ext, "-f", fmt.Sprintf("udp port %d", port), "-w", file))
		waitAttached(t, pair, ts)
		sendBothWays(t, pair, port, n)
		testutil.Eventually(t, 20*time.Second, func() bool {
			_, err := os.Stat(file)
			return err == nil && len(byTag(t, readGrowingPcap(t, file), "tshark")) == 2*n
		}, "tshark never wrote the %d datagrams:\n%s", 2*n, ts.stderr)
		if err := ts.stop(t, syscall.SIGINT); err != nil {
			t.Fatalf("tshark: %v\n%s", err, ts.stderr)
		}
		if strings.Contains(ts.stderr.String(), "Error by extcap") {
			t.Errorf("tshark reports an extcap error:\n%s", ts.stderr)
		}
		requireExtcapGone(t, pair)
		if got := byTag(t, readPcap(t, file), "tshark"); len(got) != 2*n {
			t.Errorf("%d datagrams in the file, want %d", len(got), 2*n)
		}
	})

	t.Run("bad-filter", func(t *testing.T) {
		// tshark 4.0 races its extcap's exit against the FIFO's end: now
		// and then it fails with an empty message before reading the
		// extcap's stderr. It must fail every time, and show our line at
		// least once in three.
		var stderrs []string
		for range 3 {
			file := filepath.Join(t.TempDir(), "bad.pcapng")
			ts := startCmd(t, x.cmd("-i", ext, "-f", "udp and", "-c", "1", "-w", file))
			if err := ts.wait(t, 30*time.Second, "tshark still runs with a bad capture filter"); err == nil {
				t.Fatalf("tshark took the filter %q:\n%s", "udp and", ts.stderr)
			}
			requireExtcapGone(t, pair)
			if strings.Contains(ts.stderr.String(), "Error by extcap pipe: bpftop-cap: filter: syntax error") {
				return
			}
			stderrs = append(stderrs, ts.stderr.String())
		}
		t.Errorf("tshark's error never carried bpftop-cap's line about the filter:\n%s", strings.Join(stderrs, "\n---\n"))
	})
}

// TestExtcapUnprivileged: Wireshark as a user, as it mostly runs: tshark
// as nobody finds bpftop-cap through WIRESHARK_EXTCAP_DIR (honoured when
// not root) and runs it as nobody, and a copy of the binary given the
// capabilities the README names captures through it.
func TestExtcapUnprivileged(t *testing.T) {
	pair := testutil.NewPair(t)
	testutil.RequireTool(t, "tshark")
	testutil.RequireTool(t, "setpriv")
	setcap := testutil.RequireTool(t, "setcap")
	// A folder nobody can reach (t.TempDir's parent is root's alone).
	dir, err := os.MkdirTemp("", "bpftop-cap-extcap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ext, home := filepath.Join(dir, "extcap"), filepath.Join(dir, "home")
	for _, d := range []string{dir, ext, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(ext, "bpftop-cap")
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(setcap, "cap_bpf,cap_perfmon,cap_net_admin,cap_ipc_lock,cap_net_raw+ep", exe).CombinedOutput(); err != nil {
		testutil.SkipOrFail(t, "setcap on %s: %v: %s", exe, err, out)
	}
	nobody := func(args ...string) *exec.Cmd {
		cmd := testutil.Cmd(pair.NsA, "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "tshark"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "TMPDIR="+home, "WIRESHARK_EXTCAP_DIR="+ext)
		return cmd
	}
	extIf := "bpftop-cap:" + pair.IfA
	if out, err := nobody("-D").Output(); err != nil || !strings.Contains(string(out), extIf+" (bpftop-cap eBPF: "+pair.IfA+")") {
		t.Fatalf("tshark -D as nobody (%v) does not list %s:\n%s", err, extIf, out)
	}
	const n, port = 5, 7431
	file := filepath.Join(home, "nobody.pcapng")
	ts := startCmd(t, nobody("-i", extIf, "-f", fmt.Sprintf("udp port %d", port), "-c", strconv.Itoa(2*n), "-w", file))
	waitAttached(t, pair, ts)
	sendBothWays(t, pair, port, n)
	if err := ts.wait(t, 30*time.Second, "tshark -c %d as nobody did not end", 2*n); err != nil || strings.Contains(ts.stderr.String(), "Error by extcap") {
		t.Fatalf("tshark as nobody: %v\n%s", err, ts.stderr)
	}
	requireExtcapGone(t, pair, exe)
	if got := byTag(t, readPcap(t, file), "tshark"); len(got) != 2*n {
		t.Errorf("%d datagrams captured as nobody, want %d", len(got), 2*n)
	}
}

// Wireshark's frame.packet_flags_direction.
const (
	dirIn  = "0x00000001"
	dirOut = "0x00000002"
)

// sendBothWays sends n tagged datagrams from B to A's port, then n from A
// to B's (tags n to 2n-1), each to a socket that takes them, and waits
// until all are received. It returns each tag's direction on A.
func sendBothWays(t *testing.T, pair *testutil.Pair, port, n int) map[int]string {
	t.Helper()
	dirs := map[int]string{}
	for _, way := range []struct {
		from, to, addr, dir string
	}{{pair.NsB, pair.NsA, pair.AddrA, dirIn}, {pair.NsA, pair.NsB, pair.AddrB, dirOut}} {
		hostPort := net.JoinHostPort(way.addr, strconv.Itoa(port))
		sink := listenUDP(t, way.to, hostPort)
		tx := dialUDP(t, way.from, hostPort)
		for range n {
			i := len(dirs)
			p := append([]byte(tag(i)), bytes.Repeat([]byte{'x'}, 40+i)...)
			if _, err := tx.Write(p); err != nil {
				t.Fatalf("send datagram %d: %v", i, err)
			}
			dirs[i] = way.dir
		}
		testutil.Eventually(t, 10*time.Second, func() bool { return sink.n.Load() >= int64(n) },
			"%d datagrams to %s were not all received", n, hostPort)
		tx.Close()
		sink.conn.Close()
	}
	return dirs
}

// tagOfHex is the tag number in a payload tshark printed as hex.
func tagOfHex(t *testing.T, hex string) int {
	t.Helper()
	var b []byte
	if _, err := fmt.Sscanf(hex, "%x", &b); err != nil {
		t.Fatalf("payload %q: %v", hex, err)
	}
	m := tagRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("payload %q has no tag", b)
	}
	i, _ := strconv.Atoi(string(m[1]))
	return i
}

// TestExtcapFifo runs bpftop-cap --capture as Wireshark does, with the test
// as the FIFO's reader (Wireshark's dumpcap): the capture ends when the
// reader closes the FIFO, with no packet coming to find out by writing,
// and on SIGTERM with the stream whole; both times exit 0, nothing on
// stderr (which Wireshark would show as an error), nothing attached.
func TestExtcapFifo(t *testing.T) {
	pair := testutil.NewPair(t)
	for _, end := range []string{"reader-closes", "sigterm"} {
		t.Run(end, func(t *testing.T) {
			const n, port = 6, 7421
			fifo := filepath.Join(t.TempDir(), "wireshark_extcap_fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			var stream syncBuffer
			opened, copied := make(chan *os.File, 1), make(chan error, 1)
			go func() {
				r, err := os.OpenFile(fifo, os.O_RDONLY, 0) // until the writer opens it
				if err != nil {
					copied <- err
					return
				}
				opened <- r
				_, err = io.Copy(&stream, r)
				copied <- err
			}()
			bc := start(t, pair.NsA, binary, "--capture", "--extcap-interface", "bpftop-cap:"+pair.IfA,
				"--fifo", fifo, "--extcap-capture-filter", fmt.Sprintf("udp port %d", port))
			var r *os.File
			select {
			case r = <-opened:
				defer r.Close()
			case err := <-copied:
				t.Fatalf("open the FIFO: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatalf("bpftop-cap never opened the FIFO:\n%s", bc.stderr)
			}
			waitAttached(t, pair, bc)
			sendBothWays(t, pair, port, n)
			testutil.Eventually(t, 10*time.Second, func() bool {
				return len(tagRE.FindAllString(stream.String(), -1)) == 2*n
			}, "the FIFO never carried the %d datagrams", 2*n)
			var exitErr error
			if end == "sigterm" {
				exitErr = bc.stop(t, syscall.SIGTERM)
			} else {
				r.Close()
				select {
				case exitErr = <-bc.done:
					bc.done <- exitErr
				case <-time.After(15 * time.Second):
					t.Fatalf("bpftop-cap still runs after its reader closed the FIFO:\n%s", bc.stderr)
				}
			}
			if exitErr != nil || bc.stderr.String() != "" {
				t.Fatalf("exit %v, stderr %q; want 0 and nothing", exitErr, bc.stderr)
			}
			requireNothingAttached(t, pair)
			if end != "sigterm" {
				return
			}
			if err := <-copied; err != nil {
				t.Fatalf("read the FIFO: %v", err)
			}
			file := filepath.Join(t.TempDir(), "stream.pcapng")
			if err := os.WriteFile(file, []byte(stream.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := byTag(t, readPcap(t, file), "stream"); len(got) != 2*n {
				t.Errorf("%d datagrams in the stream, want %d", len(got), 2*n)
			}
			// The stream ends whole: capinfos reads it to the statistics
			// block after the last packet.
			info, err := exec.Command("capinfos", file).CombinedOutput()
			if err != nil || !strings.Contains(string(info), "Number of stat entries = 1") || !strings.Contains(string(info), "Name = "+pair.IfA) {
				t.Errorf("capinfos (%v):\n%s", err, info)
			}
		})
	}
}
