package filter

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// protochainExprs are compared with tcpdump's verdicts on the corpus and
// on synthetic chains.
var protochainExprs = []string{
	"ip6 protochain 6", "ip6 protochain 17", "ip6 protochain 58", "ip6 protochain 89", "ip6 protochain 0",
	"ip6 protochain 43", "ip6 protochain 44", "ip6 protochain 60", "ip6 protochain 51", "ip6 protochain 59",
	"ip protochain 6", "ip protochain 17", "ip protochain 51", "ip protochain 59", "protochain 6", "protochain 17 or 58",
	`ip6 protochain \tcp`, "protochain 89 and not ip6 proto 89", "not protochain 6 and ip6", "ip6 protochain 300",
	"mpls and ip protochain 17", "pppoes and protochain 6", "vlan and protochain 6",
}

// chainHeader is one header of a synthetic chain: its protocol number and
// the value of its length field.
type chainHeader struct {
	proto  byte
	length byte
}

// chainFrame builds an Ethernet frame: IPv4 (ihl words of header) or IPv6,
// then the headers of chain, then final as the last next header and 24
// bytes of payload.
func chainFrame(version int, ihl byte, chain []chainHeader, final byte) []byte {
	next := func(i int) byte {
		if i+1 < len(chain) {
			return chain[i+1].proto
		}
		return final
	}
	first := final
	if len(chain) > 0 {
		first = chain[0].proto
	}
	f := []byte{0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10}
	if version == 4 {
		f = append(f, 0x08, 0x00)
		ip := make([]byte, 4*int(ihl))
		ip[0], ip[8], ip[9] = 0x40|ihl, 64, first
		f = append(f, ip...)
	} else {
		f = append(f, 0x86, 0xdd)
		ip := make([]byte, ip6HdrLen)
		ip[0], ip[6], ip[7] = 0x60, first, 64
		for i := 8; i < ip6HdrLen; i++ {
			ip[i] = 0xfe // the addresses: no protocol a walk goes on from
		}
		f = append(f, ip...)
	}
	for i, h := range chain {
		var hdr []byte
		switch h.proto {
		case protoAH:
			hdr = make([]byte, (int(h.length)+2)*4)
		case protoFrag6:
			hdr = make([]byte, 8) // its second byte is reserved: libpcap adds (0+1)*8
		default:
			hdr = make([]byte, (int(h.length)+1)*8)
		}
		hdr[0], hdr[1] = next(i), h.length
		if h.proto == protoFrag6 {
			hdr[1] = 0
		}
		f = append(f, hdr...)
	}
	payload := make([]byte, 24)
	for i := range payload {
		payload[i] = byte(0xa0 + i) // none a chain header
	}
	return append(f, payload...)
}

// chainFrames are random chains within protochainDepth headers (IPv6:
// extension headers, then possibly an AH header; IPv4: AH headers) ending
// in a protocol that chains to nothing, whole and cut short.
func chainFrames(r *rand.Rand) []frame {
	exts := []byte{protoHopOpts, protoDstOpts, protoRouting, protoFrag6}
	finals := []byte{protoTCP, protoUDP, protoICMP6, protoNoNext, 89, protoESP}
	var frames []frame
	for i := range 400 {
		var chain []chainHeader
		version, ihl := 6, byte(5)
		n := r.IntN(protochainDepth + 1)
		if i%4 == 0 {
			// IPv4: libpcap reads a header after an AH header at the AH
			// header's length from the IP header, so one AH header is a
			// chain it walks as built.
			version, ihl, n = 4, byte(5+r.IntN(11)), r.IntN(2)
			for range n {
				chain = append(chain, chainHeader{protoAH, byte(1 + r.IntN(6))})
			}
		} else {
			for range n {
				chain = append(chain, chainHeader{exts[r.IntN(len(exts))], byte(r.IntN(4))})
			}
			// libpcap reads a header after an AH header at the AH
			// header's length from the IPv6 header: AH last.
			if n < protochainDepth && r.IntN(3) == 0 {
				chain = append(chain, chainHeader{protoAH, byte(1 + r.IntN(6))})
			}
		}
		data := chainFrame(version, ihl, chain, finals[r.IntN(len(finals))])
		desc := fmt.Sprintf("IPv%d chain %v", version, chain)
		frames = append(frames, frame{data: data, wireLen: uint32(len(data)), desc: desc})
		if cut := 14 + r.IntN(len(data)-14); i%3 == 0 {
			frames = append(frames, frame{data: data[:cut], wireLen: uint32(len(data)), desc: desc + fmt.Sprintf(" cut at %d", cut)})
		}
	}
	return frames
}

// compareWithTcpdump compares our verdicts on frames with tcpdump -r's, for
// every expression; it returns how many packets tcpdump kept in all.
func compareWithTcpdump(t *testing.T, name string, frames []frame, exprs []string) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".pcap")
	writeIndexed(t, path, frames)
	total := 0
	for _, expr := range exprs {
		ours, err := Compile(expr, 0)
		if err != nil {
			t.Fatalf("Compile(%q): %v", expr, err)
		}
		kept, refused := tcpdumpKeeps(t, path, len(frames), expr)
		if refused != "" {
			t.Fatalf("tcpdump refuses %q: %s", expr, refused)
		}
		bad := 0
		for i, f := range frames {
			if kept[i] {
				total++
			}
			if o := ours.Match(f.data, f.wireLen); o != kept[i] {
				if bad++; bad <= 3 {
					t.Errorf("%q (%s): %s (%d/%d bytes): ours %v, tcpdump %v", expr, name, f.desc, len(f.data), f.wireLen, o, kept[i])
				}
			}
		}
	}
	return total
}

// TestProtochainSynthetic compares verdicts with tcpdump's on random chains
// of every length within the depth, whole and truncated.
func TestProtochainSynthetic(t *testing.T) {
	requireTcpdump(t)
	frames := chainFrames(rand.New(rand.NewPCG(22, 44)))
	if kept := compareWithTcpdump(t, "chains", frames, protochainExprs); kept < 200 {
		t.Errorf("tcpdump kept only %d synthetic chains in all", kept)
	}
}

// TestProtochainDepth: a chain of protochainDepth extension headers before
// the protocol matches, one more does not (tcpdump's loop has no limit).
func TestProtochainDepth(t *testing.T) {
	p, err := Compile("ip6 protochain 6", 0)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n <= protochainDepth+2; n++ {
		chain := make([]chainHeader, n)
		for i := range chain {
			chain[i] = chainHeader{protoDstOpts, byte(i % 3)}
		}
		f := chainFrame(6, 5, chain, protoTCP)
		if got, want := p.Match(f, uint32(len(f))), n <= protochainDepth; got != want {
			t.Errorf("%d headers before TCP: match %v, want %v", n, got, want)
		}
	}
}

// TestProtochainCorpus compares verdicts with tcpdump's on every Ethernet
// capture of the corpus, whole and cut at 54 bytes, and on the corpus
// captures of other link types whose IPv6 packets carry extension headers.
func TestProtochainCorpus(t *testing.T) {
	requireTcpdump(t)
	whole := corpusFrames(t)
	exprs := protochainExprs
	if testing.Short() {
		exprs = exprs[:6]
	}
	compareWithTcpdump(t, "corpus", whole, exprs)
	compareWithTcpdump(t, "cut54", truncate(whole, 54), exprs[:4])

	dir := testutil.Corpus(t)
	for _, name := range []string{"hoobr_rt6_print.pcap", "ipv6-next-header-oobr-1.pcap", "ipv6-next-header-oobr-2.pcap",
		"ipv6-rthdr-oobr.pcap", "LINKTYPE_IPV6_invalid.pcap", "erspan-type-iii-pb-1.pcap", "babel.pcap"} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		pkts, link, bigEndian, err := readCapture(path)
		if err != nil || len(pkts) == 0 {
			t.Errorf("%s: %d packets: %v", name, len(pkts), err)
			continue
		}
		for _, expr := range []string{"ip6 protochain 43", "ip6 protochain 51", "ip6 protochain 60", "protochain 17", "ip6 protochain 0"} {
			kept, terr := tcpdumpFileKept(t, path, expr)
			prog, oerr := CompileFile(expr, 0, link, bigEndian)
			if terr != nil || oerr != nil {
				t.Errorf("%s %q: tcpdump: %v; ours: %v", name, expr, terr, oerr)
				continue
			}
			theirs, n := keptMask(pkts, kept)
			if n != len(kept) {
				t.Errorf("%s %q: tcpdump kept %d packets, matched %d in order", name, expr, len(kept), n)
				continue
			}
			for i, p := range pkts {
				if prog.Match(p.data, uint32(p.ci.Length)) != theirs[i] {
					t.Errorf("%s %q: packet %d: ours %v, tcpdump %v", name, expr, i+1, !theirs[i], theirs[i])
				}
			}
		}
	}
}

// TestProtochainErrors: what libpcap refuses, we refuse.
func TestProtochainErrors(t *testing.T) {
	for _, tc := range []struct{ expr, msg string }{
		{"tcp protochain 6", "bad protocol applied for 'protochain'"},
		{"ether protochain 6", "bad protocol applied for 'protochain'"},
		{"protochain foo", `unknown ip proto "foo"`},
		{"protochain", "expected a protocol number or name"},
		{"geneve and protochain 6", "'protochain' not supported with variable length headers"},
	} {
		_, err := Compile(tc.expr, 0)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Compile(%q) = %v, want an error with %q", tc.expr, err, tc.msg)
		}
		if _, err := libpcapProgram(t, tc.expr); err == nil {
			t.Errorf("libpcap takes %q", tc.expr)
		}
	}
}

// TestProtochainReach: X comes from packet bytes, so the loads are not
// bounded by Reach's rules: it reports the most a load can reach.
func TestProtochainReach(t *testing.T) {
	for _, expr := range []string{"ip protochain 6", "ip6 protochain 6", "protochain 17"} {
		p, err := Compile(expr, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Reach(); got != reachAll {
			t.Errorf("Reach(%q) = %d, want %d", expr, got, reachAll)
		}
	}
}

// TestProtochainInKernel: protochain code, offline and for tc, loads
// through the kernel's verifier and keeps in the kernel the synthetic
// chains and corpus frames the user-space matcher keeps.
func TestProtochainInKernel(t *testing.T) {
	requireBPF(t)
	frames := chainFrames(rand.New(rand.NewPCG(7, 8)))
	for i, f := range corpusFrames(t) {
		if i%13 == 0 && len(f.data) <= 3000 {
			frames = append(frames, f)
		}
	}
	for _, expr := range protochainExprs {
		for _, live := range []bool{false, true} {
			compile, name := Compile, "file "+expr
			if live {
				compile, name = CompileLiveTC, "tc "+expr
			}
			p, err := compile(expr, 0)
			if err != nil {
				if live && strings.Contains(expr, "vlan") {
					continue // on tc, vlan makes the offsets variable: refused as libpcap does
				}
				t.Fatalf("%s: %v", name, err)
			}
			checkKernelVerdicts(t, name, p, frames)
		}
	}
}

// TestProtochainAfterAH: libpcap reads the header after an AH header at the
// AH header's length from the IP header, not after the AH header; so do we
// (the verdicts are libpcap's, whatever the chain holds there). Left out:
// an AH header of length 3 after a 20-byte IPv4 header, followed by AH,
// where libpcap's walk comes back to the same header forever (tcpdump never
// ends); ours ends after protochainDepth steps, without a match.
func TestProtochainAfterAH(t *testing.T) {
	requireTcpdump(t)
	var frames []frame
	for ahLen := range byte(7) {
		for _, next := range []byte{protoHopOpts, protoDstOpts, protoRouting, protoFrag6, protoAH} {
			for _, version := range []int{4, 6} {
				chain := []chainHeader{{protoAH, ahLen}, {next, 1}}
				data := chainFrame(version, 5, chain, protoTCP)
				if version == 4 && next == protoAH && (ahLen+2)*4 == 20 {
					p, err := Compile("protochain 6", 0)
					if err != nil {
						t.Fatal(err)
					}
					if p.Match(data, uint32(len(data))) {
						t.Errorf("IPv4 chain %v: match", chain)
					}
					continue
				}
				frames = append(frames, frame{data: data, wireLen: uint32(len(data)), desc: fmt.Sprintf("IPv%d chain %v", version, chain)})
			}
		}
	}
	compareWithTcpdump(t, "after-ah", frames, []string{"protochain 6", "protochain 0", "protochain 60", "ip6 protochain 51", "ip protochain 51"})
}

// TestProtochainPartial: MatchPartial follows the walk: sure of Match's
// verdict on a whole chain with every bit known, and sound (the verdict
// holds whatever the unknown bits) when some bits are unknown.
func TestProtochainPartial(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	frames := chainFrames(r)
	for _, expr := range protochainExprs[:16] {
		p, err := Compile(expr, 0)
		if err != nil {
			t.Fatal(err)
		}
		sure := 0
		for _, f := range frames {
			all := make([]byte, len(f.data))
			for i := range all {
				all[i] = 0xff
			}
			m, ok := p.MatchPartial(f.data, all)
			if ok && m != p.Match(f.data, f.wireLen) {
				t.Fatalf("%q on %s: MatchPartial %v, Match %v", expr, f.desc, m, !m)
			}
			if ok {
				sure++
			}
			known := make([]byte, len(f.data))
			for i := range known {
				known[i] = []byte{0, 0xff, 0xff, byte(r.Uint32())}[r.IntN(4)]
			}
			m, ok = p.MatchPartial(f.data, known)
			if !ok {
				continue
			}
			for range 8 {
				pkt := append([]byte(nil), f.data...)
				for i := range pkt {
					pkt[i] = pkt[i]&known[i] | byte(r.Uint32())&^known[i]
				}
				for extra := r.IntN(80); extra > 0; extra-- {
					pkt = append(pkt, byte(r.Uint32()))
				}
				if got := p.Match(pkt, uint32(len(pkt)+r.IntN(2000))); got != m {
					t.Fatalf("%q: MatchPartial(%x, known %x) = %v sure, but Match(%x) = %v", expr, f.data, known, m, pkt, got)
				}
			}
		}
		if sure < len(frames)/2 {
			t.Errorf("%q: sure on %d of %d whole frames", expr, sure, len(frames))
		}
	}
}
