package capture

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
)

// bpfRing is a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) read in place: one
// ring for all CPUs, the alternative to the per-CPU perf rings
// (bpf.Config.RingBuf). The kernel maps the consumer position read-write,
// and the producer position and the data read-only, the data twice in a
// row so that no record wraps.
type bpfRing struct {
	cons, prod []byte // the two mappings
	consPos    *uint64
	prodPos    *uint64
	data       []byte // 2*size bytes: the ring, mapped twice
	mask       uint64
	seen       uint64 // the producer position as of the last read
	wakeup     uint64 // the programs' wakeup threshold, bytes, for pending

	// merge's state between passes (see merge).
	list       []rbRecord
	held       []rbRecord // read but not written, copied out of the ring
	buf, spare []byte     // held's packet bytes, and the other buffer
	bad        []uint64   // where this pass found malformed records
}

// Ring buffer record header bits (linux/bpf.h).
const (
	ringBusyBit    = 1 << 31
	ringDiscardBit = 1 << 30
	ringHeaderLen  = 8
)

// openRingBuf maps the ring buffer rb for reading in place and adds it to
// p's epoll set; wakeup is its wakeup threshold in bytes (the programs'
// rb_wakeup), for pending.
func openRingBuf(p *pollSet, rb *ebpf.Map, wakeup int) (r *bpfRing, err error) {
	page := os.Getpagesize()
	size := int(rb.MaxEntries())
	r = &bpfRing{mask: uint64(size - 1), wakeup: uint64(wakeup)}
	made := r // the error returns below set r to nil
	defer func() {
		if err != nil {
			made.close()
		}
	}()
	if r.cons, err = unix.Mmap(rb.FD(), 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return nil, fmt.Errorf("map ring buffer consumer page: %w", err)
	}
	if r.prod, err = unix.Mmap(rb.FD(), int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		return nil, fmt.Errorf("map ring buffer: %w", err)
	}
	r.consPos = (*uint64)(unsafe.Pointer(&r.cons[0]))
	r.prodPos = (*uint64)(unsafe.Pointer(&r.prod[0]))
	r.data = r.prod[page:]
	// Edge-triggered: a ring buffer polls readable whenever it holds a
	// record, so level-triggered it would wake the reader after every pass
	// under load; its wakeups (at the programs' threshold) are the edges.
	if err = p.watch(rb.FD(), unix.EPOLLIN|unix.EPOLLET); err != nil {
		return nil, err
	}
	return r, nil
}

// record reads the record at position cons, before prod: its bytes (nil
// when it was discarded) and the position after it. ok is false for a
// record reserved and not yet submitted, or a length that cannot be (a
// sane kernel never writes one): stop there.
func (r *bpfRing) record(cons, prod uint64) (body []byte, next uint64, ok bool) {
	off := cons & r.mask
	hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[off])))
	if hdr&ringBusyBit != 0 {
		return nil, 0, false
	}
	n := uint64(hdr &^ (ringBusyBit | ringDiscardBit))
	next = cons + (ringHeaderLen+n+7)&^7
	if next > prod || ringHeaderLen+n > uint64(len(r.data))/2 {
		return nil, 0, false
	}
	if hdr&ringDiscardBit != 0 {
		return nil, next, true
	}
	return r.data[off+ringHeaderLen : off+ringHeaderLen+n], next, true
}

// pending reports whether the programs' wakeup threshold's worth of
// records came since the ring was last read.
func (r *bpfRing) pending() bool {
	return atomic.LoadUint64(r.prodPos)-r.seen >= r.wakeup
}

// drained reports whether the ring was read to the producer position.
func (r *bpfRing) drained() bool {
	return atomic.LoadUint64(r.prodPos) == atomic.LoadUint64(r.consPos)
}

// holding reports whether a merge holds records it read and did not write.
func (r *bpfRing) holding() bool { return len(r.held) > 0 }

func (r *bpfRing) close() {
	if r.cons != nil {
		_ = unix.Munmap(r.cons)
	}
	if r.prod != nil {
		_ = unix.Munmap(r.prod)
	}
}

// The ring buffer is one ring for all CPUs, in the order they reserved
// their records; each stamps its record just before reserving, so the
// stamps are nearly, not quite, in ring order. A merge parses the records
// it finds into a list, sorts the list by stamp (it seldom needs to) and
// hands on the records stamped before a bound. The rest are left for the
// next pass, in the ring when they are all after the written ones in ring
// order, else copied out (held), so that the ring's space can be given
// back.
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
	payload    []byte // in the ring, or in bpfRing.buf when held
	start, end uint64 // its ring positions; end 0 when held
}

// merge hands each the ring buffer's records stamped before cutoff (see
// above), oldest first, and gives their space back; it returns how many
// records and bytes it handed on.
func (r *bpfRing) merge(st *Stats, cutoff uint64, each func(h *bpf.Record, payload []byte)) (n, bytes uint64) {
	prod := atomic.LoadUint64(r.prodPos)
	r.seen = prod
	cons := atomic.LoadUint64(r.consPos)
	for {
		list := append(r.list[:0], r.held...)
		sorted, stopped, limited := true, false, false
		var newest, size uint64
		for _, h := range r.held {
			newest = max(newest, h.hdr.KtimeNs)
		}
		for cons < prod {
			if len(list)+len(r.bad) >= rbPassRecords || size >= rbPassBytes {
				limited = true
				break
			}
			body, next, ok := r.record(cons, prod)
			if !ok {
				stopped = true // not yet submitted (or insane)
				break
			}
			if body != nil {
				list = append(list, rbRecord{start: cons, end: next})
				e := &list[len(list)-1]
				payload, err := bpf.ParseInto(&e.hdr, body)
				if err != nil {
					r.bad = append(r.bad, cons) // counted once given back
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
		// Hand on the records stamped before the bound: a prefix of the list.
		i := 0
		for i < len(list) && list[i].hdr.KtimeNs < bound {
			i++
		}
		if i == 0 && limited {
			// A full list all stamped within directSlack of the newest
			// (8 million packets a second): hand on its older half rather
			// than stall, giving up the time order for the few records
			// CPUs reserved out of stamp order across that line.
			i = len(list) / 2
		}
		for k := range list[:i] {
			e := &list[k] // not a copy: see emit
			each(&e.hdr, e.payload)
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
		r.spare = r.spare[:0]
		held := r.held[:0]
		for _, e := range list[i:] {
			if e.end != 0 && keepInRing {
				continue // read again next pass
			}
			at := len(r.spare)
			r.spare = append(r.spare, e.payload...)
			e.payload, e.start, e.end = r.spare[at:len(r.spare):len(r.spare)], 0, 0
			held = append(held, e)
		}
		r.held = held
		r.buf, r.spare = r.spare, r.buf
		r.list = list[:0]
		atomic.StoreUint64(r.consPos, release)
		cons = release
		for _, at := range r.bad {
			if at < release {
				st.BadRecords.Add(1)
			} // else read again next pass
		}
		r.bad = r.bad[:0]
		// A pass cut short by its limits goes on if it got anywhere.
		if !limited || i == 0 {
			break
		}
	}
	return n, bytes
}
