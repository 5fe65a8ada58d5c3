package decode

import (
	"cmp"
	"math/bits"
	"slices"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// record describes one packet kept in the ring.
type record struct {
	ts      int64 // Unix nanoseconds
	flowID  uint64
	off     uint32 // where its bytes start in its segment
	capLen  uint32
	origLen uint32
	seg     int32 // the segment holding its bytes
	ifindex int32
	// prevGap is how many packets back the previous packet of the same
	// flow is, 0 if none (or too far back to be still in the ring).
	prevGap uint32
	pid     uint32 // the owning process (packet.Packet's Pid)
	dir     packet.Dir
	link    uint16 // packet.LinkType XOR 1 (zero: Ethernet), as Packet keeps it
}

// segment is one buffer of packet bytes: a chunk the ring copies packets
// into, or a packet bigger than a chunk on its own.
type segment struct {
	buf    []byte // its packets lie in buf[:len(buf)]; cap(buf) counts against the budget
	live   int    // records whose bytes are here
	pinned bool   // being filled: not freed when live drops to 0
}

// ring keeps the most recent packets within a byte budget. The bytes go
// to segments, the descriptors to a power-of-two ring indexed by sequence
// number, so append, lookup by sequence number and eviction of the oldest
// packet are all O(1).
//
// Packets are copied into the ring's own chunks one after the other; a
// packet that does not fit in what is left of the chunk starts a new one.
// A segment is freed (a chunk kept for reuse) when its last packet is
// evicted, and the oldest packets are evicted until the segments in use,
// counted at their capacity, fit in the budget.
type ring struct {
	size  int // the byte budget
	chunk int // capacity of the ring's own chunks

	segs     []segment
	freeSegs []int32  // unused slots of segs
	cur      int32    // the chunk being filled, -1 if none
	spare    [][]byte // free chunks, for reuse
	held     int      // capacity of the segments in use

	recs  []record
	mask  uint64
	first uint64 // oldest live sequence number
	next  uint64 // next sequence number; live records are [first, next)
	used  int    // captured bytes of the live records

	evicted uint64 // packets dropped from the ring to make room
}

// minRecBytes sizes the descriptor ring: one descriptor per this many
// budget bytes. Smaller average packets are bounded by descriptors.
const minRecBytes = 128

// Chunk sizes: a sixteenth of the budget, within these bounds (never more
// than the budget).
const (
	minChunk = 1 << 10
	maxChunk = 4 << 20
)

// spareChunks is how many free chunks are kept for reuse.
const spareChunks = 2

func newRing(size int) *ring {
	size = max(size, 1)
	n := max(uint64(size/minRecBytes), 64)
	n = 1 << (64 - bits.LeadingZeros64(n-1)) // round up to a power of two
	return &ring{
		size:  size,
		chunk: min(max(size/16, minChunk), maxChunk, size),
		cur:   -1,
		recs:  make([]record, n),
		mask:  n - 1,
		first: 1,
		next:  1,
	}
}

func (r *ring) count() int { return int(r.next - r.first) }

// fill returns how full the ring is in percent: the larger of the byte and
// descriptor occupancy.
func (r *ring) fill() float64 {
	b := float64(r.used) / float64(r.size)
	d := float64(r.count()) / float64(len(r.recs))
	return 100 * max(b, d)
}

// append stores a copy of data and returns its sequence number. Packets
// longer than the budget are cut to its size.
func (r *ring) append(data []byte, origLen int, ts int64, ifindex int, dir packet.Dir, link packet.LinkType, pid uint32, flowID, prevSeq uint64) uint64 {
	data = data[:min(len(data), r.size)]
	n := len(data)
	if n > r.chunk {
		// A segment of its own, freed with the packet.
		seg := r.newChunk(n)
		r.segs[seg].buf = append(r.segs[seg].buf, data...)
		seq := r.add(seg, 0, n, origLen, ts, ifindex, dir, link, pid, flowID, prevSeq)
		r.unpin(seg)
		return seq
	}
	if r.cur < 0 || len(r.segs[r.cur].buf)+n > cap(r.segs[r.cur].buf) {
		r.unpin(r.cur)
		r.cur = r.newChunk(r.chunk)
	}
	s := &r.segs[r.cur]
	off := len(s.buf)
	s.buf = append(s.buf, data...)
	return r.add(r.cur, off, n, origLen, ts, ifindex, dir, link, pid, flowID, prevSeq)
}

// add makes the descriptor of a packet of n bytes at off in segment seg.
func (r *ring) add(seg int32, off, n, origLen int, ts int64, ifindex int, dir packet.Dir, link packet.LinkType, pid uint32, flowID, prevSeq uint64) uint64 {
	r.segs[seg].live++
	for r.next-r.first > r.mask {
		r.evictOldest()
	}
	seq := r.next
	// Field by field: a composite literal is built on the stack and then
	// copied with wide loads, which stall on its narrow stores (a third of
	// append's time in BenchmarkEngineAdd).
	rec := &r.recs[seq&r.mask]
	rec.ts, rec.flowID, rec.prevGap, rec.pid = ts, flowID, 0, pid
	if prevSeq != 0 && prevSeq < seq && seq-prevSeq <= 1<<32-1 {
		rec.prevGap = uint32(seq - prevSeq)
	}
	rec.off, rec.capLen, rec.origLen = uint32(off), uint32(n), uint32(min(max(origLen, n), 1<<32-1))
	rec.seg, rec.ifindex, rec.dir, rec.link = seg, int32(ifindex), dir, uint16(link^1)
	r.next++
	r.used += n
	return seq
}

// newChunk returns a new pinned segment of the ring's own, of at least n
// bytes, evicting to make room for it.
func (r *ring) newChunk(n int) int32 {
	r.makeRoom(n)
	var buf []byte
	if k := len(r.spare); n == r.chunk && k > 0 {
		buf, r.spare = r.spare[k-1], r.spare[:k-1]
	} else {
		buf = make([]byte, 0, n)
	}
	return r.newSeg(buf[:0])
}

func (r *ring) newSeg(buf []byte) int32 {
	var i int32
	if k := len(r.freeSegs); k > 0 {
		i, r.freeSegs = r.freeSegs[k-1], r.freeSegs[:k-1]
	} else {
		i = int32(len(r.segs))
		r.segs = append(r.segs, segment{})
	}
	r.segs[i] = segment{buf: buf, pinned: true}
	r.held += cap(buf)
	return i
}

// makeRoom evicts the oldest packets until a new segment of n bytes fits
// in the budget (or nothing is left to evict; then the chunk being filled,
// empty, is given up too).
func (r *ring) makeRoom(n int) {
	for r.held+n > r.size && r.first < r.next {
		r.evictOldest()
	}
	if r.held+n > r.size && r.cur >= 0 && r.segs[r.cur].live == 0 {
		r.unpin(r.cur)
	}
}

func (r *ring) evictOldest() {
	rec := &r.recs[r.first&r.mask]
	r.used -= int(rec.capLen)
	r.first++
	r.evicted++
	s := &r.segs[rec.seg]
	if s.live--; s.live == 0 && !s.pinned {
		r.freeSeg(rec.seg)
	}
}

// unpin ends the filling of segment i (if any) and frees it if empty.
func (r *ring) unpin(i int32) {
	if i < 0 {
		return
	}
	s := &r.segs[i]
	s.pinned = false
	if s.live == 0 {
		r.freeSeg(i)
	}
}

func (r *ring) freeSeg(i int32) {
	s := &r.segs[i]
	r.held -= cap(s.buf)
	if cap(s.buf) == r.chunk && len(r.spare) < spareChunks {
		r.spare = append(r.spare, s.buf[:0])
	}
	if i == r.cur {
		r.cur = -1
	}
	r.segs[i] = segment{}
	r.freeSegs = append(r.freeSegs, i)
}

// get returns the record and bytes (aliasing the segment) of packet seq.
func (r *ring) get(seq uint64) (*record, []byte, bool) {
	if seq < r.first || seq >= r.next {
		return nil, nil, false
	}
	rec := &r.recs[seq&r.mask]
	buf := r.segs[rec.seg].buf
	return rec, buf[rec.off : rec.off+rec.capLen : rec.off+rec.capLen], true
}

// frame returns a copy of packet seq.
func (r *ring) frame(seq uint64) (packet.Packet, bool) {
	rec, data, ok := r.get(seq)
	if !ok {
		return packet.Packet{}, false
	}
	return rec.frame(slices.Clone(data)), true
}

func (rec *record) frame(data []byte) packet.Packet {
	p := packet.Packet{
		Nanos:   rec.ts,
		Ifindex: uint32(rec.ifindex),
		Dir:     rec.dir,
		OrigLen: uint32(rec.origLen),
		Data:    data,
	}
	p.SetLinkType(rec.linkType())
	p.SetTask(rec.pid, -1)
	return p
}

// linkType is the packet's link type.
func (rec *record) linkType() packet.LinkType { return packet.LinkType(rec.link) ^ 1 }

// flowSeqs appends to out, newest first, the sequence numbers of flow
// id's packets from seq back along the flow's chain, until out holds max,
// the chain ends or leaves the ring, or n packets were looked at. It
// returns out and the sequence number to go on from, 0 when done: a caller
// may let the ring change in between (sequence numbers are never reused,
// and get checks that one is still in the ring).
func (r *ring) flowSeqs(out []uint64, id, seq uint64, max, n int) ([]uint64, uint64) {
	for ; n > 0; n-- {
		rec, _, ok := r.get(seq)
		if !ok || rec.flowID != id || len(out) >= max {
			return out, 0
		}
		out = append(out, seq)
		if rec.prevGap == 0 {
			return out, 0
		}
		seq -= uint64(rec.prevGap)
	}
	return out, seq
}

// scanFlow is flowSeqs for a flow no longer in the flow table: it looks
// at every packet from seq down to the oldest in the ring.
func (r *ring) scanFlow(out []uint64, id, seq uint64, max, n int) ([]uint64, uint64) {
	for ; n > 0; n-- {
		if seq < r.first || len(out) >= max { // r.first > 0
			return out, 0
		}
		if r.recs[seq&r.mask].flowID == id {
			out = append(out, seq)
		}
		seq--
	}
	return out, seq
}

// copyOut appends to out copies of up to n of the packets from seq up to
// end still in the ring, in sequence order, their bytes to buf as long as
// they fit in its capacity (the first one regardless). It returns out,
// buf and the sequence number to go on from, end or more when done. The
// packets that left the ring since the caller's last call are skipped: it
// goes on from the oldest one left.
func (r *ring) copyOut(out []packet.Packet, buf []byte, seq, end uint64, n int) ([]packet.Packet, []byte, uint64) {
	seq = max(seq, r.first)
	for i := 0; seq < end && i < n; seq, i = seq+1, i+1 {
		rec, data, _ := r.get(seq)
		if i > 0 && len(data) > cap(buf)-len(buf) {
			break
		}
		start := len(buf)
		buf = append(buf, data...)
		out = append(out, rec.frame(buf[start:len(buf):len(buf)]))
	}
	return out, buf, seq
}

// sortFrames puts a snapshot in time order (stable); callers do it after
// releasing the engine's lock.
func sortFrames(out []packet.Packet) {
	if !slices.IsSortedFunc(out, func(a, b packet.Packet) int { return cmp.Compare(a.Nanos, b.Nanos) }) {
		slices.SortStableFunc(out, func(a, b packet.Packet) int { return cmp.Compare(a.Nanos, b.Nanos) })
	}
}
