package e2e

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// The container image (Containerfile, docs/kubernetes.md) tested as far
// as a machine without podman, docker or a cluster allows: make rootfs
// lays out its files as a directory, and the binary runs from it as a
// container would, chrooted in private mount and PID namespaces (PID 1,
// a /proc of its own, a sysfs), in a network namespace, with no /etc.

// containerBin is where the Containerfile puts the binary.
const containerBin = "/usr/local/bin/bpftop-cap"

// buildRootfs runs make rootfs into a temp dir, checks that it holds the
// binary alone, where the Containerfile puts it, statically linked, and
// adds the mount points a runtime makes (/proc, /sys) and /captures, the
// hostPath of the DaemonSet.
func buildRootfs(t *testing.T) string {
	t.Helper()
	testutil.RequireTool(t, "make")
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	cmd := exec.Command("make", "rootfs", "BINARY="+filepath.Join(dir, "bpftop-cap"), "ROOTFS="+rootfs)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make rootfs: %v\n%s", err, out)
	}

	var files []string
	if err := filepath.WalkDir(rootfs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(rootfs, path)
		files = append(files, rel)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{".", "usr", "usr/local", "usr/local/bin", "usr/local/bin/bpftop-cap"}
	if !slices.Equal(files, want) {
		t.Fatalf("make rootfs made %q, want %q", files, want)
	}
	checkContainerfile(t)
	f, err := elf.Open(filepath.Join(rootfs, containerBin))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("the image's binary is dynamically linked (%v; libraries %q): a FROM scratch image has no loader", p.Type, libs)
		}
	}
	for _, d := range []string{"proc", "sys", "captures"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return rootfs
}

// checkContainerfile: the image is FROM scratch, copies the binary to the
// path make rootfs uses, runs it as its entrypoint and finds it on PATH
// (for kubectl debug/exec ... -- bpftop-cap ARGS).
func checkContainerfile(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("../Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	want := []string{
		"FROM scratch",
		"COPY bpftop-cap " + containerBin,
		"ENV PATH=" + filepath.Dir(containerBin),
		`ENTRYPOINT ["` + containerBin + `"]`,
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("Containerfile:\n%s\nwant the instructions:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// containerCmd runs argv (in the rootfs) as a container would: in network
// namespace ns, in new mount and PID namespaces (argv is PID 1), chrooted
// into rootfs with /proc and /sys mounted and capDir bound at /captures,
// and no /etc. caps, when set, is the capability bounding set argv gets
// (setpriv's form: -all,+bpf,...), as a pod's capabilities drop ALL and
// add them; otherwise it has all of root's, as a privileged pod.
func containerCmd(ns, rootfs, capDir, caps string, argv ...string) *exec.Cmd {
	setpriv := ""
	if caps != "" {
		setpriv = "setpriv --bounding-set=" + caps + " --"
	}
	wrap := []string{"--mount", "--pid", "--fork", "sh", "-c",
		`set -e; r=$1; c=$2; shift 2
mount -t proc proc "$r/proc"
mount -t sysfs sysfs "$r/sys"
mount --bind "$c" "$r/captures"
exec ` + setpriv + ` chroot "$r" "$@"`, "sh", rootfs, capDir}
	cmd := testutil.Cmd(ns, "unshare", append(wrap, argv...)...)
	cmd.Env = []string{} // a pod's environment: nothing but what the image sets
	cmd.Env = append(cmd.Env, "PATH="+filepath.Dir(containerBin)+":/usr/sbin:/usr/bin:/sbin:/bin")
	return cmd
}

// initPID is the host PID of the process unshare --fork runs (PID 1 in
// its PID namespace).
func initPID(t *testing.T, unsharePID int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", unsharePID, unsharePID))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		t.Fatalf("unshare's children: %q", f)
	}
	pid, _ := strconv.Atoi(f[0])
	return pid
}

var captureNameRE = regexp.MustCompile(`^node1-\d{8}-\d{6}\.pcapng$`)

// TestContainerCapture runs the DaemonSet's capture (docs/kubernetes.md:
// -i any, a strftime -w into the hostPath, -G and -C) from the image's
// root filesystem as PID 1 of its own PID namespace, while tcpdump
// captures the same veth from outside it: both record the same tagged
// datagrams, with the same bytes; SIGTERM (what a pod's deletion sends)
// ends it with exit 0, the file whole and nothing left attached.
//
// Privileged, and with only the capabilities docs/kubernetes.md lists
// for this kernel (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_IPC_LOCK;
// CAP_SYS_CHROOT too, which chroot needs to start it and the capture
// does not use).
func TestContainerCapture(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "unshare")
	testutil.RequireTool(t, "chroot")
	testutil.RequireTool(t, "setpriv")
	rootfs := buildRootfs(t)
	const caps = "-all,+bpf,+perfmon,+net_admin,+sys_chroot"
	for _, tc := range []struct {
		name, caps string
		args       []string
	}{
		{"privileged", "", nil},
		{"capabilities", caps + ",+ipc_lock", nil},
		// Without CAP_IPC_LOCK the perf rings must fit under the
		// locked-memory limit (ulimit -l); a BPF ring buffer is not
		// counted there.
		{"capabilities without IPC_LOCK, small rings", caps, []string{"-B", "1024"}},
		{"capabilities without IPC_LOCK, ringbuf", caps, []string{"--ringbuf", "8MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) { testContainerCapture(t, rootfs, tc.caps, tc.args) })
	}
}

func testContainerCapture(t *testing.T, rootfs, caps string, args []string) {
	capDir := t.TempDir()
	pair := testutil.NewPair(t)
	tdFile := filepath.Join(t.TempDir(), "tcpdump.pcap")
	td := startTcpdump(t, pair, tdFile)

	// The DaemonSet's arguments, $(NODE_NAME) as Kubernetes expands it.
	argv := []string{containerBin, "-i", "any", "-w", "/captures/node1-%Y%m%d-%H%M%S.pcapng", "-G", "3600", "-C", "1000"}
	argv = append(append(argv, args...), "--ready-file", "/captures/ready", "udp")
	p := startCmd(t, containerCmd(pair.NsA, rootfs, capDir, caps, argv...))
	testutil.Eventually(t, 15*time.Second, func() bool {
		p.failIfExited(t, "the container's bpftop-cap")
		_, err := os.Stat(filepath.Join(capDir, "ready"))
		return err == nil
	}, "the container's bpftop-cap never became ready:\n%s", p.stderr)
	if b, _ := os.ReadFile(filepath.Join(capDir, "ready")); strings.TrimSpace(string(b)) != "1" {
		t.Errorf("the ready file says PID %q, want 1 (its own PID namespace)", b)
	}
	pid := initPID(t, p.cmd.Process.Pid)

	const port = 41400
	sizes := make([]int, 40)
	for i := range sizes {
		sizes[i] = 64 + 37*i
	}
	sendUDP(t, pair, port, sizes)
	testutil.Eventually(t, 10*time.Second, func() bool {
		return len(byTag(t, readGrowingPcap(t, tdFile), "tcpdump (so far)")) == len(sizes)
	}, "tcpdump never wrote all %d datagrams:\n%s", len(sizes), td.stderr)

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 15*time.Second, "the container's bpftop-cap still runs 15s after SIGTERM"); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, p.stderr)
	}
	if err := td.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, td.stderr)
	}
	requireNothingAttached(t, pair)
	if _, lost, dropped := summary(t, p.stderr.String()); lost+dropped != 0 {
		t.Errorf("lost %d, dropped %d:\n%s", lost, dropped, p.stderr)
	}

	entries, err := os.ReadDir(capDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "ready" {
			names = append(names, e.Name())
		}
	}
	if len(names) != 1 || !captureNameRE.MatchString(names[0]) {
		t.Fatalf("the hostPath holds %q, want one file named by -w's strftime format", names)
	}
	ours := byTag(t, readPcap(t, filepath.Join(capDir, names[0])), "container")
	theirs := byTag(t, readPcap(t, tdFile), "tcpdump")
	if len(theirs) != len(sizes) {
		t.Fatalf("tcpdump recorded %d of %d datagrams", len(theirs), len(sizes))
	}
	for i := range sizes {
		a, ok := ours[i]
		b := theirs[i]
		if !ok {
			t.Errorf("datagram %d: not in the container's file", i)
			continue
		}
		// The same IP packet after the link-layer header (tcpdump's
		// Ethernet, whatever -i any's pcapng interface has).
		want := b.data[14:]
		if len(a.data) < len(want) || string(a.data[len(a.data)-len(want):]) != string(want) {
			t.Errorf("datagram %d: the container recorded %d bytes, tcpdump %d of IP after Ethernet, or they differ", i, len(a.data), len(want))
		}
	}
	if n := tcpdumpCount(t, filepath.Join(capDir, names[0])); n < len(sizes) {
		t.Errorf("tcpdump -r reads %d packets from the container's file, want at least %d", n, len(sizes))
	}
}

// TestContainerNoEtc: run from the image's root filesystem, which has no
// /etc (nor /tmp, nor anything but the binary), what needs a file there
// fails with one line saying which, and the rest works: -D lists the
// interfaces, a missing -r file, interface or output directory is named.
func TestContainerNoEtc(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "unshare")
	testutil.RequireTool(t, "chroot")
	capDir := t.TempDir()
	rootfs := buildRootfs(t)
	pair := testutil.NewPair(t)
	for _, tc := range []struct {
		args []string
		code int
		want *regexp.Regexp // the whole of stderr (text mode's stdout aside)
	}{
		{[]string{"-D"}, 0, regexp.MustCompile(`^$`)},
		{[]string{"-Z", "nobody", "-i", pair.IfA, "-w", "/captures/x.pcap"}, 1,
			regexp.MustCompile(`^bpftop-cap: -Z nobody: open /etc/passwd: no such file or directory\n$`)},
		{[]string{"-r", "/captures/missing.pcap"}, 1,
			regexp.MustCompile(`^bpftop-cap: open capture: open /captures/missing.pcap: no such file or directory\n$`)},
		{[]string{"-i", "nosuch0", "-w", "/captures/x.pcap"}, 1,
			regexp.MustCompile(`^bpftop-cap: no such interface: "nosuch0"\n$`)},
		{[]string{"-i", pair.IfA, "-w", "/var/x.pcap"}, 1,
			regexp.MustCompile(`^bpftop-cap: create output /var/x.pcap: no such file or directory\n$`)},
	} {
		cmd := containerCmd(pair.NsA, rootfs, capDir, "", append([]string{containerBin}, tc.args...)...)
		var stdout, stderr syncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !tc.want.MatchString(stderr.String()) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %v", tc.args, code, stderr.String(), tc.code, tc.want)
		}
		if tc.args[0] == "-D" && !strings.Contains(stdout.String(), "."+pair.IfA+" [") {
			t.Errorf("-D does not list %s:\n%s", pair.IfA, &stdout)
		}
	}
}

// TestContainerLockedMemory: with the capabilities but CAP_IPC_LOCK, the
// default perf rings exceed a locked-memory limit like Debian's (8 MiB):
// one line says so and what to do.
func TestContainerLockedMemory(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "unshare")
	testutil.RequireTool(t, "chroot")
	testutil.RequireTool(t, "setpriv")
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil || lim.Max >= 16<<20 {
		testutil.SkipOrFail(t, "the locked-memory limit (%d) holds the default rings", lim.Max)
	}
	rootfs := buildRootfs(t)
	pair := testutil.NewPair(t)
	cmd := containerCmd(pair.NsA, rootfs, t.TempDir(), "-all,+bpf,+perfmon,+net_admin,+sys_chroot",
		containerBin, "-i", pair.IfA, "-w", "/captures/x.pcap")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!regexp.MustCompile(`^bpftop-cap: open perf ring: map perf ring of CPU \d+: operation not permitted: the rings exceed the locked-memory limit; grant CAP_IPC_LOCK, or make them smaller \(-B, --perf-buffer\) or use --ringbuf\n$`).Match(out) {
		t.Errorf("exit %v, output %q", err, out)
	}
}
