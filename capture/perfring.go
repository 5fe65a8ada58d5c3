package capture

import (
	"encoding/binary"
	"os"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
)

// perfRings are the per-CPU perf rings, read in place: each record is
// parsed where the kernel wrote it and its packet copied once, into the
// file's buffer or the live view's retention ring. With hot rings (Options.HotBuffer) each CPU
// has two, a small hot one the programs write to first and the overflow
// ring behind it; a CPU's records are then in both, and are merged by
// time whoever reads them.
type perfRings struct {
	rings []*mmapRing
	// hot: the rings are hot ones and overflow ones, two per CPU.
	hot bool
}

type mmapRing struct {
	cpu   int
	array *ebpf.Map // the perf event array it is in
	fd    int
	mem   []byte
	meta  *unix.PerfEventMmapPage
	data  []byte
	mask  uint64
	seen  uint64 // the head as of the last read, for pending
	// wakeup is the perf event's watermark, bytes.
	wakeup uint64
	// hot: the records this ring refused went to the overflow ring, so its
	// lost records are not losses.
	hot bool
	// A record that wraps around the end is copied whole to the ring's own
	// scratch (a merge keeps one parsed record per ring).
	scratch []byte
	cur     direct
	rec     perfRecord // next's result
}

// direct is a ring's place in a pass: its next record, parsed.
type direct struct {
	head, tail uint64 // tail: where the parsed record starts
	next       uint64 // where the one after it starts
	hdr        bpf.Record
	payload    []byte
}

// ringPages is the data pages of a perf ring of perCPU bytes: a power of
// two, as the kernel wants.
func ringPages(perCPU, page int) int {
	pages := 1
	for pages*page < perCPU {
		pages *= 2
	}
	return pages
}

// add opens a ring per possible CPU in events, of perCPU bytes (rounded
// up to a power of two pages) waking the loop at watermark bytes; hot
// says the programs hand what these rings refuse to an overflow ring
// (added next). The caller closes p on error.
func (s *perfRings) add(p *pollSet, events *ebpf.Map, perCPU, watermark int, hot bool) error {
	page := os.Getpagesize()
	pages := ringPages(perCPU, page)
	wakeup := uint64(min(watermark, pages*page/2))
	s.hot = s.hot || hot
	attr := unix.PerfEventAttr{Bits: unix.PerfBitWatermark, Wakeup: uint32(wakeup)}
	return p.openRings(events, pages, attr, func(rg *mmapRing) {
		rg.hot, rg.wakeup = hot, wakeup
		s.rings = append(s.rings, rg)
	})
}

// pending reports whether a watermark's worth of records came into a ring
// since it was last read.
func (s *perfRings) pending() bool {
	for _, rg := range s.rings {
		if atomic.LoadUint64(&rg.meta.Data_head)-rg.seen >= rg.wakeup {
			return true
		}
	}
	return false
}

// drained reports whether every ring was read to its head.
func (s *perfRings) drained() bool {
	for _, rg := range s.rings {
		if atomic.LoadUint64(&rg.meta.Data_head) != atomic.LoadUint64(&rg.meta.Data_tail) {
			return false
		}
	}
	return true
}

// holding: what a pass does not hand on stays in the rings.
func (s *perfRings) holding() bool { return false }

func (s *perfRings) close() {
	for _, rg := range s.rings {
		rg.close()
	}
}

// merge hands each the records of all rings stamped before cutoff, oldest
// first (payload is valid during the call), and releases their ring
// space; it returns how many records and bytes it handed on.
func (s *perfRings) merge(st *Stats, cutoff uint64, each func(h *bpf.Record, payload []byte)) (n, bytes uint64) {
	var active [64]*mmapRing
	cur := active[:0]
	for _, rg := range s.rings {
		rg.start()
		if rg.parseNext(st) {
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
			s.release()
			released = bytes
		}
		if !rg.parseNext(st) {
			cur[oldest] = cur[len(cur)-1]
			cur = cur[:len(cur)-1]
		}
	}
	s.release()
	return n, bytes
}

// releaseBytes is how many bytes a merge hands on at most before giving
// the rings' space back: an eighth of a hot ring.
const releaseBytes = DefaultHotBuffer / 8

// release gives the kernel back the space of every ring's records before
// the one a pass is at.
func (s *perfRings) release() {
	for _, rg := range s.rings {
		atomic.StoreUint64(&rg.meta.Data_tail, rg.cur.tail)
	}
}

// start begins a pass over the ring: from its tail to its head as of now.
func (rg *mmapRing) start() *direct {
	c := &rg.cur
	c.head = atomic.LoadUint64(&rg.meta.Data_head)
	rg.seen = c.head
	c.tail = rg.meta.Data_tail
	return c
}

// parseNext parses the ring's next sample at or after cur.tail, counting
// lost and malformed records on the way, and reports whether there is one.
func (rg *mmapRing) parseNext(st *Stats) bool {
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
			st.BadRecords.Add(1)
		case rec.lost > 0 && !rg.hot:
			st.Lost.Add(rec.lost)
		}
		c.tail += rec.size
	}
	return false
}

// perfRecord is one record of a perf ring, as next reads it.
type perfRecord struct {
	size     uint64 // the whole record, headers included
	isSample bool
	sample   []byte // a sample's raw bytes; nil if malformed
	lost     uint64 // for a lost record, how many the kernel could not write
}

// next reads the record at virtual offset off, before head, into *r. It
// reports false for a size that cannot be (a sane kernel never writes
// one): stop there. Bytes that wrap around the ring's end are copied to
// its scratch, so what it returns is valid until the next call. r is an
// out parameter, not a result, for the reason ParseInto gives.
func (rg *mmapRing) next(off, head uint64, r *perfRecord) bool {
	le := binary.LittleEndian
	hdr := rg.at(off, 8)
	typ, size := le.Uint32(hdr[0:4]), uint64(le.Uint16(hdr[6:8]))
	if size < 8 || off+size > head {
		return false
	}
	r.size, r.isSample, r.sample, r.lost = size, false, nil, 0
	rec := rg.at(off, int(size))
	switch typ {
	case unix.PERF_RECORD_SAMPLE:
		r.isSample = true
		if len(rec) >= 12 {
			if n := uint64(le.Uint32(rec[8:12])); 12+n <= size {
				r.sample = rec[12 : 12+n]
			}
		}
	case unix.PERF_RECORD_LOST:
		if len(rec) >= 24 {
			r.lost = le.Uint64(rec[16:24])
		}
	}
	return true
}

// at returns n bytes of the ring at virtual offset off, copied to the
// ring's scratch if they wrap around its end.
func (rg *mmapRing) at(off uint64, n int) []byte {
	start := off & rg.mask
	if start+uint64(n) <= uint64(len(rg.data)) {
		return rg.data[start : start+uint64(n)]
	}
	if cap(rg.scratch) < n {
		rg.scratch = make([]byte, max(n, 1<<16))
	}
	s := rg.scratch[:n]
	k := copy(s, rg.data[start:])
	copy(s[k:], rg.data)
	return s
}

// close takes the ring out of its array and unmaps it.
func (rg *mmapRing) close() {
	if rg.mem == nil {
		return // never mapped: the fake rings of tests
	}
	_ = rg.array.Delete(uint32(rg.cpu))
	_ = unix.Munmap(rg.mem)
	_ = unix.Close(rg.fd)
}
