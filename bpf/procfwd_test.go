package bpf

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// udp6To builds an Ethernet frame holding an IPv6 UDP datagram.
func udp6To(t testing.TB, src, dst *net.UDPAddr) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: src.IP, DstIP: dst.IP}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port), DstPort: layers.UDPPort(dst.Port)}
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload("proc")); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// toMAC sets frame's destination MAC to all bytes b.
func toMAC(frame []byte, b byte) []byte {
	for i := range 6 {
		frame[i] = b
	}
	return frame
}

// TestProcIngressWildcard: a datagram on the port of a socket bound to
// 0.0.0.0 or :: names the socket's owner when it is for this host, and
// no one when the host would forward it (the kernel's socket lookup at tc
// finds the socket for both): IPv4 and IPv6, with forwarding on; with it
// off, a frame addressed to the interface is the host's or dropped, and
// names the owner, while one for another MAC (switched past the host, as
// on a bridge's port) names no one; IPv4 broadcast and multicast, which
// the stack takes before its route lookup, are the host's either way.
// (BPF_PROG_TEST_RUN takes a frame as arriving on lo: its MAC is zero.)
func TestProcIngressWildcard(t *testing.T) {
	pair := testutil.NewPair(t)
	root := cgroupRoot(t)
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"netns", "exec", pair.NsA}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.lo.disable_ipv6=0")
	sh("ip", "route", "add", "default", "via", pair.AddrB) // broadcast and multicast would follow it
	sh("ip", "route", "add", "203.0.113.0/24", "via", pair.AddrB)
	sh("ip", "-6", "route", "add", "2001:db8::/64", "dev", "lo")
	o, rd := loadWithReader(t, Config{Snaplen: 128, In: true, Out: true, Proc: true})
	if why := o.ProcUnavailable(); why != "" {
		t.Fatalf("attribution unavailable: %s", why)
	}
	if _, err := o.AttachProc(root); err != nil {
		t.Fatal(err)
	}
	var v4, v6 *net.UDPConn
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		if v4, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero}); err != nil {
			return err
		}
		v6, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer v4.Close()
	defer v6.Close()
	p4, p6 := v4.LocalAddr().(*net.UDPAddr).Port, v6.LocalAddr().(*net.UDPAddr).Port
	peer4 := &net.UDPAddr{IP: net.ParseIP("198.51.100.9"), Port: 999}
	peer6 := &net.UDPAddr{IP: net.ParseIP("2001:db8:1::9"), Port: 999}
	me := uint32(os.Getpid())
	for _, tc := range []struct {
		name    string
		forward bool
		frame   []byte
		want    uint32
	}{
		{"v4 loopback", true, udpTo(t, peer4, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p4}), me},
		{"v4 the host's address", true, udpTo(t, peer4, &net.UDPAddr{IP: net.ParseIP(pair.AddrA), Port: p4}), me},
		{"v4 routed", true, udpTo(t, peer4, &net.UDPAddr{IP: net.ParseIP("203.0.113.5"), Port: p4}), 0},
		{"v6 loopback", true, udp6To(t, peer6, &net.UDPAddr{IP: net.IPv6loopback, Port: p6}), me},
		{"v6 routed", true, udp6To(t, peer6, &net.UDPAddr{IP: net.ParseIP("2001:db8::5"), Port: p6}), 0},
		{"v4 no forwarding, another MAC", false, udpTo(t, peer4, &net.UDPAddr{IP: net.ParseIP("203.0.113.5"), Port: p4}), 0},
		{"v6 no forwarding, another MAC", false, udp6To(t, peer6, &net.UDPAddr{IP: net.ParseIP("2001:db8::5"), Port: p6}), 0},
		{"v4 no forwarding, its MAC", false, toMAC(udpTo(t, peer4, &net.UDPAddr{IP: net.ParseIP("203.0.113.5"), Port: p4}), 0), me},
		{"v6 no forwarding, its MAC", false, toMAC(udp6To(t, peer6, &net.UDPAddr{IP: net.ParseIP("2001:db8::5"), Port: p6}), 0), me},
		{"v4 broadcast", true, udpTo(t, peer4, &net.UDPAddr{IP: net.IPv4bcast, Port: p4}), me},
		{"v4 multicast", true, udpTo(t, peer4, &net.UDPAddr{IP: net.ParseIP("239.255.255.250"), Port: p4}), me},
	} {
		fwd := "0"
		if tc.forward {
			fwd = "1"
		}
		sh("sysctl", "-qw", "net.ipv4.ip_forward="+fwd, "net.ipv6.conf.all.forwarding="+fwd)
		// BPF_PROG_TEST_RUN looks sockets and routes up in the
		// namespace of the thread that runs it.
		if err := testutil.InNetns(pair.NsA, func() error {
			_, err := o.objs.CaptureTcIngress.Run(&ebpf.RunOptions{Data: tc.frame})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if hdr, _ := nextRecord(t, rd, tc.name); hdr.Pid != tc.want {
			t.Errorf("%s: pid %d, want %d", tc.name, hdr.Pid, tc.want)
		}
	}
}
