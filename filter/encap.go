package filter

// Encapsulations that move the headers the following primitives test, as
// libpcap's gencode.c does: mpls (gen_mpls) shifts the network layer by
// 4 bytes a label; pppoes (gen_pppoes) makes what follows PPP inside the
// PPPoE session; geneve (gen_geneve, geneve.go) makes it the
// encapsulated frame. As with vlan, the shift holds for the rest of the
// expression, whatever the and/or structure.

const (
	pppMPLSUcast = 0x0281 // PPP protocol of MPLS unicast
	mplsMaxLabel = 0xfffff
)

// layerError is a primitive libpcap refuses because of what came before
// it (`mpls and arp`); parseRTerm reports it at the primitive.
type layerError string

// mplsLinkType is the link-type test inside MPLS (gen_mpls_linktype): the
// bottom-of-stack bit of the last label, then the IP version; MPLS says
// nothing else about its payload.
func (l layer) mplsLinkType(t uint32) *bexpr {
	var version uint32
	switch t {
	case etherTypeIP:
		version = 0x40
	case etherTypeIPv6:
		version = 0x60
	default:
		panic(layerError("unsupported protocol over mpls"))
	}
	return bAndOf(l.mcmpPL(SizeB, l.nl()-2, 0x01, 0x01), l.mcmpPL(SizeB, l.nl(), 0xf0, version))
}

// optNumber parses the optional number after mpls, pppoes, geneve; ok is
// false when there is none.
func (p *parser) optNumber() (v uint32, t token, ok bool) {
	t = p.peek()
	if t.kind != tWord || isKeyword(t) {
		return 0, t, false
	}
	v, ok = parseNum(t.text)
	if ok {
		p.next()
	}
	return v, t, ok
}

// mpls is `mpls [label]` (gen_mpls): the MPLS type, or inside MPLS a
// label that is not the bottom of the stack; then the label.
func (p *parser) mpls() *bexpr {
	at := p.next()
	l := p.layer
	var b *bexpr
	switch {
	case l.labels > 0:
		b = l.mcmpPL(SizeB, l.nl()-4+2, 0x01, 0)
	case l.link == LinkEthernet:
		b = l.etherType(etherTypeMPLS)
	case l.link == LinkPPP:
		b = l.etherType(pppMPLSUcast)
	default:
		p.failAt(at, "no MPLS support for %s", l.linkName())
	}
	if label, t, ok := p.optNumber(); ok {
		if label > mplsMaxLabel {
			p.failAt(t, "MPLS label %d greater than maximum %d", label, mplsMaxLabel)
		}
		// The label is the top 20 bits of the label stack entry.
		b = bAndOf(b, l.mcmpPL(SizeW, l.nl(), 0xfffff000, label<<12))
	}
	p.layer.nlOff += 4
	p.layer.labels++
	return b
}

// pppoes is `pppoes [session]` (gen_pppoes): the PPPoE session type, the
// session ID, then PPP after the 6-byte PPPoE header, with no HDLC
// framing: the link type is PPP's protocol field from here on.
func (p *parser) pppoes() *bexpr {
	p.next()
	l := p.layer
	b := l.etherType(etherTypePPPoES)
	if sess, t, ok := p.optNumber(); ok {
		if sess > 0xffff {
			p.failAt(t, "PPPoE session number %d greater than maximum %d", sess, 0xffff)
		}
		b = bAndOf(b, l.mcmpPL(SizeW, l.nl(), 0xffff, sess))
	}
	hdr := l.nl() + 6
	n := &p.layer
	n.link, n.pushed, n.geneve = LinkPPP, true, false
	n.hdrOff, n.ltOff, n.plOff = hdr, hdr, hdr+2
	n.off, n.nlOff = 0, 0
	if n.variable {
		// The new header is at the same variable offset as the payload.
		n.ltReg, n.hdrVar, n.hdrReg = n.plReg, true, n.plReg
	}
	return b
}
