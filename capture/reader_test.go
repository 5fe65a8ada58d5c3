package capture

import (
	"context"
	"fmt"
	"net"
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

// TestReaderDrainsAfterDetach: when the consumer is slow and the reader is
// blocked handing over a batch, the records written after that batch must
// still be read at shutdown (detach, then cancel), not dropped silently.
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

	out := make(chan *Batch) // unbuffered: the consumer is not there yet
	gate := make(chan struct{})
	delivered := make(chan int)
	go func() {
		<-gate
		n := 0
		for b := range out {
			n += len(b.Packets)
			b.Release()
		}
		delivered <- n
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- sess.Run(ctx, out); close(out) }()

	sendDatagrams(t, pair, 10)
	// The first batch is handed over after a flush tick: the reader is then
	// blocked on the consumer.
	testutil.Eventually(t, 5*time.Second, func() bool { return sess.Reader.Stats.Received.Load() >= 10 }, "first batch not shipped")
	sendDatagrams(t, pair, 10)
	testutil.Eventually(t, 5*time.Second, func() bool { return counters().Sent >= 20 }, "kernel did not send 20 records")

	if err := sess.Detach(); err != nil {
		t.Fatal(err)
	}
	cancel()
	close(gate)
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	got := <-delivered
	c := counters()
	if uint64(got) != c.Sent || c.Failed != 0 {
		t.Fatalf("kernel sent %d records (failed %d), reader delivered %d", c.Sent, c.Failed, got)
	}
}

// TestReaderLossy: with every batch held by a consumer that never comes
// back, a lossy reader drops and counts instead of blocking, and
// everything sent is accounted for.
func TestReaderLossy(t *testing.T) {
	pair := testutil.NewPair(t)
	sess := openIn(t, pair, Options{FlushInterval: 10 * time.Millisecond, Batches: 2, BatchPackets: 4, Lossy: true})
	defer sess.Close()
	out := make(chan *Batch, 16)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- sess.Run(ctx, out); close(out) }()
	sendDatagrams(t, pair, 40)
	testutil.Eventually(t, 5*time.Second, func() bool {
		c, _ := sess.Counters()
		return c.Sent >= 40 && sess.Reader.Stats.Received.Load()+sess.Reader.Stats.Dropped.Load() >= c.Sent
	}, "not all records read")
	sess.Detach()
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	var kept uint64
	for b := range out { // never released: the pool stays empty
		kept += uint64(len(b.Packets))
	}
	c, _ := sess.Counters()
	st := &sess.Reader.Stats
	if st.Dropped.Load() == 0 || kept != st.Received.Load() || kept+st.Dropped.Load() != c.Sent {
		t.Fatalf("sent %d: kept %d, received %d, dropped %d", c.Sent, kept, st.Received.Load(), st.Dropped.Load())
	}
}

// TestReaderCloseWhileRunning: closing the reader from another goroutine
// while it waits ends Run, and only then are the rings unmapped.
func TestReaderCloseWhileRunning(t *testing.T) {
	pair := testutil.NewPair(t)
	sess := openIn(t, pair, Options{FlushInterval: 10 * time.Millisecond})
	defer sess.Close()
	out := make(chan *Batch, 16)
	runErr := make(chan error, 1)
	go func() { runErr <- sess.Run(context.Background(), out); close(out) }()
	go func() {
		for b := range out {
			b.Release()
		}
	}()
	sendDatagrams(t, pair, 5)
	testutil.Eventually(t, 5*time.Second, func() bool { return sess.Reader.Stats.Received.Load() >= 5 }, "nothing read")
	if err := sess.Reader.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
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
	// Small batches: a batch is handed on when full, or at a flush.
	sess := openIn(t, pair, Options{PerCPUBuffer: 1 << 20, Watermark: 8 << 10, FlushInterval: time.Hour, BatchPackets: 8})
	defer sess.Close()
	out := make(chan *Batch, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = sess.Run(ctx, out)
		close(out)
	}()
	go func() {
		for b := range out {
			b.Release()
		}
	}()
	// Each round writes about 4 watermarks' worth of records; all but the
	// last batch (of 8) must be handed on.
	for round := range 5 {
		before := sess.Reader.Stats.Received.Load()
		sendDatagramsOf(t, pair, 32, 1000)
		testutil.Eventually(t, 5*time.Second, func() bool {
			return sess.Reader.Stats.Received.Load()-before >= 24
		}, "round %d: %d of 32 records read with no flush", round, sess.Reader.Stats.Received.Load()-before)
	}
}

// TestRingBufReader: with the programs writing to one BPF ring buffer,
// everything the kernel sent from every CPU is delivered, in time order,
// and records past the wakeup threshold are read without a flush.
func TestRingBufReader(t *testing.T) {
	pair := testutil.NewPair(t)
	var sess *Session
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		sess, err = Open(Config{Interface: pair.IfA,
			BPF:    bpf.Config{Snaplen: 262144, In: true, RingBuf: 1 << 20, RingBufWakeup: 8 << 10},
			Reader: Options{FlushInterval: time.Hour, BatchPackets: 8}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out := make(chan *Batch, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- sess.Run(ctx, out); close(out) }()
	var got []packet.Packet
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range out {
			for _, p := range b.Packets {
				p.Data = nil
				got = append(got, p)
			}
			b.Release()
		}
	}()
	// The wakeup threshold, with the flush an hour away.
	before := sess.Reader.Stats.Received.Load()
	sendDatagramsOf(t, pair, 32, 1000)
	testutil.Eventually(t, 5*time.Second, func() bool {
		return sess.Reader.Stats.Received.Load()-before >= 24
	}, "%d of 32 records read with no flush", sess.Reader.Stats.Received.Load()-before)
	// Every CPU.
	sendFromCPUs(t, pair, 200)
	testutil.Eventually(t, 5*time.Second, func() bool { c, _ := sess.Counters(); return c.Sent >= 232 }, "kernel did not send 232 records")
	if err := sess.Detach(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	<-done
	c, _ := sess.Counters()
	if uint64(len(got)) != c.Sent || c.Failed != 0 {
		t.Fatalf("kernel sent %d (failed %d), delivered %d", c.Sent, c.Failed, len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Nanos < got[i-1].Nanos {
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
