package filter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// requireTcpdump skips the test when tcpdump is missing, and fails it under
// CI=true.
func requireTcpdump(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tcpdump is required under CI: %v", err)
		}
		t.Skipf("tcpdump not installed: %v", err)
	}
	return path
}

var ddLine = regexp.MustCompile(`^\{ 0x([0-9a-f]+), (\d+), (\d+), 0x([0-9a-f]+) \},$`)

// parseDD parses the output of tcpdump -dd (C array of struct bpf_insn).
func parseDD(out string) (Program, error) {
	var p Program
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		m := ddLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			return nil, fmt.Errorf("parse -dd line %q", line)
		}
		op, _ := strconv.ParseUint(m[1], 16, 16)
		jt, _ := strconv.ParseUint(m[2], 10, 8)
		jf, _ := strconv.ParseUint(m[3], 10, 8)
		k, _ := strconv.ParseUint(m[4], 16, 32)
		p = append(p, Instruction{Op: uint16(op), Jt: uint8(jt), Jf: uint8(jf), K: uint32(k)})
	}
	return p, nil
}

// libpcapProgram returns libpcap's (optimized) classic BPF for expr.
func libpcapProgram(t testing.TB, expr string) (Program, error) {
	t.Helper()
	return libpcapProgramFor(t, expr, "EN10MB")
}

// libpcapProgramFor is libpcapProgram for the link type named dlt.
func libpcapProgramFor(t testing.TB, expr, dlt string) (Program, error) {
	t.Helper()
	bin := requireTcpdump(t)
	cmd := exec.Command(bin, "-dd", "-y", dlt, "--", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && strings.Contains(stderr.String(), "expression rejects all packets") {
		return rejectAll, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tcpdump -dd %q: %v: %s", expr, err, strings.TrimSpace(stderr.String()))
	}
	return parseDD(string(out))
}

// compareVerdicts checks that ours and theirs keep the same frames,
// truncated ones included: a load past the captured data rejects, and our
// optimizer removes the loads libpcap's removes.
func compareVerdicts(t *testing.T, expr string, ours, theirs Program, frames []frame) {
	t.Helper()
	bad := 0
	for i, f := range frames {
		o, g := ours.Match(f.data, f.wireLen), theirs.Match(f.data, f.wireLen)
		if o != g {
			bad++
			if bad <= 3 {
				t.Errorf("%q: frame %d (%s, %d/%d bytes): ours %v, libpcap %v\n% x", expr, i, f.desc, len(f.data), f.wireLen, o, g, f.data)
			}
		}
	}
	if bad > 3 {
		t.Errorf("%q: %d frames differ in all", expr, bad)
	}
}

// rejectAll is the program of an expression refused with ErrRejectsAll.
var rejectAll = Program{{Op: ClassRET | RetK, K: 0}}

// compileVerdicts compiles expr for linkType, an expression that rejects
// every packet as a program that does.
func compileVerdicts(expr string, linkType uint32) (Program, error) {
	p, err := CompileLink(expr, 0, linkType)
	if errors.Is(err, ErrRejectsAll) {
		return rejectAll, nil
	}
	return p, err
}

// equivalenceExprs are compared with libpcap verdict by verdict.
var equivalenceExprs = []string{
	"ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp", "igmp", "pim", "esp", "ah", "vrrp",
	"host 1.2.3.4", "src host 1.2.3.4", "dst host 5.6.7.8", "src or dst host 10.0.0.1", "src and dst host 1.2.3.4",
	"host 1.2.3.4 or 5.6.7.8 and not 9.9.9.9", "ip host 10.1.2.3", "arp host 1.2.3.4", "rarp src host 5.6.7.8",
	"net 10", "net 10.1", "net 10.0.0.0/8", "src net 10.1.0.0/16", "net 192.168.1.0 mask 255.255.255.0", "dst net 224.0.0.0/4",
	"host ::1", "ip6 host fe80::1", "src host 2001:db8::1", "net 2001:db8::/32", "ip6 net fe80::/10", "dst net ff00::/8",
	"port 53", "tcp port 80", "udp port 53", "sctp port 443", "src port 22", "dst port 443", "tcp src port 80 or dst port 8080",
	"port 80 or 443", "port 80 and (443 or 22)", "tcp port 80 or 443 and not src port 22", "src and dst port 53", "port 80",
	"portrange 1-1024", "tcp portrange 1000-9000", "udp dst portrange 50-60", "src portrange 8080-65535", "portrange 80", "tcp dst portrange 443",
	"ether host 00:11:22:33:44:55", "ether src 01:02:03:04:05:06", "ether dst ff:ff:ff:ff:ff:ff", "ether host aabb.ccdd.eeff", "ether host 001122334455",
	"ether proto 0x800", "ether proto \\ip6", "ether proto \\arp", "ether proto 0x42", "ether proto 6", "ether proto 0xfe",
	"ip proto 6", "ip proto \\udp", "proto 17", "ip6 proto 58", "ip6 proto 17", "proto \\tcp",
	"vlan", "vlan 100", "vlan 10", "vlan and ip", "vlan 100 and host 1.2.3.4", "vlan and vlan 10 and tcp port 80", "vlan or ip",
	"not vlan and udp", "vlan 100 && vlan 200 && arp",
	"less 60", "greater 100", "len > 80", "len <= 64 or len >= 1000", "less 60 or greater 200",
	"ip[0] & 0xf > 5", "ip[0] & 0xf = 5", "ip[6:2] & 0x1fff != 0", "ip[2:2] > 40", "ip[9] = 6",
	"tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn", "tcp[13] = 18",
	"tcp[tcpflags] & (tcp-fin|tcp-rst) != 0", "tcp[tcpflags] & tcp-push != 0 and tcp[tcpflags] & tcp-urg = 0",
	"tcp[tcpflags] & (tcp-ece|tcp-cwr) != 0", "tcp[0:2] = 80 or tcp[2:2] = 80",
	"icmp[icmptype] = icmp-echo", "icmp[icmptype] = icmp-echoreply or icmp[icmptype] == icmp-unreach", "icmp[icmpcode] != 0",
	"icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply", "icmp[0] = icmp-timxceed",
	"icmp6[icmp6type] = icmp6-echo", "icmp6[icmp6type] = icmp6-neighborsolicit", "icmp6[0] >= 128",
	"udp[8:4] = 0", "udp[4:2] > 10", "ether[0] & 1 != 0", "ether[12:2] = 0x86dd", "ether[14] = 0x45",
	"ip6[6] = 17", "arp[7] = 1", "ip[0] + 1 = 0x46", "ip[0] * ip[1] = 0", "ip[2:2] - 20 < 100", "ip[2:2] / 4 = 10",
	"ip[2:2] % 7 = 3", "ip[0] << 2 = 0x114", "ip[0] >> 4 = 4", "ip[0] ^ 1 | 2 = 0x47", "ip[0] | 1 ^ 2 & 3 = 0x47",
	"-ip[0] = 0xffffffbb", "ip[ip[0] & 0xf] = 0", "tcp[ip[0] & 0xf] != 0", "tcp[tcp[12] >> 4] = 0", "ip[len - 60] = 0",
	"(ip[0]) = 0x45", "ip[0] = ip[1] + 0x45", "udp[0:2] = udp[2:2]", "tcp[0:2] > tcp[2:2]", "len - 14 = ip[2:2]",
	"ip[0] & 0xf0 = 0x40 && ip[9] == 17 || ip6", "!tcp && !udp", "not (tcp or udp)", "!(ip && icmp)",
	"broadcast", "ether broadcast", "multicast", "ether multicast", "ip multicast", "ip6 multicast", "ip broadcast",
	"ether broadcast or ip multicast", "not broadcast and not multicast",
	"tcp and (port 80 or port 443) and not net 10.0.0.0/8", "(tcp or udp) and (src net 10 or dst net 192.168.1.0/24)",
	"host 1.2.3.4 and (tcp port 80 or udp port 53) or arp", "ip and not ip[6:2] & 0x1fff != 0",
	"icmp or icmp6 or arp", "ip6 and tcp[13] = 2", "sctp and port 1", "tcp port 65535 or udp port 1",
}

func TestVerdictsMatchLibpcap(t *testing.T) {
	frames := testFrames(t)
	for _, expr := range equivalenceExprs {
		ours, err := compileVerdicts(expr, LinkEthernet)
		if err != nil {
			t.Errorf("Compile(%q): %v", expr, err)
			continue
		}
		if err := ours.Validate(); err != nil {
			t.Errorf("Compile(%q) gave an invalid program: %v", expr, err)
		}
		theirs, err := libpcapProgram(t, expr)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		compareVerdicts(t, expr, ours, theirs, frames)
	}
}

// TestDisassemblyMatchesTcpdump checks Program.String against tcpdump -d on
// the code of tcpdump -dd.
func TestDisassemblyMatchesTcpdump(t *testing.T) {
	bin := requireTcpdump(t)
	for _, expr := range []string{
		"tcp port 80", "vlan 100 and host 1.2.3.4", "len > 5", "ip[0]*ip[1]=3 and ip[2]/3=1 and ip[3]%3=1",
		"ip[0]|1=1 and ip[1]^2=0 and ip[2]<<2=4 and ip[3]>>1=0 and ip[0]-2<7 and ip[1]+1=2", "ip[0] & 0xf0 = 0x40",
		"tcp[tcp[12]] = 0", "less 100 or greater 200", "ether host 1:2:3:4:5:6", "udp[8:4]=0", "ether[0] & 1 = 0",
	} {
		theirs, err := libpcapProgram(t, expr)
		if err != nil {
			t.Fatal(err)
		}
		want, err := exec.Command(bin, "-d", "-y", "EN10MB", "--", expr).Output()
		if err != nil {
			t.Fatalf("tcpdump -d %q: %v", expr, err)
		}
		if got := theirs.String(); got != string(want) {
			t.Errorf("%q:\ngot:\n%s\nwant:\n%s", expr, got, want)
		}
	}
}

// writePcap writes frames (timestamps 1s apart, the index in seconds).
func writePcap(t testing.TB, path string, frames []frame) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(i+1), 0), CaptureLength: len(fr.data), Length: int(fr.wireLen)}
		if err := w.WritePacket(ci, fr.data); err != nil {
			t.Fatal(err)
		}
	}
}

type pcapPacket struct {
	ci   gopacket.CaptureInfo
	data []byte
}

func readPcap(t testing.TB, path string) ([]pcapPacket, layers.LinkType, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, 0, err
	}
	var pkts []pcapPacket
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return pkts, r.LinkType(), nil
		}
		if err != nil {
			return pkts, r.LinkType(), err
		}
		pkts = append(pkts, pcapPacket{ci, append([]byte(nil), data...)})
	}
}

// tcpdumpKept runs tcpdump -r in -w out expr and returns the kept packets.
func tcpdumpKept(t testing.TB, in, expr string) []pcapPacket {
	t.Helper()
	bin := requireTcpdump(t)
	out := filepath.Join(t.TempDir(), "out.pcap")
	cmd := exec.Command(bin, "-r", in, "-w", out, "-nn", "--", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tcpdump -r %s %q: %v: %s", in, expr, err, stderr.String())
	}
	pkts, _, err := readPcap(t, out)
	if err != nil {
		t.Fatalf("read tcpdump output: %v", err)
	}
	return pkts
}

// comparePcap compares the packets our program keeps with tcpdump's.
func comparePcap(t *testing.T, name string, expr string, pkts []pcapPacket, kept []pcapPacket) {
	t.Helper()
	prog, err := compileVerdicts(expr, LinkEthernet)
	if err != nil {
		t.Fatalf("Compile(%q): %v", expr, err)
	}
	j, bad := 0, 0
	for i, p := range pkts {
		ours := prog.Match(p.data, uint32(p.ci.Length))
		theirs := j < len(kept) && kept[j].ci.Timestamp.Equal(p.ci.Timestamp) && bytes.Equal(kept[j].data, p.data)
		if theirs {
			j++
		}
		if ours != theirs {
			bad++
			if bad <= 3 {
				t.Errorf("%s %q: packet %d (%d/%d bytes): ours %v, tcpdump %v", name, expr, i, len(p.data), p.ci.Length, ours, theirs)
			}
		}
	}
	if j != len(kept) {
		t.Errorf("%s %q: tcpdump kept %d packets, matched %d in order", name, expr, len(kept), j)
	}
}

// TestMatchAgreesWithTcpdump runs tcpdump (libpcap's compiler and
// interpreter) on the frame corpus and compares with our compiler and VM.
func TestMatchAgreesWithTcpdump(t *testing.T) {
	requireTcpdump(t)
	in := filepath.Join(t.TempDir(), "in.pcap")
	frames := testFrames(t)
	writePcap(t, in, frames)
	pkts, _, err := readPcap(t, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{
		"tcp port 80 or 443", "host 1.2.3.4", "vlan and udp", "icmp[icmptype] = icmp-echo", "ip6 and not icmp6",
		"tcp[tcpflags] & tcp-syn != 0", "less 70", "len >= 100 and ip", "portrange 1-1024", "arp or rarp", "ip[len - 60] = 0",
	} {
		comparePcap(t, "corpus", expr, pkts, tcpdumpKept(t, in, expr))
	}
}

// TestRealCaptures compares our verdicts with tcpdump's on real Ethernet
// captures from tcpdump's own test suite.
func TestRealCaptures(t *testing.T) {
	requireTcpdump(t)
	dir := testutil.Corpus(t)
	files := []string{
		"dhcpv6-domain-list.pcap", "icmpv6.pcap", "mpls-ldp-hello.pcap", "tcp-handshake-nano.pcap",
		"802.1ad_QinQ.pcap", "arp-too-long-tha.pcap", "print-flags.pcap", "ipv6-routing-header.pcap", "ospf-gmpls.pcap",
		"ipv4_tcp_http_xml.pcap", "dns_tcp.pcap", "ip6_frag_asan.pcap", "tcp_eight_lowest_weight_flags_set.pcap",
		"isakmp-delete-segfault.pcap", "heapoverflow-tcp_print.pcap", "bigtcp-ipv4.pcap", "mptcp-v1.pcap",
	}
	exprs := []string{
		"tcp", "udp port 53 or tcp port 53", "icmp or icmp6", "vlan", "vlan and ip", "ip6 and udp", "arp",
		"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "host 10.0.0.1 or net 192.168.0.0/16", "portrange 1-1023",
		"greater 500", "ip[6:2] & 0x1fff != 0 or ip6 proto 44", "ether multicast", "sctp", "not ip and not ip6",
	}
	n := 0
	for _, name := range files {
		path := filepath.Join(dir, name)
		pkts, lt, err := readPcap(t, path)
		if err != nil || lt != layers.LinkTypeEthernet || len(pkts) == 0 {
			continue
		}
		n++
		for _, expr := range exprs {
			comparePcap(t, name, expr, pkts, tcpdumpKept(t, path, expr))
		}
	}
	if n < 5 {
		t.Errorf("only %d usable Ethernet captures in %s", n, dir)
	}
}

// TestVerdictsMatchLibpcapRaw: on packets that start at their IP header
// (LINKTYPE_RAW: tun, WireGuard), every expression tcpdump -y RAW takes
// keeps the packets libpcap's code keeps, and what it refuses is refused.
func TestVerdictsMatchLibpcapRaw(t *testing.T) {
	var raw []frame
	for _, f := range testFrames(t) {
		if len(f.data) < 15 {
			continue
		}
		switch uint16(f.data[12])<<8 | uint16(f.data[13]) {
		case 0x0800, 0x86dd:
			raw = append(raw, frame{data: f.data[14:], wireLen: f.wireLen - 14, desc: f.desc + " (raw)"})
		}
	}
	compared := 0
	for _, expr := range equivalenceExprs {
		theirs, err := libpcapProgramFor(t, expr, "RAW")
		ours, oerr := CompileLink(expr, 0, LinkRaw)
		if err != nil {
			if oerr == nil {
				t.Errorf("%q on RAW: libpcap refuses it (%v), we compile it", expr, err)
			}
			continue
		}
		if errors.Is(oerr, ErrRejectsAll) {
			// Compared verdict by verdict: libpcap's optimizer can leave
			// a program that rejects every packet without saying so.
			ours, oerr = rejectAll, nil
		}
		if oerr != nil {
			t.Errorf("CompileLink(%q, RAW): %v; libpcap compiles it", expr, oerr)
			continue
		}
		compareVerdicts(t, expr, ours, theirs, raw)
		compared++
	}
	if compared < len(equivalenceExprs)/2 {
		t.Errorf("only %d of %d expressions compared on RAW", compared, len(equivalenceExprs))
	}
}
