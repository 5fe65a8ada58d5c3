package capture

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// sendDatagrams sends n UDP datagrams from the pair's namespace B to a
// socket in A (a closed port would answer ICMP and refuse later writes),
// and waits until the socket has them all: the capture hook ran before.
func sendDatagrams(t *testing.T, pair *testutil.Pair, n int) {
	t.Helper()
	sendDatagramsOf(t, pair, n, 0)
}

// sendDatagramsOf is sendDatagrams with size-byte payloads (0: short text).
func sendDatagramsOf(t *testing.T, pair *testutil.Pair, n, size int) {
	t.Helper()
	rx, c := udpPair(t, pair)
	defer rx.Close()
	defer c.Close()
	payload := make([]byte, size)
	for i := range n {
		var err error
		if size == 0 {
			_, err = fmt.Fprintf(c, "datagram %d", i)
		} else {
			_, err = c.Write(payload)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, max(100, size))
	for range n {
		rx.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := rx.ReadFrom(buf); err != nil {
			t.Fatalf("datagrams did not arrive: %v", err)
		}
	}
}

// udpPair is a UDP socket in the pair's namespace A and one in B
// connected to it.
func udpPair(t *testing.T, pair *testutil.Pair) (rx net.PacketConn, c net.Conn) {
	t.Helper()
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		rx, err = net.ListenPacket("udp4", net.JoinHostPort(pair.AddrA, "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := testutil.InNetns(pair.NsB, func() (err error) {
		c, err = net.Dial("udp4", rx.LocalAddr().String())
		return err
	}); err != nil {
		rx.Close()
		t.Fatal(err)
	}
	return rx, c
}

// openIn opens a capture on the pair's interface A, from inside its
// namespace (interface names and indexes are per namespace).
func openIn(t *testing.T, pair *testutil.Pair, opts Options) *Session {
	t.Helper()
	var sess *Session
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		sess, err = Open(Config{Interface: pair.IfA, BPF: bpf.Config{Snaplen: 262144, In: true}, Reader: opts})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return sess
}

// gatedLog is a flushLog whose writes wait while the test holds gate, as
// the live view's engine makes the capture wait while the view reads; it
// keeps the packets' stamps.
type gatedLog struct {
	flushLog
	gate  sync.Mutex
	mu    sync.Mutex
	nanos []int64
}

func (w *gatedLog) Write(p *packet.Packet) error {
	w.gate.Lock()
	defer w.gate.Unlock()
	w.mu.Lock()
	w.nanos = append(w.nanos, p.Nanos)
	w.mu.Unlock()
	return w.flushLog.Write(p)
}

// TestReaderDrainsAfterDetach: when the consumer is slow and the reader is
// blocked in a write, the records written after must still be read at
// shutdown (detach, then cancel), not dropped silently.
func TestReaderDrainsAfterDetach(t *testing.T) {
	pair := testutil.NewPair(t)
	sess := openIn(t, pair, Options{FlushInterval: 20 * time.Millisecond})
	defer sess.Close()
	counters := func() bpf.Counters {
		c, err := sess.Counters()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	w := &gatedLog{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var res WriteResult
	runErr := make(chan error, 1)
	go func() { runErr <- sess.RunPasses(ctx, w, 0, func() {}, &res) }()

	sendDatagrams(t, pair, 10)
	testutil.Eventually(t, 5*time.Second, func() bool { n, _ := w.counts(); return n >= 10 }, "first packets not written")
	// The consumer is busy from now on: the reader's next write waits.
	w.gate.Lock()
	sendDatagrams(t, pair, 10)
	testutil.Eventually(t, 5*time.Second, func() bool { return counters().Sent >= 20 }, "kernel did not send 20 records")

	if err := sess.Detach(); err != nil {
		t.Fatal(err)
	}
	cancel()
	w.gate.Unlock()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	got, flushed := w.counts()
	c := counters()
	if uint64(got) != c.Sent || c.Failed != 0 || flushed != got || res.Written != uint64(got) {
		t.Fatalf("kernel sent %d records (failed %d), reader wrote %d (%d flushed, %d counted)", c.Sent, c.Failed, got, flushed, res.Written)
	}
}

// TestReaderCloseWhileRunning: closing the reader from another goroutine
// while it waits ends RunPasses, and only then are the rings unmapped.
func TestReaderCloseWhileRunning(t *testing.T) {
	pair := testutil.NewPair(t)
	sess := openIn(t, pair, Options{FlushInterval: 10 * time.Millisecond})
	defer sess.Close()
	w := &flushLog{}
	runErr := make(chan error, 1)
	go func() { runErr <- sess.RunPasses(context.Background(), w, 0, func() {}, &WriteResult{}) }()
	sendDatagrams(t, pair, 5)
	testutil.Eventually(t, 5*time.Second, func() bool { return sess.Reader.Stats.Received.Load() >= 5 }, "nothing read")
	if err := sess.Reader.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("RunPasses after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunPasses did not return after Close")
	}
}

// sendUntilRead sends rounds of 32 datagrams of 1000 bytes until the
// reader has read want records, or fails after 5 s. With the flush an
// hour away, only the rings' wakeups (watermark, ring buffer threshold)
// have the reader read: a pass leaves the records stamped within its
// slack and those after the last wakeup, so the test sends on rather than
// wait for any one round to be read whole.
func sendUntilRead(t *testing.T, pair *testutil.Pair, st *Stats, want uint64) {
	t.Helper()
	before := st.Received.Load()
	for deadline := time.Now().Add(5 * time.Second); st.Received.Load()-before < want; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records read with no flush", st.Received.Load()-before, want)
		}
		sendDatagramsOf(t, pair, 32, 1000)
	}
}

// TestReaderWakesAtWatermark: records past the watermark are read without
// waiting for a flush. The in-place reader once parked in Go's netpoller
// missed these wakeups (the netpoller's readiness check of the epoll
// descriptor used up the perf events' wakeup), so only the 50 ms flush
// read the rings and a fast capture overflowed them. Here the flush is an
// hour away.
func TestReaderWakesAtWatermark(t *testing.T) {
	pair := testutil.NewPair(t)
	sess := openIn(t, pair, Options{PerCPUBuffer: 1 << 20, Watermark: 8 << 10, FlushInterval: time.Hour})
	defer sess.Close()
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- sess.RunPasses(ctx, &flushLog{}, 0, func() {}, &WriteResult{}) }()
	defer func() { cancel(); <-runErr }()
	// About 4 watermarks' worth of records a round: 5 rounds' worth.
	sendUntilRead(t, pair, &sess.Reader.Stats, 160)
}

// TestRingBufReader: with the programs writing to one BPF ring buffer,
// everything the kernel sent from every CPU is written, in time order,
// and records past the wakeup threshold are read without a flush.
func TestRingBufReader(t *testing.T) {
	pair := testutil.NewPair(t)
	var sess *Session
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		sess, err = Open(Config{Interface: pair.IfA,
			BPF:    bpf.Config{Snaplen: 262144, In: true, RingBuf: 1 << 20, RingBufWakeup: 8 << 10},
			Reader: Options{FlushInterval: time.Hour}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	w := &gatedLog{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- sess.RunPasses(ctx, w, 0, func() {}, &WriteResult{}) }()
	// The wakeup threshold, with the flush an hour away.
	sendUntilRead(t, pair, &sess.Reader.Stats, 64)
	// Every CPU.
	c0, _ := sess.Counters()
	sendFromCPUs(t, pair, 200)
	testutil.Eventually(t, 5*time.Second, func() bool { c, _ := sess.Counters(); return c.Sent >= c0.Sent+200 }, "kernel did not send 200 more records")
	if err := sess.Detach(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	c, _ := sess.Counters()
	got := w.nanos
	if uint64(len(got)) != c.Sent || c.Failed != 0 {
		t.Fatalf("kernel sent %d (failed %d), written %d", c.Sent, c.Failed, len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("packet %d is older than the one before it", i)
		}
	}
}

func TestScalePerCPU(t *testing.T) {
	for _, c := range []struct{ perCPU, total, cpus, want int }{
		{8 << 20, 64 << 20, 1, 8 << 20},
		{8 << 20, 64 << 20, 8, 8 << 20},
		{8 << 20, 64 << 20, 9, 4 << 20},
		{8 << 20, 64 << 20, 16, 4 << 20},
		{8 << 20, 64 << 20, 64, 1 << 20},
		{8 << 20, 64 << 20, 96, 1 << 20}, // the floor, though 96 MiB > 64 MiB
		{32 << 20, 128 << 20, 4, 32 << 20},
		{32 << 20, 128 << 20, 6, 16 << 20},
		{32 << 20, 128 << 20, 128, 1 << 20},
		{512 << 10, 64 << 20, 1024, 512 << 10}, // already below the floor: kept
	} {
		if got := ScalePerCPU(c.perCPU, c.total, c.cpus); got != c.want {
			t.Errorf("ScalePerCPU(%d, %d, %d) = %d, want %d", c.perCPU, c.total, c.cpus, got, c.want)
		}
	}
}

func TestCountCPUList(t *testing.T) {
	for s, want := range map[string]int{"0": 1, "0-1": 2, "0-3,6,8-11": 9, "": 0, "0-": 0, "3-1": 0, "x": 0, "0,,1": 0} {
		if got := countCPUList(s); got != want {
			t.Errorf("countCPUList(%q) = %d, want %d", s, got, want)
		}
	}
	if n := OnlineCPUs(); n < 1 {
		t.Errorf("OnlineCPUs() = %d", n)
	}
}

// TestUsesOverflow: a hot ring goes in front of the perf rings only when
// they are at least 4 times its size.
func TestUsesOverflow(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want bool
	}{
		{Options{PerCPUBuffer: 32 << 20}, true},
		{Options{PerCPUBuffer: 16 << 20}, true},
		{Options{PerCPUBuffer: 8 << 20}, false},
		{Options{PerCPUBuffer: 32 << 20, HotBuffer: -1}, false},
		{Options{PerCPUBuffer: 1 << 20, HotBuffer: 256 << 10}, true},
	} {
		if got := tc.opts.UsesOverflow(); got != tc.want {
			t.Errorf("%+v: UsesOverflow %v, want %v", tc.opts, got, tc.want)
		}
	}
}
