package filter

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomExpr builds a random expression from primitives libpcap accepts,
// joined with and/or/not (in both spellings) and parentheses, and with bare
// ids that inherit the qualifiers of the head before them.
func randomExpr(r *rand.Rand, depth int) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	if depth <= 0 || r.IntN(3) == 0 {
		switch r.IntN(12) {
		case 0:
			return pick("ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp", "vlan", "vlan 100", "vlan 10")
		case 1:
			return pick("", "src ", "dst ", "src or dst ", "src and dst ") + pick("host ", "") + pick(testIPv4s...)
		case 2:
			return pick("", "ip6 ", "src ", "dst ") + "host " + pick(testIPv6s...)
		case 3:
			return pick("", "tcp ", "udp ", "sctp ") + pick("", "src ", "dst ") + "port " + fmt.Sprint(testPorts[r.IntN(len(testPorts))]) +
				pick("", " or "+fmt.Sprint(testPorts[r.IntN(len(testPorts))]), " and not "+fmt.Sprint(testPorts[r.IntN(len(testPorts))]))
		case 4:
			return pick("", "tcp ", "udp ") + pick("", "src ", "dst ") + "portrange " + pick("1-100", "50-1024", "1000-65535", "443-443")
		case 5:
			return pick("net 10", "net 10.1", "net 10.0.0.0/8", "src net 192.168.0.0/16", "dst net 224.0.0.0 mask 240.0.0.0", "net 2001:db8::/32", "ip6 net fe80::/10")
		case 6:
			return pick("ether ", "ether src ", "ether dst ") + pick("host ", "") + pick(testMACs...)
		case 7:
			return pick("ether proto \\ip", "ether proto 0x86dd", "ip proto 17", "ip6 proto 6", "proto 1", "ip proto \\tcp", "ether proto 0x42")
		case 8:
			return pick("less 64", "greater 100", "len > 90", "len < 70")
		case 9:
			return pick("tcp[tcpflags] & tcp-syn != 0", "tcp[13] & 0x12 = 0x12", "icmp[icmptype] = icmp-echo", "icmp6[icmp6type] = icmp6-echo",
				"udp[4:2] > 20", "ip[0] & 0xf != 5", "ip[6:2] & 0x1fff = 0", "ip[2:2] - len < 100", "ether[0] & 1 = 1")
		case 10:
			return pick("broadcast", "multicast", "ip multicast", "ip6 multicast", "ether broadcast")
		default:
			return pick("tcp port 80", "udp port 53", "icmp", "arp")
		}
	}
	l, rt := randomExpr(r, depth-1), randomExpr(r, depth-1)
	switch r.IntN(6) {
	case 0:
		return pick("not ", "!") + "(" + l + ")"
	case 1:
		return "(" + l + ")" + pick(" and ", " && ") + rt
	case 2:
		return l + pick(" or ", " || ") + rt
	case 3:
		return l + pick(" and ", " && ") + pick("", "not ") + rt
	default:
		return "(" + l + pick(" or ", " and ") + rt + ")"
	}
}

// TestRandomExpressionsMatchLibpcap compares verdicts with libpcap on random
// expressions, and loads some of them through the verifier.
func TestRandomExpressionsMatchLibpcap(t *testing.T) {
	requireTcpdump(t)
	frames := testFrames(t)
	r := rand.New(rand.NewPCG(7, 11))
	n := 200
	if testing.Short() {
		n = 30
	}
	for i := 0; i < n; i++ {
		expr := randomExpr(r, 3)
		ours, err := compileVerdicts(expr, LinkEthernet)
		theirs, terr := libpcapProgram(t, expr)
		if (err == nil) != (terr == nil) {
			t.Errorf("%q: ours error %v, libpcap error %v", expr, err, terr)
			continue
		}
		if err != nil {
			continue
		}
		if strings.Count(expr, "(") > 0 && i%10 == 0 {
			t.Logf("%q: ours %d instructions, libpcap %d", expr, len(ours), len(theirs))
		}
		compareVerdicts(t, expr, ours, theirs, frames)
	}
}
