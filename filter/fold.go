package filter

// fold replaces the tests whose value is known without a packet (never(),
// the link-layer test of a link type that carries one protocol) by their
// value and drops them from and/or, as libpcap's optimizer does. Besides
// shorter code, it keeps the program free of instructions no path reaches
// (the eBPF verifier refuses those).
func fold(b *bexpr) *bexpr {
	switch b.kind {
	case bAnd, bOr:
		l, r := fold(b.l), fold(b.r)
		isAnd := b.kind == bAnd
		lv, lok := l.constant()
		rv, rok := r.constant()
		switch {
		case lok && lv != isAnd: // false and x, true or x
			return l
		case lok:
			return r
		case rok && rv == isAnd: // x and true, x or false
			return l
		case rok:
			// x and false, x or true: the value of r, whatever x's
			// loads do (libpcap's optimizer removes them too).
			return r
		}
		return &bexpr{kind: b.kind, l: l, r: r}
	case bNot:
		x := fold(b.l)
		if v, ok := x.constant(); ok {
			return constTest(!v)
		}
		return bNotOf(x)
	}
	return b
}

func constTest(v bool) *bexpr {
	if v {
		return &bexpr{kind: bTrue}
	}
	return never()
}
