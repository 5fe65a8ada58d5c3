package capture

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// The direct path (-w): RunDirect writes each record to the file from
// where the kernel put it, in the reading goroutine. Run's batches, the
// hand-off to a writer goroutine and its merge cost more CPU than tcpdump
// spends on a packet altogether; here a packet is parsed in the ring and
// copied once, into the writer's buffer.
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
// fit: during a 10-20 Gbit/s TCP stream, 2 ms of records (4 MB at
// 16 Gbit/s) stayed in them, and 13-23% of the records overflowed a 4 MiB
// hot ring (34-50% a 2 MiB one); with 200 µs, 0.2% (0.5-1.8%). Measured
// with a throw-away build whose slack and hot ring size came from the
// environment. A small --perf-buffer without hot rings is the same: with
// 2 ms, `-w` to a tmpfs during a TCP stream with --perf-buffer 2MiB kept
// 2.2-2.7 GB of it, with 250 µs 3.7-4.4 GB (tcpdump 3.3-3.7; 4 runs each,
// interleaved).
const perfSlack = uint64(250 * time.Microsecond)

// direct is a ring's place in a pass of RunDirect: its next record, parsed.
type direct struct {
	head, tail uint64 // tail: where the parsed record starts
	next       uint64 // where the one after it starts
	hdr        bpf.Record
	payload    []byte
}

// CanRunDirect reports whether RunDirect can be used: the in-place readers,
// of perf rings (Options.Mmap) or of the ring buffer.
func (r *Reader) CanRunDirect() bool { return r.mm != nil }

// RunDirect reads records until ctx is cancelled, as Run does, but writes
// each packet to w itself instead of sending batches (see WriteBatches for
// limit, stop and res, which it updates as it goes). When ctx is cancelled
// it writes what is still in the rings (detach first), flushes w and
// returns. It closes the rings when it returns.
func (r *Reader) RunDirect(ctx context.Context, w PacketWriter, limit uint64, stop func(), res *WriteResult) error {
	defer r.Close()
	m := r.mm
	if !r.CanRunDirect() {
		return fmt.Errorf("RunDirect needs an in-place reader")
	}
	merge := r.mergeRings
	if m.rb != nil {
		merge = r.mergeRingBuf
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
		rang, again := m.answerBell(r.clock)
		m.settled.Store(false)
		merge(m.passCutoff(final), out.write)
		if (rang || again) && !flushed {
			out.flushDue() // the first packets after a quiet spell
		}
		if rang && !m.drained() {
			m.passAgain()
		}
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
		m.settled.Store(!out.dirty && len(r.rbd.held) == 0)
	}
}

// passCutoff is the stamp before which a pass can write every record: all
// of them are in the rings (see perfSlack). Take it before reading the
// rings' heads. The final pass, after the programs were detached, takes
// everything.
func (m *mmapRings) passCutoff(final bool) uint64 {
	if final {
		return math.MaxUint64
	}
	return max(Monotonic(), perfSlack) - perfSlack
}

// mergeRings writes the records of all rings stamped before cutoff, oldest
// first, and releases their ring space.
func (r *Reader) mergeRings(cutoff uint64, write func(*packet.Packet)) {
	n, bytes := r.mergeRecords(cutoff, func(h *bpf.Record, payload []byte) { r.emit(h, payload, write) })
	r.Stats.Received.Add(n)
	r.Stats.Bytes.Add(bytes)
}

// mergeRecords hands each the records of all rings stamped before cutoff,
// oldest first (payload is valid during the call), and releases their
// ring space; it returns how many records and bytes it handed on.
func (r *Reader) mergeRecords(cutoff uint64, each func(h *bpf.Record, payload []byte)) (n, bytes uint64) {
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
	var released uint64 // bytes when the rings' space was last given back
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
		each(&c.hdr, c.payload)
		n++
		bytes += uint64(len(c.payload))
		c.tail = c.next
		if n%4096 == 0 || bytes-released >= releaseBytes {
			// Give the kernel its space back as we go, in every ring: a
			// long pass (GSO frames) must not leave the others full, nor
			// the hot rings, so that the kernel need not overflow.
			m.release()
			released = bytes
		}
		if !r.parseNext(rg) {
			cur[oldest] = cur[len(cur)-1]
			cur = cur[:len(cur)-1]
		}
	}
	m.release()
	return n, bytes
}

// releaseBytes is how many bytes a merge hands on at most before giving
// the rings' space back: an eighth of a hot ring.
const releaseBytes = DefaultHotBuffer / 8

// release gives the kernel back the space of every ring's records before
// the one a merge is at.
func (m *mmapRings) release() {
	for _, rg := range m.rings {
		atomic.StoreUint64(&rg.meta.Data_tail, rg.cur.tail)
	}
}

// emit hands one parsed record to write as a Packet. The packet.Packet is the
// reader's own: one made here would escape to the heap through the call,
// an allocation per packet. It is filled field by field: a composite
// literal is built on the stack and copied with wide loads, which stall on
// its narrow stores.
func (r *Reader) emit(h *bpf.Record, payload []byte, write func(*packet.Packet)) {
	if h.KtimeNs < r.lastStamp {
		r.Stats.Late.Add(1)
	} else {
		r.lastStamp = h.KtimeNs
	}
	p := &r.direct
	p.Data = payload
	p.Nanos = r.clock.WallNanos(h.KtimeNs)
	p.OrigLen, p.Ifindex = h.TotLen, h.Ifindex
	p.Dir, p.Hook = h.Dir, h.Hook
	write(p)
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
		case rec.lost > 0 && !rg.hot:
			r.Stats.Lost.Add(rec.lost)
		}
		c.tail += rec.size
	}
	return false
}

// The ring buffer (--ringbuf) is one ring for all CPUs, in the order they
// reserved their records; each stamps its record just before reserving,
// so the stamps are nearly, not quite, in ring order. A pass of RunDirect
// parses the records it finds into a list, sorts the list by stamp (it
// seldom needs to) and writes the records stamped before a bound. The
// rest are left for the next pass, in the ring when they are all after
// the written ones in ring order, else copied out (held), so that the
// ring's space can be given back.
//
// The bound: a record not yet read was reserved after every record read
// (ring order is reservation order), so it was stamped at most
// directSlack before the newest stamp read, or, if it was not reserved
// when the pass read the producer position, at most directSlack before
// then (the cutoff).
const (
	rbPassRecords = 16384   // records one list takes, at most
	rbPassBytes   = 4 << 20 // and packet bytes
)

// rbRecord is a ring buffer record read by a pass, parsed.
type rbRecord struct {
	hdr        bpf.Record
	payload    []byte // in the ring, or in rbDirect.buf when held
	start, end uint64 // its ring positions; end 0 when held
}

// rbDirect is mergeRingBuf's state between passes.
type rbDirect struct {
	list       []rbRecord
	held       []rbRecord // read but not written, copied out of the ring
	buf, spare []byte     // held's packet bytes, and the other buffer
	bad        []uint64   // where this pass found malformed records
}

// mergeRingBuf writes the ring buffer's records stamped before cutoff
// (see above), oldest first, and gives their space back.
func (r *Reader) mergeRingBuf(cutoff uint64, write func(*packet.Packet)) {
	rb, d := r.mm.rb, &r.rbd
	prod := atomic.LoadUint64(rb.prodPos)
	rb.seen = prod
	cons := atomic.LoadUint64(rb.consPos)
	var n, bytes uint64
	for {
		list := append(d.list[:0], d.held...)
		sorted, stopped, limited := true, false, false
		var newest, size uint64
		for _, h := range d.held {
			newest = max(newest, h.hdr.KtimeNs)
		}
		for cons < prod {
			if len(list)+len(d.bad) >= rbPassRecords || size >= rbPassBytes {
				limited = true
				break
			}
			body, next, ok := rb.record(cons, prod)
			if !ok {
				stopped = true // not yet submitted (or insane)
				break
			}
			if body != nil {
				list = append(list, rbRecord{start: cons, end: next})
				e := &list[len(list)-1]
				payload, err := bpf.ParseInto(&e.hdr, body)
				if err != nil {
					d.bad = append(d.bad, cons) // counted once given back
					list = list[:len(list)-1]
				} else {
					e.payload = payload
					size += uint64(len(payload))
					kt := e.hdr.KtimeNs
					sorted = sorted && kt >= newest
					newest = max(newest, kt)
				}
			}
			cons = next
		}
		bound := cutoff
		// A list cut short by its limits bounds even the final pass: the
		// records after it are still to be read. A busy record does not
		// (there is none after detaching, and nothing after it is read).
		if limited || stopped && cutoff != math.MaxUint64 {
			bound = min(cutoff, max(newest, directSlack)-directSlack)
		}
		if !sorted {
			slices.SortStableFunc(list, func(a, b rbRecord) int { return cmp.Compare(a.hdr.KtimeNs, b.hdr.KtimeNs) })
		}
		// Write the records stamped before the bound: a prefix of the list.
		i := 0
		for i < len(list) && list[i].hdr.KtimeNs < bound {
			i++
		}
		if i == 0 && limited {
			// A full list all stamped within directSlack of the newest
			// (8 million packets a second): write its older half rather
			// than stall, giving up the time order for the few records
			// CPUs reserved out of stamp order across that line.
			i = len(list) / 2
		}
		for k := range list[:i] {
			e := &list[k] // not a copy: see emit
			r.emit(&e.hdr, e.payload, write)
			bytes += uint64(len(e.payload))
		}
		n += uint64(i)
		// The others wait for the next pass: in the ring when they all
		// come after the written ones in ring order, else copied out.
		release := cons // where the ring is given back up to
		var written uint64
		for k := range list[:i] {
			written = max(written, list[k].end)
		}
		for k := range list[i:] {
			if e := &list[i+k]; e.end != 0 {
				release = min(release, e.start)
			}
		}
		keepInRing := written <= release
		if !keepInRing {
			release = cons
		}
		d.spare = d.spare[:0]
		held := d.held[:0]
		for _, e := range list[i:] {
			if e.end != 0 && keepInRing {
				continue // read again next pass
			}
			at := len(d.spare)
			d.spare = append(d.spare, e.payload...)
			e.payload, e.start, e.end = d.spare[at:len(d.spare):len(d.spare)], 0, 0
			held = append(held, e)
		}
		d.held = held
		d.buf, d.spare = d.spare, d.buf
		d.list = list[:0]
		atomic.StoreUint64(rb.consPos, release)
		cons = release
		for _, at := range d.bad {
			if at < release {
				r.Stats.BadRecords.Add(1)
			} // else read again next pass
		}
		d.bad = d.bad[:0]
		// A pass cut short by its limits goes on if it got anywhere.
		if !limited || i == 0 {
			break
		}
	}
	r.Stats.Received.Add(n)
	r.Stats.Bytes.Add(bytes)
}
