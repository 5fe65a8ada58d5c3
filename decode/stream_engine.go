package decode

import (
	"net/netip"
	"slices"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// streamCopyStep is how many packets FlowStream copies per step (see
// yieldLocked), as Snapshot does.
var streamCopyStep = 1024

// streamBufBytes is the size of the buffers FlowStream copies packets into.
const streamBufBytes = 512 << 10

// streamFrameBudget is how many captured bytes of a flow's packets
// FlowStream reads for maxBytes of payload: room for the headers and some
// retransmissions; a stream longer than that is cut.
func streamFrameBudget(maxBytes int) int { return 2*max(maxBytes, 0) + 64<<10 }

// FlowStream follows the payload of flow id (Reassemble) from its packets
// still in the ring, oldest first, returning at most maxBytes of payload.
// It reports false when no packet of the flow is retained. It finds and
// copies the packets in bounded steps, letting the capture in between
// (yieldLocked): packets that leave the ring meanwhile are missed, and
// show as gaps. Segment.Seq is set to the ring's sequence numbers.
func (e *Engine) FlowStream(id uint64, maxBytes int) (Stream, bool) {
	e.mu.Lock()
	var seqs []uint64
	var hint netip.AddrPort // the flow's first sender, as the flow table saw it
	if f := e.flows.byID(id); f != nil {
		if addr, port := f.a(); f.key.IsIP() {
			a := netip.AddrFrom16(addr)
			if f.key.EtherType == 0x0800 {
				a = a.Unmap()
			}
			hint = netip.AddrPortFrom(a, port)
		}
		for seq := f.lastSeq; seq != 0; {
			if seqs, seq = e.ring.flowSeqs(seqs, id, seq, e.ring.count(), flowWalkStep); seq != 0 {
				e.yieldLocked()
			}
		}
	} else {
		for seq := e.ring.next - 1; seq != 0; {
			if seqs, seq = e.ring.scanFlow(seqs, id, seq, e.ring.count(), flowWalkStep); seq != 0 {
				e.yieldLocked()
			}
		}
	}
	e.mu.Unlock()
	if len(seqs) == 0 {
		return Stream{}, false
	}
	slices.Reverse(seqs)

	budget := streamFrameBudget(maxBytes)
	pkts := make([]packet.Packet, 0, len(seqs))
	got := make([]uint64, 0, len(seqs)) // the sequence numbers of pkts
	more := false
	var buf []byte
	for i := 0; i < len(seqs) && !more; {
		// Allocated unlocked, for the reason Snapshot gives; a step ends
		// early when its packets fill what is left (a packet's capture is
		// under 64 KiB: the first one always fits).
		if cap(buf)-len(buf) < streamBufBytes/2 {
			buf = touch(make([]byte, streamBufBytes))[:0]
		}
		e.mu.Lock()
		for end := min(i+streamCopyStep, len(seqs)); i < end; i++ {
			rec, data, ok := e.ring.get(seqs[i])
			if !ok {
				continue // left the ring while the capture was let in
			}
			if budget -= len(data); budget < 0 && len(pkts) > 0 {
				more = true
				break
			}
			if len(data) > cap(buf)-len(buf) {
				budget += len(data)
				break // the next step takes it
			}
			start := len(buf)
			buf = append(buf, data...)
			pkts = append(pkts, rec.frame(buf[start:len(buf):len(buf)]))
			got = append(got, seqs[i])
		}
		if i < len(seqs) && !more {
			e.yieldLocked()
		}
		e.mu.Unlock()
	}
	if len(pkts) == 0 {
		return Stream{}, false
	}
	st := reassemble(pkts, maxBytes, hint)
	st.Cut = st.Cut || more
	st.First = got[0]
	for i := range st.Segments {
		st.Segments[i].Seq = got[st.Segments[i].Index]
	}
	return st, true
}
