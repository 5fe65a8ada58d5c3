package e2e

import (
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// shape puts a token bucket on A's egress that passes a burst of a few
// datagrams and drops most of a fast stream.
func shape(t *testing.T, pair *testutil.Pair) {
	t.Helper()
	testutil.RequireTool(t, "tc")
	if out, err := exec.Command("ip", "netns", "exec", pair.NsA, "tc", "qdisc", "add", "dev", pair.IfA, "root",
		"tbf", "rate", "1mbit", "burst", "4kb", "limit", "4kb").CombinedOutput(); err != nil {
		t.Fatalf("tc qdisc add: %v %s", err, out)
	}
}

// waitQdiscEmpty waits until A's root qdisc holds no packet back.
func waitQdiscEmpty(t *testing.T, pair *testutil.Pair) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() bool {
		out, err := exec.Command("ip", "netns", "exec", pair.NsA, "tc", "-s", "qdisc", "show", "dev", pair.IfA).CombinedOutput()
		return err == nil && strings.Contains(string(out), "backlog 0b 0p")
	}, "the qdisc on %s never emptied", pair.IfA)
}

// knowB gives A B's MAC address, so that A sends without asking (an ARP
// request would pass the shaper too, and B answers none tagged).
func knowB(t *testing.T, pair *testutil.Pair) {
	t.Helper()
	mac := macOf(t, pair.NsB, pair.IfB)
	if out, err := exec.Command("ip", "-n", pair.NsA, "neigh", "replace", pair.AddrB, "lladdr", mac.String(), "dev", pair.IfA).CombinedOutput(); err != nil {
		t.Fatalf("ip neigh: %v %s", err, out)
	}
}

// sendOut sends one datagram per size from A to B's port as fast as the
// socket takes them (what the shaper drops is not an error to the sender),
// each payload starting with its tag, and returns how many B received
// once A's qdisc has let go of all it kept.
func sendOut(t *testing.T, pair *testutil.Pair, port int, sizes []int) int {
	t.Helper()
	sink := listenUDP(t, pair.NsB, net.JoinHostPort(pair.AddrB, strconv.Itoa(port)))
	defer sink.conn.Close()
	tx := dialUDP(t, pair.NsA, net.JoinHostPort(pair.AddrB, strconv.Itoa(port)))
	defer tx.Close()
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		copy(p, tag(i))
		_, _ = tx.Write(p) // a datagram the qdisc drops is no error here
	}
	waitQdiscEmpty(t, pair)
	// What left A reaches B's socket; what B received so far is what the
	// captures must have seen at least.
	return int(sink.n.Load())
}

// xmitLinks lists the tracing links of bpftop-cap's transmit program.
func xmitLinks(t *testing.T) []link.ID {
	t.Helper()
	var ids []link.ID
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil || info.Type != link.TracingType && info.Type != link.RawTracepointType {
			continue
		}
		p, err := ebpf.NewProgramFromID(info.Program)
		if err != nil {
			continue
		}
		pi, err := p.Info()
		p.Close()
		if err == nil && pi.Name == "capture_xmit" {
			ids = append(ids, info.ID)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestEgressAtXmitOnShaper: behind a token bucket that drops most of a
// fast stream, egress recorded at transmit (the default there) is what
// tcpdump records, datagram for datagram and byte for byte; recorded at
// tc egress (--egress-at tc), it is every datagram handed to the qdisc,
// those it dropped included. The first lines say which; the transmit
// hook's link is gone when the capture is.
func TestEgressAtXmitOnShaper(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	pair := testutil.NewPair(t)
	shape(t, pair)
	knowB(t, pair)
	const n = 100
	sizes := slices.Repeat([]int{1000}, n)
	for i, tc := range []struct {
		name, note, first string
		args              []string
	}{
		{"auto", "egress on " + pair.IfA + " is recorded at transmit, after its tbf qdisc", "(tcx, egress at xmit, inout", nil},
		{"tc", "egress on " + pair.IfA + " is recorded before its tbf qdisc", "(tcx, inout", []string{"--egress-at", "tc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ours, theirs := filepath.Join(dir, "ours.pcap"), filepath.Join(dir, "tcpdump.pcap")
			td := startTcpdump(t, pair, theirs)
			before := xmitLinks(t)
			p := startCapture(t, pair, append([]string{"-w", ours}, append(tc.args, "udp")...)...)
			ours0 := slices.DeleteFunc(xmitLinks(t), func(id link.ID) bool { return slices.Contains(before, id) })
			if got := len(ours0); (tc.name == "auto") != (got == 1) {
				t.Errorf("%d new links of the transmit program while capturing", got)
			}
			received := sendOut(t, pair, 9800+i, sizes)
			if received == 0 || received >= n {
				t.Fatalf("B received %d of %d datagrams: the shaper should pass some and drop most", received, n)
			}
			testutil.Eventually(t, 10*time.Second, func() bool {
				return len(byTag(t, readGrowingPcap(t, theirs), "tcpdump")) >= received
			}, "tcpdump never wrote the %d datagrams B received", received)
			if err := p.stop(t, syscall.SIGINT); err != nil {
				t.Fatalf("bpftop-cap: %v\n%s", err, p.stderr)
			}
			_ = td.stop(t, syscall.SIGINT)
			stderr := p.stderr.String()
			if !strings.Contains(stderr, tc.note) || !strings.Contains(stderr, tc.first) {
				t.Errorf("the first lines do not say %q and %q:\n%s", tc.note, tc.first, stderr)
			}
			for _, id := range ours0 {
				if slices.Contains(xmitLinks(t), id) {
					t.Errorf("the transmit hook's link %d outlived the capture", id)
				}
			}
			requireNothingAttached(t, pair)

			got, want := byTag(t, readPcap(t, ours), "ours"), byTag(t, readPcap(t, theirs), "tcpdump")
			t.Logf("%d datagrams sent, %d received by B; recorded: ours %d, tcpdump %d", n, received, len(got), len(want))
			if _, lost, _ := summary(t, stderr); lost != 0 {
				t.Errorf("%d lost in ring", lost)
			}
			if tc.name == "tc" {
				// Every datagram passed tc egress; tcpdump saw those that left.
				if len(got) != n || len(want) >= n {
					t.Fatalf("at tc egress: ours %d, tcpdump %d; want all %d and fewer", len(got), len(want), n)
				}
				for i := range want {
					if _, ok := got[i]; !ok {
						t.Errorf("datagram %d transmitted (tcpdump) and not recorded at tc egress", i)
					}
				}
				return
			}
			if len(got) != len(want) {
				t.Errorf("at transmit: ours %d datagrams, tcpdump %d", len(got), len(want))
			}
			var gotBytes, wantBytes int
			for i, w := range want {
				wantBytes += w.ci.Length
				g, ok := got[i]
				if !ok {
					t.Errorf("datagram %d: transmitted (tcpdump) and not recorded", i)
					continue
				}
				gotBytes += g.ci.Length
				if !bytes.Equal(g.data, w.data) || g.ci.Length != w.ci.Length {
					t.Errorf("datagram %d differs (wire %d vs %d)", i, g.ci.Length, w.ci.Length)
				}
			}
			for i := range got {
				if _, ok := want[i]; !ok {
					t.Errorf("datagram %d recorded at transmit, not seen by tcpdump", i)
				}
			}
			if gotBytes != wantBytes {
				t.Errorf("bytes: ours %d, tcpdump %d", gotBytes, wantBytes)
			}
		})
	}
}

// pushVLAN attaches to A's tcx egress a program that puts VLAN tag 100,
// priority 3, on every packet into the skb's metadata, as a VLAN device
// over a NIC with tag offload hands it to the driver; detached at cleanup.
func pushVLAN(t *testing.T, pair *testutil.Pair) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "vlan_push", Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R2, 0x0081), // htons(ETH_P_8021Q), R1 is the skb
			asm.Mov.Imm(asm.R3, 100|3<<13),
			asm.FnSkbVlanPush.Call(),
			asm.Mov.Imm(asm.R0, -1), // TCX_NEXT
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatalf("load vlan_push: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	err = testutil.InNetns(pair.NsA, func() error {
		lnk, err := netlink.LinkByName(pair.IfA)
		if err != nil {
			return err
		}
		l, err := link.AttachTCX(link.TCXOptions{Interface: lnk.Attrs().Index, Program: prog, Attach: ebpf.AttachTCXEgress})
		if err != nil {
			return err
		}
		t.Cleanup(func() { l.Close() })
		return nil
	})
	if err != nil {
		t.Fatalf("attach vlan_push to %s: %v", pair.IfA, err)
	}
}

// TestEgressAtXmitVLAN: asked for on an interface without a shaper
// (--egress-at xmit), egress is recorded at transmit; a VLAN tag the
// kernel hands the driver out of the frame is put back, and the frames
// are tcpdump's byte for byte.
func TestEgressAtXmitVLAN(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	pair := testutil.NewPair(t)
	knowB(t, pair)
	pushVLAN(t, pair)
	dir := t.TempDir()
	ours, theirs := filepath.Join(dir, "ours.pcap"), filepath.Join(dir, "tcpdump.pcap")
	td := startTcpdump(t, pair, theirs)
	p := startCapture(t, pair, "-w", ours, "--egress-at", "xmit", "udp")
	const n = 5
	sizes := []int{40, 200, 700, 1400, 60}
	_ = sendOut(t, pair, 9810, sizes)
	testutil.Eventually(t, 10*time.Second, func() bool {
		return len(byTag(t, readGrowingPcap(t, theirs), "tcpdump")) >= n
	}, "tcpdump never wrote the %d datagrams", n)
	if err := p.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("bpftop-cap: %v\n%s", err, p.stderr)
	}
	_ = td.stop(t, syscall.SIGINT)
	if s := p.stderr.String(); !strings.Contains(s, "(tcx, egress at xmit, inout") || strings.Contains(s, "qdisc") {
		t.Errorf("first lines:\n%s", s)
	}
	got, want := byTag(t, readPcap(t, ours), "ours"), byTag(t, readPcap(t, theirs), "tcpdump")
	if len(got) != n || len(want) != n {
		t.Fatalf("tagged datagrams: bpftop-cap %d, tcpdump %d, want %d", len(got), len(want), n)
	}
	for i := range n {
		g, w := got[i], want[i]
		if !bytes.Equal(g.data, w.data) || g.ci.Length != w.ci.Length {
			t.Errorf("datagram %d differs (wire %d vs %d):\nours    %x\ntcpdump %x", i, g.ci.Length, w.ci.Length, g.data, w.data)
		}
		if et := uint16(g.data[12])<<8 | uint16(g.data[13]); et != 0x8100 {
			t.Errorf("datagram %d: EtherType %#04x after the MACs, want the tag's 0x8100", i, et)
		}
	}
}

// TestEgressAtXmitPcapng: in pcapng, each packet's comment names the hook
// that recorded it: tc for what arrives, xmit for what leaves; tshark
// reads them back with the directions.
func TestEgressAtXmitPcapng(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tshark")
	pair := testutil.NewPair(t)
	out := filepath.Join(t.TempDir(), "cap.pcapng")
	bc := startCapture(t, pair, "-w", out, "--egress-at", "xmit", "tcp")
	mixedTraffic(t, pair)
	if err := bc.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("exit: %v\n%s", err, bc.stderr)
	}
	captured, _, _ := summary(t, bc.stderr.String())
	fields, err := exec.Command("tshark", "-r", out, "-T", "fields", "-E", "separator=|",
		"-e", "frame.comment", "-e", "frame.packet_flags_direction").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	seen := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(fields)), "\n") {
		comments, dir, _ := strings.Cut(l, "|")
		seen[strings.Split(comments, ",")[0]+"|"+dir]++ // the hook's comment, then the process's
	}
	in, outs := seen["hook: tc|0x00000001"], seen["hook: xmit|0x00000002"]
	if in == 0 || outs == 0 || in+outs != captured {
		t.Errorf("tshark reads %v of %d packets, want every arriving one from tc and every leaving one from xmit", seen, captured)
	}
	info, err := exec.Command("capinfos", out).CombinedOutput()
	if err != nil {
		t.Fatalf("capinfos: %v\n%s", err, info)
	}
	if !strings.Contains(string(info), "tcx, egress at xmit") {
		t.Errorf("the interface's description does not say egress at xmit:\n%s", info)
	}
}
