package decode

import (
	"math/bits"
	"slices"
)

// record describes one packet kept in the ring.
type record struct {
	pos     uint64 // virtual arena offset of the first byte
	ts      int64  // Unix nanoseconds
	flowID  uint64
	prevSeq uint64 // previous packet of the same flow, 0 if none
	capLen  uint32
	origLen uint32
	ifindex int32
	dir     Dir
}

// ring keeps the most recent packets within a byte budget. The bytes go
// to one arena used circularly, the descriptors to a power-of-two ring
// indexed by sequence number, so append, lookup by sequence number and
// eviction of the oldest packet are all O(1).
//
// Arena positions are virtual (they only grow); a packet occupies
// [pos, pos+capLen) and never wraps: if it would cross the arena's end it
// starts at the next multiple of the arena size. The oldest packets are
// evicted until the newest one fits within one arena length of the
// oldest.
type ring struct {
	arena []byte
	recs  []record
	mask  uint64
	first uint64 // oldest live sequence number
	next  uint64 // next sequence number; live records are [first, next)
	wpos  uint64 // next virtual write position
	used  int    // captured bytes of the live records

	evicted uint64 // packets dropped from the ring to make room
}

// minRecBytes sizes the descriptor ring: one descriptor per this many
// arena bytes. Smaller average packets are bounded by descriptors.
const minRecBytes = 128

func newRing(size int) *ring {
	size = max(size, 1)
	n := max(uint64(size/minRecBytes), 64)
	n = 1 << (64 - bits.LeadingZeros64(n-1)) // round up to a power of two
	return &ring{
		arena: make([]byte, size),
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
	b := float64(r.used) / float64(len(r.arena))
	d := float64(r.count()) / float64(len(r.recs))
	return 100 * max(b, d)
}

// append stores a copy of data and returns its sequence number. Packets
// longer than the arena are cut to its size.
func (r *ring) append(data []byte, origLen int, ts int64, ifindex int, dir Dir, flowID, prevSeq uint64) uint64 {
	size := uint64(len(r.arena))
	if uint64(len(data)) > size {
		data = data[:size]
	}
	n := uint64(len(data))
	pos := r.wpos
	if pos%size+n > size {
		pos += size - pos%size // start at the beginning of the arena
	}
	for r.first < r.next && (r.next-r.first > r.mask || pos+n-r.recs[r.first&r.mask].pos > size) {
		r.evictOldest()
	}
	off := pos % size
	copy(r.arena[off:off+n], data)
	seq := r.next
	// Field by field: a composite literal is built on the stack and then
	// copied with wide loads, which stall on its narrow stores (a third of
	// append's time in BenchmarkEngineAdd).
	rec := &r.recs[seq&r.mask]
	rec.pos, rec.ts, rec.flowID, rec.prevSeq = pos, ts, flowID, prevSeq
	rec.capLen, rec.origLen = uint32(n), uint32(min(max(origLen, len(data)), 1<<32-1))
	rec.ifindex, rec.dir = int32(ifindex), dir
	r.next++
	r.wpos = pos + n
	r.used += int(n)
	return seq
}

func (r *ring) evictOldest() {
	rec := &r.recs[r.first&r.mask]
	r.used -= int(rec.capLen)
	r.first++
	r.evicted++
}

// get returns the record and bytes (aliasing the arena) of packet seq.
func (r *ring) get(seq uint64) (*record, []byte, bool) {
	if seq < r.first || seq >= r.next {
		return nil, nil, false
	}
	rec := &r.recs[seq&r.mask]
	off := rec.pos % uint64(len(r.arena))
	return rec, r.arena[off : off+uint64(rec.capLen)], true
}

// frame returns a copy of packet seq.
func (r *ring) frame(seq uint64) (Frame, bool) {
	rec, data, ok := r.get(seq)
	if !ok {
		return Frame{}, false
	}
	return rec.frame(slices.Clone(data)), true
}

func (rec *record) frame(data []byte) Frame {
	return Frame{
		TS:      fromUnixNano(rec.ts),
		Ifindex: int(rec.ifindex),
		Dir:     rec.dir,
		OrigLen: int(rec.origLen),
		Data:    data,
	}
}

// flowSeqs returns up to max sequence numbers of the packets of flow id,
// oldest first, following the per-flow chain back from newest.
func (r *ring) flowSeqs(id, newest uint64, max int) []uint64 {
	var out []uint64
	for seq := newest; len(out) < max; {
		rec, _, ok := r.get(seq)
		if !ok || rec.flowID != id {
			break
		}
		out = append(out, seq)
		if rec.prevSeq >= seq {
			break
		}
		seq = rec.prevSeq
	}
	slices.Reverse(out)
	return out
}

// scanFlow is flowSeqs for a flow no longer in the flow table: it scans
// the ring from newest to oldest.
func (r *ring) scanFlow(id uint64, max int) []uint64 {
	var out []uint64
	for seq := r.next - 1; seq >= r.first && seq > 0 && len(out) < max; seq-- {
		if r.recs[seq&r.mask].flowID == id {
			out = append(out, seq)
		}
	}
	slices.Reverse(out)
	return out
}

// snapshot copies out every packet in the ring, ordered by timestamp
// (stable, so packets with equal timestamps keep their arrival order).
// All the bytes share one allocation.
func (r *ring) snapshot() []Frame {
	out := make([]Frame, 0, r.count())
	buf := make([]byte, 0, r.used)
	for seq := r.first; seq < r.next; seq++ {
		rec, data, _ := r.get(seq)
		start := len(buf)
		buf = append(buf, data...)
		out = append(out, rec.frame(buf[start:len(buf):len(buf)]))
	}
	return out
}

// sortFrames puts a snapshot in time order (stable); callers do it after
// releasing the engine's lock.
func sortFrames(out []Frame) {
	if !slices.IsSortedFunc(out, func(a, b Frame) int { return a.TS.Compare(b.TS) }) {
		slices.SortStableFunc(out, func(a, b Frame) int { return a.TS.Compare(b.TS) })
	}
}
