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
)

// flushRequests reads (and resets) how many flushes were asked for since
// the last call: each adds one to the eventfd.
func flushRequests(t *testing.T, m *mmapRings) uint64 {
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
func waitFlush(t *testing.T, m *mmapRings, what string) {
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
func noFlush(t *testing.T, m *mmapRings, what string) {
	t.Helper()
	time.Sleep(3 * time.Millisecond)
	flushRequests(t, m)
	time.Sleep(30 * time.Millisecond)
	if n := flushRequests(t, m); n > 0 {
		t.Fatalf("%s: %d flushes asked for", what, n)
	}
}

// An idle capture must not wake its reading loop: the flusher asks for a
// flush only while a ring has records not yet read, or the loop holds
// something back (packets in a file buffer, records it could not write
// yet).
func TestFlusherLeavesIdleReaderAlone(t *testing.T) {
	m, err := newPollSet()
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	a, b := newFakeRing(0, 4096, 0), newFakeRing(1, 4096, 0)
	m.rings = []*mmapRing{a.mmapRing, b.mmapRing}
	r := newPoolReader(Options{FlushInterval: time.Millisecond})
	r.mm = m
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := r.startFlusher(ctx)
	defer stop()

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
	m, err := newPollSet()
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	a := newFakeRing(0, 4096, 0)
	m.rings = []*mmapRing{a.mmapRing}
	r := newPoolReader(Options{FlushInterval: time.Millisecond, IdleFlushInterval: time.Hour})
	r.mm = m
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := r.startFlusher(ctx)
	defer stop()

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

func (w *flushLog) Write(*Packet) error {
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
	m.rings = []*mmapRing{a.mmapRing}
	r := newPoolReader(Options{FlushInterval: time.Millisecond, IdleFlushInterval: 20 * time.Millisecond})
	r.mm = m
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
		if !a.sample(bpf.Record{Protocol: 1, Ifindex: 1, Dir: bpf.DirOut, Hook: bpf.HookTC, KtimeNs: kt, TotLen: 60, CapLen: 60}, make([]byte, 60)) {
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
