package filter

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultSnaplen is the return value of an accepting program when Compile is
// given a snaplen of 0 (tcpdump's default).
const DefaultSnaplen = 262144

// Compile compiles a pcap-filter expression (tcpdump syntax, see
// pcap-filter(7)) for Ethernet frames to classic BPF. The program returns
// snaplen for a packet that matches and 0 for one that does not; an empty
// expression accepts every packet. Host names and port names other than the
// common services are not resolved. An invalid expression gives a
// *SyntaxError.
func Compile(expr string, snaplen uint32) (Program, error) {
	return CompileLink(expr, snaplen, LinkEthernet)
}

// ErrRejectsAll is returned for an expression no packet can match (`arp`
// on Raw IP, `1 = 0`), which tcpdump refuses too.
var ErrRejectsAll = errors.New("filter: expression rejects all packets")

// Link types CompileLink compiles for (pcap LINKTYPE_ values); link.go
// has the others.
const (
	LinkEthernet = 1
	LinkRaw      = 101
)

// CompileLink is Compile for packets of link type linkType: LinkEthernet,
// LinkRaw (packets that start at their IP header), LinkIPv4, LinkIPv6,
// LinkSLL, LinkSLL2 (Linux cooked), LinkNull and LinkLoop (BSD loopback;
// NULL's header taken as little-endian) or LinkPPP, with the code libpcap
// generates for a saved file of that type. The primitives libpcap refuses
// for a link type (vlan, ether host, broadcast off Ethernet; inbound and
// outbound but on Linux cooked) are refused.
func CompileLink(expr string, snaplen, linkType uint32) (Program, error) {
	return CompileFile(expr, snaplen, linkType, false)
}

// CompileFile is CompileLink for a saved capture whose byte order is
// big-endian when bigEndian: a LINKTYPE_NULL header holds its address
// family in the order of the machine that wrote the file, and libpcap
// compares it in the file's order.
func CompileFile(expr string, snaplen, linkType uint32, bigEndian bool) (Program, error) {
	if !LinkSupported(linkType) {
		return nil, fmt.Errorf("filter: link type %d is not supported", linkType)
	}
	return compileLayer(expr, snaplen, layer{link: linkType, bigEndian: bigEndian})
}

func compileLayer(expr string, snaplen uint32, l layer) (Program, error) {
	if snaplen == 0 {
		snaplen = DefaultSnaplen
	}
	accept := Instruction{Op: ClassRET | RetK, K: snaplen}
	if strings.TrimSpace(expr) == "" {
		return Program{accept}, nil
	}
	b, opt, err := parseOpt(expr, l)
	if err != nil {
		return nil, err
	}
	if !opt {
		return unoptimized(b, accept)
	}
	return optimize(b, accept) // libpcap's verdicts are its optimized code's
}

// parseFor parses expr into its tree of tests for the packets of l.
func parseFor(expr string, l layer) (*bexpr, error) {
	b, _, err := parseOpt(expr, l)
	return b, err
}

// parseOpt is parseFor that also says whether libpcap optimizes the
// code (not after geneve or protochain, whose code jumps among statements).
func parseOpt(expr string, l layer) (b *bexpr, optimize bool, err error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, false, err
	}
	p := parser{expr: expr, toks: toks, layer: l}
	b, err = p.parse()
	if err != nil {
		if se, ok := err.(*SyntaxError); ok {
			suggest(expr, se)
		}
		return nil, false, err
	}
	return b, !p.noOptimize, nil
}

// CompileArgs compiles an expression given as several command-line arguments,
// joined with spaces as tcpdump does. Error columns count in the joined
// string.
func CompileArgs(args []string, snaplen uint32) (Program, error) {
	return Compile(strings.Join(args, " "), snaplen)
}

// CompileArgsLink is CompileArgs for link type linkType (CompileLink).
func CompileArgsLink(args []string, snaplen, linkType uint32) (Program, error) {
	return CompileLink(strings.Join(args, " "), snaplen, linkType)
}

// CompileArgsFile is CompileArgs for a saved capture (CompileFile).
func CompileArgsFile(args []string, snaplen, linkType uint32, bigEndian bool) (Program, error) {
	return CompileFile(strings.Join(args, " "), snaplen, linkType, bigEndian)
}
