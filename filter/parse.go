package filter

import (
	"fmt"
	"net/netip"
	"strings"
)

// qual is the qualifiers of a primitive: protocol, direction and type.
type qual struct {
	set   bool   // a head was seen: bare ids after and/or/not inherit it
	proto string // "", ether, link, ip, ip6, arp, rarp, tcp, udp, sctp, ...
	dir   string // "", src, dst, or (src or dst), and (src and dst)
	typ   string // "", host, net, port, portrange, proto, gateway
}

// pnames are the protocol qualifiers.
var pnames = map[string]bool{
	"ether": true, "link": true, "ip": true, "ip6": true, "arp": true, "rarp": true,
	"tcp": true, "udp": true, "sctp": true, "icmp": true, "icmp6": true, "igmp": true,
	"igrp": true, "pim": true, "vrrp": true, "ah": true, "esp": true,
	"stp": true, "iso": true, "netbeui": true, "ipx": true, "atalk": true, "aarp": true, "decnet": true,
	"pppoed": true, "llc": true,
}

// keywords are the words that are never an id (a name, number or address).
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "src": true, "dst": true, "host": true, "net": true,
	"mask": true, "port": true, "portrange": true, "proto": true, "gateway": true, "len": true,
	"less": true, "greater": true, "vlan": true, "broadcast": true, "multicast": true,
	"inbound": true, "outbound": true, "mpls": true, "pppoed": true, "pppoes": true, "geneve": true,
	"protochain": true, "byte": true,
}

// namedConsts are the field offsets and values usable in arithmetic.
var namedConsts = map[string]uint32{
	"icmptype": 0, "icmpcode": 1, "icmp6type": 0, "icmp6code": 1, "tcpflags": 13,
	"tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08, "tcp-ack": 0x10,
	"tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
	"icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
	"icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
	"icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133, "icmp6-routeradvert": 134,
	"icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136, "icmp6-redirect": 137,
	"icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139,
	"icmp6-nodeinformationresponse": 140, "icmp6-ineighbordiscoverysolicit": 141,
	"icmp6-ineighbordiscoveryadvert": 142, "icmp6-multicastlistenerreportv2": 143,
	"icmp6-homeagentdiscoveryrequest": 144, "icmp6-homeagentdiscoveryreply": 145,
	"icmp6-mobileprefixsolicit": 146, "icmp6-mobileprefixadvert": 147,
	"icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
	"icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
	"icmp6-multicastrouterterm": 153,
}

const expectPrimitive = `expected a primitive such as host, net, port, portrange, proto, ip, ip6, arp, tcp, udp, icmp, ether, vlan, less, greater, or "("`

// parser is a recursive-descent parser for pcap-filter expressions that
// generates tests as it goes, as libpcap's grammar.y does.
type parser struct {
	expr  string
	toks  []token
	i     int
	layer layer
	regs  regs // scratch registers of arithmetic, allocated as libpcap does
	last  qual
	// furthest is the speculative error that got furthest, reported when
	// the final parse fails earlier in the expression.
	furthest *SyntaxError
	// noOptimize: libpcap leaves the code as generated (geneve, protochain).
	noOptimize bool
}

const noRelop = "expected a comparison operator (=, !=, <, <=, >, >=)"

// abort unwinds the parser with a syntax error; parse recovers it.
type abort struct{ err *SyntaxError }

func (p *parser) failAt(t token, format string, args ...any) {
	panic(abort{&SyntaxError{Expr: p.expr, Pos: t.pos, Token: t.text, Msg: fmt.Sprintf(format, args...)}})
}

func (p *parser) fail(format string, args ...any) { p.failAt(p.peek(), format, args...) }

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekN(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

// is reports whether t is the punctuation or keyword s.
func is(t token, s ...string) bool {
	if t.kind == tEOF || t.escaped {
		return false
	}
	for _, x := range s {
		if t.text == x {
			return true
		}
	}
	return false
}

func isKeyword(t token) bool {
	return t.kind == tWord && !t.escaped && (keywords[t.text] || pnames[t.text])
}
func isAnd(t token) bool { return t.kind == tWord && is(t, "and") || t.kind == tPunct && is(t, "&&") }
func isOr(t token) bool  { return t.kind == tWord && is(t, "or") || t.kind == tPunct && is(t, "||") }
func isNot(t token) bool { return t.kind == tWord && is(t, "not") || t.kind == tPunct && is(t, "!") }

func (p *parser) expect(s string) token {
	if t := p.peek(); t.kind == tPunct && t.text == s {
		return p.next()
	}
	p.fail("expected %q", s)
	return token{}
}

// parse parses the whole expression.
func (p *parser) parse() (b *bexpr, err error) {
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(abort)
			if !ok {
				panic(r)
			}
			err = a.err
			if p.furthest != nil && p.furthest.Pos > a.err.Pos {
				err = p.furthest
			}
		}
	}()
	b = p.parseExpr()
	if p.peek().kind != tEOF {
		p.fail(`expected "and", "or" or the end of the expression`)
	}
	p.layer.offsetPrologue(b)
	return b, nil
}

// try runs f and reports whether it completed; on failure the parser is
// restored and the error returned.
func (p *parser) try(f func()) (err *SyntaxError) {
	saved, savedLayer, savedLast, savedRegs := p.i, p.layer, p.last, p.regs
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(abort)
			if !ok {
				panic(r)
			}
			p.i, p.layer, p.last, p.regs = saved, savedLayer, savedLast, savedRegs
			err = a.err
			if p.furthest == nil || err.Pos > p.furthest.Pos {
				p.furthest = err
			}
		}
	}()
	f()
	return nil
}

// expr: term { (and | or) term }, and and or of equal precedence, left
// associative.
func (p *parser) parseExpr() *bexpr {
	b := p.parseTerm()
	for {
		switch t := p.peek(); {
		case isAnd(t):
			p.next()
			b = bAndOf(b, p.parseTerm())
		case isOr(t):
			p.next()
			b = bOrOf(b, p.parseTerm())
		default:
			return b
		}
	}
}

// term: not term | rterm.
func (p *parser) parseTerm() *bexpr {
	if isNot(p.peek()) {
		p.next()
		return bNotOf(p.parseTerm())
	}
	return p.parseRTerm()
}

func (p *parser) startsArith() bool {
	t := p.peek()
	switch {
	case t.kind == tPunct:
		return t.text == "(" || t.text == "-"
	case t.kind != tWord:
		return false
	case t.escaped:
		return false
	case t.text == "len":
		return true
	case pnames[t.text]:
		n := p.peekN(1)
		return n.kind == tPunct && n.text == "["
	}
	_, isNum := parseNum(t.text)
	_, isConst := namedConsts[t.text]
	return isNum || isConst
}

func (p *parser) parseRTerm() *bexpr {
	t := p.peek()
	defer func() {
		if r := recover(); r != nil {
			if le, ok := r.(layerError); ok {
				p.failAt(t, "%s", string(le))
			}
			panic(r)
		}
	}()
	var relErr *SyntaxError
	if p.startsArith() {
		var b *bexpr
		relErr = p.try(func() { b = p.parseRelation() })
		if relErr == nil {
			return b
		}
		if relErr.Pos > t.pos && !is(t, "(") && relErr.Msg != noRelop {
			// It was a relation that went wrong past its first token.
			panic(abort{relErr})
		}
	}
	if t.kind == tPunct && t.text == "(" {
		var b *bexpr
		err := p.try(func() {
			p.next()
			saved := p.last
			b = p.parseExpr()
			p.expect(")")
			p.last = saved
		})
		if err == nil {
			return b
		}
		if relErr != nil && relErr.Pos > err.Pos {
			err = relErr
		}
		panic(abort{err})
	}
	if t.kind != tWord {
		p.fail(expectPrimitive)
	}
	if !t.escaped {
		switch t.text {
		case "less", "greater":
			p.next()
			n := p.number("a length")
			if t.text == "less" {
				return lenTest(JmpJGT, n, true)
			}
			return lenTest(JmpJGE, n, false)
		case "vlan":
			if p.layer.labels > 0 {
				p.fail("no VLAN match after MPLS")
			}
			if p.layer.link != LinkEthernet {
				p.fail("no VLAN support for %s", p.layer.linkName())
			}
			p.next()
			id := -1
			if n := p.peek(); n.kind == tWord && !isKeyword(n) {
				if v, ok := parseNum(n.text); ok {
					p.next()
					if v > 4095 {
						p.failAt(n, "VLAN ID %d greater than maximum 4095", v)
					}
					id = int(v)
				}
			}
			var b *bexpr
			if p.layer.live && p.layer.vlans == 0 && !p.layer.pushed {
				b = p.liveVLAN(id)
			} else {
				b = p.layer.vlan(id)
				p.layer.off += 4
			}
			p.layer.vlans++
			return b
		case "gateway":
			p.next()
			if n := p.peek(); n.kind == tWord && !isKeyword(n) && !isHostName(n.text) {
				p.failAt(n, "'gateway' requires a name")
			}
			p.failAt(t, "'gateway' needs host name resolution, which is not supported")
		case "inbound", "outbound":
			if b, ok := p.layer.direction(t.text == "outbound"); ok {
				p.next()
				return b
			}
			if p.layer.link != LinkEthernet {
				p.fail("%s is supported only on Linux cooked captures, not on %s", t.text, p.layer.linkName())
			}
			p.fail("%q is not supported", t.text)
		case "mpls":
			return p.mpls()
		case "pppoes":
			return p.pppoes()
		case "geneve":
			return p.geneve()
		case "byte":
			p.fail("%q is not supported", t.text)
		case "len":
			p.next()
			p.fail("expected a comparison operator after len")
		}
	}
	return p.parseHeadID()
}

// parseHeadID parses [pname] [dir] [type] id, pname alone, or a bare id that
// inherits the qualifiers of the last head.
func (p *parser) parseHeadID() *bexpr {
	start := p.peek()
	var q qual
	if t := p.peek(); t.kind == tWord && !t.escaped && pnames[t.text] {
		q.proto = t.text
		p.next()
		if n := p.peek(); is(n, "broadcast", "multicast") && n.kind == tWord {
			if p.layer.link != LinkEthernet && (q.proto == "ether" || q.proto == "link") {
				p.failAt(n, "link-layer %s filters are not supported on %s", n.text, p.layer.linkName())
			}
			p.next()
			var b *bexpr
			var ok bool
			if n.text == "broadcast" {
				b, ok = p.layer.broadcast(q.proto)
			} else {
				b, ok = p.layer.multicast(q.proto)
			}
			if !ok {
				p.failAt(start, "%q %s is not supported", q.proto, n.text)
			}
			return b
		}
	} else if is(t, "broadcast", "multicast") && t.kind == tWord {
		if p.layer.link != LinkEthernet {
			p.failAt(t, "link-layer %s filters are not supported on %s", t.text, p.layer.linkName())
		}
		p.next()
		if t.text == "broadcast" {
			b, _ := p.layer.broadcast("")
			return b
		}
		b, _ := p.layer.multicast("")
		return b
	}
	// Direction.
	if t := p.peek(); t.kind == tWord && is(t, "src", "dst") {
		p.next()
		q.dir = t.text
		if c := p.peek(); (isAnd(c) || isOr(c)) && is(p.peekN(1), "src", "dst") && p.peekN(1).text != t.text {
			p.next()
			p.next()
			q.dir = "or"
			if isAnd(c) {
				q.dir = "and"
			}
		}
	}
	// Type.
	if t := p.peek(); t.kind == tWord && is(t, "host", "net", "port", "portrange", "proto", "protochain") {
		p.next()
		q.typ = t.text
	}
	if q.proto == "" && q.dir == "" && q.typ == "" {
		// A bare id: only after a head, as in "host a or b", "port 80 or 443".
		if !p.last.set || isKeyword(start) || start.kind != tWord {
			if _, isMAC := parseMAC(start.text); isMAC && start.kind == tWord {
				p.failAt(start, `expected "ether host" before a MAC address`)
			}
			if _, _, isNet := parseIPv4Net(start.text); (isNet && strings.Contains(start.text, ".") || isIPv6(start.text)) && start.kind == tWord {
				p.failAt(start, `expected "host" or "net" before an address`)
			}
			p.failAt(start, expectPrimitive)
		}
		return p.parseID(p.last)
	}
	if q.dir == "" && q.typ == "" {
		// A protocol name alone: tcp, ip6, arp ...
		if q.proto == "ether" || q.proto == "link" {
			p.failAt(start, "%q needs a qualifier such as host, src, dst, proto, broadcast or [offset]", q.proto)
		}
		b, _ := p.layer.protoAbbrev(q.proto)
		p.last = qual{}
		return b
	}
	q.set = true
	p.last = q
	t := p.peek()
	if t.kind == tPunct && t.text == "(" {
		// head (id or id ...): the ids inherit this head.
		return p.parseRTerm()
	}
	if isNot(t) {
		p.next()
		return bNotOf(p.parseID(q))
	}
	return p.parseID(q)
}

// number parses a numeric token; what names the value for the error.
func (p *parser) number(what string) uint32 {
	t := p.peek()
	v, ok := parseNum(t.text)
	if t.kind != tWord || !ok {
		p.fail("expected %s (a number)", what)
	}
	p.next()
	return v
}

// parseID parses an address, number or name under qualifiers q.
func (p *parser) parseID(q qual) *bexpr {
	t := p.peek()
	if t.kind != tWord || isKeyword(t) && !t.escaped {
		after := ""
		if p.i > 0 {
			after = fmt.Sprintf(" after %q", p.toks[p.i-1].text)
		}
		switch q.typ {
		case "port":
			p.fail("expected a port number%s", after)
		case "portrange":
			p.fail("expected a port range such as 1024-65535%s", after)
		case "proto", "protochain":
			p.fail("expected a protocol number or name%s", after)
		}
		p.fail("expected an address%s", after)
	}
	p.next()
	switch q.typ {
	case "proto":
		return p.genProto(t, q)
	case "protochain":
		return p.genProtochain(t, q)
	case "port", "portrange":
		return p.genPort(t, q)
	case "gateway":
		p.failAt(t, "gateway is not supported (it needs name resolution)")
	}
	return p.genHost(t, q)
}

func (p *parser) genProto(t token, q qual) *bexpr {
	v, ok := parseNum(t.text)
	switch q.proto {
	case "ether", "link":
		if !ok {
			v, ok = etherProtoNames[t.text]
		}
		if !ok {
			p.failAt(t, "unknown ether protocol %q", t.text)
		}
		if v > 0xffff {
			p.failAt(t, "ether protocol %d out of range", v)
		}
		return p.layer.etherType(v)
	case "", "ip", "ip6":
		if !ok {
			v, ok = ipProtoNames[t.text]
		}
		if !ok {
			p.failAt(t, "unknown IP protocol %q", t.text)
		}
		if v > 255 {
			p.failAt(t, "IP protocol %d greater than maximum 255", v)
		}
		switch q.proto {
		case "ip":
			return p.layer.ipProto(v)
		case "ip6":
			return p.layer.ip6Proto(v)
		}
		return bOrOf(p.layer.ipProto(v), p.layer.ip6Proto(v))
	}
	p.failAt(t, "%q proto is not supported: use ether, ip or ip6 proto", q.proto)
	return nil
}

// portNum resolves a port number or name, with the protocols a name is
// restricted to (anyProtocol for a number).
func (p *parser) portNum(t token, s, what string) (uint32, int) {
	v, ok := parseNum(s)
	proto := anyProtocol
	if !ok {
		svc, ok := serviceNames[s]
		if !ok {
			p.failAt(t, "unknown port %s%q (use a number)", what, s)
		}
		v, proto = svc.port, svc.proto
	}
	if v > 65535 {
		p.failAt(t, "illegal port number %d > 65535", v)
	}
	return v, proto
}

var protoNames = map[int]string{protoTCP: "tcp", protoUDP: "udp", protoSCTP: "sctp"}

func (p *parser) genPort(t token, q qual) *bexpr {
	switch q.proto {
	case "", "tcp", "udp", "sctp":
	default:
		p.failAt(t, "illegal qualifier of %q: %q (use tcp, udp or sctp)", q.typ, q.proto)
	}
	what := ""
	if q.typ == "portrange" {
		what = "in range "
	}
	var lo, hi uint32
	var real int
	if q.typ == "port" {
		lo, real = p.portNum(t, t.text, what)
		hi = lo
	} else {
		a, b, ok := strings.Cut(t.text, "-")
		if !ok {
			// One number is a range of one, as libpcap takes it; one
			// name is not a range.
			if _, num := parseNum(a); !num {
				p.failAt(t, "unknown port in range %q", t.text)
			}
			b = a
		}
		var realHi int
		lo, real = p.portNum(t, a, what)
		hi, realHi = p.portNum(t, b, what)
		if real != realHi {
			real = anyProtocol
		}
		if lo > hi {
			lo, hi = hi, lo
		}
	}
	// A qualifier narrows a name listed for both protocols and refuses a
	// name listed only for the other (pcap_nametoport, gen_ncode).
	proto := real
	if q.proto != "" {
		want := map[string]int{"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP}[q.proto]
		if real != anyProtocol && real != want {
			p.failAt(t, "port %s%q is %s", what, t.text, protoNames[real])
		}
		proto = want
	}
	return p.layer.portTest(proto, lo, hi, q.typ == "portrange", q.dir)
}

// genHost handles host and net ids and the default (host) type: IPv4 and
// IPv6 addresses and networks, and MAC addresses.
func (p *parser) genHost(t token, q qual) *bexpr {
	w := t.text
	// A mask: net A/len, net A mask M.
	maskBits := -1
	var maskV4 uint32
	haveMaskV4 := false
	if n := p.peek(); n.kind == tPunct && n.text == "/" {
		p.next()
		maskBits = int(p.number("a prefix length"))
	} else if n.kind == tWord && is(n, "mask") {
		p.next()
		m := p.peek()
		v, ok := parseIPv4(m.text)
		if !ok {
			p.fail("expected a dotted IPv4 netmask")
		}
		p.next()
		maskV4, haveMaskV4 = v, true
	}
	if (maskBits >= 0 || haveMaskV4) && q.typ == "host" {
		p.failAt(t, "mask syntax is for networks only: use net")
	}
	if mac, ok := parseMAC(w); ok {
		if p.layer.link != LinkEthernet {
			p.failAt(t, "ethernet addresses supported only on ethernet links, not %s", p.layer.linkName())
		}
		if q.proto != "ether" && q.proto != "link" {
			p.failAt(t, "ethernet address used in non-ether expression (use ether host)")
		}
		if q.typ == "net" || maskBits >= 0 || haveMaskV4 {
			p.failAt(t, "ethernet address used with net or a mask")
		}
		return p.layer.etherHost(mac, q.dir)
	}
	if q.proto == "ether" || q.proto == "link" {
		p.failAt(t, "illegal link layer address %q", w)
	}
	switch q.proto {
	case "", "ip", "ip6", "arp", "rarp":
	default:
		p.failAt(t, "%q modifier applied to %s", q.proto, map[bool]string{true: "net", false: "host"}[q.typ == "net"])
	}
	if a, err := netip.ParseAddr(w); err == nil && a.Is6() && a.Zone() == "" {
		if q.proto != "" && q.proto != "ip6" {
			p.failAt(t, "%q modifier applied to an IPv6 address", q.proto)
		}
		if haveMaskV4 {
			p.failAt(t, "mask syntax is for IPv4 networks: use /len")
		}
		if maskBits > 128 {
			p.failAt(t, "mask length must be <= 128")
		}
		if maskBits < 0 {
			maskBits = 128
		}
		addr := a.As16()
		var mask [16]byte
		for i := range mask {
			n := min(max(maskBits-8*i, 0), 8)
			mask[i] = byte(0xff << (8 - n))
			if addr[i]&^mask[i] != 0 {
				p.failAt(t, "non-network bits set in \"%s/%d\"", w, maskBits)
			}
		}
		return p.layer.hostV6(addr, mask, q.dir)
	}
	if q.proto == "ip6" {
		p.failAt(t, "expected an IPv6 address")
	}
	var addr, mask uint32
	if v, ok := parseNum(w); ok && !strings.Contains(w, ".") {
		// A plain number: a host address, or a network promoted to the
		// high bytes (net 10 is 10.0.0.0/8), as libpcap does.
		addr, mask = v, 0xffffffff
		if q.typ == "net" && maskBits < 0 && !haveMaskV4 {
			for addr != 0 && addr&0xff000000 == 0 {
				addr <<= 8
				mask <<= 8
			}
		}
	} else if v, n, ok := parseIPv4Net(w); ok {
		addr, mask = v, ^uint32(0)<<(32-n)
		if n == 0 {
			mask = 0
		}
	} else {
		p.failAt(t, "hostname %q is not resolved: use a numeric address", w)
	}
	switch {
	case maskBits >= 0:
		if maskBits > 32 {
			p.failAt(t, "mask length must be <= 32")
		}
		mask = 0
		if maskBits > 0 {
			mask = ^uint32(0) << (32 - maskBits)
		}
		if addr&^mask != 0 {
			p.failAt(t, "non-network bits set in \"%s/%d\"", w, maskBits)
		}
	case haveMaskV4:
		mask = maskV4
		if addr&^mask != 0 {
			p.failAt(t, "non-network bits set in \"%s mask 0x%08x\"", w, maskV4)
		}
	}
	return p.layer.hostV4(addr, mask, q.proto, q.dir)
}

// relation: arith relop arith.
func (p *parser) parseRelation() *bexpr {
	start := p.i
	l := p.parseArith(1)
	t := p.peek()
	if t.kind != tPunct || !is(t, "=", "==", "!=", "<", "<=", ">", ">=") {
		if p.i == start+1 && l.num {
			// A lone number is no relation: it is a misplaced id.
			p.failAt(p.toks[start], expectPrimitive)
		}
		p.fail(noRelop)
	}
	p.next()
	r := p.parseArith(1)
	return p.relation(t.text, l, r)
}

var arithPrec = map[string]int{"|": 1, "&": 2, "<<": 3, ">>": 3, "+": 4, "-": 4, "*": 5, "/": 5, "%": 5}

// parseArith parses binary operators of precedence >= minPrec, C-like except
// for '^', which (as in libpcap, where it has no declared precedence) takes
// everything to its right as its right operand. Code is generated as each
// operation is reduced, in the order of libpcap's parser.
func (p *parser) parseArith(minPrec int) *arth {
	l := p.parseUnary()
	for {
		t := p.peek()
		prec := arithPrec[t.text]
		if t.kind != tPunct || prec == 0 || prec < minPrec {
			return l
		}
		p.next()
		r := p.parseArith(prec + 1)
		l = p.arith(t.text, l, r, t)
	}
}

func (p *parser) parseUnary() *arth {
	if t := p.peek(); t.kind == tPunct && t.text == "-" {
		p.next()
		return p.neg(p.parseUnary())
	}
	x := p.parsePrimary()
	if t := p.peek(); t.kind == tPunct && t.text == "^" {
		p.next()
		r := p.parseArith(1)
		x = p.arith("^", x, r, t)
	}
	return x
}

func (p *parser) parsePrimary() *arth {
	t := p.peek()
	switch {
	case t.kind == tPunct && t.text == "(":
		p.next()
		x := p.parseArith(1)
		p.expect(")")
		return x
	case t.kind != tWord || t.escaped:
	case t.text == "len":
		p.next()
		return p.loadLen()
	case pnames[t.text] && is(p.peekN(1), "["):
		if !loadable(t.text) {
			p.fail("%s[] is not supported", t.text)
		}
		p.next()
		p.next()
		idx := p.parseArith(1)
		size := uint32(1)
		if c := p.peek(); c.kind == tPunct && c.text == ":" {
			p.next()
			st := p.peek()
			size = p.number("a size")
			if size != 1 && size != 2 && size != 4 {
				p.failAt(st, "data size must be 1, 2 or 4")
			}
		}
		p.expect("]")
		return p.load(t.text, idx, size)
	default:
		if v, ok := parseNum(t.text); ok {
			p.next()
			return p.loadi(v)
		}
		if v, ok := namedConsts[t.text]; ok {
			p.next()
			return p.loadi(v)
		}
	}
	p.fail("expected a number, len, a named field or proto[offset]")
	return nil
}
