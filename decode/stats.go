package decode

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Conversation is the traffic between two addresses, all ports and
// protocols together (Wireshark's Statistics > Conversations): IP
// addresses, or MAC addresses for traffic that is not IP. A is the lower
// address of the two.
type Conversation struct {
	A, B             string
	AAddr, BAddr     netip.Addr // invalid for a MAC pair
	PktsAB, PktsBA   uint64
	BytesAB, BytesBA uint64
	Flows            int // flows in the table between the two
	First, Last      time.Time
}

// Packets returns the packets both ways.
func (c *Conversation) Packets() uint64 { return c.PktsAB + c.PktsBA }

// Bytes returns the bytes both ways.
func (c *Conversation) Bytes() uint64 { return c.BytesAB + c.BytesBA }

// Duration returns the time from its first packet to its last.
func (c *Conversation) Duration() time.Duration { return c.Last.Sub(c.First) }

// BPS returns the bits per second over its duration, 0 for a conversation
// of one instant (Wireshark shows no rate for those either).
func (c *Conversation) BPS() float64 {
	d := c.Duration()
	if d <= 0 {
		return 0
	}
	return float64(c.Bytes()) * 8 / d.Seconds()
}

// Endpoint is the traffic of one address (Statistics > Endpoints).
type Endpoint struct {
	Addr            string
	IP              netip.Addr // invalid for a MAC address
	TxPkts, TxBytes uint64     // sent
	RxPkts, RxBytes uint64     // received
	Flows           int
}

// Packets returns the packets sent and received.
func (p *Endpoint) Packets() uint64 { return p.TxPkts + p.RxPkts }

// Bytes returns the bytes sent and received.
func (p *Endpoint) Bytes() uint64 { return p.TxBytes + p.RxBytes }

// ProtoStat is one line of the protocol hierarchy (Statistics > Protocol
// Hierarchy): the packets, and their frame bytes, that carry a protocol.
// A flow counts whole under its application: every packet of a TLS flow,
// its handshake and bare ACKs too, counts as TLS.
type ProtoStat struct {
	Name           string
	Depth          int // 0 for the root, Ethernet
	Packets, Bytes uint64
	// Percent of all the packets and bytes of the flow table.
	PktShare, ByteShare float64
}

// Statistics are the flow table summed up three ways.
type Statistics struct {
	Packets, Bytes uint64 // of the flows in the table
	Flows          int
	Conversations  []Conversation
	Endpoints      []Endpoint
	Protocols      []ProtoStat // depth first, the larger sibling first
}

// Statistics sums up the flows in the table (flows idle past the timeout
// at now evicted first), sorted by bytes or by packets (by: SortPackets;
// any other key sorts by bytes), largest first. The display filter does
// not apply. It copies the flows' counters in steps as Flows does,
// letting the capture in between, and sums them unlocked: a flow made
// meanwhile may be missing. No work is added to the capture's path.
func (e *Engine) Statistics(by SortKey, now time.Time) Statistics {
	nowNs := unixNano(now)
	var sum statSum
	step := touch(make([]statCopy, flowsStep)) // for the reason Snapshot gives
	for slot, more := 0, true; more; {
		e.mu.Lock()
		if slot == 0 {
			e.flows.expire(nowNs)
		}
		step = step[:0]
		for end := min(slot+flowsStep, len(e.flows.flows)); slot < end; slot++ {
			if f := &e.flows.flows[slot]; f.id != 0 {
				step = append(step, statOf(f))
			}
		}
		more = slot < len(e.flows.flows)
		if !more {
			sum.root = e.links.rootName()
		}
		if more {
			e.yieldLocked() // Unlock does not hand the lock over
		}
		e.mu.Unlock()
		for i := range step {
			sum.add(&step[i])
		}
	}
	return sum.result(by)
}

// statCopy is what Statistics copies of a flow under the lock: less than
// copyLocked, which formats the display strings and reads the rate.
type statCopy struct {
	key         packet.FlowKey
	app         App
	pkts, bytes [2]uint64 // Lo to Hi, then Hi to Lo
	first, last int64
}

func statOf(f *flow) statCopy {
	c := statCopy{key: f.key, app: f.app, first: f.first, last: f.last}
	ab := 0 // A->B is Lo->Hi
	if !f.aIsLo {
		ab = 1
	}
	for d := range 2 {
		c.pkts[d^ab] = f.pkts[d] + f.kpkts[d]
		c.bytes[d^ab] = f.bytes[d] + f.kbytes[d]
	}
	return c
}

// Address kinds: a conversation or endpoint is keyed by its kind and
// address bytes, so a MAC never meets an IPv6 address of the same bytes.
const (
	kindMAC uint8 = iota
	kindIPv4
	kindIPv6
)

type addrKey struct {
	kind uint8
	addr [16]byte
}

func (a addrKey) ip() netip.Addr {
	switch a.kind {
	case kindIPv4:
		return netip.AddrFrom16(a.addr).Unmap()
	case kindIPv6:
		return netip.AddrFrom16(a.addr)
	}
	return netip.Addr{}
}

func (a addrKey) String() string {
	if a.kind == kindMAC {
		var m [6]byte
		copy(m[:], a.addr[:])
		return string(appendMAC(nil, m))
	}
	return a.ip().String()
}

func compareAddr(a, b addrKey) int {
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	return bytes.Compare(a.addr[:], b.addr[:])
}

type pairKey struct{ lo, hi addrKey }

type convSum struct {
	pkts, bytes [2]uint64
	flows       int
	first, last int64
}

type endSum struct {
	tx, rx [2]uint64 // packets, bytes
	flows  int
}

// protoKey is what places a flow in the protocol hierarchy.
type protoKey struct {
	etherType uint16
	proto     uint8 // IP protocol; for non-IP, which link-layer header (linkKey)
	app       App
	mdns      bool
}

type statSum struct {
	flows          int
	packets, bytes uint64
	convs          map[pairKey]*convSum
	ends           map[addrKey]*endSum
	protos         map[protoKey]*[2]uint64 // packets, bytes
	root           string                  // the hierarchy's root: the link layer (linkSeen.rootName)
}

func (s *statSum) add(c *statCopy) {
	if s.convs == nil {
		s.convs = map[pairKey]*convSum{}
		s.ends = map[addrKey]*endSum{}
		s.protos = map[protoKey]*[2]uint64{}
	}
	k := &c.key
	kind := kindMAC
	switch k.EtherType {
	case 0x0800:
		kind = kindIPv4
	case 0x86dd:
		kind = kindIPv6
	}
	lo, hi := addrKey{kind, k.Lo}, addrKey{kind, k.Hi}
	pkts, byts := c.pkts[0]+c.pkts[1], c.bytes[0]+c.bytes[1]
	s.flows++
	s.packets += pkts
	s.bytes += byts

	cv := s.convs[pairKey{lo, hi}]
	if cv == nil {
		cv = &convSum{first: c.first, last: c.last}
		s.convs[pairKey{lo, hi}] = cv
	}
	for d := range 2 {
		cv.pkts[d] += c.pkts[d]
		cv.bytes[d] += c.bytes[d]
	}
	cv.flows++
	cv.first, cv.last = min(cv.first, c.first), max(cv.last, c.last)

	s.end(lo, c.pkts[0], c.bytes[0], c.pkts[1], c.bytes[1], true)
	s.end(hi, c.pkts[1], c.bytes[1], c.pkts[0], c.bytes[0], hi != lo)

	pk := protoKey{etherType: k.EtherType, proto: k.Proto} // a non-IP key's Proto: linkKey
	if k.IsIP() {
		pk.proto, pk.app = k.Proto, c.app
		pk.mdns = c.app == AppDNS && (k.LoPort == 5353 || k.HiPort == 5353)
	}
	p := s.protos[pk]
	if p == nil {
		p = new([2]uint64)
		s.protos[pk] = p
	}
	p[0] += pkts
	p[1] += byts
}

// end adds a flow's traffic sent (tx) and received (rx) by address a.
func (s *statSum) end(a addrKey, txP, txB, rxP, rxB uint64, newFlow bool) {
	e := s.ends[a]
	if e == nil {
		e = &endSum{}
		s.ends[a] = e
	}
	e.tx[0] += txP
	e.tx[1] += txB
	e.rx[0] += rxP
	e.rx[1] += rxB
	if newFlow {
		e.flows++
	}
}

func (s *statSum) result(by SortKey) Statistics {
	out := Statistics{Packets: s.packets, Bytes: s.bytes, Flows: s.flows}
	// Sorted on the keys, then by the counters, so that equal counters
	// keep a steady order from one refresh to the next.
	pairs := make([]pairKey, 0, len(s.convs))
	for k := range s.convs {
		pairs = append(pairs, k)
	}
	slices.SortFunc(pairs, func(a, b pairKey) int {
		if c := compareAddr(a.lo, b.lo); c != 0 {
			return c
		}
		return compareAddr(a.hi, b.hi)
	})
	out.Conversations = make([]Conversation, 0, len(pairs))
	for _, k := range pairs {
		cv := s.convs[k]
		out.Conversations = append(out.Conversations, Conversation{
			A: k.lo.String(), B: k.hi.String(), AAddr: k.lo.ip(), BAddr: k.hi.ip(),
			PktsAB: cv.pkts[0], PktsBA: cv.pkts[1], BytesAB: cv.bytes[0], BytesBA: cv.bytes[1],
			Flows: cv.flows, First: fromUnixNano(cv.first), Last: fromUnixNano(cv.last),
		})
	}
	slices.SortStableFunc(out.Conversations, func(a, b Conversation) int {
		return byCounters(by, a.Packets(), a.Bytes(), b.Packets(), b.Bytes())
	})

	addrs := make([]addrKey, 0, len(s.ends))
	for k := range s.ends {
		addrs = append(addrs, k)
	}
	slices.SortFunc(addrs, compareAddr)
	out.Endpoints = make([]Endpoint, 0, len(addrs))
	for _, k := range addrs {
		e := s.ends[k]
		out.Endpoints = append(out.Endpoints, Endpoint{
			Addr: k.String(), IP: k.ip(),
			TxPkts: e.tx[0], TxBytes: e.tx[1], RxPkts: e.rx[0], RxBytes: e.rx[1], Flows: e.flows,
		})
	}
	slices.SortStableFunc(out.Endpoints, func(a, b Endpoint) int {
		return byCounters(by, a.Packets(), a.Bytes(), b.Packets(), b.Bytes())
	})

	out.Protocols = s.hierarchy(by)
	return out
}

// byCounters orders largest first by bytes, or by packets for
// SortPackets, the other counter breaking ties.
func byCounters(by SortKey, pa, ba, pb, bb uint64) int {
	if by == SortPackets {
		pa, ba, pb, bb = ba, pa, bb, pb
	}
	if c := cmp.Compare(bb, ba); c != 0 {
		return c
	}
	return cmp.Compare(pb, pa)
}

// protoNode is a protocol of the hierarchy being built.
type protoNode struct {
	name           string
	packets, bytes uint64
	kids           []*protoNode
}

func (n *protoNode) child(name string) *protoNode {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	k := &protoNode{name: name}
	n.kids = append(n.kids, k)
	return k
}

func (n *protoNode) count(p *[2]uint64) {
	n.packets += p[0]
	n.bytes += p[1]
}

// hierarchy builds the protocol tree, link layer > network > transport >
// application, and lists it depth first. Its root is the packets' link
// layer (Ethernet, unless another was seen).
func (s *statSum) hierarchy(by SortKey) []ProtoStat {
	root := &protoNode{name: cmp.Or(s.root, "Ethernet")}
	for k, p := range s.protos {
		root.count(p)
		if k.etherType != 0x0800 && k.etherType != 0x86dd {
			root.child(keyProtoName(k.etherType, k.proto)).count(p)
			continue
		}
		net := root.child("IPv4")
		if k.etherType == 0x86dd {
			net = root.child("IPv6")
		}
		net.count(p)
		tr := net.child(ipProtoName(k.proto))
		tr.count(p)
		if app := appName(k.app, k.mdns); app != "" {
			tr.child(app).count(p)
		}
	}
	if root.packets == 0 {
		return nil
	}
	var out []ProtoStat
	var walk func(n *protoNode, depth int)
	walk = func(n *protoNode, depth int) {
		out = append(out, ProtoStat{
			Name: n.name, Depth: depth, Packets: n.packets, Bytes: n.bytes,
			PktShare:  100 * float64(n.packets) / float64(max(s.packets, 1)),
			ByteShare: 100 * float64(n.bytes) / float64(max(s.bytes, 1)),
		})
		slices.SortFunc(n.kids, func(a, b *protoNode) int {
			if c := byCounters(by, a.packets, a.bytes, b.packets, b.bytes); c != 0 {
				return c
			}
			return cmp.Compare(a.name, b.name)
		})
		for _, k := range n.kids {
			walk(k, depth+1)
		}
	}
	walk(root, 0)
	return out
}

// appName names an application as Summary.Proto does, or "" for none.
func appName(a App, mdns bool) string {
	switch a {
	case AppDNS:
		if mdns {
			return "MDNS"
		}
		return "DNS"
	case AppTLS:
		return "TLS"
	case AppHTTP:
		return "HTTP"
	}
	return ""
}
