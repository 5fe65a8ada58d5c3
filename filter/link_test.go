package filter

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// linkCase is a link type as a file holds it.
type linkCase struct {
	name      string
	link      uint32
	bigEndian bool
}

var linkCases = []linkCase{
	{"LINUX_SLL", LinkSLL, false}, {"LINUX_SLL2", LinkSLL2, false}, {"NULL", LinkNull, false},
	{"NULL big-endian", LinkNull, true}, {"LOOP", LinkLoop, false}, {"IPV4", LinkIPv4, false},
	{"IPV6", LinkIPv6, false}, {"PPP", LinkPPP, false}, {"RAW", LinkRaw, false},
}

// linkExprs are the expressions whose code depends most on the link type,
// compared on every link type besides equivalenceExprs.
var linkExprs = []string{
	"inbound", "outbound", "inbound and tcp", "not outbound and ip6", "ether proto 4", "ether proto 0x21",
	"ether proto \\decnet", "ether proto 0x600", "ether[0] = 4", "link[10] = 4", "link[0:2] = 0xff03",
	"ether[0:4] = 2", "ether[0:4] = 0x18000000", "link[14:2] = 0x800", "ip and ip6", "ip or arp",
	"not ip", "not ip6 and not arp", "ip broadcast or ip6 multicast", "net ::/0", "not net ::/0",
}

// toLink rewrites an Ethernet test frame as a frame of link type lc, with
// the link-layer header libpcap would find in a file of that type. ok is
// false for a frame the type cannot carry.
func toLink(lc linkCase, f frame, i int) (frame, bool) {
	if len(f.data) < 14 {
		return frame{}, false
	}
	et := binary.BigEndian.Uint16(f.data[12:14])
	src, payload := f.data[6:12], f.data[14:]
	pktType := []uint16{0, 4, 1, 2, 3}[i%5] // host, outgoing, broadcast, multicast, other host
	var hdr []byte
	switch lc.link {
	case LinkSLL:
		hdr = make([]byte, 16)
		binary.BigEndian.PutUint16(hdr[0:], pktType)
		binary.BigEndian.PutUint16(hdr[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(hdr[4:], 6)
		copy(hdr[6:], src)
		proto := et
		if et <= ethermtu {
			proto = sllP8022
		}
		binary.BigEndian.PutUint16(hdr[14:], proto)
	case LinkSLL2:
		hdr = make([]byte, 20)
		proto := et
		if et <= ethermtu {
			proto = sllP8022
		}
		binary.BigEndian.PutUint16(hdr[0:], proto)
		binary.BigEndian.PutUint32(hdr[4:], uint32(1+i%3))
		binary.BigEndian.PutUint16(hdr[8:], 1)
		hdr[10], hdr[11] = byte(pktType), 6
		copy(hdr[12:], src)
	case LinkNull, LinkLoop:
		af := uint32([]int{0, 7, 17}[i%3]) // not IP: nothing libpcap tests for
		switch et {
		case etherTypeIP:
			af = afInet
		case etherTypeIPv6:
			af = uint32([]int{24, 28, 30, 10}[i%4])
		}
		hdr = make([]byte, 4)
		order := binary.ByteOrder(binary.LittleEndian)
		if lc.link == LinkLoop || lc.bigEndian {
			order = binary.BigEndian
		}
		if i%11 == 0 { // a header in the other order
			order = map[bool]binary.ByteOrder{true: binary.LittleEndian, false: binary.BigEndian}[order == binary.BigEndian]
		}
		order.PutUint32(hdr, af)
	case LinkPPP:
		hdr = []byte{0xff, 0x03, 0, 0}
		proto := pppType(uint32(et))
		if et <= ethermtu && len(payload) > 0 {
			proto = pppType(uint32(payload[0])) // the DSAP: OSI, bridging PDU ...
		}
		binary.BigEndian.PutUint16(hdr[2:], uint16(proto))
	case LinkRaw, LinkIPv4, LinkIPv6:
		if et != etherTypeIP && et != etherTypeIPv6 {
			return frame{}, false
		}
	}
	data := append(hdr, payload...)
	return frame{data: data, wireLen: f.wireLen - 14 + uint32(len(hdr)), desc: f.desc + " (" + lc.name + ")"}, true
}

func linkFrames(t testing.TB, lc linkCase) []frame {
	var out []frame
	for i, f := range testFrames(t) {
		if g, ok := toLink(lc, f, i); ok {
			out = append(out, g)
		}
	}
	return out
}

// writeLinkPcap writes frames as a pcap file of link type lc in its byte
// order (pcapgo writes little-endian only).
func writeLinkPcap(t testing.TB, path string, lc linkCase, frames []frame) {
	t.Helper()
	var order binary.ByteOrder = binary.LittleEndian
	if lc.bigEndian {
		order = binary.BigEndian
	}
	var b bytes.Buffer
	h := make([]byte, 24)
	order.PutUint32(h[0:], 0xa1b2c3d4)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], 262144)
	order.PutUint32(h[20:], lc.link)
	b.Write(h)
	for i, f := range frames {
		r := make([]byte, 16)
		order.PutUint32(r[0:], uint32(i+1))
		order.PutUint32(r[8:], uint32(len(f.data)))
		order.PutUint32(r[12:], f.wireLen)
		b.Write(r)
		b.Write(f.data)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// libpcapFileProgram returns libpcap's code for expr on the packets of the
// capture at path (tcpdump -dd -r: its link type and byte order).
func libpcapFileProgram(t testing.TB, path, expr string) (Program, error) {
	t.Helper()
	cmd := exec.Command(requireTcpdump(t), "-dd", "-r", path, "--", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && strings.Contains(stderr.String(), "expression rejects all packets") {
		return Program{{Op: ClassRET | RetK, K: 0}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tcpdump -dd -r %s %q: %v: %s", filepath.Base(path), expr, err, strings.TrimSpace(stderr.String()))
	}
	return parseDD(string(out))
}

// agreeOnRefusal checks that ours refuses what libpcap refuses, with
// ErrRejectsAll for what libpcap's code rejects whole. done is true when
// there is nothing left to compare.
func agreeOnRefusal(t *testing.T, where, expr string, theirs Program, terr, oerr error) (done bool) {
	t.Helper()
	if terr != nil {
		if oerr == nil {
			t.Errorf("%q on %s: libpcap refuses it (%v), we compile it", expr, where, terr)
		}
		return true
	}
	libRejectsAll := len(theirs) == 1 && theirs[0].Op == ClassRET|RetK && theirs[0].K == 0
	switch {
	case errors.Is(oerr, ErrRejectsAll):
		if !libRejectsAll {
			t.Errorf("%q on %s: we reject all packets; libpcap's code does not", expr, where)
		}
		return true
	case oerr != nil:
		t.Errorf("%q on %s: %v; libpcap compiles it", expr, where, oerr)
		return true
	case libRejectsAll:
		// libpcap's optimizer proved it (ip and ip6: one load, two
		// values); ours must reject every packet too, which
		// compareVerdicts checks.
		t.Logf("%q on %s: libpcap's optimizer finds it rejects all packets; ours is not refused", expr, where)
	}
	return false
}

// TestLinkVerdictsMatchLibpcap: for every link type besides Ethernet, each
// expression of the equivalence list keeps the frames libpcap's code for a
// file of that type keeps (tcpdump -dd -r on a file of those frames), and
// what libpcap refuses for the type is refused.
func TestLinkVerdictsMatchLibpcap(t *testing.T) {
	requireTcpdump(t)
	exprs := append(append([]string{}, equivalenceExprs...), linkExprs...)
	if testing.Short() {
		var some []string
		for i := 0; i < len(exprs); i += 4 {
			some = append(some, exprs[i])
		}
		exprs = some
	}
	for _, lc := range linkCases {
		t.Run(lc.name, func(t *testing.T) {
			frames := linkFrames(t, lc)
			path := filepath.Join(t.TempDir(), "in.pcap")
			writeLinkPcap(t, path, lc, frames)
			compared := 0
			for _, expr := range exprs {
				theirs, terr := libpcapFileProgram(t, path, expr)
				ours, oerr := CompileFile(expr, 0, lc.link, lc.bigEndian)
				if agreeOnRefusal(t, lc.name, expr, theirs, terr, oerr) {
					continue
				}
				if err := ours.Validate(); err != nil {
					t.Errorf("%q on %s: invalid program: %v", expr, lc.name, err)
				}
				compareVerdicts(t, expr, ours, theirs, frames)
				compared++
			}
			if compared < len(exprs)/3 {
				t.Errorf("only %d of %d expressions compared", compared, len(exprs))
			}
		})
	}
}

// readCapture reads a pcap or pcapng file: its packets, link type and
// byte order.
func readCapture(path string) (pkts []pcapPacket, link uint32, bigEndian bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, err := br.Peek(12)
	if err != nil {
		return nil, 0, false, err
	}
	var read func() ([]byte, gopacket.CaptureInfo, error)
	if binary.LittleEndian.Uint32(head) == 0x0a0d0d0a {
		bigEndian = binary.BigEndian.Uint32(head[8:]) == 0x1a2b3c4d
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, 0, false, err
		}
		link, read = uint32(r.LinkType()), r.ReadPacketData
	} else {
		bigEndian = binary.BigEndian.Uint32(head) == 0xa1b2c3d4 || binary.BigEndian.Uint32(head) == 0xa1b23c4d
		r, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, 0, false, err
		}
		link, read = uint32(r.LinkType()), func() ([]byte, gopacket.CaptureInfo, error) {
			// libpcap cuts a record longer than the header's snaplen.
			data, ci, err := r.ReadPacketData()
			if s := int(r.Snaplen()); s > 0 && len(data) > s {
				data = data[:s]
			}
			return data, ci, err
		}
	}
	for {
		data, ci, err := read()
		if errors.Is(err, io.EOF) {
			return pkts, link, bigEndian, nil
		}
		if err != nil {
			return pkts, link, bigEndian, err
		}
		pkts = append(pkts, pcapPacket{ci, append([]byte(nil), data...)})
	}
}

// tcpdumpFileKept runs tcpdump -r in -w out expr (with more options) and
// returns the kept packets, or tcpdump's error.
func tcpdumpFileKept(t testing.TB, in, expr string, opts ...string) ([]pcapPacket, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.pcap")
	args := append(append([]string{"-r", in, "-w", out, "-nn"}, opts...), "--", expr)
	cmd := exec.Command(requireTcpdump(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tcpdump -r %s %q: %v: %s", filepath.Base(in), expr, err, strings.TrimSpace(stderr.String()))
	}
	pkts, _, _, err := readCapture(out)
	if err != nil {
		t.Fatalf("read tcpdump output: %v", err)
	}
	return pkts, nil
}

// keptMask marks the packets of pkts that kept holds, matched in order by
// bytes and wire length (timestamps lose precision from pcapng to pcap).
func keptMask(pkts, kept []pcapPacket) ([]bool, int) {
	mask := make([]bool, len(pkts))
	j := 0
	for i, p := range pkts {
		if j < len(kept) && kept[j].ci.Length == p.ci.Length && bytes.Equal(kept[j].data, p.data) {
			mask[i] = true
			j++
		}
	}
	return mask, j
}

// realLinkExprs are compared on every corpus capture of a link type
// CompileLink takes besides Ethernet.
var realLinkExprs = []string{
	"ip", "ip6", "arp", "tcp", "udp", "icmp or icmp6", "sctp or esp or ah", "tcp port 80", "udp port 53 or tcp port 53",
	"portrange 1-1023", "tcp dst portrange 1024-65535", "host 10.0.0.1 or net 192.168.0.0/16", "src net 172.16.0.0/12",
	"ip6 net fe80::/10", "ip proto 47", "ip6 proto 58", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "icmp[icmptype] = icmp-echo",
	"greater 500 or less 100", "ip multicast or ip6 multicast", "ip broadcast", "ether proto 0x0806", "link[2:2] = 0x21",
	"link[0:4] = 2", "ip[6:2] & 0x1fff != 0 or ip6 proto 44", "not ip and not ip6", "inbound", "outbound and udp",
	"vlan", "ether host 00:11:22:33:44:55", "broadcast", "udp[8:2] = 0x4500 or tcp[12] >> 4 > 5",
}

// TestLinkRealCaptures compares the packets we keep with the packets tcpdump
// -r keeps, on every capture of tcpdump's test suite whose link type is one
// CompileLink takes besides Ethernet, packet by packet.
func TestLinkRealCaptures(t *testing.T) {
	requireTcpdump(t)
	if testing.Short() {
		t.Skip("the whole corpus: not in -short")
	}
	dir := testutil.Corpus(t)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	perLink := map[uint32]int{}
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		pkts, link, bigEndian, err := readCapture(path)
		if _, ok := linkNames[link]; !ok || link == LinkEthernet || err != nil || len(pkts) == 0 {
			continue
		}
		perLink[link]++
		for _, expr := range realLinkExprs {
			kept, terr := tcpdumpFileKept(t, path, expr)
			prog, oerr := CompileFile(expr, 0, link, bigEndian)
			if terr != nil || oerr != nil {
				rejectsAll := terr != nil && strings.Contains(terr.Error(), "expression rejects all packets")
				switch {
				case terr == nil:
					t.Errorf("%s %q: %v; tcpdump takes it", e.Name(), expr, oerr)
				case oerr == nil:
					t.Errorf("%s %q: tcpdump refuses it (%v); we take it", e.Name(), expr, terr)
				case rejectsAll != errors.Is(oerr, ErrRejectsAll):
					t.Errorf("%s %q: tcpdump: %v; ours: %v", e.Name(), expr, terr, oerr)
				}
				continue
			}
			theirs, n := keptMask(pkts, kept)
			if n != len(kept) {
				t.Errorf("%s %q: tcpdump kept %d packets, matched %d in order", e.Name(), expr, len(kept), n)
				continue
			}
			bad := 0
			for i, p := range pkts {
				if prog.Match(p.data, uint32(p.ci.Length)) != theirs[i] {
					if bad++; bad <= 3 {
						t.Errorf("%s %q: packet %d (%d/%d bytes): ours %v, tcpdump %v", e.Name(), expr, i+1, len(p.data), p.ci.Length, !theirs[i], theirs[i])
					}
				}
			}
		}
	}
	t.Logf("captures per link type: %v", perLink)
	for _, link := range []uint32{LinkSLL, LinkRaw, LinkNull, LinkPPP, LinkIPv4, LinkIPv6} {
		if perLink[link] == 0 {
			t.Errorf("no capture of link type %d (%s) in %s", link, linkNames[link], dir)
		}
	}
}

// TestLinkRandomExpressions compares verdicts with libpcap's code on random
// expressions for each link type, on the frames of that type.
func TestLinkRandomExpressions(t *testing.T) {
	requireTcpdump(t)
	n := 40
	if testing.Short() {
		n = 8
	}
	for _, lc := range linkCases {
		t.Run(lc.name, func(t *testing.T) {
			frames := linkFrames(t, lc)
			path := filepath.Join(t.TempDir(), "in.pcap")
			writeLinkPcap(t, path, lc, frames)
			r := rand.New(rand.NewPCG(uint64(lc.link), 3))
			for i := 0; i < n; i++ {
				expr := randomExpr(r, 3)
				theirs, terr := libpcapFileProgram(t, path, expr)
				ours, oerr := CompileFile(expr, 0, lc.link, lc.bigEndian)
				if agreeOnRefusal(t, lc.name, expr, theirs, terr, oerr) {
					continue
				}
				compareVerdicts(t, expr, ours, theirs, frames)
			}
		})
	}
}

// TestToEBPFInKernelPerLink loads the translation of every program compiled
// for each link type through the verifier (which refuses, among others,
// instructions no path reaches) and compares the kernel's verdicts with
// the user-space matcher's on the frames of that type.
func TestToEBPFInKernelPerLink(t *testing.T) {
	requireBPF(t)
	exprs := append(append([]string{}, equivalenceExprs...), linkExprs...)
	for _, lc := range linkCases {
		t.Run(lc.name, func(t *testing.T) {
			frames := linkFrames(t, lc)
			loaded, ran := 0, 0
			for i, expr := range exprs {
				p, err := CompileFile(expr, 0, lc.link, lc.bigEndian)
				if err != nil {
					continue
				}
				prog, _ := loadFilterProg(t, p)
				loaded++
				if testing.Short() && i%8 != 0 {
					continue
				}
				for k, f := range frames {
					if len(f.data) < 14 {
						continue
					}
					ret, err := prog.Run(&ebpf.RunOptions{Data: f.data})
					if errors.Is(err, syscall.EINVAL) {
						// BPF_PROG_TEST_RUN reads the frame as Ethernet and
						// refuses some (an IP type without an IP header).
						continue
					}
					if err != nil {
						t.Fatalf("%q: run on frame %d: %v", expr, k, err)
					}
					ran++
					if got, want := ret != 0, p.Match(f.data, uint32(len(f.data))); got != want {
						t.Errorf("%q: frame %d (%s): kernel %v, Match %v", expr, k, f.desc, got, want)
					}
				}
			}
			t.Logf("%d programs through the verifier, %d runs", loaded, ran)
			if loaded < len(exprs)/3 || ran == 0 {
				t.Errorf("loaded %d of %d programs, ran %d", loaded, len(exprs), ran)
			}
		})
	}
}
