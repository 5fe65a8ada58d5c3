package e2e

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// macOf returns the MAC address of ifname in namespace ns.
func macOf(t *testing.T, ns, ifname string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	if err := testutil.InNetns(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// injectTagged sends n UDP datagrams to A as raw frames from B's side of
// the veth, each with the VLAN tags given (outermost first: 802.1ad then
// 802.1Q for QinQ). Arriving at A, the kernel moves the outer tag into the
// skb's metadata, as a NIC with VLAN offload does.
func injectTagged(t *testing.T, pair *testutil.Pair, tags []layers.EthernetType, ids []uint16, n int) {
	t.Helper()
	injectTaggedFrom(t, pair, tags, ids, 0, n)
}

// injectTaggedFrom is injectTagged with the datagrams tagged first,
// first+1 ...; tags of just IPv4 and no ids send untagged frames.
func injectTaggedFrom(t *testing.T, pair *testutil.Pair, tags []layers.EthernetType, ids []uint16, first, n int) {
	t.Helper()
	src, dst := macOf(t, pair.NsB, pair.IfB), macOf(t, pair.NsA, pair.IfA)
	var fd int
	var ifindex int
	if err := testutil.InNetns(pair.NsB, func() (err error) {
		ifi, err := net.InterfaceByName(pair.IfB)
		if err != nil {
			return err
		}
		ifindex = ifi.Index
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for i := range n {
		ls := []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: tags[0]}}
		for j, id := range ids {
			next := layers.EthernetTypeIPv4
			if j+1 < len(tags) {
				next = tags[j+1]
			}
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: id, Priority: uint8(j), Type: next})
		}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.ParseIP(pair.AddrB).To4(), DstIP: net.ParseIP(pair.AddrA).To4()}
		udp := &layers.UDP{SrcPort: 4000, DstPort: 9700}
		_ = udp.SetNetworkLayerForChecksum(ip)
		ls = append(ls, ip, udp, gopacket.Payload(tag(first+i)))
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
		copy(sa.Addr[:], dst)
		if err := unix.Sendto(fd, buf.Bytes(), 0, sa); err != nil {
			t.Fatalf("inject: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestVLANTagsPutBack: frames tagged 802.1Q, and QinQ, arriving on tc
// ingress (where the kernel has taken the outer tag out of the frame) and
// on XDP (where it has not) are written byte for byte as tcpdump writes
// them, tags in place.
func TestVLANTagsPutBack(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	for _, tc := range []struct {
		name string
		tags []layers.EthernetType
		ids  []uint16
		args []string
	}{
		{"802.1Q on tc", []layers.EthernetType{layers.EthernetTypeDot1Q}, []uint16{100}, nil},
		{"QinQ on tc", []layers.EthernetType{layers.EthernetTypeQinQ, layers.EthernetTypeDot1Q}, []uint16{200, 100}, nil},
		{"802.1Q on XDP", []layers.EthernetType{layers.EthernetTypeDot1Q}, []uint16{100}, []string{"--xdp"}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			pair := testutil.NewPair(t)
			dir := t.TempDir()
			ours, theirs, ready := filepath.Join(dir, "ours.pcap"), filepath.Join(dir, "tcpdump.pcap"), filepath.Join(dir, "ready")
			p := start(t, pair.NsA, binary, append([]string{"-i", pair.IfA, "-Q", "in", "-w", ours, "--ready-file", ready}, tc.args...)...)
			td := start(t, pair.NsA, "tcpdump", "-i", pair.IfA, "-Q", "in", "--immediate-mode", "-B", "65536", "-U", "-nn", "-s", "262144", "-w", theirs)
			testutil.Eventually(t, 10*time.Second, func() bool {
				_, err := os.Stat(ready)
				return err == nil && strings.Contains(td.stderr.String(), "listening on")
			}, "captures never started:\n%s\n%s", p.stderr, td.stderr)
			const n = 10
			injectTagged(t, pair, tc.tags, tc.ids, n)
			time.Sleep(200 * time.Millisecond)
			_ = p.stop(t, syscall.SIGINT)
			_ = td.stop(t, syscall.SIGINT)
			got, want := byTag(t, readPcap(t, ours), "ours"), byTag(t, readPcap(t, theirs), "tcpdump")
			if len(got) != n || len(want) != n {
				t.Fatalf("tagged datagrams: bpftop-cap %d, tcpdump %d, want %d", len(got), len(want), n)
			}
			for i := range n {
				g, w := got[i], want[i]
				if !bytes.Equal(g.data, w.data) || g.ci.Length != w.ci.Length {
					t.Errorf("datagram %d differs (wire %d vs %d):\nours    %x\ntcpdump %x", i, g.ci.Length, w.ci.Length, g.data, w.data)
				}
				if et := uint16(g.data[12])<<8 | uint16(g.data[13]); et != uint16(tc.tags[0]) {
					t.Errorf("datagram %d: EtherType %#04x after the MACs, want the tag's %#04x", i, et, uint16(tc.tags[0]))
				}
			}
		})
	}
}

// TestVLANLiveFilters: live filters on untagged, 802.1Q and QinQ traffic
// keep what tcpdump's live filter keeps on the same traffic, on tc (the
// outer tag in the skb's metadata, read as libpcap's live code reads it)
// and on XDP (the tags in the frame).
func TestVLANLiveFilters(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	dot1q, qinq, ipv4 := layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ, layers.EthernetTypeIPv4
	kinds := []struct {
		tags []layers.EthernetType
		ids  []uint16
	}{
		{[]layers.EthernetType{ipv4}, nil},
		{[]layers.EthernetType{dot1q}, []uint16{100}},
		{[]layers.EthernetType{dot1q}, []uint16{300}},
		{[]layers.EthernetType{qinq, dot1q}, []uint16{100, 200}},
		{[]layers.EthernetType{qinq, dot1q}, []uint16{300, 200}},
		{[]layers.EthernetType{dot1q, dot1q}, []uint16{100, 200}},
	}
	const each = 3
	for _, hook := range []struct {
		name string
		args []string
	}{{"tc", nil}, {"XDP", []string{"--xdp"}}} {
		for _, expr := range []string{"vlan", "vlan 100", "vlan and udp", "vlan 100 and vlan 200", "not vlan"} {
			t.Run(hook.name+"/"+strings.ReplaceAll(expr, " ", "_"), func(t *testing.T) {
				pair := testutil.NewPair(t)
				dir := t.TempDir()
				ours, theirs, ready := filepath.Join(dir, "ours.pcap"), filepath.Join(dir, "tcpdump.pcap"), filepath.Join(dir, "ready")
				args := append([]string{"-i", pair.IfA, "-Q", "in", "-w", ours, "--ready-file", ready}, hook.args...)
				p := start(t, pair.NsA, binary, append(args, strings.Fields(expr)...)...)
				td := start(t, pair.NsA, "tcpdump", "-i", pair.IfA, "-Q", "in", "--immediate-mode", "-B", "65536", "-U", "-nn",
					"-s", "262144", "-w", theirs, expr)
				testutil.Eventually(t, 10*time.Second, func() bool {
					_, err := os.Stat(ready)
					return err == nil && strings.Contains(td.stderr.String(), "listening on")
				}, "captures never started:\n%s\n%s", p.stderr, td.stderr)
				for k, kind := range kinds {
					injectTaggedFrom(t, pair, kind.tags, kind.ids, k*each, each)
				}
				time.Sleep(200 * time.Millisecond)
				_ = p.stop(t, syscall.SIGINT)
				_ = td.stop(t, syscall.SIGINT)
				got, want := byTag(t, readPcap(t, ours), "ours"), byTag(t, readPcap(t, theirs), "tcpdump")
				if len(want) == 0 {
					t.Fatalf("tcpdump kept none of the datagrams")
				}
				for i := range len(kinds) * each {
					_, g := got[i]
					_, w := want[i]
					if g != w {
						k := kinds[i/each]
						t.Errorf("datagram %d (tags %v, ids %v): bpftop-cap kept %v, tcpdump %v", i, k.tags, k.ids, g, w)
					}
				}
				t.Logf("%q on %s: tcpdump kept %d of %d, bpftop-cap %d", expr, hook.name, len(want), len(kinds)*each, len(got))
			})
		}
	}
}
