package decode

import (
	"github.com/bpftop-cap/bpftop-cap/filter"
)

// displayFilter is a pcap-filter expression used as the live view's
// display filter: the same compiler and matcher as the kernel filter, run
// in user space over the packets of each flow.
type displayFilter struct {
	expr    string
	prog    filter.Program // nil: expr is not an expression (text filter)
	matches map[uint64]uint64
}

// FilterKind tells how Flows reads a filter string: "" for none, "pcap-filter"
// when it compiles as a tcpdump expression (a flow matches when any of its
// packets does), "text" otherwise (a case-insensitive substring of the
// flow's line).
func (e *Engine) FilterKind(s string) string {
	if s == "" {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.setDisplayLocked(s).prog != nil {
		return "pcap-filter"
	}
	return "text"
}

// setDisplayLocked makes s the display filter, compiling it and matching
// the packets still in the ring against it when it changes. e.mu is held.
func (e *Engine) setDisplayLocked(s string) *displayFilter {
	if e.disp != nil && e.disp.expr == s {
		return e.disp
	}
	d := &displayFilter{expr: s}
	if prog, err := filter.Compile(s, 262144); err == nil && len(prog) > 0 {
		d.prog = prog
		d.matches = make(map[uint64]uint64)
		for seq := e.ring.first; seq < e.ring.next; seq++ {
			rec, data, ok := e.ring.get(seq)
			if ok && prog.Match(data, rec.origLen) {
				d.matches[rec.flowID]++
			}
		}
	}
	e.disp = d
	return d
}

// matchAdded accounts one added packet to the display filter. e.mu is held.
func (e *Engine) matchAdded(data []byte, origLen int, flowID uint64) {
	if e.disp == nil || e.disp.prog == nil {
		return
	}
	if e.disp.prog.Match(data, uint32(origLen)) {
		e.disp.matches[flowID]++
	}
}
