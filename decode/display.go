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
	// The packets already in the ring when the filter was set are matched
	// a slice at a time ([scanNext, scanEnd)), so that the engine's lock
	// is never held for a whole ring while someone types a filter.
	scanNext, scanEnd uint64
}

// scanSlice is how many ring packets one Flows call matches at most,
// scanStep how many per step of it (see yieldLocked): 65,536 in one go
// held the lock for 8 to 12 ms.
const scanSlice = 65536

var scanStep = 2048

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
		d.scanNext, d.scanEnd = e.ring.first, e.ring.next
	}
	e.disp = d
	return d
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
	if d.prog == nil {
		return false
	}
	seq := max(d.scanNext, r.first) // evicted meanwhile: skipped
	end := min(d.scanEnd, seq+uint64(n))
	for ; seq < end; seq++ {
		if rec, data, ok := r.get(seq); ok && d.prog.Match(data, rec.origLen) {
			d.matches[rec.flowID]++
		}
	}
	d.scanNext = seq
	return seq < d.scanEnd
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

// prune drops the match counts of flows no longer in the table, once there
// are more of them than flows: the map stays bounded by the table.
func (d *displayFilter) prune(t *flowTable) {
	if d.matches == nil || len(d.matches) <= 2*max(t.len(), 1024) {
		return
	}
	for id := range d.matches {
		if t.byID(id) == nil {
			delete(d.matches, id)
		}
	}
}
