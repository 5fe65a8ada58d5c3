package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// openTun makes a tun device (no link-layer header, ARPHRD_NONE) named
// name in namespace ns, held open by this process, with addr/24 up.
func openTun(t *testing.T, ns, name, addr string) *os.File {
	t.Helper()
	var f *os.File
	if err := testutil.InNetns(ns, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		var req [unix.IFNAMSIZ + 64]byte
		copy(req[:], name)
		*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
			unix.Close(fd)
			return e
		}
		f = os.NewFile(uintptr(fd), "tun")
		return nil
	}); err != nil {
		t.Fatalf("tun: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	for _, c := range [][]string{{"-n", ns, "addr", "add", addr + "/24", "dev", name}, {"-n", ns, "link", "set", name, "up"}} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", c, err, out)
		}
	}
	return f
}

// injectUDP writes an IPv4 UDP datagram into a tun device, as its peer
// process: the host receives it from the device.
func injectUDP(t *testing.T, tun *os.File, src, dst net.IP, sport, dport uint16, payload string) {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.To4(), DstIP: dst.To4()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	if _, err := tun.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// TestTunIsRaw: a tun device has no link-layer header; its packets are
// written as LINKTYPE_RAW, each byte for byte as tcpdump writes it, both
// ways: datagrams routed out through it, and datagrams its peer process
// injects.
func TestTunIsRaw(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	pair := testutil.NewPair(t) // for its namespace
	const name = "bpctun0"
	tun := openTun(t, pair.NsA, name, "10.77.0.1")
	go func() { // the peer: drain what is routed out through the device
		buf := make([]byte, 65536)
		for {
			if _, err := tun.Read(buf); err != nil {
				return
			}
		}
	}()
	// -D lists it as RAW, the veth as Ethernet.
	list, err := testutil.Cmd(pair.NsA, binary, "-D").CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^\d+\.`+name+` \[Up[^]]*\] link-type RAW \(Raw IP\); tc \(tcx\), xdp$`).Match(list) ||
		!regexp.MustCompile(`(?m)^\d+\.`+pair.IfA+` \[.*\] link-type EN10MB \(Ethernet\)`).Match(list) ||
		!regexp.MustCompile(`(?m)^any \(Pseudo-device that captures on all interfaces\) \[Up, Running\] link-type LINUX_SLL2 \(Linux cooked v2\); tc \(tcx\)$`).Match(list) {
		t.Errorf("-D: %v\n%s", err, list)
	}
	dir := t.TempDir()
	ours, theirs, ready := filepath.Join(dir, "ours.pcap"), filepath.Join(dir, "tcpdump.pcap"), filepath.Join(dir, "ready")
	p := start(t, pair.NsA, binary, "-i", name, "-w", ours, "--ready-file", ready)
	filtered, ready2 := filepath.Join(dir, "filtered.pcap"), filepath.Join(dir, "ready2")
	pf := start(t, pair.NsA, binary, "-i", name, "-w", filtered, "--ready-file", ready2, "udp", "dst", "port", "9001")
	td := start(t, pair.NsA, "tcpdump", "-i", name, "--immediate-mode", "-B", "65536", "-U", "-nn", "-s", "262144", "-w", theirs)
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Stat(ready)
		_, err2 := os.Stat(ready2)
		return err == nil && err2 == nil && strings.Contains(td.stderr.String(), "listening on")
	}, "captures never started:\n%s\n%s\n%s", p.stderr, pf.stderr, td.stderr)
	if !strings.Contains(p.stderr.String(), "link-type RAW (Raw IP)") {
		t.Errorf("first line does not say RAW:\n%s", p.stderr)
	}

	// Out: 5 datagrams routed through the device.
	var c net.PacketConn
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		c, err = net.ListenPacket("udp4", "10.77.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var rx net.PacketConn // takes the injected datagrams (no port unreachable quoting them)
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		rx, err = net.ListenPacket("udp4", "10.77.0.1:9001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	for i := range 5 {
		if _, err := c.WriteTo([]byte(tag(i)), &net.UDPAddr{IP: net.IPv4(10, 77, 0, 2), Port: 9000}); err != nil {
			t.Fatal(err)
		}
	}
	// In: 5 datagrams the peer writes into the device.
	for i := 5; i < 10; i++ {
		injectUDP(t, tun, net.IPv4(10, 77, 0, 2), net.IPv4(10, 77, 0, 1), 9000, 9001, tag(i))
	}
	time.Sleep(200 * time.Millisecond)
	_ = p.stop(t, syscall.SIGINT)
	_ = pf.stop(t, syscall.SIGINT)
	_ = td.stop(t, syscall.SIGINT)

	for _, f := range []string{ours, theirs} {
		b, err := os.ReadFile(f)
		if err != nil || len(b) < 24 {
			t.Fatalf("%s: %v", f, err)
		}
		if lt := uint32(b[20]) | uint32(b[21])<<8 | uint32(b[22])<<16 | uint32(b[23])<<24; lt != 101 {
			t.Errorf("%s: link type %d, want 101 (RAW)", filepath.Base(f), lt)
		}
	}
	got, want := byTag(t, readPcap(t, ours), "ours"), byTag(t, readPcap(t, theirs), "tcpdump")
	if len(got) != 10 || len(want) != 10 {
		t.Fatalf("datagrams: bpftop-cap %d, tcpdump %d, want 10 each", len(got), len(want))
	}
	for i := range 10 {
		if !bytes.Equal(got[i].data, want[i].data) {
			t.Errorf("datagram %d differs:\nours    %x\ntcpdump %x", i, got[i].data, want[i].data)
		}
	}
	// The capture filter, compiled for RAW, kept the injected datagrams
	// (to 9001) and only them, as they are in the full capture.
	kept := byTag(t, readPcap(t, filtered), "filtered")
	if len(kept) != 5 {
		t.Errorf("udp dst port 9001 on %s kept %d datagrams, want the 5 injected", name, len(kept))
	}
	for i, f := range kept {
		if i < 5 || !bytes.Equal(f.data, got[i].data) {
			t.Errorf("filtered datagram %d: not one of the injected ones, or not as in the full capture", i)
		}
	}
	// What Raw IP has not: refused in one line.
	out, err := testutil.Cmd(pair.NsA, binary, "-i", name, "-w", filepath.Join(dir, "f.pcap"), "vlan").CombinedOutput()
	if err == nil || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), "no VLAN support for Raw IP") {
		t.Errorf("vlan on a tun device: %v\n%s", err, out)
	}
}
