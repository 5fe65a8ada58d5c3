package e2e

import (
	"bytes"
	"context"
	bin "encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// The overflow ring: the programs write to a small perf ring per CPU (the
// hot one, which stays in the CPU's cache) and what it refuses to a big
// one. These tests run the real tc program (BPF_PROG_TEST_RUN) with a
// 64 KiB hot ring and a 256 KiB overflow ring, and read them as bpftop-cap
// does, in place.

const (
	ovfHot      = 64 << 10
	ovfOverflow = 256 << 10
	ovfFrameLen = 1400
)

// ovfFrame is an Ethernet frame whose bytes after the header hold seq.
// ovfOrder is the byte order of the overflow tests' frames.
var ovfOrder = bin.BigEndian

func ovfFrame(seq uint32) []byte {
	f := make([]byte, ovfFrameLen)
	copy(f[0:6], []byte{2, 0, 0, 0, 0, 1})
	copy(f[6:12], []byte{2, 0, 0, 0, 0, 2})
	ovfOrder.PutUint16(f[12:14], 0x88b5) // local experimental
	ovfOrder.PutUint32(f[14:18], seq)
	return f
}

// ovfOpen loads the programs with an overflow ring and opens the reader.
func ovfOpen(t *testing.T) (*bpf.Objects, *capture.Reader) {
	t.Helper()
	testutil.RequireRoot(t)
	opts := capture.Options{PerCPUBuffer: ovfOverflow, HotBuffer: ovfHot, FlushInterval: 10 * time.Millisecond}
	if !opts.UsesOverflow() {
		t.Fatal("options do not ask for an overflow ring")
	}
	o, err := bpf.Load(bpf.Config{Snaplen: 262144, In: true, Out: true, Overflow: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	if o.Overflow() == nil {
		t.Fatal("loaded without an overflow map")
	}
	rd, err := capture.NewReader(o.Events(), o.Overflow(), capture.NewClock(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return o, rd
}

// ovfSend runs frames seq from..to-1 through the program, always on the
// same CPU, so that the records of every call go to the same rings.
func ovfSend(t *testing.T, o *bpf.Objects, from, to uint32) {
	t.Helper()
	testutil.OnOneCPU(t, func() {
		for seq := from; seq < to; seq++ {
			if err := o.Run(ovfFrame(seq)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// ovfSeq is the seq of a frame ovfFrame made.
func ovfSeq(data []byte) uint32 { return ovfOrder.Uint32(data[14:18]) }

func ovfCounters(t *testing.T, o *bpf.Objects) bpf.Counters {
	t.Helper()
	c, err := o.Counters()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkSeqs wants seqs to be 0..n-1 in order, each packet whole.
func checkSeqs(t *testing.T, seqs []uint32, n int) {
	t.Helper()
	if len(seqs) != n {
		t.Fatalf("read %d packets, want %d", len(seqs), n)
	}
	for i, s := range seqs {
		if s != uint32(i) {
			t.Fatalf("packet %d has seq %d: out of order or missing", i, s)
		}
	}
}

// With no reader running, the hot ring fills and the overflow ring takes
// the rest; the in-place writer (-w) then writes every packet in order
// and counts none lost.
func TestOverflowRingDirect(t *testing.T) {
	o, rd := ovfOpen(t)
	const n = 150 // about 210 KiB: more than the hot ring, less than both
	ovfSend(t, o, 0, n)
	c := ovfCounters(t, o)
	if c.Sent != n || c.Failed != 0 || c.Overflowed == 0 || c.Overflowed >= n {
		t.Fatalf("kernel counters %+v: want all %d sent, some but not all to the overflow ring", c, n)
	}
	var buf bytes.Buffer
	w, err := pcapfile.NewPcapWriter(&buf, 262144, 1)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint32
	sw := seqWriter{w: w, seqs: &seqs}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // write what the rings hold, and return
	var res capture.WriteResult
	if err := rd.RunDirect(ctx, sw, 0, func() {}, &res); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, seqs, n)
	if lost := rd.Stats.Lost.Load(); lost != 0 {
		t.Errorf("reader counted %d lost; the overflow ring took them", lost)
	}
	if late := rd.Stats.Late.Load(); late != 0 {
		t.Errorf("%d packets written late", late)
	}
	t.Logf("%d packets, %d through the overflow ring", n, c.Overflowed)
}

type seqWriter struct {
	w    *pcapfile.PcapWriter
	seqs *[]uint32
}

func (s seqWriter) Write(p *packet.Packet) error {
	*s.seqs = append(*s.seqs, ovfSeq(p.Data))
	return s.w.Write(p)
}

func (s seqWriter) Flush() error { return s.w.Flush() }

// gatedSeqs keeps the seqs of the packets written to it; its writes wait
// while the test holds gate, as the live view's engine makes the capture
// wait while the view reads.
type gatedSeqs struct {
	gate sync.Mutex
	mu   sync.Mutex
	seqs []uint32
}

func (g *gatedSeqs) Write(p *packet.Packet) error {
	g.gate.Lock()
	defer g.gate.Unlock()
	g.mu.Lock()
	g.seqs = append(g.seqs, ovfSeq(p.Data))
	g.mu.Unlock()
	return nil
}

func (g *gatedSeqs) Flush() error { return nil }

func (g *gatedSeqs) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seqs)
}

// The live view's reader (RunPasses): the hot ring's lost records (written
// in front of the first record it takes again) are not losses, the
// overflow ring's are, and every record either ring took is read in order.
func TestOverflowRingPasses(t *testing.T) {
	o, rd := ovfOpen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &gatedSeqs{}
	done := make(chan error, 1)
	go func() { done <- rd.RunPasses(ctx, w, 0, func() {}, &capture.WriteResult{}) }()
	// While the test sends, it holds the writer: the reader waits in its
	// first write and the kernel's rings take the rest, as behind a slow
	// view.
	send := func(from, to uint32) {
		t.Helper()
		w.gate.Lock()
		defer w.gate.Unlock()
		ovfSend(t, o, from, to)
	}
	collect := func(want int) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, func() bool { return w.count() >= want }, "read %d packets, want %d", w.count(), want)
	}
	// 1: the hot ring fills, the overflow ring takes the rest; both are
	// drained. 2: the hot ring takes records again, behind a lost record
	// for those it refused in 1.
	send(0, 150)
	collect(150)
	send(150, 160)
	collect(160)
	c := ovfCounters(t, o)
	if c.Sent != 160 || c.Failed != 0 || c.Overflowed == 0 {
		t.Fatalf("kernel counters %+v: want 160 sent, some through the overflow ring", c)
	}
	if lost := rd.Stats.Lost.Load(); lost != 0 {
		t.Fatalf("reader counted %d lost; the hot ring's refusals went to the overflow ring", lost)
	}
	// 3: more than both rings hold: the rest is lost. 4: once drained, a
	// burst fills the hot ring again, and the overflow ring takes records
	// again behind its lost record, which the reader counts.
	send(160, 460)
	c = ovfCounters(t, o)
	if c.Failed == 0 {
		t.Fatalf("kernel counters %+v: 300 frames did not fill both rings", c)
	}
	t.Logf("after 3: %+v lost %d", c, rd.Stats.Lost.Load())
	collect(int(c.Sent))
	send(460, 560)
	c = ovfCounters(t, o)
	t.Logf("after 4: %+v lost %d", c, rd.Stats.Lost.Load())
	collect(int(c.Sent))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seqs := w.seqs
	checkAscending(t, seqs)
	if len(seqs) != int(c.Sent) || uint64(len(seqs))+c.Failed != 560 {
		t.Fatalf("read %d packets; kernel counters %+v", len(seqs), c)
	}
	if lost := rd.Stats.Lost.Load(); lost != c.Failed {
		t.Fatalf("reader counted %d lost, the kernel %d", lost, c.Failed)
	}
	t.Logf("kernel %+v", c)
}

// While the kernel writes, the hot ring fills, the overflow ring takes
// records, the reader frees the hot ring and the kernel writes there
// again: a record can sit in the overflow ring while newer ones come into
// the hot ring. The live view's reader (RunPasses) must still hand them on
// in order. (Whether it happens depends on timing: reading ring by ring
// failed 2 runs in 5.)
func TestOverflowRingOrderUnderLoad(t *testing.T) {
	for round := range 4 {
		t.Run(fmt.Sprint(round), testOverflowRingOrderUnderLoad)
	}
}

// The same with the in-place writer (-w), which merges with its cutoff
// while the kernel writes.
func TestOverflowRingDirectOrderUnderLoad(t *testing.T) {
	for round := range 4 {
		t.Run(fmt.Sprint(round), testOverflowRingDirectOrderUnderLoad)
	}
}

func testOverflowRingDirectOrderUnderLoad(t *testing.T) {
	o, rd := ovfOpen(t)
	var buf bytes.Buffer
	w, err := pcapfile.NewPcapWriter(&buf, 262144, 1)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var res capture.WriteResult
	go func() { done <- rd.RunDirect(ctx, slowSeqWriter{seqWriter{w: w, seqs: &seqs}}, 0, func() {}, &res) }()
	ovfSend(t, o, 0, 5000)
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkAllInOrder(t, o, seqs, "wrote")
	if late := rd.Stats.Late.Load(); late != 0 {
		t.Errorf("%d packets written late", late)
	}
}

// slowSeqWriter takes 20µs a packet: slower than the kernel, so that the
// hot ring fills.
type slowSeqWriter struct{ seqWriter }

func (s slowSeqWriter) Write(p *packet.Packet) error {
	time.Sleep(20 * time.Microsecond)
	return s.seqWriter.Write(p)
}

func testOverflowRingOrderUnderLoad(t *testing.T) {
	o, rd := ovfOpen(t)
	var buf bytes.Buffer
	w, err := pcapfile.NewPcapWriter(&buf, 262144, 1)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	// A writer slower than the kernel, so that the hot ring fills.
	go func() {
		done <- rd.RunPasses(ctx, slowSeqWriter{seqWriter{w: w, seqs: &seqs}}, 0, func() {}, &capture.WriteResult{})
	}()
	ovfSend(t, o, 0, 5000)
	time.Sleep(100 * time.Millisecond) // the flusher's passes read the rest
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkAllInOrder(t, o, seqs, "read")
}

// checkAllInOrder wants every record the kernel took, some through the
// overflow ring, to have been read (or written: verb) in order.
func checkAllInOrder(t *testing.T, o *bpf.Objects, seqs []uint32, verb string) {
	t.Helper()
	c := ovfCounters(t, o)
	if c.Overflowed == 0 {
		t.Fatalf("kernel counters %+v: the overflow ring was never used", c)
	}
	if uint64(len(seqs)) != c.Sent {
		t.Fatalf("%s %d packets; kernel counters %+v", verb, len(seqs), c)
	}
	checkAscending(t, seqs)
	t.Logf("kernel %+v", c)
}

// checkAscending wants seqs in increasing order (gaps allowed: lost).
func checkAscending(t *testing.T, seqs []uint32) {
	t.Helper()
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("packet %d: seq %d after %d", i, seqs[i], seqs[i-1])
		}
	}
}
