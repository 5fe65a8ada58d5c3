package capture

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// flushRequests reads (and resets) how many flushes were asked for since
// the last call: each adds one to the eventfd.
func flushRequests(t *testing.T, m *pollSet) uint64 {
	t.Helper()
	var buf [8]byte
	_, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(m.evfd), uintptr(unsafe.Pointer(&buf[0])), 8)
	if e == unix.EAGAIN {
		return 0
	}
	if e != 0 {
		t.Fatalf("read eventfd: %v", e)
	}
	return binary.NativeEndian.Uint64(buf[:])
}

// waitFlush fails unless the flusher asks for a flush within a few seconds.
func waitFlush(t *testing.T, m *pollSet, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if flushRequests(t, m) > 0 {
			return
		}
	}
	t.Fatalf("%s: no flush asked for in 5 s", what)
}

// noFlush fails if the flusher asks for a flush in the next 30 ticks (a
// flush already on its way when the state changed is let through).
func noFlush(t *testing.T, m *pollSet, what string) {
	t.Helper()
	time.Sleep(10 * time.Millisecond)
	flushRequests(t, m)
	time.Sleep(30 * time.Millisecond)
	if n := flushRequests(t, m); n > 0 {
		t.Fatalf("%s: %d flushes asked for", what, n)
	}
}

// fakePollSet is a poll set (a real epoll and eventfd) reading fake
// rings, closed when the test ends.
func fakePollSet(t *testing.T, rings ...fakeRing) *pollSet {
	t.Helper()
	m, err := newPollSet()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.close)
	m.src = fakePerfRings(false, rings...)
	return m
}

// startFakeFlusher starts the flusher of a reader of m with opts; it stops
// when the test ends, or at cancel (after its final flush).
func startFakeFlusher(t *testing.T, m *pollSet, opts Options) (r *Reader, cancel context.CancelFunc) {
	r = newReader(m, NewClock(), opts)
	ctx, cancel := context.WithCancel(context.Background())
	stop := r.startFlusher(ctx)
	t.Cleanup(func() { cancel(); stop() })
	return r, cancel
}

// An idle capture must not wake its reading loop: the flusher asks for a
// flush only while a ring has records not yet read, or the loop holds
// something back (packets in a file buffer, records it could not write
// yet).
func TestFlusherLeavesIdleReaderAlone(t *testing.T) {
	a, b := newFakeRing(0, 4096, 0), newFakeRing(1, 4096, 0)
	m := fakePollSet(t, a, b)
	_, cancel := startFakeFlusher(t, m, Options{FlushInterval: time.Millisecond})

	waitFlush(t, m, "before the first pass (not settled)")
	m.settled.Store(true)
	noFlush(t, m, "settled, rings read")

	atomic.AddUint64(&b.meta.Data_head, 64) // a record below the watermark
	waitFlush(t, m, "a record not yet read")
	atomic.StoreUint64(&b.meta.Data_tail, atomic.LoadUint64(&b.meta.Data_head))
	noFlush(t, m, "the record read")

	m.settled.Store(false) // say, a packet written but not flushed to the file
	waitFlush(t, m, "the reading loop holding a packet")
	m.settled.Store(true)
	noFlush(t, m, "settled again")

	cancel()
	waitFlush(t, m, "cancelled (the final drain)")
}

// Once a look finds nothing, the flusher ticks at IdleFlushInterval: with
// an hour, a record that comes later is not flushed by the tick, only by
// its watermark (or the final drain).
func TestFlusherSlowsDownWhenIdle(t *testing.T) {
	a := newFakeRing(0, 4096, 0)
	m := fakePollSet(t, a)
	_, cancel := startFakeFlusher(t, m, Options{FlushInterval: time.Millisecond, IdleFlushInterval: time.Hour})

	waitFlush(t, m, "before the first pass")
	m.settled.Store(true)
	noFlush(t, m, "idle")
	atomic.AddUint64(&a.meta.Data_head, 64)
	noFlush(t, m, "a record after the flusher slowed down")
	cancel()
	waitFlush(t, m, "cancelled")
}

// flushLog is a PacketWriter that remembers how many packets each Flush
// made readable.
type flushLog struct {
	mu               sync.Mutex
	written, flushed int
}

func (w *flushLog) Write(*packet.Packet) error {
	w.mu.Lock()
	w.written++
	w.mu.Unlock()
	return nil
}

func (w *flushLog) Flush() error {
	w.mu.Lock()
	w.flushed = w.written
	w.mu.Unlock()
	return nil
}

func (w *flushLog) counts() (written, flushed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written, w.flushed
}

// RunDirect flushes its file at most every flushEvery, so a packet that
// comes just after a flush is written but not flushed by that pass. The
// reading loop must not look settled then: with the rings read, the
// flusher would never wake it again and the packet would sit in the
// file's buffer.
func TestRunDirectFlushesALatePacket(t *testing.T) {
	m, err := newPollSet()
	if err != nil {
		t.Fatal(err)
	}
	a := newFakeRing(0, 1<<16, 0)
	a.wakeup = 1 << 20 // no wakeups of its own: only the flusher's
	m.src = fakePerfRings(false, a)
	r := newReader(m, NewClock(), Options{FlushInterval: time.Millisecond, IdleFlushInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	w := &flushLog{}
	var res WriteResult
	done := make(chan error)
	go func() { done <- r.RunDirect(ctx, w, 0, func() {}, &res) }()

	flushedAll := func(n int, what string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if written, flushed := w.counts(); written == n && flushed == n {
				return
			}
		}
		written, flushed := w.counts()
		t.Fatalf("%s: %d packets written, %d flushed; want %d", what, written, flushed, n)
	}
	rec := func(i int) {
		kt := uint64(i + 1)
		if !a.sample(bpf.Record{Protocol: 1, Ifindex: 1, Dir: packet.DirOut, Hook: packet.HookTC, KtimeNs: kt, TotLen: 60, CapLen: 60}, make([]byte, 60)) {
			t.Fatal("fake ring full")
		}
	}
	rec(0)
	flushedAll(1, "a lone packet")
	rec(1) // within flushEvery of that flush
	flushedAll(2, "a packet just after a flush")
	for i := 2; i < 10; i++ {
		rec(i)
		time.Sleep(time.Millisecond)
	}
	flushedAll(10, "a few packets a tick apart")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With a doorbell the idle flusher arms it and sleeps: no flushes, no
// ticks. The reading loop, woken by the bell, wakes it; a record that
// comes while the bell is being armed is flushed at once; a record whose
// bell never rang is flushed after the backstop.
func TestFlusherSleepsWithABell(t *testing.T) {
	a := newFakeRing(0, 4096, 0)
	m := fakePollSet(t, a)
	var armed atomic.Bool
	var race atomic.Bool // the next arming lets a record in
	m.arm = func(on bool) {
		if on && race.Swap(false) {
			atomic.AddUint64(&a.meta.Data_head, 64)
		}
		armed.Store(on)
	}
	r, cancel := startFakeFlusher(t, m, Options{FlushInterval: time.Millisecond})
	asleep := func(what string) {
		t.Helper()
		testutil.Eventually(t, 5*time.Second, func() bool { return m.asleep.Load() && armed.Load() }, "%s: the flusher did not arm the bell and sleep", what)
	}
	read := func() { atomic.StoreUint64(&a.meta.Data_tail, atomic.LoadUint64(&a.meta.Data_head)) }

	waitFlush(t, m, "before the first pass")
	m.settled.Store(true)
	asleep("idle")
	noFlush(t, m, "asleep")

	// The bell rang: the loop finds a record and wakes the flusher.
	atomic.AddUint64(&a.meta.Data_head, 64)
	m.answerBell(r.clock)
	waitFlush(t, m, "woken with a record not yet read")
	read()
	asleep("the record read")

	// A record that comes as the bell is armed is not left to sleep.
	race.Store(true)
	m.answerBell(r.clock) // wake it, to arm again
	testutil.Eventually(t, 5*time.Second, func() bool { return !race.Load() }, "the bell was not armed again")
	flushRequests(t, m)
	waitFlush(t, m, "a record came while arming")
	read()
	asleep("that record read")

	cancel()
	waitFlush(t, m, "cancelled")
}

// A record whose bell never rang (the programs could not write to the
// bell, or missed it being armed) is flushed once the backstop passes.
func TestFlusherBackstop(t *testing.T) {
	bellBackstop = 20 * time.Millisecond // before the flusher starts
	t.Cleanup(func() { bellBackstop = 5 * time.Second })
	a := newFakeRing(0, 4096, 0)
	m := fakePollSet(t, a)
	m.arm = func(bool) {}
	startFakeFlusher(t, m, Options{FlushInterval: time.Millisecond})

	waitFlush(t, m, "before the first pass")
	m.settled.Store(true)
	testutil.Eventually(t, 5*time.Second, m.asleep.Load, "idle, the flusher did not sleep")
	atomic.AddUint64(&a.meta.Data_head, 64) // and no bell
	waitFlush(t, m, "a record with no bell")
}

// The record that rang the bell is stamped just before the pass it wakes,
// within the pass's slack: the pass leaves it in the ring, and the loop
// must pass again soon after rather than a flush interval later (an hour
// here: only the loop's own deadline can take it).
func TestBellRecordComesOutAtOnce(t *testing.T) {
	for _, hot := range []bool{false, true} {
		m, err := newPollSet()
		if err != nil {
			t.Fatal(err)
		}
		a, bell := newFakeRing(0, 4096, 0), newFakeRing(0, 4096, 0)
		a.hot = hot
		a.wakeup, bell.wakeup = 1<<20, 1<<20
		m.src, m.bell = fakePerfRings(hot, a), []*mmapRing{bell.mmapRing}
		// The fake bell's wakeup: an eventfd in the loop's epoll set,
		// edge-triggered (the loop never reads it).
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(efd)
		if err := unix.EpollCtl(m.epfd, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(efd)}); err != nil {
			t.Fatal(err)
		}
		r := newReader(m, NewClock(), Options{FlushInterval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		w := &flushLog{}
		done := make(chan error)
		go func() { done <- r.RunDirect(ctx, w, 0, func() {}, &WriteResult{}) }()
		// The file's header flushed (by a flush a flush period after the
		// start), then a quiet spell longer than the flush period.
		time.Sleep(2 * flushEvery)
		m.flush()
		testutil.Eventually(t, 5*time.Second, m.settled.Load, "the header was not flushed")
		time.Sleep(2 * flushEvery)

		a.sample(bpf.Record{Protocol: 1, Ifindex: 1, Dir: packet.DirIn, Hook: packet.HookTC, KtimeNs: Monotonic(), TotLen: 60, CapLen: 60}, make([]byte, 60))
		bell.put(unix.PERF_RECORD_SAMPLE, make([]byte, 8))
		one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
		if _, err := unix.Write(efd, one); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, func() bool { n, f := w.counts(); return n == 1 && f == 1 },
			"hot %v: the record that rang the bell was not written and flushed", hot)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if bell.meta.Data_tail != bell.meta.Data_head {
			t.Errorf("hot %v: the bell's record was not taken", hot)
		}
	}
}
