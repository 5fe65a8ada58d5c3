package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestReadFilterPerLinkType: -r FILE -w OUT EXPR on captures that are not
// Ethernet (Linux cooked v1 in pcap and pcapng, raw IP, raw IPv6, BSD
// loopback, PPP) writes byte for byte the file tcpdump -r FILE -w OUT EXPR
// writes; what tcpdump refuses for a link type is refused in one line.
func TestReadFilterPerLinkType(t *testing.T) {
	dir := testutil.Corpus(t)
	testutil.RequireTool(t, "tcpdump")
	tmp := t.TempDir()
	filtered := 0
	for i, tc := range []struct{ file, expr string }{
		{"forces3.pcap", "inbound"},           // SLL: the packet type
		{"forces3.pcap", "outbound and sctp"}, // SLL
		{"bgp-role.pcapng", "outbound"},       // SLL in pcapng
		{"mptcp-v1.pcap", "tcp[tcpflags] & tcp-syn != 0 and not inbound"},
		{"babel_rtt.pcap", "ip6 and udp port 6696 and greater 100"},       // RAW
		{"quic_vn.pcap", "ip6 and dst port 443"},                          // NULL
		{"ikev2four.pcap", "udp and less 300"},                            // NULL
		{"mpls-traceroute.pcap", "icmp or link[2:2] = 0x281 and less 60"}, // PPP
		{"ipv6_mobility_1.pcap", "ip6 proto 135 and ip6[42] = 3"},         // IPV6: the mobility header type
		{"scps_invalid.pcap", "tcp dst port 63764"},                       // IPV4
	} {
		in := filepath.Join(dir, tc.file)
		ours, theirs := filepath.Join(tmp, "ours.pcap"), filepath.Join(tmp, "theirs.pcap")
		os.Remove(ours)
		var stdout, stderr bytes.Buffer
		args := append([]string{"-r", in, "-w", ours}, strings.Fields(tc.expr)...)
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Errorf("%d: %v: exit %d: %s", i, args, code, stderr.String())
			continue
		}
		td := append([]string{"-r", in, "--time-stamp-precision=nano", "-w", theirs}, strings.Fields(tc.expr)...)
		if out, err := exec.Command("tcpdump", td...).CombinedOutput(); err != nil {
			t.Fatalf("tcpdump %v: %v\n%s", td, err, out)
		}
		ob, _ := os.ReadFile(ours)
		tb, _ := os.ReadFile(theirs)
		n, all := pcapCount(t, tb), pcapCount(t, mustRead(t, in))
		if !bytes.Equal(ob, tb) {
			t.Errorf("%s %q: our file (%d bytes, %d packets) is not tcpdump's (%d bytes, %d packets)", tc.file, tc.expr, len(ob), pcapCount(t, ob), len(tb), n)
		}
		t.Logf("%s %q: %d of %d packets kept", tc.file, tc.expr, n, all)
		if n > 0 && (n < all || all < 0) {
			filtered++
		}
	}
	// A BSD loopback file from a big-endian machine: its address families
	// are big-endian too, and libpcap compares them so.
	be := filepath.Join(tmp, "null-be.pcap")
	if err := os.WriteFile(be, bigEndianNull(t, mustRead(t, filepath.Join(dir, "ikev2four.pcap"))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{"ip", "ip6", "ip and udp and less 300"} {
		ours, theirs := filepath.Join(tmp, "ours-be.pcap"), filepath.Join(tmp, "theirs-be.pcap")
		os.Remove(ours)
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"-r", be, "-w", ours}, strings.Fields(expr)...), &stdout, &stderr); code != 0 {
			t.Fatalf("big-endian NULL %q: exit %d: %s", expr, code, stderr.String())
		}
		td := append([]string{"-r", be, "--time-stamp-precision=nano", "-w", theirs}, strings.Fields(expr)...)
		if out, err := exec.Command("tcpdump", td...).CombinedOutput(); err != nil {
			t.Fatalf("tcpdump %v: %v\n%s", td, err, out)
		}
		ob, tb := mustRead(t, ours), mustRead(t, theirs)
		t.Logf("big-endian NULL %q: %d packets kept", expr, pcapCount(t, tb))
		if !bytes.Equal(ob, tb) {
			t.Errorf("big-endian NULL %q: our file (%d packets) is not tcpdump's (%d packets)", expr, pcapCount(t, ob), pcapCount(t, tb))
		}
		if expr == "ip" && pcapCount(t, tb) == 0 {
			t.Errorf("big-endian NULL: tcpdump keeps no IPv4 packet: the file is not what the test means")
		}
	}

	if filtered < 6 {
		t.Errorf("only %d cases kept some packets and dropped others: the cases do not test the filter", filtered)
	}

	// What libpcap refuses for a link type.
	for _, tc := range []struct{ file, expr, want string }{
		{"forces3.pcap", "vlan", "no VLAN support for Linux cooked v1"},
		{"forces3.pcap", "ether host 1:2:3:4:5:6", "ethernet addresses supported only on ethernet links"},
		{"quic_vn.pcap", "inbound", "inbound is supported only on Linux cooked captures"},
		{"quic_vn.pcap", "arp", "rejects all packets"},
		{"babel_rtt.pcap", "broadcast", "not supported on Raw IP"},
	} {
		var stdout, stderr bytes.Buffer
		out := filepath.Join(tmp, "refused.pcap")
		args := append([]string{"-r", filepath.Join(dir, tc.file), "-w", out}, strings.Fields(tc.expr)...)
		code := run(args, &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want one line saying %q", args, code, stderr.String(), tc.want)
		}
		if td, err := exec.Command("tcpdump", append([]string{"-r", filepath.Join(dir, tc.file), "-w", out}, strings.Fields(tc.expr)...)...).CombinedOutput(); err == nil {
			t.Errorf("tcpdump takes %q on %s:\n%s", tc.expr, tc.file, td)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pcapCount counts the records of a little-endian pcap file; -1 for
// anything else (a pcapng file).
func pcapCount(t *testing.T, b []byte) int {
	t.Helper()
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 && binary.LittleEndian.Uint32(b) != 0xa1b23c4d {
		return -1
	}
	n := 0
	for off := 24; off+16 <= len(b); n++ {
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	return n
}

// bigEndianNull rewrites a little-endian pcap file of BSD loopback packets
// as a big-endian machine writes it: header, records and the address
// family of each packet in big-endian order.
func bigEndianNull(t *testing.T, b []byte) []byte {
	t.Helper()
	le, be := binary.LittleEndian, binary.BigEndian
	if len(b) < 24 || le.Uint32(b) != 0xa1b2c3d4 || le.Uint32(b[20:]) != 0 {
		t.Fatal("not a little-endian pcap file of link type NULL")
	}
	out := append([]byte(nil), b...)
	be.PutUint32(out, 0xa1b2c3d4)
	be.PutUint16(out[4:], le.Uint16(b[4:]))
	be.PutUint16(out[6:], le.Uint16(b[6:]))
	for _, o := range []int{8, 12, 16, 20} {
		be.PutUint32(out[o:], le.Uint32(b[o:]))
	}
	for off := 24; off+16 <= len(b); {
		for k := 0; k < 16; k += 4 {
			be.PutUint32(out[off+k:], le.Uint32(b[off+k:]))
		}
		n := int(le.Uint32(b[off+8:]))
		if n >= 4 && off+16+n <= len(b) {
			be.PutUint32(out[off+16:], le.Uint32(b[off+16:]))
		}
		off += 16 + n
	}
	return out
}
