package filter

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// libpcapFileUnoptimized returns libpcap's unoptimized code for the
// packets of the capture at path (tcpdump -O -dd -r).
func libpcapFileUnoptimized(t testing.TB, path, expr string) (Program, error) {
	t.Helper()
	cmd := exec.Command(requireTcpdump(t), "-O", "-dd", "-r", path, "--", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New(strings.TrimSpace(stderr.String()))
	}
	return parseDD(string(out))
}

// TestOptimizerIsLibpcaps: for Ethernet and every other link type, our
// unoptimized code is libpcap's instruction for instruction (tcpdump -O
// -dd -r on a file of that type), and so is our optimized code (tcpdump
// -dd -r): both optimizers start from the same graph and remove the same
// loads, so verdicts on truncated packets agree.
func TestOptimizerIsLibpcaps(t *testing.T) {
	requireTcpdump(t)
	exprs := append(append([]string(nil), equivalenceExprs...), linkExprs...)
	r := rand.New(rand.NewPCG(3, 5))
	n := 40
	if testing.Short() {
		var some []string
		for i := 0; i < len(exprs); i += 6 {
			some = append(some, exprs[i])
		}
		exprs, n = some, 6
	}
	for i := 0; i < n; i++ {
		exprs = append(exprs, randomExpr(r, 3))
	}
	cases := append([]linkCase{{"EN10MB", LinkEthernet, false}}, linkCases...)
	for ci, lc := range cases {
		t.Run(lc.name, func(t *testing.T) {
			all := exprs
			switch {
			case lc.link == LinkEthernet && !testing.Short():
				all = append(append([]string(nil), exprs...), corpusExprs...)
			case lc.link != LinkEthernet && !testing.Short():
				// Every other expression, a different half per link
				// type, to bound the tcpdump runs.
				all = nil
				for i, expr := range exprs {
					if (i+ci)%2 == 0 {
						all = append(all, expr)
					}
				}
			}
			path := filepath.Join(t.TempDir(), "empty.pcap")
			writeLinkPcap(t, path, lc, nil)
			compared := 0
			for _, expr := range all {
				theirs, terr := libpcapFileProgram(t, path, expr)
				ours, oerr := CompileFile(expr, 0, lc.link, lc.bigEndian)
				if agreeOnRefusal(t, lc.name, expr, theirs, terr, oerr) {
					continue
				}
				compared++
				b, err := parseFor(expr, layer{link: lc.link, bigEndian: lc.bigEndian})
				if err != nil {
					t.Fatalf("%q: %v", expr, err)
				}
				unopt, err := unoptimized(b, Instruction{Op: ClassRET | RetK, K: DefaultSnaplen})
				if err != nil {
					t.Errorf("%q: %v", expr, err)
					continue
				}
				theirsUnopt, err := libpcapFileUnoptimized(t, path, expr)
				if err != nil {
					t.Errorf("%q: tcpdump -O: %v", expr, err)
					continue
				}
				if !equalPrograms(unopt, theirsUnopt) {
					t.Errorf("%q on %s: unoptimized code differs:\nours:\n%s\nlibpcap:\n%s", expr, lc.name, unopt, theirsUnopt)
					continue
				}
				if !equalPrograms(ours, theirs) {
					t.Errorf("%q on %s: the same code before optimizing, not after:\nours:\n%s\nlibpcap:\n%s", expr, lc.name, ours, theirs)
				}
			}
			if compared < len(all)/3 {
				t.Errorf("only %d of %d expressions compared", compared, len(all))
			}
			t.Logf("%d of %d expressions compared instruction by instruction", compared, len(all))
		})
	}
}

// TestOptimizerErrors: constant folding finds what libpcap's finds.
func TestOptimizerErrors(t *testing.T) {
	for _, tc := range []struct{ expr, err string }{
		{"ip[0] / (ip[1] - ip[1] + 0 * ip[2]) = 0", ""},
		{"udp and tcp", "rejects all packets"},
		{"ip and ip6", "rejects all packets"},
		{"tcp and not tcp", "rejects all packets"},
		{"ip[100] = 0 or ip", ""},
	} {
		_, err := Compile(tc.expr, 0)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.expr, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.expr, err, tc.err)
		}
		if theirs, lerr := libpcapProgram(t, tc.expr); lerr == nil && tc.err != "" && !equalPrograms(theirs, rejectAll) {
			t.Errorf("%q: libpcap does not refuse it", tc.expr)
		}
	}
}

// TestProtoNamesMatchLibpcap: every protocol name we take after "proto"
// is one tcpdump takes, with its number, and icmp6 is refused as tcpdump
// refuses it.
func TestProtoNamesMatchLibpcap(t *testing.T) {
	requireTcpdump(t)
	names := []string{"icmp6", "igrp", "ospfigp"}
	for name := range ipProtoNames {
		names = append(names, name)
	}
	if testing.Short() {
		names = names[:10]
	}
	for _, name := range names {
		expr := `ip proto \` + name
		theirs, terr := libpcapProgram(t, expr)
		ours, err := Compile(expr, 0)
		switch {
		case (err == nil) != (terr == nil):
			t.Errorf("%q: ours %v, tcpdump %v", expr, err, terr)
		case err == nil && !equalPrograms(ours, theirs):
			t.Errorf("%q:\nours:\n%s\nlibpcap:\n%s", expr, ours, theirs)
		}
	}
}
