package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/internal/nsutil"
)

// InCI reports whether the tests run under CI, where an e2e test that cannot
// run must fail rather than skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips the test, or fails it under CI=true.
func SkipOrFail(t testing.TB, format string, a ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("cannot run under CI=true: "+format, a...)
	}
	t.Skipf(format, a...)
}

// RequireRoot skips (fails under CI) unless the test runs as root. Under
// -short (make test-unit) it always skips, even as root and under CI=true:
// the short run is the one that needs no root and no namespaces.
func RequireRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs root (BPF, network namespaces); skipped under -short")
	}
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root (BPF, network namespaces)")
	}
}

// RequireTool skips (fails under CI) unless the named command is installed.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		SkipOrFail(t, "needs %s installed", name)
	}
	return p
}

// Pair is two network namespaces joined by a veth pair: A (addr AddrA, in
// namespace NsA) and B (AddrB, in NsB), on a /24 of the benchmarking range
// 198.18.0.0/15 that exists only inside them.
type Pair struct {
	NsA, NsB     string
	IfA, IfB     string
	AddrA, AddrB string
}

var pairSeq atomic.Int32

// NewPair creates the namespaces and the veth pair, brings them up, and
// removes them when the test ends.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	RequireRoot(t)
	RequireTool(t, "ip")
	n := pairSeq.Add(1)
	id := fmt.Sprintf("%d-%d", os.Getpid()%100000, n)
	sub := int(os.Getpid()+int(n)) % 250
	p := &Pair{
		NsA: "bpc-a-" + id, NsB: "bpc-b-" + id,
		IfA: "bpca" + fmt.Sprint(n), IfB: "bpcb" + fmt.Sprint(n),
		AddrA: fmt.Sprintf("198.18.%d.1", sub), AddrB: fmt.Sprintf("198.18.%d.2", sub),
	}
	t.Cleanup(func() { p.Remove() })
	cmds := [][]string{
		{"netns", "add", p.NsA},
		{"netns", "add", p.NsB},
		{"link", "add", p.IfA, "netns", p.NsA, "type", "veth", "peer", "name", p.IfB, "netns", p.NsB},
		{"-n", p.NsA, "addr", "add", p.AddrA + "/24", "dev", p.IfA},
		{"-n", p.NsB, "addr", "add", p.AddrB + "/24", "dev", p.IfB},
		{"-n", p.NsA, "link", "set", p.IfA, "up"},
		{"-n", p.NsB, "link", "set", p.IfB, "up"},
		{"-n", p.NsA, "link", "set", "lo", "up"},
		{"-n", p.NsB, "link", "set", "lo", "up"},
		// No IPv6 chatter (router/neighbour solicitations) in the captures.
		{"netns", "exec", p.NsA, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
		{"netns", "exec", p.NsB, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
	}
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return p
}

// Remove deletes the namespaces (and with them the veth pair).
func (p *Pair) Remove() {
	_ = exec.Command("ip", "netns", "del", p.NsA).Run()
	_ = exec.Command("ip", "netns", "del", p.NsB).Run()
}

// Cmd returns a command that runs inside namespace ns.
func Cmd(ns, name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	// A session of its own, as from a terminal: a capture raises its
	// session's priority (--nice), which a kill -9 would leave raised.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// OnOneCPU runs fn on a thread bound to the first CPU it may run on: the
// packets it sends on a veth pair, or the BPF test runs it makes, are then
// handled there, and their records go to that CPU's perf rings.
func OnOneCPU(t testing.TB, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 1024; c++ {
		if all.IsSet(c) {
			one.Set(c)
			break
		}
	}
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &all)
	fn()
}

// InNetns runs fn on a thread switched into the named namespace. Sockets
// made in fn stay in that namespace after it returns.
func InNetns(name string, fn func() error) error { return nsutil.Do(name, fn) }

// Attached lists what is attached to the interface in namespace ns: tcx
// programs, an XDP program, and clsact bpf filters, as human-readable words.
// Empty means nothing.
func Attached(ns, ifname string) ([]string, error) {
	var found []string
	err := InNetns(ns, func() error {
		h, err := netlink.NewHandle()
		if err != nil {
			return err
		}
		defer h.Close()
		l, err := h.LinkByName(ifname)
		if err != nil {
			return err
		}
		if x := l.Attrs().Xdp; x != nil && x.Attached {
			found = append(found, fmt.Sprintf("xdp prog %d", x.ProgId))
		}
		for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
			fs, err := h.FilterList(l, parent)
			if err != nil {
				continue
			}
			for _, f := range fs {
				if bf, ok := f.(*netlink.BpfFilter); ok {
					found = append(found, "clsact filter "+bf.Name)
				}
			}
		}
		tcx, err := tcxPrograms(l.Attrs().Index)
		if err != nil {
			return err
		}
		found = append(found, tcx...)
		return nil
	})
	return found, err
}

// Eventually polls cond every few milliseconds until it returns true or the
// timeout passes, then fails the test with msg.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, a ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: "+msg, append([]any{timeout}, a...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
