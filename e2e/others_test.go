package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// dropAll attaches a program dropping every packet to the ingress of
// ifname in namespace ns, as a CNI or a firewall might: with tcx (after
// what is there) or, prio > 0, as a clsact filter of that priority;
// detached at cleanup.
func dropAll(t *testing.T, ns, ifname string, prio uint16) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "drop_all", Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()}, // TC_ACT_SHOT, TCX_DROP
	})
	if err != nil {
		t.Fatalf("load drop_all: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	err = testutil.InNetns(ns, func() error {
		lnk, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		if prio == 0 {
			l, err := link.AttachTCX(link.TCXOptions{Interface: lnk.Attrs().Index, Program: prog, Attach: ebpf.AttachTCXIngress})
			if err != nil {
				return err
			}
			t.Cleanup(func() { l.Close() })
			return nil
		}
		q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: lnk.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
		if err := netlink.QdiscAdd(q); err != nil && err != unix.EEXIST {
			return err
		}
		f := &netlink.BpfFilter{
			FilterAttrs: netlink.FilterAttrs{LinkIndex: lnk.Attrs().Index, Parent: netlink.HANDLE_MIN_INGRESS, Protocol: unix.ETH_P_ALL, Priority: prio},
			Fd:          prog.FD(), Name: "drop_all", DirectAction: true,
		}
		return netlink.FilterAdd(f)
	})
	if err != nil {
		t.Fatalf("attach drop_all to %s: %v", ifname, err)
	}
}

// TestOtherProgramsFirst: a program that drops every arriving packet,
// attached before the capture or after it, with tcx or as a clsact filter,
// does not hide those packets from bpftop-cap, as it does not from
// tcpdump; the first lines name it.
func TestOtherProgramsFirst(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	for _, tc := range []struct {
		mode   string
		before bool
		prio   uint16 // the dropper's clsact priority
	}{{"tcx", true, 0}, {"tcx", false, 0}, {"clsact", true, 1}, {"clsact", true, 10}} {
		name := fmt.Sprintf("%s, dropper (prio %d) attached %s", tc.mode, tc.prio, map[bool]string{true: "before", false: "after"}[tc.before])
		t.Run(fmt.Sprintf("%s-prio%d-%s", tc.mode, tc.prio, map[bool]string{true: "before", false: "after"}[tc.before]), func(t *testing.T) {
			pair := testutil.NewPair(t)
			// B learns A's MAC now: the dropper would drop the ARP reply.
			sendUDPNoWait(t, pair, 9301, 1)
			time.Sleep(100 * time.Millisecond)
			if tc.before {
				dropAll(t, pair.NsA, pair.IfA, tc.prio)
			}
			dir := t.TempDir()
			ours, theirs := filepath.Join(dir, "ours.pcap"), filepath.Join(dir, "tcpdump.pcap")
			p := startCapture(t, pair, "-w", ours, "-Q", "in", "--tc-attach", tc.mode, "udp")
			td := startTcpdump(t, pair, theirs)
			if !tc.before {
				dropAll(t, pair.NsA, pair.IfA, 0)
			}
			if tc.before && !strings.Contains(p.stderr.String(), "other programs on "+pair.IfA+": ") ||
				tc.before && !strings.Contains(p.stderr.String(), "drop_all") {
				t.Errorf("%s: the dropper is not named:\n%s", name, p.stderr)
			}
			sendUDPNoWait(t, pair, 9300, 20)
			time.Sleep(200 * time.Millisecond)
			_ = p.stop(t, syscall.SIGINT)
			_ = td.stop(t, syscall.SIGINT)
			got, want := len(byTag(t, readPcap(t, ours), "ours")), len(byTag(t, readPcap(t, theirs), "tcpdump"))
			if got != 20 || want != 20 {
				t.Errorf("%s: bpftop-cap kept %d and tcpdump %d of the 20 dropped datagrams, want 20 each\n%s\n%s", name, got, want, p.stderr, td.stderr)
			}
			if _, err := os.Stat(ours); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// sendUDPNoWait sends n tagged datagrams from B to A's port without waiting
// for A to receive them (A may be dropping them all).
func sendUDPNoWait(t *testing.T, pair *testutil.Pair, port, n int) {
	t.Helper()
	var c interface {
		Write([]byte) (int, error)
		Close() error
	}
	if err := testutil.InNetns(pair.NsB, func() error {
		conn, err := net.Dial("udp4", net.JoinHostPort(pair.AddrA, strconv.Itoa(port)))
		c = conn
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		if _, err := c.Write([]byte(tag(i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestXDPErrorsSayWhy: an XDP attach the kernel refuses says why in one
// line: a veth whose peer's MTU is too large, a hook another program holds.
func TestXDPErrorsSayWhy(t *testing.T) {
	testutil.RequireRoot(t)
	pair := testutil.NewPair(t)
	run := func(what string, held bool, want ...string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "x.pcap")
		msg, err := testutil.Cmd(pair.NsA, binary, "-i", pair.IfA, "--xdp", "-w", out, "-c", "1").CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("%s: exit %v, want 1; output:\n%s", what, err, msg)
		}
		for _, w := range want {
			if !strings.Contains(string(msg), w) {
				t.Errorf("%s: message does not say %q:\n%s", what, w, msg)
			}
		}
		if strings.Count(string(msg), "\n") != 1 {
			t.Errorf("%s: want one line, got:\n%s", what, msg)
		}
		if left, _ := testutil.Attached(pair.NsA, pair.IfA); len(left) > 0 && !held {
			t.Errorf("%s: left attached: %v", what, left)
		}
	}
	if out, err := exec.Command("ip", "-n", pair.NsB, "link", "set", pair.IfB, "mtu", "9000").CombinedOutput(); err != nil {
		t.Fatalf("set mtu: %v %s", err, out)
	}
	run("peer MTU 9000", false, "MTU", "too large for XDP")
	if out, err := exec.Command("ip", "-n", pair.NsB, "link", "set", pair.IfB, "mtu", "1500").CombinedOutput(); err != nil {
		t.Fatalf("set mtu: %v %s", err, out)
	}
	// Another capture holds the hook.
	ready := filepath.Join(t.TempDir(), "ready")
	p := start(t, pair.NsA, binary, "-i", pair.IfA, "--xdp", "-w", filepath.Join(t.TempDir(), "first.pcap"), "--ready-file", ready)
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "first capture never ready:\n%s", p.stderr)
	run("a second XDP capture", true, "xdp: ", "capture_xdp", "is attached there")
	if left, _ := testutil.Attached(pair.NsA, pair.IfA); len(left) != 1 {
		t.Errorf("after the refused second capture: %v attached, want the first's only", left)
	}
	_ = p.stop(t, syscall.SIGINT)
}

// TestShapedEgressSaysSo: with a shaper as the root qdisc, the first lines
// say where egress is recorded: at transmit, after it (by default), or
// before it (--egress-at tc); without one they say nothing of a qdisc.
func TestShapedEgressSaysSo(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tc")
	pair := testutil.NewPair(t)
	run := func(args ...string) string {
		out := filepath.Join(t.TempDir(), "x.pcap")
		p := startCapture(t, pair, append([]string{"-w", out}, args...)...)
		_ = p.stop(t, syscall.SIGINT)
		return p.stderr.String()
	}
	if s := run(); strings.Contains(s, "qdisc") {
		t.Errorf("no shaper, yet:\n%s", s)
	}
	if out, err := exec.Command("ip", "netns", "exec", pair.NsA, "tc", "qdisc", "add", "dev", pair.IfA, "root", "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms").CombinedOutput(); err != nil {
		t.Fatalf("tc qdisc add: %v %s", err, out)
	}
	if s := run(); !strings.Contains(s, "egress on "+pair.IfA+" is recorded at transmit, after its tbf qdisc") {
		t.Errorf("a tbf root qdisc, not said:\n%s", s)
	}
	if s := run("--egress-at", "tc"); !strings.Contains(s, "egress on "+pair.IfA+" is recorded before its tbf qdisc") {
		t.Errorf("a tbf root qdisc and --egress-at tc, not said:\n%s", s)
	}
}
