package filter

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// corpusFrames reads every packet of every Ethernet capture (pcap or
// pcapng) in the corpus.
func corpusFrames(t testing.TB) []frame {
	t.Helper()
	dir := testutil.Corpus(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var frames []frame
	files := 0
	for _, ent := range entries {
		n := len(frames)
		frames = readEthernetCapture(filepath.Join(dir, ent.Name()), frames)
		if len(frames) > n {
			files++
		}
	}
	if files < 400 {
		t.Fatalf("only %d Ethernet captures in %s", files, dir)
	}
	return frames
}

// readEthernetCapture appends the packets of path to frames when it is an
// Ethernet capture; a broken file contributes what could be read.
func readEthernetCapture(path string, frames []frame) []frame {
	f, err := os.Open(path)
	if err != nil {
		return frames
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		return frames
	}
	type reader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
		LinkType() layers.LinkType
	}
	var r reader
	switch binary.LittleEndian.Uint32(magic) {
	case 0x0a0d0d0a:
		r, err = pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{})
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		r, err = pcapgo.NewReader(br)
	default:
		return frames
	}
	if err != nil || r.LinkType() != layers.LinkTypeEthernet {
		return frames
	}
	name := filepath.Base(path)
	for i := 0; ; i++ {
		data, ci, err := func() (d []byte, ci gopacket.CaptureInfo, err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("reader panic: %v", p)
				}
			}()
			return r.ReadPacketData()
		}()
		if err != nil {
			return frames
		}
		wire := max(ci.Length, len(data))
		frames = append(frames, frame{data: append([]byte(nil), data...), wireLen: uint32(wire), desc: fmt.Sprintf("%s #%d", name, i+1)})
	}
}

// writeIndexed writes frames to a pcap whose packet i has timestamp i+1
// seconds, so tcpdump's output names the packets it kept.
func writeIndexed(t testing.TB, path string, frames []frame) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(DefaultSnaplen, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(i+1), 0), CaptureLength: len(fr.data), Length: int(fr.wireLen)}
		if err := w.WritePacket(ci, fr.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// tcpdumpKeeps runs tcpdump -r in -w - expr and returns which packets of
// in (written by writeIndexed) it kept; refused is tcpdump's error for an
// expression it refuses.
func tcpdumpKeeps(t testing.TB, in string, n int, expr string) (kept []bool, refused string) {
	t.Helper()
	cmd := exec.Command(requireTcpdump(t), "-r", in, "-w", "-", "--", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, strings.TrimSpace(stderr.String())
	}
	r, err := pcapgo.NewReader(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("tcpdump -r %s %q: read its output: %v", in, expr, err)
	}
	kept = make([]bool, n)
	for {
		_, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return kept, ""
		}
		if err != nil {
			t.Fatalf("tcpdump -r %s %q: read its output: %v", in, expr, err)
		}
		i := int(ci.Timestamp.Unix()) - 1
		if i < 0 || i >= n {
			t.Fatalf("tcpdump -r %s %q: kept a packet we did not write (%v)", in, expr, ci.Timestamp)
		}
		kept[i] = true
	}
}

// truncate cuts every frame to snap bytes, as a capture with -s snap would.
func truncate(frames []frame, snap int) []frame {
	out := make([]frame, len(frames))
	for i, f := range frames {
		out[i] = f
		out[i].data = f.data[:min(len(f.data), snap)]
		out[i].desc += fmt.Sprintf(" cut at %d", snap)
	}
	return out
}

// corpusExprs are the expressions checked on the whole corpus: first those
// where libpcap's unoptimized and optimized code differ on short packets.
var corpusExprs = []string{
	"ip[100] = 0 or ip", "tcp[100] = 1 or tcp", "udp port 53 or ip6", "host 1.2.3.4 and tcp or arp",
	"ip6 and tcp port 80", "tcp[13] = 2 or udp", "udp[8:4] = 0 or icmp", "ip[40] = 0 and ip or ip6",
	"not (tcp[20] = 0) or arp", "ip6[60] = 1 or ip6", "vlan and (ip[50] = 0 or ip)", "icmp6[100] = 0 or icmp6",
	"tcp", "udp port 53 or tcp port 53", "icmp or icmp6", "vlan", "vlan and ip", "ip6 and udp", "arp",
	"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "host 10.0.0.1 or net 192.168.0.0/16", "portrange 1-1023",
	"greater 500", "ip[6:2] & 0x1fff != 0 or ip6 proto 44", "ether multicast", "sctp", "not ip and not ip6",
	"ip and not tcp and not udp", "ether[12:2] > 1500 and not ip", "len - 14 = ip[2:2]", "ip[2:2] - 20 < 100",
	// Link-layer protocols: LLC, IPX and AppleTalk framings, DECnet, PPPoE.
	"stp", "llc", "iso", "ipx", "decnet", "atalk", "aarp", "netbeui", "pppoed", "not llc and ipx or atalk",
	"stp or ip6", `ether proto \ipx`, `ether proto \atalk`, "ether proto 0xe0 or ether proto 0x809b",
	"llc and not stp and not iso",
}

// TestCorpusMatchesTcpdump compares our verdicts with tcpdump -r on every
// Ethernet capture of the corpus, whole and cut at 54 and 34 bytes (where
// a load past the end decides: libpcap's optimized code keeps packets its
// unoptimized code rejects), on a list of expressions and random ones.
func TestCorpusMatchesTcpdump(t *testing.T) {
	requireTcpdump(t)
	whole := corpusFrames(t)
	sets := map[string][]frame{"whole": whole, "cut54": truncate(whole, 54), "cut34": truncate(whole, 34)}
	paths := map[string]string{}
	for name, frames := range sets {
		paths[name] = filepath.Join(t.TempDir(), name+".pcap")
		writeIndexed(t, paths[name], frames)
	}
	exprs := append([]string(nil), corpusExprs...)
	r := rand.New(rand.NewPCG(22, 54))
	nRandom := 60
	if testing.Short() {
		exprs, nRandom = exprs[:6], 6
	}
	for i := 0; i < nRandom; i++ {
		exprs = append(exprs, randomExpr(r, 3))
	}
	for _, expr := range exprs {
		ours, err := compileVerdicts(expr, LinkEthernet)
		for _, name := range []string{"whole", "cut54", "cut34"} {
			frames := sets[name]
			kept, refused := tcpdumpKeeps(t, paths[name], len(frames), expr)
			if refused != "" {
				rejects := strings.Contains(refused, "expression rejects all packets")
				if rejects && (err != nil || !equalPrograms(ours, rejectAll)) || !rejects && err == nil {
					t.Errorf("%q: tcpdump refuses it (%s); ours: %v", expr, refused, err)
				}
				break
			}
			if err != nil {
				t.Errorf("Compile(%q): %v; tcpdump takes it", expr, err)
				break
			}
			bad, n := 0, 0
			for i, f := range frames {
				o := ours.Match(f.data, f.wireLen)
				if kept[i] {
					n++
				}
				if o != kept[i] {
					bad++
					if bad <= 3 {
						t.Errorf("%q (%s): %s (%d/%d bytes): ours %v, tcpdump %v", expr, name, f.desc, len(f.data), f.wireLen, o, kept[i])
					}
				}
			}
			if bad > 3 {
				t.Errorf("%q (%s): %d packets differ in all", expr, name, bad)
			}
			if i := indexOf(corpusExprs[:3], expr); i >= 0 {
				t.Logf("%q (%s): tcpdump keeps %d of %d", expr, name, n, len(frames))
			}
		}
	}
}

func indexOf(xs []string, x string) int {
	for i, s := range xs {
		if s == x {
			return i
		}
	}
	return -1
}

func equalPrograms(a, b Program) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
