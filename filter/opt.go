package filter

import (
	"fmt"
	"math/bits"
)

// The optimizer: a port of libpcap's optimize.c (as of libpcap 1.10), run
// on the flow graph of a tree of tests. It matters for verdicts, not only
// for size: a load past the end of the packet rejects it, and libpcap's
// optimizer removes tests whose outcome is already known on the path
// (jump threading over edge dominators), branches whose two targets are the
// same and the loads left dead, so its code keeps truncated packets that
// the unoptimized code rejects (`ip[100] = 0 or ip` on a short IP packet).
// tcpdump filters with the optimized code; so do we, with the same
// algorithm, in the same order, so that the same loads go.

const (
	optNOP     = -1
	aAtom      = ScratchSlots
	xAtom      = ScratchSlots + 1
	nAtoms     = ScratchSlots + 2
	axAtom     = nAtoms
	valUnknown = 0
)

type ostmt struct {
	code int
	k    uint32
}

// oedge is an edge of the flow graph (libpcap's struct edge).
type oedge struct {
	id   int
	code int // the branch's opcode; negated for the false edge
	edom []uint32
	succ *oblock
	pred *oblock
	next *oedge // next edge into the same block
}

// oblock is a basic block: statements, then a conditional jump or a return
// (libpcap's struct block).
type oblock struct {
	id             int
	stmts          []ostmt
	s              ostmt
	mark           int
	longjt, longjf int
	level          int
	offset         int
	et, ef         oedge
	link           *oblock
	dom            []uint32
	inEdges        *oedge
	def, kill      uint32
	inUse, outUse  uint32
	oval           uint32
	val            [nAtoms]uint32
}

func jt(b *oblock) *oblock { return b.et.succ }
func jf(b *oblock) *oblock { return b.ef.succ }

type valKey struct {
	code   int
	v0, v1 uint32
}

type vmapInfo struct {
	isConst  bool
	constVal uint32
}

type optimizer struct {
	done      bool
	nonBranch bool // something other than branch movement was done

	blocks    []*oblock
	edges     []*oedge
	nodewords int
	edgewords int
	levels    []*oblock

	vals   map[valKey]uint32
	curval uint32
	vmap   []vmapInfo

	root    *oblock
	curMark int
}

// optError aborts the optimization with libpcap's message.
type optError struct{ msg string }

func (o *optimizer) fail(format string, args ...any) {
	panic(optError{fmt.Sprintf(format, args...)})
}

// buildGraph makes the flow graph of b, whose true exits go to the block
// returning accept and false exits to the one returning 0 (libpcap's
// finish_parse).
func buildGraph(b *bexpr, accept Instruction) *oblock {
	acc := &oblock{s: ostmt{code: int(accept.Op), k: accept.K}}
	rej := &oblock{s: ostmt{code: ClassRET | RetK, k: 0}}
	var build func(b *bexpr, t, f *oblock) *oblock
	build = func(b *bexpr, t, f *oblock) *oblock {
		switch b.kind {
		case bLeaf:
			blk := &oblock{s: ostmt{code: int(b.jmp.Op), k: b.jmp.K}}
			for _, s := range b.stmts {
				blk.stmts = append(blk.stmts, ostmt{code: int(s.Op), k: s.K})
			}
			blk.et.succ, blk.ef.succ = t, f
			return blk
		case bAnd:
			return build(b.l, build(b.r, t, f), f)
		case bOr:
			return build(b.l, t, build(b.r, t, f))
		case bNot:
			return build(b.l, f, t)
		}
		// bTrue: libpcap's gen_true, a test that always holds.
		blk := &oblock{s: ostmt{code: ClassJMP | JmpJEQ | SrcK, k: 0},
			stmts: []ostmt{{code: ClassLD | ModeIMM, k: 0}}}
		blk.et.succ, blk.ef.succ = t, f
		return blk
	}
	return build(b, acc, rej)
}

// optimize compiles b to optimized classic BPF as libpcap's pcap_compile
// does. A program that rejects every packet gives ErrRejectsAll; a constant
// division by zero found while folding gives libpcap's message.
func optimize(b *bexpr, accept Instruction) (prog Program, err error) {
	o := &optimizer{root: buildGraph(b, accept)}
	defer func() {
		if r := recover(); r != nil {
			oe, ok := r.(optError)
			if !ok {
				panic(r)
			}
			prog, err = nil, fmt.Errorf("filter: %s", oe.msg)
		}
	}()
	o.init()
	o.loop(false)
	o.loop(true)
	o.internBlocks()
	o.optRoot()
	if o.root.s.code == ClassRET|RetK && o.root.s.k == 0 {
		return nil, ErrRejectsAll
	}
	return o.convert()
}

// unoptimized lays b out without optimizing, as libpcap does under
// tcpdump -O: tests compare it with libpcap's code to know that both
// optimizers start from the same graph.
func unoptimized(b *bexpr, accept Instruction) (Program, error) {
	o := &optimizer{root: buildGraph(b, accept)}
	return o.convert()
}

func (o *optimizer) unmarkAll() { o.curMark++ }
func (o *optimizer) isMarked(b *oblock) bool {
	return b.mark == o.curMark
}
func (o *optimizer) markBlock(b *oblock) { b.mark = o.curMark }

func (o *optimizer) init() {
	o.curMark = 1
	o.unmarkAll()
	var number func(p *oblock)
	number = func(p *oblock) {
		if p == nil || o.isMarked(p) {
			return
		}
		o.markBlock(p)
		p.id = len(o.blocks)
		o.blocks = append(o.blocks, p)
		number(jt(p))
		number(jf(p))
	}
	number(o.root)
	n := len(o.blocks)
	o.edges = make([]*oedge, 2*n)
	o.levels = make([]*oblock, n)
	o.edgewords = 2*n/32 + 1
	o.nodewords = n/32 + 1
	for i, b := range o.blocks {
		b.dom = make([]uint32, o.nodewords)
		b.et.edom = make([]uint32, o.edgewords)
		b.ef.edom = make([]uint32, o.edgewords)
		b.et.id, b.ef.id = i, n+i
		o.edges[i], o.edges[n+i] = &b.et, &b.ef
		b.et.pred, b.ef.pred = b, b
	}
}

func setMember(p []uint32, a int) bool { return p[a/32]&(1<<(a%32)) != 0 }
func setInsert(p []uint32, a int)      { p[a/32] |= 1 << (a % 32) }
func setIntersect(a, b []uint32) {
	for i := range a {
		a[i] &= b[i]
	}
}

// findLevels levels the graph: 0 at the leaves, the root highest. Each
// level is a list linked through link, in libpcap's order.
func (o *optimizer) findLevels() {
	clear(o.levels)
	o.unmarkAll()
	var r func(b *oblock)
	r = func(b *oblock) {
		if o.isMarked(b) {
			return
		}
		o.markBlock(b)
		b.link = nil
		level := 0
		if jt(b) != nil {
			r(jt(b))
			r(jf(b))
			level = max(jt(b).level, jf(b).level) + 1
		}
		b.level = level
		b.link = o.levels[level]
		o.levels[level] = b
	}
	r(o.root)
}

func (o *optimizer) findDom() {
	for _, b := range o.blocks {
		for i := range b.dom {
			b.dom[i] = 0xffffffff
		}
	}
	clear(o.root.dom)
	for level := o.root.level; level >= 0; level-- {
		for b := o.levels[level]; b != nil; b = b.link {
			setInsert(b.dom, b.id)
			if jt(b) == nil {
				continue
			}
			setIntersect(jt(b).dom, b.dom)
			setIntersect(jf(b).dom, b.dom)
		}
	}
}

func propEdom(ep *oedge) {
	setInsert(ep.edom, ep.id)
	if ep.succ != nil {
		setIntersect(ep.succ.et.edom, ep.edom)
		setIntersect(ep.succ.ef.edom, ep.edom)
	}
}

func (o *optimizer) findEdom() {
	for _, e := range o.edges {
		for i := range e.edom {
			e.edom[i] = 0xffffffff
		}
	}
	clear(o.root.et.edom)
	clear(o.root.ef.edom)
	for level := o.root.level; level >= 0; level-- {
		for b := o.levels[level]; b != nil; b = b.link {
			propEdom(&b.et)
			propEdom(&b.ef)
		}
	}
}

// atomUse is the register s uses: aAtom, xAtom, axAtom (both), a scratch
// slot, or -1.
func atomUse(s *ostmt) int {
	c := s.code
	if c == optNOP {
		return -1
	}
	switch class(uint16(c)) {
	case ClassRET:
		switch c & 0x18 {
		case RetA:
			return aAtom
		case RetX:
			return xAtom
		}
		return -1
	case ClassLD, ClassLDX:
		switch mode(uint16(c)) {
		case ModeIND:
			return xAtom
		case ModeMEM:
			return int(s.k)
		}
		return -1
	case ClassST:
		return aAtom
	case ClassSTX:
		return xAtom
	case ClassJMP, ClassALU:
		if src(uint16(c)) == SrcX {
			return axAtom
		}
		return aAtom
	case ClassMISC:
		if c&0xf8 == MiscTXA {
			return xAtom
		}
		return aAtom
	}
	return -1
}

// atomDef is the register s defines, or -1.
func atomDef(s *ostmt) int {
	if s.code == optNOP {
		return -1
	}
	switch class(uint16(s.code)) {
	case ClassLD, ClassALU:
		return aAtom
	case ClassLDX:
		return xAtom
	case ClassST, ClassSTX:
		return int(s.k)
	case ClassMISC:
		if s.code&0xf8 == MiscTAX {
			return xAtom
		}
		return aAtom
	}
	return -1
}

func atomMask(n int) uint32         { return 1 << n }
func atomElem(d uint32, n int) bool { return d&atomMask(n) != 0 }

func computeLocalUD(b *oblock) {
	var def, use, killed uint32
	uses := func(s *ostmt) {
		atom := atomUse(s)
		switch {
		case atom == axAtom:
			if !atomElem(def, xAtom) {
				use |= atomMask(xAtom)
			}
			if !atomElem(def, aAtom) {
				use |= atomMask(aAtom)
			}
		case atom >= 0:
			if !atomElem(def, atom) {
				use |= atomMask(atom)
			}
		}
	}
	for i := range b.stmts {
		s := &b.stmts[i]
		if s.code == optNOP {
			continue
		}
		uses(s)
		if atom := atomDef(s); atom >= 0 {
			if !atomElem(use, atom) {
				killed |= atomMask(atom)
			}
			def |= atomMask(atom)
		}
	}
	if class(uint16(b.s.code)) == ClassJMP {
		uses(&b.s)
	}
	b.def, b.kill, b.inUse = def, killed, use
}

func (o *optimizer) findUD() {
	maxlevel := o.root.level
	for i := maxlevel; i >= 0; i-- {
		for p := o.levels[i]; p != nil; p = p.link {
			computeLocalUD(p)
			p.outUse = 0
		}
	}
	for i := 1; i <= maxlevel; i++ {
		for p := o.levels[i]; p != nil; p = p.link {
			p.outUse |= jt(p).inUse | jf(p).inUse
			p.inUse |= p.outUse &^ p.kill
		}
	}
}

func (o *optimizer) initVal() {
	o.curval = 0
	o.vals = make(map[valKey]uint32)
	o.vmap = o.vmap[:0]
	o.vmap = append(o.vmap, vmapInfo{})
}

// valueOf is libpcap's F: the value number of code applied to v0 and v1.
func (o *optimizer) valueOf(code int, v0, v1 uint32) uint32 {
	key := valKey{code, v0, v1}
	if v, ok := o.vals[key]; ok {
		return v
	}
	o.curval++
	v := o.curval
	o.vals[key] = v
	info := vmapInfo{}
	if mode(uint16(code)) == ModeIMM && (class(uint16(code)) == ClassLD || class(uint16(code)) == ClassLDX) {
		info = vmapInfo{isConst: true, constVal: v0}
	}
	o.vmap = append(o.vmap, info)
	return v
}

// konst is the value number of the constant k.
func (o *optimizer) konst(k uint32) uint32 { return o.valueOf(ClassLD|ModeIMM|SizeW, k, 0) }

func vstore(s *ostmt, valp *uint32, newval uint32, alter bool) {
	if alter && newval != valUnknown && *valp == newval {
		s.code = optNOP
	} else {
		*valp = newval
	}
}

func (o *optimizer) changed() {
	o.nonBranch = true
	o.done = false
}

// foldOp folds a binary operation on two constants.
func (o *optimizer) foldOp(s *ostmt, v0, v1 uint32) {
	a, b := o.vmap[v0].constVal, o.vmap[v1].constVal
	op := uint16(s.code) & 0xf0
	switch {
	case op == AluDIV && b == 0:
		o.fail("division by zero")
	case op == AluMOD && b == 0:
		o.fail("modulus by zero")
	}
	a, _ = alu(op, a, b)
	s.k = a
	s.code = ClassLD | ModeIMM
	o.changed()
}

// thisOp is the index of the first statement at or after i that is not a
// NOP, or -1.
func thisOp(stmts []ostmt, i int) int {
	for ; i >= 0 && i < len(stmts); i++ {
		if stmts[i].code != optNOP {
			return i
		}
	}
	return -1
}

func optNot(b *oblock) { b.et.succ, b.ef.succ = b.ef.succ, b.et.succ }

func (o *optimizer) optPeep(b *oblock) {
	st := b.stmts
	if len(st) == 0 {
		return
	}
	last := 0
	for s := 0; ; {
		s = thisOp(st, s)
		if s < 0 {
			break
		}
		next := thisOp(st, s+1)
		if next < 0 {
			break
		}
		last = next
		// st M[k]; ldx M[k] -> st M[k]; tax
		if st[s].code == ClassST && st[next].code == ClassLDX|ModeMEM && st[s].k == st[next].k {
			o.changed()
			st[next].code = ClassMISC | MiscTAX
		}
		// ld #k; tax -> ldx #k; txa
		if st[s].code == ClassLD|ModeIMM && st[next].code == ClassMISC|MiscTAX {
			st[s].code = ClassLDX | ModeIMM
			st[next].code = ClassMISC | MiscTXA
			o.changed()
		}
		// ld #k; [ldxms]; add x; tax; ld [x+0] -> [ldxms]; ld [x+k]
		if st[s].code == ClassLD|ModeIMM && !atomElem(b.outUse, xAtom) {
			add := next
			if st[next].code == ClassLDX|ModeMSH|SizeB {
				add = thisOp(st, next+1)
			}
			if add >= 0 && st[add].code == ClassALU|AluADD|SrcX {
				if tax := thisOp(st, add+1); tax >= 0 && st[tax].code == ClassMISC|MiscTAX {
					if ild := thisOp(st, tax+1); ild >= 0 && class(uint16(st[ild].code)) == ClassLD && mode(uint16(st[ild].code)) == ModeIND {
						st[ild].k += st[s].k
						st[s].code = optNOP
						st[add].code = optNOP
						st[tax].code = optNOP
						o.changed()
					}
				}
			}
		}
		s = next
	}
	// A compare with a constant after an arithmetic operation whose result
	// nobody else uses.
	if b.s.code == ClassJMP|JmpJEQ|SrcK && !atomElem(b.outUse, aAtom) {
		l := &st[last]
		switch {
		case l.code == ClassALU|AluSUB|SrcX:
			if val := b.val[xAtom]; o.vmap[val].isConst {
				b.s.k += o.vmap[val].constVal
				l.code = optNOP
				o.changed()
			} else if b.s.k == 0 {
				l.code = optNOP
				b.s.code = ClassJMP | JmpJEQ | SrcX
				o.changed()
			}
		case l.code == ClassALU|AluSUB|SrcK:
			l.code = optNOP
			b.s.k += l.k
			o.changed()
		case l.code == ClassALU|AluAND|SrcK && b.s.k == 0:
			b.s.k = l.k
			b.s.code = ClassJMP | SrcK | JmpJSET
			l.code = optNOP
			o.changed()
			optNot(b)
		}
	}
	if b.s.code == ClassJMP|SrcK|JmpJSET {
		if b.s.k == 0 {
			b.et.succ = b.ef.succ
		}
		if b.s.k == 0xffffffff {
			b.ef.succ = b.et.succ
		}
	}
	// A compare with X when X is a known constant.
	if val := b.val[xAtom]; o.vmap[val].isConst && src(uint16(b.s.code)) == SrcX {
		b.s.code &^= SrcX
		b.s.k = o.vmap[val].constVal
	}
	// A compare of a known constant.
	if val := b.val[aAtom]; o.vmap[val].isConst && src(uint16(b.s.code)) == SrcK {
		v := o.vmap[val].constVal
		taken := false
		switch uint16(b.s.code) & 0xf0 {
		case JmpJEQ:
			taken = v == b.s.k
		case JmpJGT:
			taken = v > b.s.k
		case JmpJGE:
			taken = v >= b.s.k
		case JmpJSET:
			taken = v&b.s.k != 0
		default:
			o.fail("unexpected jump opcode 0x%x", b.s.code)
		}
		if jf(b) != jt(b) {
			o.changed()
		}
		if taken {
			b.ef.succ = b.et.succ
		} else {
			b.et.succ = b.ef.succ
		}
	}
}

// optStmt computes the value numbers of what s defines and, when alter is
// set, simplifies it (constant folding, loads of known values removed).
func (o *optimizer) optStmt(s *ostmt, val *[nAtoms]uint32, alter bool) {
	switch s.code {
	case ClassLD | ModeABS | SizeW, ClassLD | ModeABS | SizeH, ClassLD | ModeABS | SizeB:
		vstore(s, &val[aAtom], o.valueOf(s.code, s.k, 0), alter)
	case ClassLD | ModeIND | SizeW, ClassLD | ModeIND | SizeH, ClassLD | ModeIND | SizeB:
		v := val[xAtom]
		if alter && o.vmap[v].isConst {
			s.code = ClassLD | ModeABS | s.code&0x18
			s.k += o.vmap[v].constVal
			v = o.valueOf(s.code, s.k, 0)
			o.changed()
		} else {
			v = o.valueOf(s.code, s.k, v)
		}
		vstore(s, &val[aAtom], v, alter)
	case ClassLD | ModeLEN:
		vstore(s, &val[aAtom], o.valueOf(s.code, 0, 0), alter)
	case ClassLD | ModeIMM:
		vstore(s, &val[aAtom], o.konst(s.k), alter)
	case ClassLDX | ModeIMM:
		vstore(s, &val[xAtom], o.konst(s.k), alter)
	case ClassLDX | ModeMSH | SizeB:
		vstore(s, &val[xAtom], o.valueOf(s.code, s.k, 0), alter)
	case ClassALU | AluNEG:
		if alter && o.vmap[val[aAtom]].isConst {
			s.code = ClassLD | ModeIMM
			s.k = 0 - o.vmap[val[aAtom]].constVal
			val[aAtom] = o.konst(s.k)
		} else {
			val[aAtom] = o.valueOf(s.code, val[aAtom], 0)
		}
	case ClassALU | AluADD | SrcK, ClassALU | AluSUB | SrcK, ClassALU | AluMUL | SrcK,
		ClassALU | AluDIV | SrcK, ClassALU | AluMOD | SrcK, ClassALU | AluAND | SrcK,
		ClassALU | AluOR | SrcK, ClassALU | AluXOR | SrcK, ClassALU | AluLSH | SrcK,
		ClassALU | AluRSH | SrcK:
		op := uint16(s.code) & 0xf0
		if alter {
			if s.k == 0 {
				switch op {
				case AluADD, AluLSH, AluRSH, AluOR, AluXOR:
					s.code = optNOP
					return
				case AluMUL, AluAND:
					s.code = ClassLD | ModeIMM
					val[aAtom] = o.konst(s.k)
					return
				case AluDIV:
					o.fail("division by zero")
				case AluMOD:
					o.fail("modulus by zero")
				}
			}
			if o.vmap[val[aAtom]].isConst {
				o.foldOp(s, val[aAtom], o.konst(s.k))
				val[aAtom] = o.konst(s.k)
				return
			}
		}
		val[aAtom] = o.valueOf(s.code, val[aAtom], o.konst(s.k))
	case ClassALU | AluADD | SrcX, ClassALU | AluSUB | SrcX, ClassALU | AluMUL | SrcX,
		ClassALU | AluDIV | SrcX, ClassALU | AluMOD | SrcX, ClassALU | AluAND | SrcX,
		ClassALU | AluOR | SrcX, ClassALU | AluXOR | SrcX, ClassALU | AluLSH | SrcX,
		ClassALU | AluRSH | SrcX:
		op := uint16(s.code) & 0xf0
		if alter && o.vmap[val[xAtom]].isConst {
			if o.vmap[val[aAtom]].isConst {
				o.foldOp(s, val[aAtom], val[xAtom])
				val[aAtom] = o.konst(s.k)
			} else {
				s.code = ClassALU | SrcK | int(op)
				s.k = o.vmap[val[xAtom]].constVal
				if (op == AluLSH || op == AluRSH) && s.k > 31 {
					o.fail("shift by more than 31 bits")
				}
				o.changed()
				val[aAtom] = o.valueOf(s.code, val[aAtom], o.konst(s.k))
			}
			return
		}
		if alter && o.vmap[val[aAtom]].isConst && o.vmap[val[aAtom]].constVal == 0 {
			switch op {
			case AluADD, AluOR, AluXOR:
				s.code = ClassMISC | MiscTXA
				vstore(s, &val[aAtom], val[xAtom], alter)
				return
			case AluMUL, AluDIV, AluMOD, AluAND, AluLSH, AluRSH:
				s.code = ClassLD | ModeIMM
				s.k = 0
				vstore(s, &val[aAtom], o.konst(s.k), alter)
				return
			}
		}
		val[aAtom] = o.valueOf(s.code, val[aAtom], val[xAtom])
	case ClassMISC | MiscTXA:
		vstore(s, &val[aAtom], val[xAtom], alter)
	case ClassLD | ModeMEM:
		v := val[s.k]
		if alter && o.vmap[v].isConst {
			s.code = ClassLD | ModeIMM
			s.k = o.vmap[v].constVal
			o.changed()
		}
		vstore(s, &val[aAtom], v, alter)
	case ClassMISC | MiscTAX:
		vstore(s, &val[xAtom], val[aAtom], alter)
	case ClassLDX | ModeMEM:
		v := val[s.k]
		if alter && o.vmap[v].isConst {
			s.code = ClassLDX | ModeIMM
			s.k = o.vmap[v].constVal
			o.changed()
		}
		vstore(s, &val[xAtom], v, alter)
	case ClassST:
		vstore(s, &val[s.k], val[aAtom], alter)
	case ClassSTX:
		vstore(s, &val[s.k], val[xAtom], alter)
	}
}

func (o *optimizer) deadStmt(s *ostmt, last *[nAtoms]*ostmt) {
	if atom := atomUse(s); atom == axAtom {
		last[xAtom], last[aAtom] = nil, nil
	} else if atom >= 0 {
		last[atom] = nil
	}
	if atom := atomDef(s); atom >= 0 {
		if last[atom] != nil {
			o.changed()
			last[atom].code = optNOP
		}
		last[atom] = s
	}
}

// optDeadstores removes definitions overwritten in the block before any use,
// and the last ones when no successor uses them.
func (o *optimizer) optDeadstores(b *oblock) {
	var last [nAtoms]*ostmt
	for i := range b.stmts {
		o.deadStmt(&b.stmts[i], &last)
	}
	o.deadStmt(&b.s, &last)
	for atom := 0; atom < nAtoms; atom++ {
		if last[atom] != nil && !atomElem(b.outUse, atom) {
			last[atom].code = optNOP
			o.changed()
		}
	}
}

func (o *optimizer) optBlk(b *oblock, doStmts bool) {
	if p := b.inEdges; p == nil {
		b.val = [nAtoms]uint32{}
	} else {
		// Values agreed on by every predecessor.
		b.val = p.pred.val
		for p = p.next; p != nil; p = p.next {
			for i := range b.val {
				if b.val[i] != p.pred.val[i] {
					b.val[i] = valUnknown
				}
			}
		}
	}
	aval, xval := b.val[aAtom], b.val[xAtom]
	for i := range b.stmts {
		o.optStmt(&b.stmts[i], &b.val, doStmts)
	}
	// A block that changes nothing anyone uses, or a return: no statements.
	if doStmts && ((b.outUse == 0 && aval != valUnknown && b.val[aAtom] == aval &&
		xval != valUnknown && b.val[xAtom] == xval) || class(uint16(b.s.code)) == ClassRET) {
		if b.stmts != nil {
			b.stmts = nil
			o.changed()
		}
	} else {
		o.optPeep(b)
		o.optDeadstores(b)
	}
	if src(uint16(b.s.code)) == SrcK {
		b.oval = o.konst(b.s.k)
	} else {
		b.oval = b.val[xAtom]
	}
	b.et.code = b.s.code
	b.ef.code = -b.s.code
}

// useConflict reports whether a register used on exit from succ has a value
// there different from its value on exit from b.
func useConflict(b, succ *oblock) bool {
	use := succ.outUse
	if use == 0 {
		return false
	}
	for atom := 0; atom < nAtoms; atom++ {
		if atomElem(use, atom) && b.val[atom] != succ.val[atom] {
			return true
		}
	}
	return false
}

// foldEdge returns the child of child that the edge ep's outcome decides,
// or nil: the test of child is the one ep took (or an equality with another
// constant after ep found A equal to one).
func foldEdge(child *oblock, ep *oedge) *oblock {
	code, sense := ep.code, true
	if code < 0 {
		code, sense = -code, false
	}
	if child.s.code != code {
		return nil
	}
	if child.val[aAtom] != ep.pred.val[aAtom] {
		return nil
	}
	if child.oval == ep.pred.oval {
		if sense {
			return jt(child)
		}
		return jf(child)
	}
	if sense && code == ClassJMP|JmpJEQ|SrcK {
		return jf(child)
	}
	return nil
}

// optJ moves the edge ep past blocks whose outcome is known on it.
func (o *optimizer) optJ(ep *oedge) {
	if jt(ep.succ) == nil {
		return
	}
	if jt(ep.succ) == jf(ep.succ) && !useConflict(ep.pred, jt(ep.succ)) {
		o.changed()
		ep.succ = jt(ep.succ)
	}
top:
	for i := 0; i < o.edgewords; i++ {
		x := ep.edom[i]
		for x != 0 {
			k := bits.TrailingZeros32(x)
			x &^= 1 << k
			k += i * 32
			target := foldEdge(ep.succ, o.edges[k])
			if target != nil && !useConflict(ep.pred, target) {
				o.done = false
				ep.succ = target
				if jt(target) != nil {
					goto top
				}
				return
			}
		}
	}
}

// succRef returns the field holding the successor of pred that is b.
func succRef(pred, b *oblock) **oblock {
	if jt(pred) == b {
		return &pred.et.succ
	}
	return &pred.ef.succ
}

// pullup is libpcap's or_pullup (or) and and_pullup (!or).
func (o *optimizer) pullup(b *oblock, or bool) {
	ep := b.inEdges
	if ep == nil {
		return
	}
	val := ep.pred.val[aAtom]
	for ep = ep.next; ep != nil; ep = ep.next {
		if val != ep.pred.val[aAtom] {
			return
		}
	}
	// same is the exit shared along the chain (the true exit for or),
	// along is the one followed.
	same := func(p *oblock) *oblock {
		if or {
			return jt(p)
		}
		return jf(p)
	}
	along := func(p *oblock) **oblock {
		if or {
			return &p.ef.succ
		}
		return &p.et.succ
	}
	diffp := succRef(b.inEdges.pred, b)
	atTop := true
	for {
		if *diffp == nil || same(*diffp) != same(b) || !setMember((*diffp).dom, b.id) {
			return
		}
		if (*diffp).val[aAtom] != val {
			break
		}
		diffp = along(*diffp)
		atTop = false
	}
	samep := along(*diffp)
	for {
		if *samep == nil || same(*samep) != same(b) || !setMember((*samep).dom, b.id) {
			return
		}
		if (*samep).val[aAtom] == val {
			break
		}
		samep = along(*samep)
	}
	pull := *samep
	*samep = *along(pull)
	*along(pull) = *diffp
	if atTop {
		for ep := b.inEdges; ep != nil; ep = ep.next {
			*succRef(ep.pred, b) = pull
		}
	} else {
		*diffp = pull
	}
	o.done = false
}

func (o *optimizer) findInedges() {
	for _, b := range o.blocks {
		b.inEdges = nil
	}
	for level := o.root.level; level > 0; level-- {
		for b := o.levels[level]; b != nil; b = b.link {
			b.et.next, jt(b).inEdges = jt(b).inEdges, &b.et
			b.ef.next, jf(b).inEdges = jf(b).inEdges, &b.ef
		}
	}
}

func (o *optimizer) optBlks(doStmts bool) {
	o.initVal()
	maxlevel := o.root.level
	o.findInedges()
	for i := maxlevel; i >= 0; i-- {
		for p := o.levels[i]; p != nil; p = p.link {
			o.optBlk(p, doStmts)
		}
	}
	if doStmts {
		return
	}
	for i := 1; i <= maxlevel; i++ {
		for p := o.levels[i]; p != nil; p = p.link {
			o.optJ(&p.et)
			o.optJ(&p.ef)
		}
	}
	o.findInedges()
	for i := 1; i <= maxlevel; i++ {
		for p := o.levels[i]; p != nil; p = p.link {
			o.pullup(p, true)
			o.pullup(p, false)
		}
	}
}

func (o *optimizer) loop(doStmts bool) {
	loopCount := 0
	for {
		o.done = true
		o.nonBranch = false
		o.findLevels()
		o.findDom()
		o.findUD()
		o.findEdom()
		o.optBlks(doStmts)
		if o.done {
			return
		}
		// Only branches moved: libpcap gives up after 100 such passes
		// in a row, taken to be a cycle.
		if o.nonBranch {
			loopCount = 0
		} else if loopCount++; loopCount >= 100 {
			return
		}
	}
}

func eqStmts(x, y []ostmt) bool {
	i, j := 0, 0
	for {
		for i < len(x) && x[i].code == optNOP {
			i++
		}
		for j < len(y) && y[j].code == optNOP {
			j++
		}
		if i == len(x) || j == len(y) {
			return i == len(x) && j == len(y)
		}
		if x[i] != y[j] {
			return false
		}
		i++
		j++
	}
}

func eqBlk(b0, b1 *oblock) bool {
	return b0.s == b1.s && jt(b0) == jt(b1) && jf(b0) == jf(b1) && eqStmts(b0.stmts, b1.stmts)
}

// internBlocks merges identical blocks.
func (o *optimizer) internBlocks() {
	for {
		done := true
		for _, b := range o.blocks {
			b.link = nil
		}
		o.unmarkAll()
		var mark func(p *oblock)
		mark = func(p *oblock) {
			if o.isMarked(p) {
				return
			}
			o.markBlock(p)
			if class(uint16(p.s.code)) != ClassRET {
				mark(jt(p))
				mark(jf(p))
			}
		}
		mark(o.root)
		n := len(o.blocks)
		for i := n - 2; i >= 0; i-- {
			if !o.isMarked(o.blocks[i]) {
				continue
			}
			for j := i + 1; j < n; j++ {
				if !o.isMarked(o.blocks[j]) {
					continue
				}
				if eqBlk(o.blocks[i], o.blocks[j]) {
					if o.blocks[j].link != nil {
						o.blocks[i].link = o.blocks[j].link
					} else {
						o.blocks[i].link = o.blocks[j]
					}
					break
				}
			}
		}
		for _, p := range o.blocks {
			if jt(p) == nil {
				continue
			}
			if jt(p).link != nil {
				done = false
				p.et.succ = jt(p).link
			}
			if jf(p).link != nil {
				done = false
				p.ef.succ = jf(p).link
			}
		}
		if done {
			return
		}
	}
}

// optRoot skips root blocks whose two branches go the same way, keeping
// their statements.
func (o *optimizer) optRoot() {
	s := o.root.stmts
	o.root.stmts = nil
	for class(uint16(o.root.s.code)) == ClassJMP && jt(o.root) == jf(o.root) {
		o.root = jt(o.root)
	}
	o.root.stmts = append(s, o.root.stmts...)
	if class(uint16(o.root.s.code)) == ClassRET {
		o.root.stmts = nil
	}
}

func slength(stmts []ostmt) int {
	n := 0
	for _, s := range stmts {
		if s.code != optNOP {
			n++
		}
	}
	return n
}

// convert lays the graph out as libpcap's icode_to_fcode does: each block
// before its true successor's code, before its false successor's, with a ja
// after a branch that would jump farther than 255 instructions.
func (o *optimizer) convert() (Program, error) {
	for {
		o.unmarkAll()
		var count func(p *oblock) int
		count = func(p *oblock) int {
			if p == nil || o.isMarked(p) {
				return 0
			}
			o.markBlock(p)
			return count(jt(p)) + count(jf(p)) + slength(p.stmts) + 1 + p.longjt + p.longjf
		}
		n := count(o.root)
		if n > MaxInstructions {
			return nil, fmt.Errorf("filter: expression too complex: %d instructions (the limit is %d)", n, MaxInstructions)
		}
		prog := make(Program, n)
		tail := n
		o.unmarkAll()
		var conv func(p *oblock) bool
		conv = func(p *oblock) bool {
			if p == nil || o.isMarked(p) {
				return true
			}
			o.markBlock(p)
			if !conv(jf(p)) || !conv(jt(p)) {
				return false
			}
			slen := slength(p.stmts)
			tail -= slen + 1 + p.longjt + p.longjf
			p.offset = tail
			dst := tail
			for _, s := range p.stmts {
				if s.code == optNOP {
					continue
				}
				prog[dst] = Instruction{Op: uint16(s.code), K: s.k}
				dst++
			}
			prog[dst] = Instruction{Op: uint16(p.s.code), K: p.s.k}
			if jt(p) == nil {
				return true
			}
			extra := 0
			off := jt(p).offset - (p.offset + slen) - 1
			if off >= 256 {
				if p.longjt == 0 {
					p.longjt++
					return false
				}
				prog[dst].Jt = uint8(extra)
				extra++
				prog[dst+extra] = Instruction{Op: ClassJMP | JmpJA, K: uint32(off - extra)}
			} else {
				prog[dst].Jt = uint8(off)
			}
			off = jf(p).offset - (p.offset + slen) - 1
			if off >= 256 {
				if p.longjf == 0 {
					p.longjf++
					return false
				}
				prog[dst].Jf = uint8(extra)
				extra++
				prog[dst+extra] = Instruction{Op: ClassJMP | JmpJA, K: uint32(off - extra)}
			} else {
				prog[dst].Jf = uint8(off)
			}
			return true
		}
		if conv(o.root) {
			return prog, nil
		}
	}
}
