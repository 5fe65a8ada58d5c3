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

// pollSet is what the reading loop waits in, and what it shares with the
// flusher: the rings it reads (src), an epoll descriptor over their perf
// events or ring buffer, an eventfd that asks for a pass now, and the
// doorbell.
type pollSet struct {
	src  source
	epfd int
	// ep wraps epfd for Go's netpoller: the loop parks in it rather than
	// blocking a thread in epoll_wait. A thread blocked in a system call
	// keeps its P, which the runtime's sysmon takes back after a while and
	// then polls every 20µs; at a few wakeups a second that polling cost
	// more CPU than reading the packets.
	ep     *os.File
	epc    syscall.RawConn
	evfd   int // eventfd: a write is a flush request
	closed atomic.Bool
	// Close may come from another goroutine while the reading loop waits:
	// it then asks the loop to stop and waits for it before unmapping.
	closing atomic.Bool
	running atomic.Bool
	stopped chan struct{}
	// The doorbell (addBell): its rings, one page per CPU, wake the loop
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

// newPollSet makes the pollSet without rings: the epoll descriptor the
// reader waits in (through the netpoller) and the eventfd that asks it to
// read now.
func newPollSet() (p *pollSet, err error) {
	p = &pollSet{epfd: -1, evfd: -1, stopped: make(chan struct{}), kick: make(chan struct{}, 1)}
	made := p // the error returns below set p to nil
	defer func() {
		if err != nil {
			made.close()
		}
	}()
	if p.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	// An epoll descriptor is itself pollable: non-blocking, os.NewFile
	// registers it with the netpoller.
	if err = unix.SetNonblock(p.epfd, true); err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	p.ep = os.NewFile(uintptr(p.epfd), "perf-epoll")
	if p.epc, err = p.ep.SyscallConn(); err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	if p.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err = p.watch(p.evfd, unix.EPOLLIN); err != nil {
		return nil, err
	}
	return p, nil
}

// watch adds fd to the epoll set.
func (p *pollSet) watch(fd int, events uint32) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)}); err != nil {
		return fmt.Errorf("epoll add: %w", err)
	}
	return nil
}

// addBell adds the doorbell's rings, one page per possible CPU in bell,
// each waking the loop at every record; arm arms the programs' bell. The
// caller closes p on error.
func (p *pollSet) addBell(bell *ebpf.Map, arm func(on bool)) error {
	p.arm = arm
	attr := unix.PerfEventAttr{Wakeup: 1} // wakeup_events: every record
	return p.openRings(bell, 1, attr, func(rg *mmapRing) { p.bell = append(p.bell, rg) })
}

// openRings opens a perf event per possible CPU with attr's wakeup
// settings, maps its ring of pages data pages (a power of two), puts it in
// events, adds it to the epoll set and hands it to add as soon as it is
// mapped (so that close releases it).
func (p *pollSet) openRings(events *ebpf.Map, pages int, attr unix.PerfEventAttr, add func(*mmapRing)) error {
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
			if errors.Is(err, unix.EPERM) { // locked memory, counted against ulimit -l
				return fmt.Errorf("map perf ring of CPU %d: %w: the rings exceed the locked-memory limit; grant CAP_IPC_LOCK, or make them smaller (-B, --perf-buffer) or use --ringbuf", cpu, err)
			}
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
		if err := p.watch(fd, unix.EPOLLIN); err != nil {
			return err
		}
	}
	return nil
}

// passAgain, after a pass the bell woke, has the reading loop pass again
// once the records that pass left in the rings (stamped within its slack,
// the one that rang the bell among them) can be taken, rather than a
// flush interval later. It sets a deadline on the loop's wait.
func (p *pollSet) passAgain() {
	_ = p.ep.SetReadDeadline(time.Now().Add(time.Duration(perfSlack) + 100*time.Microsecond))
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
func (p *pollSet) sleep(ctx context.Context, done <-chan struct{}) (woken, end bool) {
	select {
	case <-p.kick: // a stale one
	default:
	}
	p.asleep.Store(true)
	defer p.asleep.Store(false)
	p.arm(true)
	defer p.arm(false)
	if !p.idle() {
		return false, false
	}
	backstop := time.NewTimer(bellBackstop)
	defer backstop.Stop()
	select {
	case <-p.kick:
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
func (p *pollSet) answerBell(clock *Clock) (rang, again bool) {
	for _, rg := range p.bell {
		if head := atomic.LoadUint64(&rg.meta.Data_head); head != rg.meta.Data_tail {
			atomic.StoreUint64(&rg.meta.Data_tail, head)
			rang = true
		}
	}
	again, p.again = p.again, false
	if p.asleep.Load() {
		clock.Calibrate()
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	return rang, again
}

// flush asks the reading loop to read all rings now.
func (p *pollSet) flush() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _, _ = unix.RawSyscall(unix.SYS_WRITE, uintptr(p.evfd), uintptr(unsafe.Pointer(&one[0])), 8)
}

// wait blocks until a ring passed its watermark or a flush was asked for,
// and reports the latter.
func (p *pollSet) wait() (flushed bool, err error) {
	var (
		evs  [64]unix.EpollEvent
		n    int
		werr error
	)
	parked := false
	err = p.epc.Read(func(fd uintptr) bool {
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
		if parked || p.pending() {
			return true
		}
		parked = true
		return false
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		_ = p.ep.SetReadDeadline(time.Time{})
		p.again = true
		return false, nil
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		return false, err
	}
	for _, ev := range evs[:n] {
		if ev.Fd == int32(p.evfd) {
			var buf [8]byte
			_, _, _ = unix.RawSyscall(unix.SYS_READ, uintptr(p.evfd), uintptr(unsafe.Pointer(&buf[0])), 8)
			flushed = true
		}
	}
	return flushed, nil
}

// pending reports whether the bell rang, or a wakeup's worth of records
// came into the rings, since they were last read.
func (p *pollSet) pending() bool {
	for _, rg := range p.bell {
		if atomic.LoadUint64(&rg.meta.Data_head) != rg.meta.Data_tail {
			return true
		}
	}
	return p.src.pending()
}

// idle reports whether a flush would find nothing to do: every ring was
// read to its head and the reading loop is settled. The flusher asks
// before each flush, so that an idle capture does not wake the reading
// loop. The rings are looked at first: a pass clears settled before it
// reads them, so a ring found read means a pass that took its records
// has cleared settled, or set it again once done.
func (p *pollSet) idle() bool {
	return p.src.drained() && p.settled.Load()
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

// close stops a running loop (waiting for it), then releases the rings,
// the bell and the descriptors. It is safe to call more than once.
func (p *pollSet) close() {
	if !p.closed.CompareAndSwap(false, true) {
		return
	}
	p.closing.Store(true)
	if p.running.Load() {
		p.flush() // wakes the loop, which sees closing and returns
		<-p.stopped
	}
	if p.src != nil {
		p.src.close()
	}
	for _, rg := range p.bell {
		rg.close()
	}
	if p.ep != nil {
		p.ep.Close()
	} else if p.epfd >= 0 {
		unix.Close(p.epfd)
	}
	if p.evfd >= 0 {
		unix.Close(p.evfd)
	}
}
