package filter

import (
	"testing"
)

// FuzzCompile: random expressions never crash the compiler, for any link
// type, and every program it emits is valid and translates to eBPF.
func FuzzCompile(f *testing.F) {
	for _, e := range equivalenceExprs {
		f.Add(e)
	}
	for _, e := range linkExprs {
		f.Add(e)
	}
	for _, e := range []string{"", "(", ")", "not", "ip[", "tcp[1:", "host ::", "ether host 0:1:2:3:4:5", "\\", "1-", "a&&b||!c", "vlan vlan vlan vlan"} {
		f.Add(e)
	}
	frame := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 0, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 80, 1, 187}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := Compile(expr, 0)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok && len(expr) < 2000 {
				// Only "too complex" errors are not syntax errors.
				if p != nil {
					t.Fatalf("program and error both returned")
				}
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Compile(%q) gave an invalid program: %v\n%s", expr, err, p)
		}
		if _, err := ToEBPF(p, "f"); err != nil {
			t.Fatalf("ToEBPF of %q: %v", expr, err)
		}
		p.Match(frame, uint32(len(frame)))
		// The same for every other link type.
		for link := range linkNames {
			p, err := CompileFile(expr, 0, link, link == LinkNull)
			if err != nil {
				continue
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("CompileLink(%q, %s) gave an invalid program: %v\n%s", expr, linkNames[link], err, p)
			}
			if _, err := ToEBPF(p, "f"); err != nil {
				t.Fatalf("ToEBPF of %q on %s: %v", expr, linkNames[link], err)
			}
			p.Match(frame, uint32(len(frame)))
		}
	})
}

// FuzzMatch: arbitrary programs and packets never crash the matchers or
// the translator.
func FuzzMatch(f *testing.F) {
	f.Add([]byte{0x28, 0, 0, 0, 0, 0, 0, 12, 0x15, 0, 0, 1, 0, 0, 8, 0, 0x06, 0, 0, 0, 0, 0, 0, 1}, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, code, pkt []byte) {
		var p Program
		for len(code) >= 8 {
			p = append(p, Instruction{Op: uint16(code[0])<<8 | uint16(code[1]), Jt: code[2], Jf: code[3],
				K: uint32(code[4])<<24 | uint32(code[5])<<16 | uint32(code[6])<<8 | uint32(code[7])})
			code = code[8:]
		}
		p.Match(pkt, uint32(len(pkt)))
		// Every bit known and the wire length that of pkt: a sure verdict
		// of MatchPartial is Match's.
		known := make([]byte, len(pkt))
		for i := range known {
			known[i] = 0xff
		}
		if m, sure := p.MatchPartial(pkt, known); sure && m != p.Match(pkt, uint32(len(pkt))) {
			t.Fatalf("MatchPartial %v sure, Match %v\n%s", m, !m, p)
		}
		p.MatchPartial(pkt, pkt)
		_ = p.String()
		if p.Validate() == nil {
			if _, err := ToEBPF(p, "f"); err != nil {
				t.Fatalf("ToEBPF of a valid program: %v\n%s", err, p)
			}
		}
	})
}
