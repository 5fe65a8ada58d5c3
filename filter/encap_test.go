package filter

import (
	"path/filepath"
	"testing"
)

// encapExprs are the encapsulation primitives (mpls, pppoes, geneve) and what
// follows them, compared with libpcap's code on every link type.
var encapExprs = []string{
	"mpls", "mpls 100", "mpls and ip", "mpls and ip6", "mpls 100 and mpls 200", "mpls and mpls and tcp port 80",
	"mpls and host 1.2.3.4", "mpls and arp", "mpls and vlan", "vlan and mpls", "vlan 5 and mpls 7 and udp",
	"mpls and ether host 1:2:3:4:5:6", "mpls and llc", "mpls and stp", "mpls and pppoes", "mpls and ip proto 6",
	"mpls and ip[0]=1", "mpls and ether[0]=1", "mpls 1048576", "mpls 1048575", "mpls and mpls", "mpls and broadcast",
	"mpls and ip broadcast", "mpls and port 1", "mpls and ipx", "mpls and ip6 multicast", "mpls and proto 6",
	"mpls and ether proto 0x800", "mpls and icmp6[0] = 1", "mpls and tcp[13] = 2", "ip or mpls and ip6",
	"mpls and mpls 3", "not mpls", "mpls 0x10 or mpls 0x20", "mpls and net 10.0.0.0/8",
	"pppoes", "pppoes 0x1234", "pppoes 65536", "pppoes and ip", "pppoes and tcp port 80", "pppoes and ip6 host ::1",
	"pppoes and ether[0]=1", "pppoes and link[1:2]=1", "pppoes and ip[0]=1", "pppoes and mpls and ip",
	"pppoes and mpls 5 and mpls 6 and tcp", "pppoes and vlan", "vlan and pppoes and ip", "pppoes and pppoes",
	"pppoes and llc", "pppoes and arp", "pppoes and ipx", "pppoes and host 1.2.3.4", "pppoes and stp",
	"pppoes and iso", "pppoes and decnet", "pppoes and atalk", "pppoes and broadcast", "pppoes and ip multicast",
	"pppoes and ether proto 0x8864", "pppoes 23 and udp[8:4] = 0", "pppoed or pppoes and icmp", "not pppoes",
	"pppoes and inbound", "pppoes and ether host 1:2:3:4:5:6",
	"geneve", "geneve 5", "geneve 16777216", "geneve 0xffffff", "geneve and ip", "geneve 5 and ip", "geneve and ip6",
	"geneve and tcp port 80", "geneve and udp", "geneve and ether host 1:2:3:4:5:6", "geneve and ether src 1:2:3:4:5:6",
	"geneve and broadcast", "geneve and ether multicast", "geneve and ip broadcast", "geneve and ether[0] = 1",
	"geneve and ip[0] = 0x45", "geneve and tcp[13] = 2", "geneve and vlan", "geneve and vlan 10 and ip",
	"geneve and mpls", "geneve and mpls 3 and ip", "geneve and pppoes and ip", "geneve and geneve and ip",
	"geneve and arp", "geneve and host 10.0.0.1", "geneve and net fe80::/10", "geneve and stp", "geneve and llc",
	"geneve and icmp6[0] = 128", "not geneve", "geneve or ip6", "vlan and geneve and ip", "mpls and geneve",
	"pppoes and geneve and tcp", "geneve and portrange 1-1024", "geneve and len > 100", "geneve and ipx",
}

// TestEncapIsLibpcaps: the code for encapsulations is libpcap's,
// unoptimized and optimized, on every link type (what libpcap refuses on
// one, we refuse).
func TestEncapIsLibpcaps(t *testing.T) {
	requireTcpdump(t)
	for _, lc := range append([]linkCase{{"EN10MB", LinkEthernet, false}}, linkCases...) {
		t.Run(lc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "empty.pcap")
			writeLinkPcap(t, path, lc, nil)
			compared := 0
			for _, expr := range encapExprs {
				if sameAsLibpcap(t, path, lc, expr) {
					compared++
				}
			}
			t.Logf("%d of %d expressions compared instruction by instruction", compared, len(encapExprs))
		})
	}
}

// TestEncapInKernel: every encapsulation expression we compile, offline and
// for tc, loads through the kernel's verifier and keeps in the kernel the
// corpus frames the user-space matcher keeps.
func TestEncapInKernel(t *testing.T) {
	requireBPF(t)
	frames := encapFrames(t)
	for _, expr := range encapExprs {
		for _, live := range []bool{false, true} {
			compile, name := Compile, "file "+expr
			if live {
				compile, name = CompileLiveTC, "tc "+expr
			}
			p, err := compile(expr, 0)
			if err != nil {
				continue // refused: TestEncapIsLibpcaps checks that libpcap refuses it
			}
			checkKernelVerdicts(t, name, p, frames)
		}
	}
}

// encapFrames are the corpus frames with an MPLS, PPPoE or Geneve header
// (as tcpdump -r tells them) and some others, each small enough for
// BPF_PROG_TEST_RUN.
func encapFrames(t *testing.T) []frame {
	t.Helper()
	all := corpusFrames(t)
	path := filepath.Join(t.TempDir(), "all.pcap")
	writeIndexed(t, path, all)
	kept := make([]bool, len(all))
	for _, expr := range []string{"mpls", "pppoes", "geneve"} { // one each: mpls changes what follows
		k, refused := tcpdumpKeeps(t, path, len(all), expr)
		if refused != "" {
			t.Fatal(refused)
		}
		for i := range k {
			kept[i] = kept[i] || k[i]
		}
	}
	var in, out []frame
	for i, f := range all {
		switch {
		case len(f.data) > 3000: // BPF_PROG_TEST_RUN takes a page at most
		case kept[i]:
			in = append(in, f)
		case i%97 == 0:
			out = append(out, f)
		}
	}
	if len(in) < 20 {
		t.Fatalf("only %d encapsulated frames in the corpus", len(in))
	}
	return append(in, out...)
}
