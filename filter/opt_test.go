package filter

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// libpcapUnoptimized returns libpcap's unoptimized code (tcpdump -O -dd).
func libpcapUnoptimized(t testing.TB, expr string) (Program, error) {
	t.Helper()
	cmd := exec.Command(requireTcpdump(t), "-O", "-dd", "-y", "EN10MB", "--", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New(strings.TrimSpace(stderr.String()))
	}
	return parseDD(string(out))
}

// TestOptimizerIsLibpcaps: wherever our unoptimized code is libpcap's
// instruction for instruction, our optimized code is too (tcpdump -d), so
// the optimizer removes what libpcap's removes, in the same order.
func TestOptimizerIsLibpcaps(t *testing.T) {
	requireTcpdump(t)
	exprs := append([]string(nil), equivalenceExprs...)
	exprs = append(exprs, corpusExprs...)
	r := rand.New(rand.NewPCG(3, 5))
	n := 150
	if testing.Short() {
		exprs, n = exprs[:40], 10
	}
	for i := 0; i < n; i++ {
		exprs = append(exprs, randomExpr(r, 2))
	}
	same := 0
	for _, expr := range exprs {
		toks, err := lex(expr)
		if err != nil {
			continue
		}
		p := parser{expr: expr, toks: toks}
		b, err := p.parse()
		if err != nil {
			continue
		}
		unopt, err := assemble(b, Instruction{Op: ClassRET | RetK, K: DefaultSnaplen})
		if err != nil {
			continue
		}
		theirsUnopt, err := libpcapUnoptimized(t, expr)
		if err != nil || !equalPrograms(unopt, theirsUnopt) {
			continue
		}
		same++
		ours, err := compileVerdicts(expr, LinkEthernet)
		if err != nil {
			t.Errorf("Compile(%q): %v", expr, err)
			continue
		}
		theirs, err := libpcapProgram(t, expr)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if !equalPrograms(ours, theirs) {
			t.Errorf("%q: the same code before optimizing, not after:\nours:\n%s\nlibpcap:\n%s", expr, ours, theirs)
		}
	}
	if min := len(exprs) / 4; same < min {
		t.Errorf("only %d of %d expressions have libpcap's unoptimized code (want %d)", same, len(exprs), min)
	}
	t.Logf("%d of %d expressions compared instruction by instruction", same, len(exprs))
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
