package filter

import (
	"fmt"
	"testing"
)

func TestMatchEdgeCases(t *testing.T) {
	ret := func(k uint32) Instruction { return Instruction{Op: ClassRET | RetK, K: k} }
	pkt := []byte{0x00, 0x01, 0x02, 0x03, 0x45}
	for _, tc := range []struct {
		name string
		p    Program
		want bool
	}{
		{"word load in bounds", Program{{Op: ClassLD | SizeW | ModeABS, K: 1}, {Op: ClassRET | RetA}}, true},
		{"word load past the end rejects", Program{{Op: ClassLD | SizeW | ModeABS, K: 2}, ret(1)}, false},
		{"half load past the end rejects", Program{{Op: ClassLD | SizeH | ModeABS, K: 4}, ret(1)}, false},
		{"huge offset rejects", Program{{Op: ClassLD | SizeB | ModeABS, K: 0xffffffff}, ret(1)}, false},
		{"indexed overflow rejects", Program{{Op: ClassLDX | ModeIMM, K: 0xffffffff}, {Op: ClassLD | SizeB | ModeIND, K: 2}, ret(1)}, false},
		{"msh", Program{{Op: ClassLDX | SizeB | ModeMSH, K: 4}, {Op: ClassMISC | MiscTXA}, {Op: ClassJMP | JmpJEQ, K: 20, Jt: 0, Jf: 1}, ret(1), ret(0)}, true},
		{"msh past the end rejects", Program{{Op: ClassLDX | SizeB | ModeMSH, K: 5}, ret(1)}, false},
		{"division by zero rejects", Program{{Op: ClassLD | ModeIMM, K: 5}, {Op: ClassALU | AluDIV | SrcX}, ret(1)}, false},
		{"modulus by zero rejects", Program{{Op: ClassLD | ModeIMM, K: 5}, {Op: ClassALU | AluMOD | SrcX}, ret(1)}, false},
		{"shift by 32 is zero", Program{{Op: ClassLD | ModeIMM, K: 5}, {Op: ClassLDX | ModeIMM, K: 32}, {Op: ClassALU | AluLSH | SrcX}, {Op: ClassRET | RetA}}, false},
		{"len is the wire length", Program{{Op: ClassLD | SizeW | ModeLEN}, {Op: ClassJMP | JmpJEQ, K: 1500, Jt: 0, Jf: 1}, ret(1), ret(0)}, true},
		{"scratch round trip", Program{{Op: ClassLD | ModeIMM, K: 7}, {Op: ClassST, K: 15}, {Op: ClassLD | ModeIMM}, {Op: ClassLDX | ModeMEM, K: 15}, {Op: ClassRET | RetX}}, true},
		{"bad scratch index rejects", Program{{Op: ClassST, K: 16}, ret(1)}, false},
		{"jump past the end rejects", Program{{Op: ClassJMP | JmpJA, K: 5}, ret(1)}, false},
		{"cond jump past the end rejects", Program{{Op: ClassJMP | JmpJEQ, Jt: 9, Jf: 9}, ret(1)}, false},
		{"falling off the end rejects", Program{{Op: ClassLD | ModeIMM, K: 1}}, false},
		{"unknown opcode rejects", Program{{Op: 0xffff}, ret(1)}, false},
		{"empty program rejects", Program{}, false},
	} {
		if got := tc.p.Match(pkt, 1500); got != tc.want {
			t.Errorf("%s: Match = %v, want %v\n%s", tc.name, got, tc.want, tc.p)
		}
	}
}

func TestValidate(t *testing.T) {
	for name, p := range map[string]Program{
		"empty":          {},
		"no return":      {{Op: ClassLD | ModeIMM}},
		"jump too far":   {{Op: ClassJMP | JmpJEQ, Jt: 1}, {Op: ClassRET}},
		"ja too far":     {{Op: ClassJMP | JmpJA, K: 1}, {Op: ClassRET}},
		"scratch":        {{Op: ClassLD | ModeMEM, K: 16}, {Op: ClassRET}},
		"div by const 0": {{Op: ClassALU | AluDIV}, {Op: ClassRET}},
		"unknown":        {{Op: 0x07 | 0x40}, {Op: ClassRET}},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%s: Validate accepted\n%s", name, p)
		}
		if _, err := ToEBPF(p, "f"); err == nil {
			t.Errorf("%s: ToEBPF accepted", name)
		}
	}
}

// TestLongJumps checks the trampolines for jumps farther than 255.
func TestLongJumps(t *testing.T) {
	// Distinct ports: the optimizer would merge repeated tests.
	expr := "host 1.2.3.4"
	for i := 0; i < 150; i++ {
		expr += fmt.Sprintf(" or port %d", 1+i)
	}
	p, err := Compile(expr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) < 300 {
		t.Fatalf("program of %d instructions is too short to need trampolines", len(p))
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	ja := 0
	for _, ins := range p {
		if ins.Op == ClassJMP|JmpJA {
			ja++
		}
	}
	if ja == 0 {
		t.Errorf("no trampoline in a program of %d instructions", len(p))
	}
	theirs, err := libpcapProgram(t, expr)
	if err != nil {
		t.Fatal(err)
	}
	compareVerdicts(t, expr, p, theirs, testFrames(t))
}

func BenchmarkMatch(b *testing.B) {
	frames := testFrames(b)
	for _, expr := range []string{"tcp port 443", "host 10.0.0.1 or net 192.168.0.0/16", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0"} {
		p, err := Compile(expr, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for i := 0; b.Loop(); i++ {
				f := frames[i%len(frames)]
				if p.Match(f.data, f.wireLen) {
					n++
				}
			}
			_ = n
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("tcp port 80 or udp port 53 and not host 10.0.0.1", 0); err != nil {
			b.Fatal(err)
		}
	}
}
