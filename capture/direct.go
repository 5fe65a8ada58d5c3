package capture

import (
	"context"
	"math"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// The direct path (-w): RunDirect writes each record to the file from
// where the kernel put it, in the reading goroutine. Batches, a hand-off
// to a writer goroutine and a merge there (how it was done once) cost
// more CPU than tcpdump spends on a packet altogether; here a packet is
// parsed in the ring and copied once, into the writer's buffer.
//
// Time order: each pass merges the rings by stamp, and leaves in the rings
// the records stamped less than a slack before the pass began (perfSlack;
// directSlack for the ring buffer). A record a CPU stamped before that but
// had not yet written when the pass read its ring's head would come out of
// order; tc and XDP programs run without preemption, from their stamp to
// the end of the write in microseconds (a virtual CPU descheduled in
// between could take longer: such a record is written late, and counted in
// Stats.Late).
const directSlack = uint64(2 * time.Millisecond)

// perfSlack is the slack for perf rings. What it leaves in the rings must
// fit: directSlack's of a fast TCP stream overflowed the small hot rings
// and small --perf-buffer rings (docs/performance.md, "the slack").
const perfSlack = uint64(250 * time.Microsecond)

// RunDirect reads records until ctx is cancelled and writes each packet to
// w, in the reading goroutine. After limit packets
// (0: no limit), or on the first write error (kept in res.Err), it calls
// stop once and writes no more, but goes on reading; res.Written counts
// what it wrote. What it wrote is flushed at the flusher's passes and at
// the first packets after a quiet spell, at most every flushEvery. When
// ctx is cancelled it writes what is still in the rings (detach first),
// flushes w and returns. It closes the rings when it returns.
func (r *Reader) RunDirect(ctx context.Context, w PacketWriter, limit uint64, stop func(), res *WriteResult) error {
	return r.loop(ctx, &directSink{r: r, out: newFileSink(w, limit, stop, res)})
}

// RunPasses is RunDirect for a writer whose packets are to show as soon as
// a pass has read them (the live view's engine): it flushes w at the end
// of every pass that wrote to it, not at most every flushEvery, and w may
// hold what it must not hold between passes (a lock) until then.
func (r *Reader) RunPasses(ctx context.Context, w PacketWriter, limit uint64, stop func(), res *WriteResult) error {
	return r.loop(ctx, &passSink{directSink{r: r, out: newFileSink(w, limit, stop, res)}})
}

// passSink is RunPasses' sink.
type passSink struct{ directSink }

func (d *passSink) pass(cutoff uint64) {
	d.directSink.pass(cutoff)
	if d.out.dirty {
		d.out.flush()
	}
}

// directSink is RunDirect's sink: each pass writes the records it merges.
type directSink struct {
	r   *Reader
	out *fileSink
}

func (d *directSink) pass(cutoff uint64) { d.r.writePass(cutoff, d.out.write) }
func (d *directSink) due()               { d.out.flushDue() }
func (d *directSink) end()               { d.out.flush() }
func (d *directSink) settled() bool      { return !d.out.dirty && !d.r.ps.src.holding() }

// passCutoff is the stamp before which a pass can take every record: all
// of them are in the rings (see perfSlack). Take it before reading the
// rings' heads. The final pass, after the programs were detached, takes
// everything.
func passCutoff(final bool) uint64 {
	if final {
		return math.MaxUint64
	}
	return max(Monotonic(), perfSlack) - perfSlack
}

// writePass writes the records of the rings stamped before cutoff, oldest
// first, to write, and releases their ring space.
func (r *Reader) writePass(cutoff uint64, write func(*packet.Packet)) {
	if r.emitFunc == nil {
		r.emitFunc = r.emit // made once: a method value allocates
	}
	r.write = write
	n, bytes := r.ps.src.merge(&r.Stats, cutoff, r.emitFunc)
	r.Stats.Received.Add(n)
	r.Stats.Bytes.Add(bytes)
}

// emit hands one parsed record to r.write as a Packet. The packet.Packet is
// the reader's own: one made here would escape to the heap through the
// call, an allocation per packet. It is filled field by field: a composite
// literal is built on the stack and copied with wide loads, which stall on
// its narrow stores.
func (r *Reader) emit(h *bpf.Record, payload []byte) {
	if h.KtimeNs < r.lastStamp {
		r.Stats.Late.Add(1)
	} else {
		r.lastStamp = h.KtimeNs
	}
	p := &r.direct
	p.Data = payload
	p.Nanos = r.clock.WallNanos(h.KtimeNs)
	p.OrigLen, p.Ifindex = h.TotLen, h.Ifindex
	if n := h.TagLen(payload); n > 0 && !r.opts.Cooked {
		r.tagged = h.Tagged(r.tagged[:0], payload)
		p.Data, p.OrigLen = r.tagged, h.TotLen+n
		if sl := r.opts.Snaplen; sl > 0 && len(p.Data) > sl {
			p.Data = p.Data[:sl] // libpcap cuts a tagged frame to the snaplen too
		}
	}
	p.SetLinkType(r.linkOf(h.Ifindex))
	p.SetTask(h.Pid, int(h.CPU))
	p.Dir, p.Hook = h.Dir, h.Hook
	r.write(p)
}
