package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// sshHost is a remote host for --remote: namespace A of a pair, running
// Debian's OpenSSH server with the test's own config and keys, reached
// from namespace B over a second veth pair (so that the ssh stream is not
// on the captured interface A). Traffic to capture goes over the pair.
type sshHost struct {
	pair   *testutil.Pair
	dir    string // the test's: keys, config, the remote TMPDIR and PATH
	addr   string // sshd's address (in A)
	port   string
	tmp    string // the remote TMPDIR: a copy goes there
	sshCmd string // --ssh
	sshd   *proc
}

// sshHostOpts say what the remote PATH holds.
type sshHostOpts struct {
	installed bool   // bpftop-cap in a PATH directory
	uname     string // a uname in front of PATH answering -m with this
}

const sshPort = "2222"

var sshSeq int

func newSSHHost(t *testing.T, o sshHostOpts) *sshHost {
	t.Helper()
	testutil.RequireRoot(t)
	for _, tool := range []string{"/usr/sbin/sshd", "ssh", "ssh-keygen", "unshare", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			testutil.SkipOrFail(t, "needs %s (openssh-server, openssh-client)", tool)
		}
	}
	pair := testutil.NewPair(t)
	sshSeq++
	h := &sshHost{pair: pair, dir: t.TempDir(), port: sshPort}
	h.tmp = filepath.Join(h.dir, "remote-tmp")
	sub := (os.Getpid() + sshSeq) % 250
	h.addr = fmt.Sprintf("198.19.%d.1", sub)
	ifA, ifB := fmt.Sprintf("bpsa%d", sshSeq), fmt.Sprintf("bpsb%d", sshSeq)
	for _, c := range [][]string{
		{"link", "add", ifA, "netns", pair.NsA, "type", "veth", "peer", "name", ifB, "netns", pair.NsB},
		{"-n", pair.NsA, "addr", "add", h.addr + "/24", "dev", ifA},
		{"-n", pair.NsB, "addr", "add", fmt.Sprintf("198.19.%d.2/24", sub), "dev", ifB},
		{"-n", pair.NsA, "link", "set", ifA, "up"},
		{"-n", pair.NsB, "link", "set", ifB, "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	for _, d := range []string{h.tmp, "home", "bin"} {
		if err := os.MkdirAll(filepath.Join(h.dir, filepath.Base(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"hostkey", "userkey", "otherkey"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", filepath.Join(h.dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(h.dir, "userkey.pub"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(h.dir, "authorized_keys"), string(pub), 0o600)
	// The remote PATH: without bpftop-cap, unless installed (a copy in
	// bin/); a fake uname in front to pose as another machine.
	path := "/usr/sbin:/usr/bin:/sbin:/bin"
	for _, d := range strings.Split(path, ":") {
		if _, err := os.Stat(filepath.Join(d, "bpftop-cap")); err == nil {
			t.Fatalf("%s/bpftop-cap exists: the remote host must not have it on its PATH", d)
		}
	}
	if o.installed {
		copyFile(t, binary, filepath.Join(h.dir, "bin", "bpftop-cap"))
		path = filepath.Join(h.dir, "bin") + ":" + path
	}
	if o.uname != "" {
		fake := filepath.Join(h.dir, "fake")
		if err := os.Mkdir(fake, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(fake, "uname"), "#!/bin/sh\ncase \"$1\" in -m) echo "+o.uname+";; *) exec /bin/uname \"$@\";; esac\n", 0o755)
		path = fake + ":" + path
	}
	cfg := filepath.Join(h.dir, "sshd_config")
	writeFile(t, cfg, strings.Join([]string{
		"ListenAddress " + h.addr + ":" + h.port,
		"HostKey " + filepath.Join(h.dir, "hostkey"),
		"AuthorizedKeysFile " + filepath.Join(h.dir, "authorized_keys"),
		"PidFile " + filepath.Join(h.dir, "sshd.pid"),
		"StrictModes no",
		"UsePAM no",
		"PermitRootLogin yes",
		// HOME: root's own dotfiles stay out of the remote shell.
		"SetEnv PATH=" + path + " TMPDIR=" + h.tmp + " HOME=" + filepath.Join(h.dir, "home"),
		"",
	}, "\n"), 0o600)
	// sshd wants /run/sshd: a private /run in a mount namespace of its own.
	h.sshd = start(t, pair.NsA, "unshare", "-m", "sh", "-c",
		"mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd && exec /usr/sbin/sshd -D -e -f "+shellQuote(cfg))
	testutil.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(h.sshd.stderr.String(), "Server listening")
	}, "sshd never listened:\n%s", h.sshd.stderr)
	h.sshCmd = h.ssh("userkey", h.port)
	t.Cleanup(func() { h.killLeftovers(t) })
	return h
}

// ssh is an --ssh command line with the given key and port ("": none,
// for --remote HOST:PORT).
func (h *sshHost) ssh(key, port string) string {
	s := "ssh -F /dev/null -i " + filepath.Join(h.dir, key) + " -o UserKnownHostsFile=" + filepath.Join(h.dir, "known_hosts") +
		" -o StrictHostKeyChecking=accept-new -o BatchMode=yes"
	if port != "" {
		s += " -p " + port
	}
	return s
}

// remote is the --remote of the host.
func (h *sshHost) remote() string { return "root@" + h.addr }

func writeFile(t *testing.T, path, s string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b), 0o755)
}

// nsProcs lists the processes in the host's namespace other than sshd
// and the test's own helpers: what a capture could have left there.
func (h *sshHost) nsProcs(t *testing.T) []string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+h.pair.NsA, &st); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err != nil || ns != want {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		line := strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		// The test's own threads switch namespaces (testutil.InNetns).
		if pid == h.sshd.cmd.Process.Pid || pid == os.Getpid() || strings.HasPrefix(line, "tcpdump") {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", pid, line))
	}
	return out
}

// killLeftovers kills what a failed test left in the host's namespace:
// only processes in it, which are the test's.
func (h *sshHost) killLeftovers(t *testing.T) {
	for _, p := range h.nsProcs(t) {
		pid, _ := strconv.Atoi(strings.Fields(p)[0])
		if pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// copies lists the private directories a copy of bpftop-cap went to.
func (h *sshHost) copies() []string {
	m, _ := filepath.Glob(filepath.Join(h.tmp, "bpftop-cap.*"))
	return m
}

// requireClean waits until the remote host has nothing left of a
// capture: no program attached to A's interface, no process but sshd in
// its namespace, no copy in its TMPDIR.
func (h *sshHost) requireClean(t *testing.T) {
	t.Helper()
	requireNothingAttached(t, h.pair)
	var procs []string
	testutil.Eventually(t, 10*time.Second, func() bool {
		procs = h.nsProcs(t)
		return len(procs) == 0 && len(h.copies()) == 0
	}, "left on the remote host: processes %q, copies %q", stringer(func() string { return strings.Join(procs, "; ") }), stringer(func() string { return strings.Join(h.copies(), " ") }))
}

// remoteCapturing returns the PID and executable of the bpftop-cap
// capturing in the host's namespace.
func (h *sshHost) remoteCapturing(t *testing.T) (int, string) {
	t.Helper()
	for _, p := range h.nsProcs(t) {
		f := strings.Fields(p)
		if len(f) > 1 && filepath.Base(f[1]) == "bpftop-cap" {
			pid, _ := strconv.Atoi(f[0])
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
			return pid, exe
		}
	}
	t.Fatalf("no bpftop-cap capturing on the remote host: %q", h.nsProcs(t))
	return 0, ""
}

// startRemote runs bpftop-cap with --remote in namespace B (the local
// host) and waits until the remote capture is live.
func startRemote(t *testing.T, h *sshHost, args ...string) (*proc, *syncBuffer) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	argv := append([]string{"--ssh", h.sshCmd, "--remote", h.remote(), "--ready-file", ready}, args...)
	cmd := testutil.Cmd(h.pair.NsB, binary, argv...)
	cmd.Dir = t.TempDir()
	out := &syncBuffer{}
	cmd.Stdout = out
	p := startCmd(t, cmd)
	testutil.Eventually(t, 30*time.Second, func() bool {
		p.failIfExited(t, "bpftop-cap --remote")
		_, err := os.Stat(ready)
		return err == nil
	}, "bpftop-cap --remote never became ready:\n%s", p.stderr)
	return p, out
}

// TestRemoteWrite: --remote -w captures on the remote host's interface
// what tcpdump there captures, to a pcapng file whose interface tshark
// names HOST:IFACE; the binary is copied there (not installed) and the
// copy runs; SIGTERM here ends it all, leaving nothing there.
func TestRemoteWrite(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	h := newSSHHost(t, sshHostOpts{})
	out := filepath.Join(t.TempDir(), "remote.pcapng")
	ref := filepath.Join(t.TempDir(), "tcpdump.pcap")
	td := startTcpdump(t, h.pair, ref)
	p, _ := startRemote(t, h, "-i", h.pair.IfA, "-w", out, "udp")
	copies := h.copies()
	if len(copies) != 1 {
		t.Fatalf("copies in the remote TMPDIR: %q", copies)
	}
	if _, exe := h.remoteCapturing(t); exe != filepath.Join(copies[0], "bpftop-cap") {
		t.Errorf("the remote capture runs %s, not the copy in %s", exe, copies[0])
	}
	if st, err := os.Stat(copies[0]); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the copy's directory: %v, %v", st, err)
	}
	const n = 40
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = 60 + i*30 // below the MTU: no fragments
	}
	sent := sendUDP(t, h.pair, 7001, sizes)
	// What the remote capture wrote is on its way here: -w's file grows.
	testutil.Eventually(t, 10*time.Second, func() bool {
		return len(byTag(t, readGrowingPcap(t, out), "growing")) == n
	}, "the local file never held all %d datagrams", n)
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("bpftop-cap --remote after SIGTERM: %v\n%s", err, p.stderr)
	}
	if err := td.stop(t, syscall.SIGTERM); err != nil {
		t.Logf("tcpdump: %v", err)
	}
	got, want := byTag(t, readPcap(t, out), "bpftop-cap"), byTag(t, readPcap(t, ref), "tcpdump")
	if len(got) != n || len(want) != n {
		t.Fatalf("datagrams: bpftop-cap %d, tcpdump %d, sent %d\n%s", len(got), len(want), n, p.stderr)
	}
	for i := range n {
		if !bytes.Equal(got[i].data, want[i].data) || !bytes.Contains(got[i].data, sent[i]) {
			t.Errorf("datagram %d differs from tcpdump's", i)
		}
		if d := got[i].ci.Timestamp.Sub(want[i].ci.Timestamp).Abs(); d > time.Second {
			t.Errorf("datagram %d: time stamp %v off tcpdump's", i, d)
		}
	}
	// tshark reads the file and names the interface by the host.
	if _, err := exec.LookPath("tshark"); err == nil {
		ts, err := exec.Command("tshark", "-r", out, "-T", "fields", "-e", "frame.interface_name").Output()
		if err != nil {
			t.Fatalf("tshark -r: %v", err)
		}
		names := strings.Fields(string(ts))
		if len(names) < n || names[0] != h.addr+":"+h.pair.IfA {
			t.Errorf("tshark's interface names: %q, want %s:%s", names[:min(len(names), 3)], h.addr, h.pair.IfA)
		}
	}
	if !strings.Contains(p.stderr.String(), h.addr+": capturing on "+h.pair.IfA) {
		t.Errorf("stderr does not pass on the remote capture's line:\n%s", p.stderr)
	}
	h.requireClean(t)
}

// TestRemoteText: installed there, nothing is copied; text lines here,
// -c ends it, the remote capture's counts come back.
func TestRemoteText(t *testing.T) {
	h := newSSHHost(t, sshHostOpts{installed: true})
	const n = 5
	p, out := startRemote(t, h, "-i", h.pair.IfA, "-c", strconv.Itoa(n), "udp", "port", "7002")
	if len(h.copies()) != 0 {
		t.Errorf("copied though installed: %q", h.copies())
	}
	if _, exe := h.remoteCapturing(t); exe != filepath.Join(h.dir, "bin", "bpftop-cap") {
		t.Errorf("the remote capture runs %s, not the installed one", exe)
	}
	sendUDP(t, h.pair, 7002, []int{100, 200, 300, 400, 500})
	if err := p.wait(t, 20*time.Second, "-c %d did not end it", n); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), n, out)
	}
	for _, l := range lines {
		if !strings.Contains(l, h.pair.AddrB) || !strings.Contains(l, h.pair.AddrA+".7002: UDP") {
			t.Errorf("line %q is not a datagram to %s.7002", l, h.pair.AddrA)
		}
	}
	if !strings.Contains(p.stderr.String(), h.addr+": 5 packets captured, 0 lost in ring, 0 dropped") {
		t.Errorf("the remote capture's summary is not passed on:\n%s", p.stderr)
	}
	h.requireClean(t)
}

// TestTUIRemote: the live view of a remote capture shows the remote flow,
// named by the host; q ends it and the copy is gone; then a second run
// whose ssh is killed: the remote capture ends and the view says the
// stream ended.
func TestTUIRemote(t *testing.T) {
	h := newSSHHost(t, sshHostOpts{})
	dir := t.TempDir()
	for _, how := range []string{"q", "kill ssh"} {
		ready := filepath.Join(t.TempDir(), "ready")
		s := startScreen(t, dir, 140, 40, "ip", "netns", "exec", h.pair.NsB, binary, "--ssh", h.sshCmd,
			"--remote", h.remote(), "--ready-file", ready, "-i", h.pair.IfA, "udp")
		testutil.Eventually(t, 30*time.Second, func() bool {
			_, err := os.Stat(ready)
			return err == nil
		}, "never ready; screen:\n%s\nstderr:\n%s", stringer(s.text), stringer(s.errText))
		if len(h.copies()) != 1 {
			t.Errorf("copies: %q", h.copies())
		}
		sendUDP(t, h.pair, 7003, []int{100, 100, 100})
		screen := s.waitFor("the remote flow", contains(h.addr, h.pair.AddrB, "7003"))
		if testing.Verbose() {
			t.Logf("screen:\n%s", screen)
		}
		switch how {
		case "q":
			s.keys("q")
			s.waitExit()
			if e := s.errText(); strings.Contains(e, "bpftop-cap: ") {
				t.Errorf("an error after q:\n%s", e)
			}
		case "kill ssh":
			pid := readyPID(t, ready)
			ssh := childNamed(t, pid, "ssh")
			if err := syscall.Kill(ssh, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			s.waitFor("the end of the stream", contains("stream ended"))
			h.requireClean(t)
			s.keys("q")
			s.waitExit()
			if e := s.errText(); !strings.Contains(e, h.addr+": ") {
				t.Errorf("no line naming the host after its ssh was killed:\n%s", e)
			} else {
				t.Logf("after its ssh was killed:\n%s", e)
			}
		}
		h.requireClean(t)
	}
}

// childNamed is the PID of pid's child running name; it fails the test
// if there is none.
func childNamed(t *testing.T, pid int, name string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		end := strings.LastIndexByte(s, ')')
		if end < 0 || s[strings.IndexByte(s, '(')+1:end] != name {
			continue
		}
		if f := strings.Fields(s[end+1:]); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			return c
		}
	}
	t.Fatalf("process %d has no child %s", pid, name)
	return 0
}

// TestRemoteErrors: each failure is one line naming the host, and
// nothing is left there.
func TestRemoteErrors(t *testing.T) {
	h := newSSHHost(t, sshHostOpts{})
	sparc := newSSHHost(t, sshHostOpts{uname: "sparc64"})
	for _, tc := range []struct {
		name string
		h    *sshHost
		ssh  string
		args []string
		want string
	}{
		{"refused", h, h.ssh("userkey", "2223"), nil, "Connection refused"},
		{"wrong key", h, h.ssh("otherkey", h.port), nil, "Permission denied"},
		{"architecture", sparc, sparc.sshCmd, nil, "sparc64"},
		{"remote capture fails", h, h.sshCmd, []string{"-i", "nosuch0"}, "nosuch0"},
		{"remote usage error", h, h.sshCmd, []string{"-i", h.pair.IfA, "-Q", "sideways"}, "sideways"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--ssh", tc.ssh, "--remote", tc.h.remote(), "-w", filepath.Join(t.TempDir(), "x.pcap")}, tc.args...)
			if len(tc.args) == 0 {
				args = append(args, "-i", tc.h.pair.IfA)
			}
			cmd := testutil.Cmd(tc.h.pair.NsB, binary, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if err == nil {
				t.Fatalf("exit status 0; stderr:\n%s", stderr.String())
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if strings.Contains(l, tc.want) {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "bpftop-cap: "+tc.h.addr+": ") {
				t.Errorf("want one line naming %s and saying %q; stderr:\n%s", tc.h.addr, tc.want, stderr.String())
			} else {
				t.Log(lines[0])
			}
			tc.h.requireClean(t)
		})
	}
}

// TestRemoteTwo: two --remote at once (one host through two
// specs, each a capture of its own) merge into one file: each datagram
// twice, once on each interface, named as given.
func TestRemoteTwo(t *testing.T) {
	testutil.RequireTool(t, "tshark")
	h := newSSHHost(t, sshHostOpts{})
	out := filepath.Join(t.TempDir(), "two.pcapng")
	second := h.addr // root too: the local user's (--ssh gives the port)
	p, _ := startRemote(t, h, "--remote", second, "-i", h.pair.IfA, "-w", out, "udp", "port", "7004")
	if len(h.copies()) != 2 {
		t.Errorf("copies: %q, want one per capture", h.copies())
	}
	const n = 10
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = 100
	}
	sendUDP(t, h.pair, 7004, sizes)
	testutil.Eventually(t, 10*time.Second, func() bool {
		return len(readGrowingPcap(t, out)) >= 2*n
	}, "the file never held every datagram twice")
	if err := p.stop(t, syscall.SIGINT); err != nil {
		t.Errorf("exit after SIGINT: %v\n%s", err, p.stderr)
	}
	ts, err := exec.Command("tshark", "-r", out, "-T", "fields", "-e", "frame.interface_name").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	count := map[string]int{}
	for _, name := range strings.Fields(string(ts)) {
		count[name]++
	}
	want := map[string]int{h.remote() + ":" + h.pair.IfA: n, second + ":" + h.pair.IfA: n}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("packets by interface: %v, want %v", count, want)
	}
	h.requireClean(t)
}

// TestRemoteList: --remote -D lists the remote host's interfaces (its
// namespace's veth, not this one's) through a copy, which goes after.
func TestRemoteList(t *testing.T) {
	h := newSSHHost(t, sshHostOpts{})
	cmd := testutil.Cmd(h.pair.NsB, binary, "--ssh", h.sshCmd, "--remote", h.remote(), "-D")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("--remote -D: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(string(out), "."+h.pair.IfA+" [") || strings.Contains(string(out), h.pair.IfB) {
		t.Errorf("--remote -D does not list %s (and only the remote host's):\n%s\n%s", h.pair.IfA, out, stderr.String())
	}
	h.requireClean(t)
}

// TestRemoteErrorsTwo: two hosts refusing at once: a line each, each
// naming its host, and a failing exit status.
func TestRemoteErrorsTwo(t *testing.T) {
	h := newSSHHost(t, sshHostOpts{})
	specs := []string{h.remote() + ":2223", h.remote() + ":2224"}
	cmd := testutil.Cmd(h.pair.NsB, binary, "--ssh", h.ssh("userkey", ""), "--remote", specs[0], "--remote", specs[1],
		"-i", h.pair.IfA, "-w", filepath.Join(t.TempDir(), "x.pcap"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("exit status 0; stderr:\n%s", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got:\n%s", stderr.String())
	}
	for i, spec := range specs {
		if !strings.HasPrefix(lines[i], "bpftop-cap: "+spec+": ") || !strings.Contains(lines[i], "Connection refused") {
			t.Errorf("line %d = %q, want bpftop-cap: %s: …Connection refused", i, lines[i], spec)
		}
	}
}

// TestRemoteOneFails: of two captures (one host through two specs) one
// fails at start (its -i rewritten to a missing interface by an --ssh
// wrapper) while the other runs: after SIGTERM the exit status says so
// and the failing host is named; in the view, the status bar names it.
func TestRemoteOneFails(t *testing.T) {
	testutil.RequireTool(t, "bash")
	h := newSSHHost(t, sshHostOpts{installed: true})
	bad := h.addr // the local user is root too: the same host as h.remote()
	wrapper := filepath.Join(t.TempDir(), "ssh-wrapper")
	writeFile(t, wrapper, `#!/bin/bash
args=("$@"); n=${#args[@]}
from="'`+h.pair.IfA+`'" to="'nosuch0'"
if [ "${args[n-2]}" = `+shellQuote(bad)+` ]; then args[n-1]=${args[n-1]//"$from"/"$to"}; fi
exec `+h.sshCmd+` "${args[@]}"
`, 0o755)
	argv := []string{"--ssh", wrapper, "--remote", h.remote(), "--remote", bad, "-i", h.pair.IfA}

	t.Run("write", func(t *testing.T) {
		cmd := testutil.Cmd(h.pair.NsB, binary, append(argv, "-w", filepath.Join(t.TempDir(), "x.pcapng"))...)
		cmd.Dir = t.TempDir()
		p := startCmd(t, cmd)
		testutil.Eventually(t, 30*time.Second, func() bool {
			e := p.stderr.String()
			return strings.Contains(e, "bpftop-cap: "+h.remote()+": capturing on "+h.pair.IfA) && strings.Contains(e, "bpftop-cap: "+bad+": ") && strings.Contains(e, "nosuch0")
		}, "never one capturing and the other failed:\n%s", p.stderr)
		err := p.stop(t, syscall.SIGTERM)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("exit after SIGTERM with a host failed: %v, want status 1\n%s", err, p.stderr)
		}
		h.requireClean(t)
	})

	t.Run("view", func(t *testing.T) {
		s := startScreen(t, t.TempDir(), 140, 40, append([]string{"ip", "netns", "exec", h.pair.NsB, binary}, argv...)...)
		s.waitFor("the failed host in the status bar", contains(bad+" failed"))
		s.keys("q")
		s.waitExit()
		if e := s.errText(); !strings.Contains(e, "bpftop-cap: "+bad+": ") || !strings.Contains(e, "nosuch0") {
			t.Errorf("no line naming the failed host after q:\n%s", e)
		}
		h.requireClean(t)
	})
}
