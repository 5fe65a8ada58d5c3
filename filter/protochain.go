package filter

// protochain (gen_protochain in libpcap's gencode.c): the IP protocol,
// followed through the headers that chain to another. IPv4: AH headers;
// IPv6: hop-by-hop, destination options, routing and fragment headers,
// each (len+1)*8 bytes, and AH. The walk stops at the wanted protocol
// (match), at no next header or a protocol that chains to nothing (no
// match).
//
// libpcap walks in a loop whose backward jump neither the kernel's checkers
// nor ours take, so the walk here is unrolled to protochainDepth headers:
// a chain with more headers before the wanted protocol does not match.
// Each step only jumps forward, to the start of the next; a step that
// meets a protocol it stops at leaves A as it is, and the next steps, seeing
// the same protocol, do the same, so the leaf's final test compares the
// protocol the walk ended on. The loads and the use of X and one scratch
// register are libpcap's, including its AH step, which sets X to the AH
// header's length, (len+2)*4, rather than adding it to X: a header after
// an AH header is read where libpcap reads it, so the verdicts are
// libpcap's (where that makes libpcap's walk come back to the same AH
// header forever, ours ends, without a match). As libpcap, we do not
// optimize such code (it jumps among its statements).

const (
	protochainDepth = 8
	protoHopOpts    = 0
	protoRouting    = 43
	protoNoNext     = 59
	protoDstOpts    = 60
)

// genProtochain is `[ip|ip6] protochain N`; pname is the qualifier.
func (p *parser) genProtochain(t token, q qual) *bexpr {
	if q.dir != "" {
		p.failAt(t, "'protochain' takes no direction")
	}
	v, ok := parseNum(t.text)
	if !ok {
		if v, ok = ipProtoNames[t.text]; !ok {
			p.failAt(t, "unknown ip proto %q", t.text)
		}
	}
	if p.layer.variable {
		p.failAt(t, "'protochain' not supported with variable length headers")
	}
	switch q.proto {
	case "ip":
		return p.protochain(v, 4)
	case "ip6":
		return p.protochain(v, 6)
	case "":
		return bOrOf(p.protochain(v, 4), p.protochain(v, 6))
	}
	p.failAt(t, "bad protocol applied for 'protochain'")
	return nil
}

// protochain is the walk over one IP version, after its link-layer type
// test.
func (p *parser) protochain(v uint32, version int) *bexpr {
	l := p.layer
	reg := p.allocReg()
	defer p.regs.free(reg)
	nl := l.nl()
	var lt *bexpr
	var s []Instruction
	if version == 4 {
		lt = l.etherType(etherTypeIP)
		s = []Instruction{ldAbs(SizeB, nl+9), ldxIPHdrLen(nl)} // A: the protocol; X: the header's length
	} else {
		lt = l.etherType(etherTypeIPv6)
		s = []Instruction{ldAbs(SizeB, nl+6), stmt(ClassLDX|ModeIMM, ip6HdrLen)}
	}
	// ah advances over an AH header at X: A its next header, X as libpcap
	// sets it.
	ah := []Instruction{
		stmt(ClassMISC|MiscTXA, 0),
		ldInd(SizeB, nl),
		stmt(ClassST, reg),
		stmt(ClassMISC|MiscTXA, 0),
		aluK(AluADD, 1),
		stmt(ClassMISC|MiscTAX, 0),
		ldInd(SizeB, nl),
		aluK(AluADD, 2),
		aluK(AluMUL, 4),
		stmt(ClassMISC|MiscTAX, 0),
		stmt(ClassLD|ModeMEM, reg),
	}
	// ext6 advances over an IPv6 extension header at X, then jumps over
	// the AH check and advance that follow it (skip instructions).
	ext6 := func(skip uint32) []Instruction {
		return []Instruction{
			ldInd(SizeB, nl),
			stmt(ClassST, reg),
			ldInd(SizeB, nl+1),
			aluK(AluADD, 1),
			aluK(AluMUL, 8),
			stmt(ClassALU|AluADD|SrcX, 0),
			stmt(ClassMISC|MiscTAX, 0),
			stmt(ClassLD|ModeMEM, reg),
			{Op: ClassJMP | JmpJA, K: skip},
		}
	}
	jeq := func(k uint32, jt, jf uint8) Instruction {
		return Instruction{Op: ClassJMP | JmpJEQ | SrcK, K: k, Jt: jt, Jf: jf}
	}
	for range protochainDepth {
		var step []Instruction
		ahCheck := 1 + len(ah) // the AH check and advance
		if version == 4 {
			// The wanted protocol or no next header: on to the next step,
			// which stops there again.
			step = []Instruction{
				jeq(v, uint8(1+ahCheck), 0),
				jeq(protoNoNext, uint8(ahCheck), 0),
			}
		} else {
			ext := ext6(uint32(ahCheck))
			toAH := uint8(len(ext))
			toNext := uint8(4 + len(ext) + ahCheck) // from the first of the four below
			step = []Instruction{
				jeq(v, toNext+1, 0),
				jeq(protoNoNext, toNext, 0),
				jeq(protoHopOpts, 3, 0),
				jeq(protoDstOpts, 2, 0),
				jeq(protoRouting, 1, 0),
				jeq(protoFrag6, 0, toAH),
			}
			step = append(step, ext...)
		}
		step = append(step, jeq(protoAH, 0, uint8(len(ah))))
		step = append(step, ah...)
		s = append(s, step...)
	}
	// The end of the walk (libpcap's nop): the leaf tests A.
	s = append(s, aluK(AluADD, 0))
	p.noOptimize = true
	return bAndOf(lt, leaf(JmpJEQ, v, s...))
}
