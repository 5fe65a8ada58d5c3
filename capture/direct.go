package capture

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
)

// The direct path (-w): RunDirect writes each record to the file from
// where the kernel put it, in the reading goroutine. Run's batches, the
// hand-off to a writer goroutine and its merge cost more CPU than tcpdump
// spends on a packet altogether; here a packet is parsed in the ring and
// copied once, into the writer's buffer.
//
// Time order: each pass merges the rings by stamp, and leaves in the rings
// the records stamped less than directSlack before the pass began. A
// record a CPU stamped before that but had not yet written when the pass
// read its ring's head would come out of order; tc and XDP programs run
// without preemption, from their stamp to the end of the write in
// microseconds (a virtual CPU descheduled in between could take longer).
const directSlack = uint64(2 * time.Millisecond)

// direct is a ring's place in a pass of RunDirect: its next record, parsed.
type direct struct {
	head, tail uint64 // tail: where the parsed record starts
	next       uint64 // where the one after it starts
	hdr        bpf.Record
	payload    []byte
}

// CanRunDirect reports whether RunDirect can be used: the in-place perf reader
// only (Options.Mmap).
func (r *Reader) CanRunDirect() bool { return r.mm != nil && r.mm.rb == nil }

// RunDirect reads records until ctx is cancelled, as Run does, but writes
// each packet to w itself instead of sending batches (see WriteBatches for
// limit, stop and res, which it updates as it goes). When ctx is cancelled
// it writes what is still in the rings (detach first), flushes w and
// returns. It closes the rings when it returns.
func (r *Reader) RunDirect(ctx context.Context, w PacketWriter, limit uint64, stop func(), res *WriteResult) error {
	defer r.Close()
	m := r.mm
	if !r.CanRunDirect() {
		return fmt.Errorf("RunDirect needs the in-place perf reader")
	}
	m.running.Store(true)
	defer close(m.stopped)
	defer r.startFlusher(ctx)()

	out := newFileSink(w, limit, stop, res)
	final := false
	for {
		flushed, err := m.wait()
		if m.closing.Load() {
			out.flush()
			return nil // closed under us: the rings are about to go
		}
		if err != nil {
			out.flush()
			return fmt.Errorf("read perf rings: %w", err)
		}
		cutoff := uint64(math.MaxUint64)
		if !final {
			if now := Monotonic(); now > directSlack {
				cutoff = now - directSlack
			} else {
				cutoff = 0
			}
		}
		r.mergeRings(cutoff, out.write)
		if flushed {
			if final {
				out.flush()
				return nil
			}
			if ctx.Err() != nil {
				// One more pass after our own flush, taking everything.
				final = true
				m.flush()
			}
			out.flushDue()
		}
	}
}

// mergeRings writes the records of all rings stamped before cutoff, oldest
// first, and releases their ring space.
func (r *Reader) mergeRings(cutoff uint64, write func(*Packet)) {
	m := r.mm
	var active [64]*mmapRing
	cur := active[:0]
	for _, rg := range m.rings {
		c := &rg.cur
		c.head = atomic.LoadUint64(&rg.meta.Data_head)
		rg.seen = c.head
		c.tail = rg.meta.Data_tail
		if r.parseNext(rg) {
			cur = append(cur, rg)
		}
	}
	var n, bytes uint64
	for len(cur) > 0 {
		oldest := 0
		for i := 1; i < len(cur); i++ {
			if cur[i].cur.hdr.KtimeNs < cur[oldest].cur.hdr.KtimeNs {
				oldest = i
			}
		}
		rg := cur[oldest]
		c := &rg.cur
		if c.hdr.KtimeNs >= cutoff {
			break // and so is every other ring's next record
		}
		// p is the reader's own: a Packet made here would escape to the
		// heap through the interface call, one allocation per packet.
		// Field by field: a composite literal is built on the stack and
		// copied with wide loads, which stall on its narrow stores.
		p := &r.direct
		p.Data = c.payload
		p.Nanos = r.clock.WallNanos(c.hdr.KtimeNs)
		p.OrigLen, p.Ifindex = c.hdr.TotLen, c.hdr.Ifindex
		p.Dir, p.Hook = c.hdr.Dir, c.hdr.Hook
		write(p)
		n++
		bytes += uint64(len(c.payload))
		c.tail = c.next
		if n%4096 == 0 { // give the kernel its space back as we go
			atomic.StoreUint64(&rg.meta.Data_tail, c.tail)
		}
		if !r.parseNext(rg) {
			cur[oldest] = cur[len(cur)-1]
			cur = cur[:len(cur)-1]
		}
	}
	for _, rg := range m.rings {
		atomic.StoreUint64(&rg.meta.Data_tail, rg.cur.tail)
	}
	r.Stats.Received.Add(n)
	r.Stats.Bytes.Add(bytes)
}

// parseNext parses the ring's next sample at or after cur.tail, counting
// lost and malformed records on the way, and reports whether there is one.
func (r *Reader) parseNext(rg *mmapRing) bool {
	c := &rg.cur
	rec := &rg.rec
	for c.tail < c.head {
		if !rg.next(c.tail, c.head, rec) {
			c.tail = c.head // skip the rest
			return false
		}
		switch {
		case rec.isSample:
			if rec.sample != nil {
				payload, err := bpf.ParseInto(&c.hdr, rec.sample)
				if err == nil {
					c.payload, c.next = payload, c.tail+rec.size
					return true
				}
			}
			r.Stats.BadRecords.Add(1)
		case rec.lost > 0:
			r.Stats.Lost.Add(rec.lost)
		}
		c.tail += rec.size
	}
	return false
}
