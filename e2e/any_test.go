package e2e

import (
	"bytes"
	be "encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/ipv4"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// anyPeer is a veth in the capture's namespace whose other end is alone in
// a namespace of its own, so that each packet crosses the captured
// namespace's interfaces once (tcpdump -i any sees a packet on both ends
// of a veth whose two ends it captures).
type anyPeer struct {
	name, ns, peer string // our end, the peer's namespace and its end
	addr, peerAddr string
}

// addAnyPeer makes the veth name in namespace ns with its peer in a new
// namespace, on the /24 10.211.subnet.0, up, without IPv6 chatter.
func addAnyPeer(t *testing.T, ns, name string, subnet int) *anyPeer {
	t.Helper()
	p := &anyPeer{name: name, ns: fmt.Sprintf("bpc-any-%d-%s", os.Getpid()%100000, name), peer: name + "p",
		addr: fmt.Sprintf("10.211.%d.1", subnet), peerAddr: fmt.Sprintf("10.211.%d.2", subnet)}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", p.ns).Run() })
	for _, c := range [][]string{
		{"netns", "add", p.ns},
		{"netns", "exec", p.ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
		{"netns", "exec", p.ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"},
		{"link", "add", name, "netns", ns, "type", "veth", "peer", "name", p.peer, "netns", p.ns},
		{"-n", ns, "addr", "add", p.addr + "/24", "dev", name},
		{"-n", p.ns, "addr", "add", p.peerAddr + "/24", "dev", p.peer},
		{"-n", ns, "link", "set", name, "up"},
		{"-n", p.ns, "link", "set", p.peer, "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return p
}

// sendTagged sends datagrams tagged first, first+1, ... from fromAddr in
// namespace fromNs to toAddr:port in toNs, where a socket takes them (no
// ICMP comes back), and waits until it has them all: the capture hooks on
// their way ran.
func sendTagged(t *testing.T, fromNs, fromAddr, toNs, toAddr string, port, first, n int) {
	t.Helper()
	sink := listenUDP(t, toNs, net.JoinHostPort(toAddr, strconv.Itoa(port)))
	var c net.PacketConn
	if err := testutil.InNetns(fromNs, func() (err error) {
		c, err = net.ListenPacket("udp4", net.JoinHostPort(fromAddr, "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := &net.UDPAddr{IP: net.ParseIP(toAddr), Port: port}
	for i := first; i < first+n; i++ {
		if _, err := c.WriteTo([]byte(tag(i)+strings.Repeat("x", i)), dst); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return sink.n.Load() >= int64(n) },
		"datagrams %d-%d from %s to %s:%d not received", first, first+n-1, fromNs, toAddr, port)
}

// sendAt sends one tagged datagram from namespace ns to dst (a broadcast,
// multicast or unanswered address: nothing is to receive it), out of
// interface ifname.
func sendAt(t *testing.T, ns, ifname, from string, dst *net.UDPAddr, i int) {
	t.Helper()
	if err := testutil.InNetns(ns, func() error {
		c, err := net.ListenPacket("udp4", net.JoinHostPort(from, "0"))
		if err != nil {
			return err
		}
		defer c.Close()
		sc, _ := c.(*net.UDPConn).SyscallConn()
		_ = sc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1) })
		if dst.IP.IsMulticast() {
			ifi, err := net.InterfaceByName(ifname)
			if err != nil {
				return err
			}
			if err := ipv4.NewPacketConn(c).SetMulticastInterface(ifi); err != nil {
				return err
			}
		}
		_, err = c.WriteTo([]byte(tag(i)), dst)
		return err
	}); err != nil {
		t.Fatalf("send %d to %v: %v", i, dst, err)
	}
}

// sll2 is a LINUX_SLL2 record's header fields.
type sll2 struct {
	proto   uint16
	ifindex int
	hatype  uint16
	pkttype byte
}

func parseSLL2(t *testing.T, b []byte) sll2 {
	t.Helper()
	if len(b) < 20 {
		t.Fatalf("record of %d bytes, shorter than a LINUX_SLL2 header", len(b))
	}
	return sll2{be.BigEndian.Uint16(b[0:2]), int(be.BigEndian.Uint32(b[4:8])), be.BigEndian.Uint16(b[8:10]), b[10]}
}

// TestAnyInterface: -i any captures every interface of the namespace (two
// veths, lo, one deleted during the capture, one created during it), and
// writes each packet's LINUX_SLL2 record byte for byte as tcpdump -i any
// writes it: the packet types a destination MAC gives (host, broadcast,
// multicast, another host), outgoing packets, lo once, VLAN tags left
// out. The pcapng file names each packet's interface.
func TestAnyInterface(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	testutil.RequireTool(t, "tshark")
	pair := testutil.NewPair(t) // namespace A, the captured one, and veth IfA to B
	ns := pair.NsA
	if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v %s", err, out)
	}
	second := addAnyPeer(t, ns, "bpany1", 1)
	gone := addAnyPeer(t, ns, "bpanyg", 2)
	index := map[string]int{}
	for _, name := range []string{pair.IfA, second.name, gone.name, "lo"} {
		if err := testutil.InNetns(ns, func() error {
			ifi, err := net.InterfaceByName(name)
			if err == nil {
				index[name] = ifi.Index
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	ours, oursNg, theirs := filepath.Join(dir, "any.pcap"), filepath.Join(dir, "any.pcapng"), filepath.Join(dir, "tcpdump.pcap")
	ready, readyNg := filepath.Join(dir, "ready"), filepath.Join(dir, "ready-ng")
	p := start(t, ns, binary, "-i", "any", "-w", ours, "--ready-file", ready)
	png := start(t, ns, binary, "-i", "any", "-w", oursNg, "--ready-file", readyNg)
	td := start(t, ns, "tcpdump", "-i", "any", "--immediate-mode", "-B", "65536", "-U", "-nn", "-s", "262144", "-w", theirs)
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Stat(ready)
		_, err2 := os.Stat(readyNg)
		return err == nil && err2 == nil && strings.Contains(td.stderr.String(), "listening on")
	}, "captures never started:\n%s\n%s\n%s", p.stderr, png.stderr, td.stderr)
	if want := "capturing on any (tcx, inout), link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes"; !strings.Contains(p.stderr.String(), want) {
		t.Errorf("first line is not %q:\n%s", want, p.stderr)
	}

	// want[i]: the interface and packet type datagram i is captured with.
	type seen struct {
		iface   string
		pkttype byte
	}
	want := map[int]seen{}
	expect := func(first, n int, iface string, pkttype byte) {
		for i := first; i < first+n; i++ {
			want[i] = seen{iface, pkttype}
		}
	}
	const host, broadcast, multicast, otherhost, outgoing = 0, 1, 2, 3, 4

	// The first veth: in and out; a broadcast, a multicast and a datagram
	// to another MAC arriving; VLAN-tagged frames (tags 0-2) arriving.
	sendTagged(t, pair.NsB, pair.AddrB, ns, pair.AddrA, 9601, 10, 3)
	expect(10, 3, pair.IfA, host)
	sendTagged(t, ns, pair.AddrA, pair.NsB, pair.AddrB, 9602, 20, 3)
	expect(20, 3, pair.IfA, outgoing)
	bcast := net.ParseIP(pair.AddrA).To4()
	sendAt(t, pair.NsB, pair.IfB, pair.AddrB, &net.UDPAddr{IP: net.IPv4(bcast[0], bcast[1], bcast[2], 255), Port: 9603}, 30)
	expect(30, 1, pair.IfA, broadcast)
	sendAt(t, pair.NsB, pair.IfB, pair.AddrB, &net.UDPAddr{IP: net.IPv4(239, 1, 2, 3), Port: 9604}, 31)
	expect(31, 1, pair.IfA, multicast)
	other := net.IPv4(bcast[0], bcast[1], bcast[2], 9).String()
	if out, err := exec.Command("ip", "-n", pair.NsB, "neigh", "add", other, "lladdr", "02:00:00:00:00:09", "dev", pair.IfB, "nud", "permanent").CombinedOutput(); err != nil {
		t.Fatalf("ip neigh: %v %s", err, out)
	}
	sendAt(t, pair.NsB, pair.IfB, pair.AddrB, &net.UDPAddr{IP: net.ParseIP(other), Port: 9605}, 32)
	expect(32, 1, pair.IfA, otherhost)
	injectTagged(t, pair, []layers.EthernetType{layers.EthernetTypeDot1Q}, []uint16{100}, 2)
	expect(0, 2, pair.IfA, host)
	// The second veth, lo (in only: once), and the veth that then goes.
	sendTagged(t, second.ns, second.peerAddr, ns, second.addr, 9611, 40, 3)
	expect(40, 3, second.name, host)
	sendTagged(t, ns, second.addr, second.ns, second.peerAddr, 9612, 50, 3)
	expect(50, 3, second.name, outgoing)
	sendTagged(t, ns, "127.0.0.1", ns, "127.0.0.1", 9621, 60, 3)
	expect(60, 3, "lo", host)
	sendTagged(t, gone.ns, gone.peerAddr, ns, gone.addr, 9631, 70, 3)
	expect(70, 3, gone.name, host)
	sendTagged(t, ns, gone.addr, gone.ns, gone.peerAddr, 9632, 80, 3)
	expect(80, 3, gone.name, outgoing)
	if out, err := exec.Command("ip", "-n", ns, "link", "del", gone.name).CombinedOutput(); err != nil {
		t.Fatalf("delete %s: %v %s", gone.name, err, out)
	}
	// A veth that appears: attached when it does (its datagrams wait for
	// that, since a packet before the attach is not captured).
	late := addAnyPeer(t, ns, "bpanyl", 3)
	testutil.Eventually(t, 10*time.Second, func() bool {
		progs, err := testutil.Attached(ns, late.name)
		return err == nil && len(progs) >= 4 // two captures, ingress and egress
	}, "%s never attached:\n%s\n%s", late.name, p.stderr, png.stderr)
	if err := testutil.InNetns(ns, func() error {
		ifi, err := net.InterfaceByName(late.name)
		if err == nil {
			index[late.name] = ifi.Index
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sendTagged(t, late.ns, late.peerAddr, ns, late.addr, 9641, 90, 3)
	expect(90, 3, late.name, host)
	sendTagged(t, ns, late.addr, late.ns, late.peerAddr, 9642, 100, 3)
	expect(100, 3, late.name, outgoing)

	testutil.Eventually(t, 10*time.Second, func() bool {
		return len(byTag(t, readGrowingPcap(t, theirs), "tcpdump (so far)")) >= len(want)
	}, "tcpdump did not see the %d datagrams:\n%s", len(want), td.stderr)
	for _, c := range []*proc{p, png} {
		if err := c.stop(t, syscall.SIGINT); err != nil {
			t.Fatalf("exit: %v\n%s", err, c.stderr)
		}
	}
	_ = td.stop(t, syscall.SIGINT)
	for _, name := range []string{pair.IfA, second.name, late.name, "lo"} {
		if left, err := testutil.Attached(ns, name); err != nil || len(left) > 0 {
			t.Errorf("%s after exit: attached %v (%v)", name, left, err)
		}
	}

	// Every datagram, on its interface, with its packet type, once.
	got := readPcap(t, ours)
	name := map[int]string{}
	for n, i := range index {
		name[i] = n
	}
	for i, f := range byTag(t, got, "bpftop-cap -i any") {
		h := parseSLL2(t, f.data)
		w, ok := want[i]
		switch {
		case !ok:
			t.Errorf("datagram %d: not sent", i)
		case name[h.ifindex] != w.iface || h.pkttype != w.pkttype:
			t.Errorf("datagram %d: on %q (ifindex %d) packet type %d, want %s type %d", i, name[h.ifindex], h.ifindex, h.pkttype, w.iface, w.pkttype)
		case h.proto != 0x0800:
			t.Errorf("datagram %d: protocol %#04x, want IPv4 (the VLAN tag left out)", i, h.proto)
		}
		delete(want, i)
	}
	for i, w := range want {
		t.Errorf("datagram %d (%s, type %d) not captured", i, w.iface, w.pkttype)
	}

	// Byte for byte tcpdump's records (ARP included), in any order.
	records := func(fs []frame) []string {
		var s []string
		for _, f := range fs {
			s = append(s, fmt.Sprintf("%d/%d %x", f.ci.CaptureLength, f.ci.Length, f.data))
		}
		sort.Strings(s)
		return s
	}
	a, b := records(got), records(readPcap(t, theirs))
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("records differ from tcpdump -i any's (%d against %d):\nours:\n%s\ntcpdump:\n%s", len(a), len(b), strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	for _, f := range []string{ours, theirs} {
		if b, err := os.ReadFile(f); err != nil || len(b) < 24 || be.LittleEndian.Uint32(b[20:24]) != 276 {
			t.Errorf("%s: not LINUX_SLL2 (%v)", f, err)
		}
	}
	if n := tcpdumpCount(t, ours); n != len(got) {
		t.Errorf("tcpdump -r reads %d packets of %d", n, len(got))
	}
	out, err := exec.Command("tshark", "-r", ours, "-T", "fields", "-e", "sll.ifindex").Output()
	if err != nil || strings.Count(string(out), "\n") != len(got) {
		t.Errorf("tshark -r %s: %v, %d lines for %d packets", ours, err, strings.Count(string(out), "\n"), len(got))
	}

	// pcapng: each packet under its interface's name, the one that came
	// later and the one that went included; the same records.
	out, err = exec.Command("tshark", "-r", oursNg, "-T", "fields", "-E", "separator=|", "-e", "frame.interface_name", "-e", "sll.ifindex", "-e", "sll.pkttype").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", oursNg, err)
	}
	perIface := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "|")
		i, _ := strconv.Atoi(f[1])
		if len(f) != 3 || name[i] != f[0] {
			t.Errorf("pcapng packet %q: interface name is not ifindex %d's (%q)", l, i, name[i])
		}
		perIface[f[0]]++
	}
	for _, n := range []string{pair.IfA, second.name, gone.name, late.name, "lo"} {
		if perIface[n] == 0 {
			t.Errorf("pcapng: no packet on %s: %v", n, perIface)
		}
	}
	info, err := exec.Command("tshark", "-r", oursNg, "-T", "fields", "-e", "frame.interface_id").Output()
	if err != nil || bytes.Count(info, []byte("\n")) != len(got) {
		t.Errorf("pcapng holds %d packets, the pcap %d (%v)", bytes.Count(info, []byte("\n")), len(got), err)
	}
}

// TestAnyRefusals: what -i any does not go with says so in one line.
func TestAnyRefusals(t *testing.T) {
	testutil.RequireRoot(t)
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	tun := openTun(t, pair.NsA, "bpcanytun", "10.78.0.1")
	defer tun.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "any," + pair.IfA, "-w", filepath.Join(dir, "x.pcap")}, "give no other"},
		{[]string{"-i", "any", "--xdp", "-w", filepath.Join(dir, "x.pcap")}, "drop --xdp"},
		// A tun device (RAW) beside the veth (Ethernet): one filter
		// cannot serve both.
		{[]string{"-i", "any", "-w", filepath.Join(dir, "x.pcap"), "udp"}, "needs interfaces of one link type"},
	} {
		out, err := testutil.Cmd(pair.NsA, binary, tc.args...).CombinedOutput()
		if err == nil || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: %v\n%s", tc.args, err, out)
		}
	}
	// Down, the tun device does not decide the filter's link type: it is
	// passed over, and says so.
	if out, err := exec.Command("ip", "-n", pair.NsA, "link", "set", "bpcanytun", "down").CombinedOutput(); err != nil {
		t.Fatalf("ip: %v %s", err, out)
	}
	ready := filepath.Join(dir, "ready")
	p := start(t, pair.NsA, binary, "-i", "any", "-w", filepath.Join(dir, "y.pcap"), "--ready-file", ready, "udp")
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "not ready:\n%s", p.stderr)
	if err := p.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr)
	}
	if want := "bpftop-cap: not capturing on bpcanytun: it is link-type RAW (Raw IP), and the capture filter was compiled for link-type EN10MB (Ethernet)\n"; !strings.Contains(p.stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, p.stderr)
	}
}

// TestTUIAny runs the live view on -i any: the flows of two veths and of
// one created while it runs show, each with its interface's name in the IF
// column, and w saves LINUX_SLL2 as tcpdump -i any writes it, every
// datagram on its interface.
func TestTUIAny(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	testutil.RequireTool(t, "tmux")
	pair := testutil.NewPair(t)
	ns := pair.NsA
	first := addAnyPeer(t, ns, "bpanyv1", 31)
	dir := t.TempDir()
	s := startLiveView(t, dir, ns, "-i", "any")
	sendTagged(t, first.ns, first.peerAddr, ns, first.addr, 9101, 0, 3)
	later := addAnyPeer(t, ns, "bpanyv2", 32) // comes while capturing
	s.waitFor("the first veth's flow, named", func(text string) bool {
		return regexp.MustCompile(`bpanyv1\s.*UDP\s+10\.211\.31\.1:9101 <-> 10\.211\.31\.2:\d+\s+3 `).MatchString(text) ||
			regexp.MustCompile(`bpanyv1\s.*UDP\s+10\.211\.31\.2:\d+ <-> 10\.211\.31\.1:9101\s+3 `).MatchString(text)
	})
	// The new interface is attached once the kernel says it is there.
	testutil.Eventually(t, 10*time.Second, func() bool {
		progs, err := testutil.Attached(ns, later.name)
		return err == nil && len(progs) > 0
	}, "nothing attached to the veth created during the capture")
	sendTagged(t, later.ns, later.peerAddr, ns, later.addr, 9102, 10, 1)
	s.waitFor("the later veth's flow", contains("bpanyv2"))
	path, saved := saveFromScreen(t, s, dir)
	s.keys("q")
	s.waitExit()
	if lt, n := tcpdumpLinkType(t, path); lt != "LINUX_SLL2" || n != saved {
		t.Errorf("saved %d packets; tcpdump reads %d as link-type %s, want LINUX_SLL2", saved, n, lt)
	}
	// tcpdump names an SLL2 file's interfaces from the reading host's: read
	// it in the captured namespace.
	out, err := testutil.Cmd(ns, "tcpdump", "-nn", "-r", path, "udp").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bpanyv1 In  IP 10.211.31.2", "bpanyv2 In  IP 10.211.32.2"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("tcpdump -r of the saved file has no %q:\n%s", want, out)
		}
	}
	if c := strings.Count(string(out), "10.211.31.1.9101: UDP"); c != 3 {
		t.Errorf("%d datagrams to the first veth in the saved file, want 3:\n%s", c, out)
	}
}

// TestTUIAnyNotesWait: what -i any says of an interface that comes while
// the view is on the screen (a tun device, passed over as the filter is
// compiled for Ethernet) is not written over the view, but after it.
func TestTUIAnyNotesWait(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tmux")
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	s := startLiveView(t, dir, pair.NsA, "-i", "any", "udp")
	tun := openTun(t, pair.NsA, "bpcanyvt", "10.79.0.1")
	defer tun.Close()
	first := addAnyPeer(t, pair.NsA, "bpanyn1", 33) // after the tun: its attach says the tun was seen
	sendTagged(t, first.ns, first.peerAddr, pair.NsA, first.addr, 9201, 0, 2)
	s.waitFor("the flow of the veth created after the tun", contains("bpanyn1"))
	s.keys("q")
	s.waitExit()
	// The screen's stderr goes to a file here, so the order tells: the
	// note comes after the summary line, printed once the view is gone.
	errText := s.errText()
	note, summary := strings.Index(errText, "bpftop-cap: not capturing on bpcanyvt"), strings.Index(errText, "packets captured")
	if note < 0 || summary < 0 || note < summary {
		t.Errorf("stderr does not have the note after the view's summary:\n%s", errText)
	}
}
