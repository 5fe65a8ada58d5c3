package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// mmapRings is an alternative to cilium/ebpf's perf.Reader (Options.Mmap):
// it reads the per-CPU perf rings in place, parsing each record where the
// kernel wrote it and copying its packet once, into the batch, where
// perf.Reader copies every sample out of the ring first and moves the
// ring's tail once a record.
type mmapRings struct {
	rings []*mmapRing
	// hot: the rings are hot ones and overflow ones, two per CPU.
	hot  bool
	epfd int
	// ep wraps epfd for Go's netpoller: the loop parks in it rather than
	// blocking a thread in epoll_wait. A thread blocked in a system call
	// keeps its P, which the runtime's sysmon takes back after a while and
	// then polls every 20µs; at a few wakeups a second that polling cost
	// more CPU than reading the packets.
	ep     *os.File
	epc    syscall.RawConn
	evfd   int      // eventfd: a write is a flush request
	rb     *bpfRing // instead of rings: a BPF ring buffer (openRingBuf)
	closed atomic.Bool
	// Close may come from another goroutine while the reading loop waits:
	// it then asks the loop to stop and waits for it before unmapping.
	closing atomic.Bool
	running atomic.Bool
	stopped chan struct{}
	// The doorbell (useBell): its rings, one page per CPU, wake the loop
	// at every record; arm arms the programs' bell. asleep: the flusher
	// armed it and waits for kick instead of ticking.
	bell   []*mmapRing
	arm    func(on bool)
	asleep atomic.Bool
	kick   chan struct{}
	// again: the wait ended at passAgain's deadline.
	again bool
	// settled: the reading loop holds nothing back (no record read but not
	// handed on, no packet written but not flushed). It is false during a
	// pass; with every ring read to its head it means a flush has nothing
	// to do (idle).
	settled atomic.Bool
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
	// scratch (RunDirect keeps one parsed record per ring while it merges
	// them).
	scratch []byte
	cur     direct
	rec     perfRecord // next's result
}

// newPollSet makes the mmapRings without rings: the epoll descriptor the
// reader waits in (through the netpoller) and the eventfd that asks it to
// read now.
func newPollSet() (m *mmapRings, err error) {
	m = &mmapRings{epfd: -1, evfd: -1, stopped: make(chan struct{}), kick: make(chan struct{}, 1)}
	made := m // the error returns below set m to nil
	defer func() {
		if err != nil {
			made.close()
		}
	}()
	if m.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	// An epoll descriptor is itself pollable: non-blocking, os.NewFile
	// registers it with the netpoller.
	if err = unix.SetNonblock(m.epfd, true); err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	m.ep = os.NewFile(uintptr(m.epfd), "perf-epoll")
	if m.epc, err = m.ep.SyscallConn(); err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	if m.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err = unix.EpollCtl(m.epfd, unix.EPOLL_CTL_ADD, m.evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(m.evfd)}); err != nil {
		return nil, fmt.Errorf("epoll add: %w", err)
	}
	return m, nil
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

// openMmapRings opens one perf event per possible CPU, maps its ring of
// perCPU bytes (rounded up to a power of two pages) and puts it in events.
// hot says the programs hand what these rings refuse to an overflow ring
// (addRings).
func openMmapRings(events *ebpf.Map, perCPU, watermark int, hot bool) (m *mmapRings, err error) {
	if m, err = newPollSet(); err != nil {
		return nil, err
	}
	if err = m.addRings(events, perCPU, watermark, hot); err != nil {
		m.close()
		return nil, err
	}
	return m, nil
}

// addRings adds a ring per possible CPU in events, as openMmapRings does.
// The caller closes m on error.
func (m *mmapRings) addRings(events *ebpf.Map, perCPU, watermark int, hot bool) error {
	page := os.Getpagesize()
	pages := ringPages(perCPU, page)
	wakeup := uint64(min(watermark, pages*page/2))
	m.hot = m.hot || hot
	attr := unix.PerfEventAttr{Bits: unix.PerfBitWatermark, Wakeup: uint32(wakeup)}
	return m.openRings(events, pages, attr, func(rg *mmapRing) {
		rg.hot, rg.wakeup = hot, wakeup
		m.rings = append(m.rings, rg)
	})
}

// addBell adds the doorbell's rings, one page per possible CPU in bell,
// each waking the loop at every record; arm arms the programs' bell. The
// caller closes m on error.
func (m *mmapRings) addBell(bell *ebpf.Map, arm func(on bool)) error {
	m.arm = arm
	attr := unix.PerfEventAttr{Wakeup: 1} // wakeup_events: every record
	return m.openRings(bell, 1, attr, func(rg *mmapRing) { m.bell = append(m.bell, rg) })
}

// openRings opens a perf event per possible CPU with attr's wakeup
// settings, maps its ring of pages data pages (a power of two), puts it in
// events and hands it to add as soon as it is mapped (so that close
// releases it).
func (m *mmapRings) openRings(events *ebpf.Map, pages int, attr unix.PerfEventAttr, add func(*mmapRing)) error {
	page := os.Getpagesize()
	attr.Type = unix.PERF_TYPE_SOFTWARE
	attr.Config = unix.PERF_COUNT_SW_BPF_OUTPUT
	attr.Sample_type = unix.PERF_SAMPLE_RAW
	attr.Size = uint32(unsafe.Sizeof(attr))
	for cpu := range int(events.MaxEntries()) {
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if errors.Is(err, unix.ENODEV) {
			continue // a possible CPU that is not online
		}
		if err != nil {
			return fmt.Errorf("perf event on CPU %d: %w", cpu, err)
		}
		mem, err := unix.Mmap(fd, 0, (1+pages)*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("map perf ring of CPU %d: %w", cpu, err)
		}
		rg := &mmapRing{cpu: cpu, fd: fd, mem: mem, meta: (*unix.PerfEventMmapPage)(unsafe.Pointer(&mem[0])), array: events}
		rg.data = mem[page : page+pages*page]
		rg.mask = uint64(len(rg.data) - 1)
		add(rg)
		if err := events.Put(uint32(cpu), uint32(fd)); err != nil {
			return fmt.Errorf("add perf ring of CPU %d: %w", cpu, err)
		}
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
			return fmt.Errorf("enable perf ring of CPU %d: %w", cpu, err)
		}
		if err := unix.EpollCtl(m.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return fmt.Errorf("epoll add: %w", err)
		}
	}
	return nil
}

// passAgain, after a pass the bell woke, has the reading loop pass again
// once the records that pass left in the rings (stamped within its slack,
// the one that rang the bell among them) can be taken, rather than a
// flush interval later. It sets a deadline on the loop's wait.
func (m *mmapRings) passAgain() {
	_ = m.ep.SetReadDeadline(time.Now().Add(time.Duration(perfSlack) + 100*time.Microsecond))
}

// bellBackstop is how long a flusher sleeps at most: a bell that could
// not ring (the programs then try again at the next record) or a wakeup
// lost to memory ordering on the kernel's side leaves a record unseen for
// that long, not for ever. A variable for tests.
var bellBackstop = 5 * time.Second

// sleep arms the doorbell and, if the rings are still idle then, waits
// until the reading loop wakes (answerBell kicks), ctx ends, done is closed
// or the backstop passes; it disarms the bell before it returns. woken
// says the loop woke it (and set the clock); end, that ctx ended or done
// was closed.
func (m *mmapRings) sleep(ctx context.Context, done <-chan struct{}) (woken, end bool) {
	select {
	case <-m.kick: // a stale one
	default:
	}
	m.asleep.Store(true)
	defer m.asleep.Store(false)
	m.arm(true)
	defer m.arm(false)
	if !m.idle() {
		return false, false
	}
	backstop := time.NewTimer(bellBackstop)
	defer backstop.Stop()
	select {
	case <-m.kick:
		return true, false
	case <-backstop.C:
		return false, false
	case <-ctx.Done():
		return true, true
	case <-done:
		return true, true
	}
}

// answerBell takes the doorbell's records and reports whether it rang
// (again: whether this pass is the one passAgain asked for); either way,
// the pass should hand on what it reads at once. A flusher asleep is woken
// (the clock is set first: it was not kept while asleep).
func (m *mmapRings) answerBell(clock *Clock) (rang, again bool) {
	for _, rg := range m.bell {
		if head := atomic.LoadUint64(&rg.meta.Data_head); head != rg.meta.Data_tail {
			atomic.StoreUint64(&rg.meta.Data_tail, head)
			rang = true
		}
	}
	again, m.again = m.again, false
	if m.asleep.Load() {
		clock.Calibrate()
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	return rang, again
}

// flush asks the reading loop to read all rings now.
func (m *mmapRings) flush() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _, _ = unix.RawSyscall(unix.SYS_WRITE, uintptr(m.evfd), uintptr(unsafe.Pointer(&one[0])), 8)
}

// wait blocks until a ring passed its watermark or a flush was asked for,
// and reports the latter.
func (m *mmapRings) wait() (flushed bool, err error) {
	var (
		evs  [64]unix.EpollEvent
		n    int
		werr error
	)
	parked := false
	err = m.epc.Read(func(fd uintptr) bool {
		n, werr = pollNow(int(fd), evs[:])
		if errors.Is(werr, unix.EINTR) {
			n, werr = 0, nil
		}
		if n > 0 || werr != nil {
			return true
		}
		// Nothing in the epoll descriptor does not mean nothing to read.
		// The netpoller checks whether our epoll descriptor is readable
		// by polling the descriptors in it, and polling a perf event
		// clears its wakeup (perf_poll): by the time we look, the
		// netpoller may have used it up. So once woken, read the rings
		// anyway; and before parking, look at them, in case a wakeup
		// came and went before this call.
		if parked || m.pending() {
			return true
		}
		parked = true
		return false
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		_ = m.ep.SetReadDeadline(time.Time{})
		m.again = true
		return false, nil
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		return false, err
	}
	for _, ev := range evs[:n] {
		if ev.Fd == int32(m.evfd) {
			var buf [8]byte
			_, _, _ = unix.RawSyscall(unix.SYS_READ, uintptr(m.evfd), uintptr(unsafe.Pointer(&buf[0])), 8)
			flushed = true
		}
	}
	return flushed, nil
}

// pending reports whether a watermark's worth of records came into a ring
// since it was last read.
func (m *mmapRings) pending() bool {
	for _, rg := range m.bell {
		if atomic.LoadUint64(&rg.meta.Data_head) != rg.meta.Data_tail {
			return true
		}
	}
	for _, rg := range m.rings {
		if atomic.LoadUint64(&rg.meta.Data_head)-rg.seen >= rg.wakeup {
			return true
		}
	}
	return m.rb != nil && atomic.LoadUint64(m.rb.prodPos)-m.rb.seen >= m.rb.wakeup
}

// idle reports whether a flush would find nothing to do: every ring was
// read to its head and the reading loop is settled. The flusher asks
// before each flush, so that an idle capture does not wake the reading
// loop. The rings are looked at first: a pass clears settled before it
// reads them, so a ring found read means a pass that took its records
// has cleared settled, or set it again once done.
func (m *mmapRings) idle() bool {
	return m.drained() && m.settled.Load()
}

// drained reports whether every ring was read to its head.
func (m *mmapRings) drained() bool {
	for _, rg := range m.rings {
		if atomic.LoadUint64(&rg.meta.Data_head) != atomic.LoadUint64(&rg.meta.Data_tail) {
			return false
		}
	}
	return m.rb == nil || atomic.LoadUint64(m.rb.prodPos) == atomic.LoadUint64(m.rb.consPos)
}

// The reader's system calls on the epoll and event descriptors never
// block (timeout 0, non-blocking eventfd), so they are made raw. An
// ordinary system call tells the runtime, and the first one after the
// process was idle wakes the runtime's sysmon thread, which then polls
// every 20µs for a millisecond: with a wakeup per ring watermark that
// polling was a tenth of the capture's CPU time.

// pollNow is epoll_wait with a zero timeout.
func pollNow(epfd int, evs []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
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

// drain reads every record of one ring up to its head: sample hands a
// sample's raw bytes on (valid only during the call) with commit, which
// releases the ring space of the records before it (call it before
// blocking); lost counts records the kernel could not write. Rings with
// hot rings in front are merged instead (mergeRecords).
func (m *mmapRings) drain(rg *mmapRing, sample func(raw []byte, commit func()), lost func(n uint64)) {
	head := atomic.LoadUint64(&rg.meta.Data_head)
	rg.seen = head
	tail := rg.meta.Data_tail
	commit := func() { atomic.StoreUint64(&rg.meta.Data_tail, tail) }
	r := &rg.rec
	for tail < head {
		if !rg.next(tail, head, r) {
			break // stop rather than spin
		}
		switch {
		case r.sample != nil:
			sample(r.sample, commit)
		case r.lost > 0:
			lost(r.lost)
		}
		tail += r.size
	}
	atomic.StoreUint64(&rg.meta.Data_tail, tail)
}

func (m *mmapRings) close() {
	if !m.closed.CompareAndSwap(false, true) {
		return
	}
	m.closing.Store(true)
	if m.running.Load() {
		m.flush() // wakes the loop, which sees closing and returns
		<-m.stopped
	}
	for _, rg := range append(m.rings, m.bell...) {
		if rg.mem == nil {
			continue // never mapped: the fake rings of tests
		}
		_ = rg.array.Delete(uint32(rg.cpu))
		_ = unix.Munmap(rg.mem)
		_ = unix.Close(rg.fd)
	}
	if m.rb != nil {
		m.rb.close()
	}
	if m.ep != nil {
		m.ep.Close()
	} else if m.epfd >= 0 {
		unix.Close(m.epfd)
	}
	if m.evfd >= 0 {
		unix.Close(m.evfd)
	}
}
