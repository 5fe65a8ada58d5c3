package decode

import (
	"errors"
	"strings"

	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// FilterKind is how Flows reads a display filter.
type FilterKind uint8

// Display filter kinds.
const (
	FilterNone    FilterKind = iota // "" or blanks: every flow
	FilterText                      // "~text": a case-insensitive substring of the flow's line
	FilterPcap                      // a pcap-filter expression (tcpdump syntax)
	FilterInvalid                   // an expression that does not compile: no flow
)

// String returns "", "text", "pcap-filter" or "invalid".
func (k FilterKind) String() string {
	switch k {
	case FilterText:
		return "text"
	case FilterPcap:
		return "pcap-filter"
	case FilterInvalid:
		return "invalid"
	}
	return ""
}

// TextPrefix starts a text filter; anything else is an expression.
const TextPrefix = "~"

// FilterCheck is what CheckFilter tells of a display filter.
type FilterCheck struct {
	Kind FilterKind
	// For FilterInvalid: the byte offset in the filter where the compiler
	// stopped (-1 when the error has no place, such as a program too
	// long), and what it said.
	Pos int
	Msg string
}

// CheckFilter tells how Flows reads s and, for an expression that does not
// compile, where and why: the filter prompt shows it as the user types.
func CheckFilter(s string) FilterCheck {
	switch {
	case strings.TrimSpace(s) == "":
		return FilterCheck{Kind: FilterNone}
	case strings.HasPrefix(s, TextPrefix):
		return FilterCheck{Kind: FilterText}
	}
	_, err := filter.Compile(s, 0)
	if err == nil || compilesOffEthernet(s) {
		return FilterCheck{Kind: FilterPcap}
	}
	var se *filter.SyntaxError
	if errors.As(err, &se) {
		return FilterCheck{Kind: FilterInvalid, Pos: se.Pos, Msg: se.Msg}
	}
	return FilterCheck{Kind: FilterInvalid, Pos: -1, Msg: strings.TrimPrefix(err.Error(), "filter: ")}
}

// displayLinks are the link types other than Ethernet a display filter may
// be compiled for.
var displayLinks = []packet.LinkType{packet.LinkTypeSLL, packet.LinkTypeSLL2, packet.LinkTypeRaw,
	packet.LinkTypeIPv4, packet.LinkTypeIPv6, packet.LinkTypeNull, packet.LinkTypeLoop, packet.LinkTypePPP}

// compilesOffEthernet reports whether an expression that does not compile
// for Ethernet does for another link type (inbound on a cooked capture).
func compilesOffEthernet(s string) bool {
	for _, lt := range displayLinks {
		if _, err := filter.CompileLink(s, 0, uint32(lt)); err == nil {
			return true
		}
	}
	return false
}

// displayFilter is the live view's display filter: text, or a pcap-filter
// expression run by the same matcher as the kernel filter, in user space,
// over each flow's key and over the packets of each flow.
type displayFilter struct {
	expr string
	kind FilterKind
	text string         // FilterText: the lower-cased text after the prefix
	prog filter.Program // FilterPcap, for Ethernet frames (and the frames made from keys)
	// others holds the expression compiled for each other link type met,
	// nil where it does not compile for one (nothing of it matches).
	others    map[packet.LinkType]filter.Program
	bigEndian bool // Config.BigEndian
	matches   map[uint64]uint64
	// keyed caches, by flow, the verdicts on the frames made from the
	// key: per direction (A->B in the low bits) whether it was tried
	// (keyTried) and matched (keyMatched).
	keyed        map[uint64]uint8
	frame, known [keyFrameLen]byte
	// The packets already in the ring when the filter was set are matched
	// a slice at a time ([scanNext, scanEnd)), so that the engine's lock
	// is never held for a whole ring while someone types a filter.
	scanNext, scanEnd uint64
}

const (
	keyTried   = 1
	keyMatched = 2
)

// scanSlice is how many ring packets one Flows call matches at most,
// scanStep how many per step of it (see yieldLocked): matching a whole
// ring in one go held the lock too long (docs/performance.md).
const scanSlice = 65536

var scanStep = 2048

// setDisplayLocked makes s the display filter, compiling it and matching
// the packets still in the ring against it when it changes. e.mu is held.
func (e *Engine) setDisplayLocked(s string) *displayFilter {
	if e.disp != nil && e.disp.expr == s {
		return e.disp
	}
	d := &displayFilter{expr: s, kind: FilterNone}
	switch {
	case strings.TrimSpace(s) == "":
	case strings.HasPrefix(s, TextPrefix):
		d.kind, d.text = FilterText, strings.ToLower(s[len(TextPrefix):])
	default:
		prog, err := filter.Compile(s, 262144)
		if err != nil && !compilesOffEthernet(s) {
			d.kind = FilterInvalid
			break
		}
		// prog is nil when only other link types take the expression:
		// then no Ethernet frame, nor a frame made from a key, matches.
		d.kind, d.prog, d.bigEndian = FilterPcap, prog, e.cfg.BigEndian
		d.matches = make(map[uint64]uint64)
		d.keyed = make(map[uint64]uint8)
		d.scanNext, d.scanEnd = e.ring.first, e.ring.next
	}
	e.disp = d
	return d
}

// keepLocked reports whether the flow f passes an expression: a packet of
// it in the ring matched, or a frame made from its key, in a direction it
// sent packets, matches whatever the fields the key does not hold. e.mu is
// held.
func (d *displayFilter) keepLocked(f *flow) bool {
	if d.matches[f.id] > 0 {
		return true
	}
	c, had := d.keyed[f.id]
	was, keep := c, false
	for dir := range 2 {
		bits := c >> (2 * dir) & 3
		if bits&keyTried == 0 && f.pkts[dir]+f.kpkts[dir] > 0 {
			// The key does not change: one try per direction.
			bits = keyTried
			if d.matchKey(f, dir) {
				bits |= keyMatched
			}
			c |= bits << (2 * dir)
		}
		keep = keep || bits&keyMatched != 0
	}
	if c != was || !had {
		d.keyed[f.id] = c
	}
	return keep
}

// keyFrameLen is the longest frame made from a key: Ethernet, IPv6, TCP.
const keyFrameLen = 14 + 40 + 20

// matchKey builds the frame the flow's packets in direction dir (0 for
// A->B) have in common, as far as the key tells, and reports whether the
// expression surely matches it.
func (d *displayFilter) matchKey(f *flow, dir int) bool {
	src, sp := f.a()
	dst, dp := f.b()
	if dir == 1 {
		src, sp, dst, dp = dst, dp, src, sp
	}
	if d.prog == nil || !f.key.IsIP() && f.key.Proto != 0 {
		return false // no Ethernet program; a key of another link type's header (linkKey)
	}
	n := keyFrame(&d.frame, &d.known, &f.key, src, dst, sp, dp)
	m, sure := d.prog.MatchPartial(d.frame[:n], d.known[:n])
	return m && sure
}

// keyFrame writes into frame the headers a packet of the flow with key k
// sent from src to dst has, and into known which of their bits the key
// tells (the rest are unknown: MACs of IP flows, lengths, TTL, flags,
// sequence numbers, checksums), and returns the frame's length. The key
// holds no VLAN tag nor tunnel header: the frame has none.
func keyFrame(frame, known *[keyFrameLen]byte, k *packet.FlowKey, src, dst [16]byte, sp, dp uint16) int {
	*frame, *known = [keyFrameLen]byte{}, [keyFrameLen]byte{}
	set := func(off int, b ...byte) {
		copy(frame[off:], b)
		for i := range b {
			known[off+i] = 0xff
		}
	}
	set(12, byte(k.EtherType>>8), byte(k.EtherType))
	if !k.IsIP() {
		set(0, dst[:6]...) // the key of a non-IP flow holds the MACs
		set(6, src[:6]...)
		return 14
	}
	n := 14
	if k.EtherType == 0x0800 {
		set(14, 0x45)
		set(23, k.Proto)
		set(26, src[12:16]...)
		set(30, dst[12:16]...)
		n += 20
	} else {
		frame[14], known[14] = 0x60, 0xf0
		set(20, k.Proto)
		set(22, src[:]...)
		set(38, dst[:]...)
		n += 40
	}
	if sp == 0 && dp == 0 || !portsProto(k.Proto) {
		// No ports: not a port protocol, or fragments after the first.
		return n
	}
	if k.EtherType == 0x0800 {
		known[20], known[21] = 0x1f, 0xff // fragment offset 0: the packets had ports
	}
	set(n, byte(sp>>8), byte(sp), byte(dp>>8), byte(dp))
	if k.Proto == 6 {
		return n + 20
	}
	return n + 8
}

// scanDisplayLocked matches up to scanSlice more of the packets that were
// in the ring when d was set, in steps. e.mu is held.
func (e *Engine) scanDisplayLocked(d *displayFilter) {
	for n := scanStep; d.scan(e.ring, scanStep) && n < scanSlice; n += scanStep {
		e.yieldLocked()
	}
}

// scan matches up to n of the packets that were in the ring when the
// filter was set and reports whether any are left. e.mu is held.
func (d *displayFilter) scan(r *ring, n int) bool {
	if d.kind != FilterPcap {
		return false
	}
	seq := max(d.scanNext, r.first) // evicted meanwhile: skipped
	end := min(d.scanEnd, seq+uint64(n))
	for ; seq < end; seq++ {
		if rec, data, ok := r.get(seq); ok && d.match(rec.linkType(), data, rec.origLen) {
			d.matches[rec.flowID]++
		}
	}
	d.scanNext = seq
	return seq < d.scanEnd
}

// matchAdded accounts one added packet to the display filter. e.mu is held.
func (e *Engine) matchAdded(lt packet.LinkType, data []byte, origLen int, flowID uint64) {
	if e.disp == nil || e.disp.kind != FilterPcap {
		return
	}
	if e.disp.match(lt, data, uint32(origLen)) {
		e.disp.matches[flowID]++
	}
}

// match runs the expression on a packet of link type lt.
func (d *displayFilter) match(lt packet.LinkType, data []byte, origLen uint32) bool {
	if lt == packet.LinkTypeEthernet {
		return len(d.prog) > 0 && d.prog.Match(data, origLen)
	}
	prog, ok := d.others[lt]
	if !ok {
		prog, _ = filter.CompileFile(d.expr, 262144, uint32(lt), d.bigEndian)
		if d.others == nil {
			d.others = map[packet.LinkType]filter.Program{}
		}
		d.others[lt] = prog
	}
	return len(prog) > 0 && prog.Match(data, origLen)
}

// prune drops the match counts and key verdicts of flows no longer in the
// table, once there are more of them than flows: the maps stay bounded by
// the table.
func (d *displayFilter) prune(t *flowTable) {
	limit := 2 * max(t.len(), 1024)
	if len(d.matches) > limit {
		for id := range d.matches {
			if t.byID(id) == nil {
				delete(d.matches, id)
			}
		}
	}
	if len(d.keyed) > limit {
		for id := range d.keyed {
			if t.byID(id) == nil {
				delete(d.keyed, id)
			}
		}
	}
}
