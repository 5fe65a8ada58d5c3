package capture

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// bpfRing is a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) read in place: one
// ring for all CPUs, the alternative to the per-CPU perf rings
// (Options.RingBuf). The kernel maps the consumer position read-write, and
// the producer position and the data read-only, the data twice in a row so
// that no record wraps.
type bpfRing struct {
	cons, prod []byte // the two mappings
	consPos    *uint64
	prodPos    *uint64
	data       []byte // 2*size bytes: the ring, mapped twice
	mask       uint64
	seen       uint64 // the producer position as of the last read
	wakeup     uint64 // the programs' wakeup threshold, bytes, for pending
}

// Ring buffer record header bits (linux/bpf.h).
const (
	ringBusyBit    = 1 << 31
	ringDiscardBit = 1 << 30
	ringHeaderLen  = 8
)

// openRingBuf maps the ring buffer rb for reading in place; wakeup is its
// wakeup threshold in bytes (the programs' rb_wakeup), for pending.
func openRingBuf(rb *ebpf.Map, wakeup int) (m *mmapRings, err error) {
	if m, err = newPollSet(); err != nil {
		return nil, err
	}
	made := m // the error returns below set m to nil
	defer func() {
		if err != nil {
			made.close()
		}
	}()
	page := os.Getpagesize()
	size := int(rb.MaxEntries())
	r := &bpfRing{mask: uint64(size - 1)}
	m.rb = r
	r.wakeup = uint64(wakeup)
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
	if err = unix.EpollCtl(m.epfd, unix.EPOLL_CTL_ADD, rb.FD(), &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(rb.FD())}); err != nil {
		return nil, fmt.Errorf("epoll add ring buffer: %w", err)
	}
	return m, nil
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

// drain reads every committed record up to the producer position, as
// mmapRings.drain does for a perf ring: sample gets a record's bytes (valid
// during the call) and commit, which releases the space before it.
func (r *bpfRing) drain(sample func(raw []byte, commit func())) {
	prod := atomic.LoadUint64(r.prodPos)
	r.seen = prod
	cons := atomic.LoadUint64(r.consPos)
	commit := func() { atomic.StoreUint64(r.consPos, cons) }
	for cons < prod {
		body, next, ok := r.record(cons, prod)
		if !ok {
			break // the next read takes it
		}
		if body != nil {
			sample(body, commit)
		}
		cons = next
	}
	atomic.StoreUint64(r.consPos, cons)
}

func (r *bpfRing) close() {
	if r.cons != nil {
		_ = unix.Munmap(r.cons)
	}
	if r.prod != nil {
		_ = unix.Munmap(r.prod)
	}
}
