package capture

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Options tune the reader. Zero values take the defaults.
type Options struct {
	PerCPUBuffer  int           // perf ring bytes per CPU; default 32 MiB, less with more than 2 CPUs (ScalePerCPU)
	Watermark     int           // bytes in a CPU's ring before a wakeup; default 1/8 of the ring (defaultWatermarkShare)
	FlushInterval time.Duration // how often pending records are read regardless; default 50ms
	// IdleFlushInterval is how often the rings are looked at once a look
	// found nothing new: a capture with no traffic then wakes that often,
	// and a lone packet after a quiet spell waits that long at most. It is
	// never below FlushInterval (the default).
	IdleFlushInterval time.Duration
	BatchPackets      int // packets per batch; default 1024
	BatchBytes        int // buffer bytes per batch; default 2 MiB
	Batches           int // batches in the pool; default 16
	// Lossy makes the reader drop (and count) packets when every batch is
	// held by the consumer, instead of waiting and letting the kernel ring
	// absorb the backlog.
	Lossy bool
	// Mmap reads the perf rings in place (mmapRings) instead of through
	// cilium/ebpf's perf.Reader: one copy of each packet instead of two.
	Mmap bool
	// HotBuffer is the size of each CPU's first perf ring when the reader
	// reads in place (Mmap) and PerCPUBuffer is at least 4 times as big:
	// the programs write there first and to the PerCPUBuffer ring (the
	// overflow ring, bpf.Config.Overflow) only what it refuses. 0 means
	// DefaultHotBuffer; negative, one ring per CPU.
	HotBuffer int
	// RingBufWakeup is the ring buffer's wakeup threshold in bytes, when
	// the programs write to one (bpf.Config.RingBuf; NewRingBufReader).
	RingBufWakeup int
}

// Default perf ring sizes: DefaultPerCPUBuffer per CPU, halved on
// machines with more CPUs until all the rings fit in DefaultTotalBuffer,
// but never below MinScaledPerCPU (ScalePerCPU). 32 MiB holds about 20 ms
// of a bulk TCP transfer's 64 KiB GSO frames at 13 Gbit/s (8 MiB lost 4%
// of one on a loaded 2-CPU machine, 32 MiB nothing: BENCHMARKS.md).
const (
	DefaultPerCPUBuffer = 32 << 20
	DefaultTotalBuffer  = 64 << 20
	MinScaledPerCPU     = 1 << 20
)

// defaultWatermarkShare: the reader is woken once a CPU's ring holds this
// share of it (Options.Watermark). A hot ring wakes at a quarter of it
// (NewReader). With one ring per CPU (a --perf-buffer under 16MiB), an
// eighth rather than a 32nd halved the capture's CPU and lost about as
// many during an in-process TCP stream to /dev/null (4-5 interleaved runs
// each):
// 8 MiB rings 340-455 ms against 700-1,270, lost 0-316 against 84-534;
// 2 MiB rings 845-1,100 ms against 1,870-2,230, lost 1.8-3.3% against
// 1.6-3.1%. Each wakeup costs a pass over the rings.
const defaultWatermarkShare = 8

// DefaultHotBuffer is the first perf ring's size per CPU (Options.HotBuffer)
// when the rings are at least 4 times as big. The kernel copies each
// packet into the ring where the last lap through it left cache lines: in
// a ring that fits in the CPU's cache that copy is cheap, in a 32 MiB one
// it misses on every line. A bulk TCP stream's 64 KiB GSO frames on veth
// cost the sending CPU twice as much to copy into 32 MiB rings as into
// 4 MiB ones (perf: skb_copy_bits' memcpy against the sender's own copy
// from user space, 0.40 against 0.20, one perf record -a run each; tcpdump
// with -B 65536: 0.88, with its default 2 MiB: 0.29). The big ring behind
// takes what the reader is too late for.
const DefaultHotBuffer = 4 << 20

// overflow reports whether the reader has a hot ring and an overflow ring
// per CPU (after defaults).
func (o *Options) overflow() bool {
	return o.Mmap && o.HotBuffer > 0 && o.PerCPUBuffer >= 4*o.HotBuffer
}

// UsesOverflow reports whether a reader with these options reads two perf
// rings per CPU, so that the programs must be loaded with
// bpf.Config.Overflow.
func (o Options) UsesOverflow() bool {
	o.defaults()
	return o.overflow()
}

// ScalePerCPU returns perCPU halved until cpus rings of that size fit in
// total bytes, or until it reaches MinScaledPerCPU. The kernel allocates
// every page of every CPU's ring up front, so a default that is right on
// a 2-CPU laptop would take gigabytes on a 96-CPU server; there the
// traffic is spread over more CPUs, and each ring needs less.
func ScalePerCPU(perCPU, total, cpus int) int {
	for perCPU/2 >= MinScaledPerCPU && cpus*perCPU > total {
		perCPU /= 2
	}
	return perCPU
}

// OnlineCPUs is the number of CPUs the perf rings are made for: one per
// CPU online (a CPU that is possible but offline gets none). It falls back
// to the possible CPUs, then to 1, if the kernel does not say.
func OnlineCPUs() int {
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		if n := countCPUList(strings.TrimSpace(string(b))); n > 0 {
			return n
		}
	}
	if n, err := ebpf.PossibleCPU(); err == nil && n > 0 {
		return n
	}
	return 1
}

// countCPUList counts the CPUs in a kernel CPU list such as "0-3,6,8-11";
// 0 if it does not parse.
func countCPUList(s string) int {
	n := 0
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return 0
		}
		n += b - a + 1
	}
	return n
}

func (o *Options) defaults() {
	if o.PerCPUBuffer <= 0 {
		o.PerCPUBuffer = ScalePerCPU(DefaultPerCPUBuffer, DefaultTotalBuffer, OnlineCPUs())
	}
	if o.Watermark <= 0 {
		o.Watermark = o.PerCPUBuffer / defaultWatermarkShare
	}
	if o.HotBuffer == 0 {
		o.HotBuffer = DefaultHotBuffer
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 50 * time.Millisecond
	}
	if o.BatchPackets <= 0 {
		o.BatchPackets = 1024
	}
	if o.BatchBytes < 2*bpf.MaxCapLen {
		o.BatchBytes = max(2<<20, 2*bpf.MaxCapLen)
	}
	if o.Batches <= 1 {
		o.Batches = 16
	}
}

// Reader reads capture records from the perf event array.
type Reader struct {
	rd    *perf.Reader // or
	mm    *mmapRings
	opts  Options
	clock *Clock
	Stats Stats
	pool  *batchPool

	closeOnce sync.Once
	direct    packet.Packet // RunDirect's packet being written
	lastStamp uint64        // RunDirect's newest stamp written, for Stats.Late
	rbd       rbDirect      // RunDirect's ring buffer state
	hdr       bpf.Record    // addRecord's, parsed
}

// NewReader opens the per-CPU perf rings of events, and of overflow when
// the options ask for an overflow ring (UsesOverflow; overflow is then
// not nil).
func NewReader(events, overflow *ebpf.Map, clock *Clock, opts Options) (*Reader, error) {
	opts.defaults()
	r := newPoolReader(opts)
	r.clock = clock
	var err error
	if opts.overflow() != (overflow != nil) {
		return nil, fmt.Errorf("open perf ring: overflow ring %v, but the options say %v", overflow != nil, opts.overflow())
	}
	hot := opts.overflow()
	switch {
	case !opts.Mmap:
		r.rd, err = perf.NewReaderWithOptions(events, opts.PerCPUBuffer, perf.ReaderOptions{Watermark: opts.Watermark})
	case hot:
		r.mm, err = openMmapRings(events, opts.HotBuffer, min(opts.Watermark, opts.HotBuffer/4), true)
		if err == nil {
			if err = r.mm.addRings(overflow, opts.PerCPUBuffer, opts.Watermark, false); err != nil {
				r.mm.close()
			}
		}
	default:
		r.mm, err = openMmapRings(events, opts.PerCPUBuffer, opts.Watermark, false)
	}
	if err != nil {
		return nil, fmt.Errorf("open perf ring: %w", err)
	}
	return r, nil
}

// NewRingBufReader reads the BPF ring buffer rb in place, through the
// same loop as the in-place perf reader; batches are sorted by time, so
// the tiny inversions between CPUs that race for the ring are put right.
func NewRingBufReader(rb *ebpf.Map, clock *Clock, opts Options) (*Reader, error) {
	opts.defaults()
	r := newPoolReader(opts)
	r.clock = clock
	var err error
	if r.mm, err = openRingBuf(rb, opts.RingBufWakeup); err != nil {
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	return r, nil
}

// newPoolReader makes a Reader with its batch pool but no rings (for
// NewReader, and for benchmarks of the path after the rings).
func newPoolReader(opts Options) *Reader {
	opts.defaults()
	return &Reader{opts: opts, clock: NewClock(), pool: newBatchPool(opts.Batches, opts.BatchPackets, opts.BatchBytes)}
}

// UseBell has the in-place reader wake at the programs' doorbell (the
// perf event array bell, armed by arm: bpf.Objects.ArmBell), so that its
// flusher can sleep while nothing comes rather than tick. Without an
// in-place reader, or if the bell's rings cannot be made, it does
// nothing and the flusher ticks.
func (r *Reader) UseBell(bell *ebpf.Map, arm func(on bool)) {
	if r.mm == nil || bell == nil {
		return
	}
	if err := r.mm.addBell(bell, arm); err != nil {
		r.mm.arm = nil // the rings made are closed with the others
	}
}

// PerCPUBuffer returns the size of each CPU's perf ring (what was asked
// for, rounded up to a power of two pages as the kernel wants), or 0 when
// the reader reads a BPF ring buffer.
func (r *Reader) PerCPUBuffer() int {
	if r.mm != nil && r.mm.rb != nil {
		return 0
	}
	page := os.Getpagesize()
	return page * ringPages(r.opts.PerCPUBuffer, page)
}

// Close releases the perf rings. Run closes them itself when it returns.
func (r *Reader) Close() error {
	var err error
	r.closeOnce.Do(func() {
		if r.mm != nil {
			r.mm.close()
			return
		}
		err = r.rd.Close()
	})
	return err
}

// flush makes the rings readable below the watermark (and wakes the reader).
func (r *Reader) flush() {
	if r.mm != nil {
		r.mm.flush()
		return
	}
	_ = r.rd.Flush()
}

// Run reads records until ctx is cancelled, sending batches of packets on
// out. When ctx is cancelled it reads what is still in the rings (detach the
// programs first so that the rings stop filling), sends it, closes the rings
// and returns nil. It never closes out: its owner does, after Run returns,
// and the consumer must receive (and Release) until then.
func (r *Reader) Run(ctx context.Context, out chan<- *Batch) error {
	defer r.Close()
	if r.mm != nil {
		// A Close from another goroutine waits for this, so that the rings
		// are unmapped only once neither the loop nor the flusher uses them
		// (deferred calls run last first: the flusher stops, then this).
		r.mm.running.Store(true)
		defer close(r.mm.stopped)
	}

	defer r.startFlusher(ctx)()

	var (
		rec   perf.Record
		batch *Batch
	)
	if r.mm != nil {
		return r.runMmap(ctx, out)
	}
	ship := func() { r.ship(out, &batch) }
	// final is set once we have asked for the last flush ourselves, after
	// seeing ctx done: only the ErrFlushed that answers it ends the loop. An
	// earlier one (a tick's) reflects ring positions read before the
	// programs were detached, and records written after it would be lost.
	final := false
	for {
		err := r.rd.ReadInto(&rec)
		switch {
		case err == nil: // the common case first: no errors.Is per record
		case errors.Is(err, perf.ErrFlushed):
			ship()
			if final {
				return nil
			}
			if ctx.Err() != nil {
				final = true
				_ = r.rd.Flush()
			}
			continue
		case errors.Is(err, perf.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
			ship()
			return nil
		case err != nil:
			ship()
			return fmt.Errorf("read perf ring: %w", err)
		}
		if rec.LostSamples > 0 {
			r.Stats.Lost.Add(rec.LostSamples)
			continue
		}
		r.addRecord(rec.RawSample, &batch, ship, nil)
	}
}

// startFlusher starts the goroutine that makes the rings readable below
// the watermark every FlushInterval, so a lone packet still shows, follows
// the realtime clock, and on cancellation asks for the final drain. When a
// tick finds the rings read to their heads and the reading loop holding
// nothing, it does not wake the loop; with a doorbell (UseBell) it then
// sleeps until the bell wakes the loop, else it ticks every
// IdleFlushInterval until something comes. The function it returns stops
// it and waits for it.
func (r *Reader) startFlusher(ctx context.Context) (stop func()) {
	var stopping sync.WaitGroup
	done := make(chan struct{})
	busy := r.opts.FlushInterval
	quiet := max(r.opts.IdleFlushInterval, busy)
	stopping.Add(1)
	go func() {
		defer stopping.Done()
		every := busy
		t := time.NewTicker(every)
		defer t.Stop()
		lastCal := time.Now()
		for {
			select {
			case <-t.C:
				if time.Since(lastCal) >= time.Second {
					r.clock.Calibrate()
					lastCal = time.Now()
				}
				next := busy
				switch {
				case r.mm == nil || !r.mm.idle():
					r.flush()
				case r.mm.arm != nil:
					t.Stop()
					woken, end := r.mm.sleep(ctx, done)
					if end {
						if ctx.Err() != nil {
							r.flush() // wake a blocked read
						}
						return
					}
					if woken {
						lastCal = time.Now() // the loop set the clock as it woke us
					}
					r.flush() // a backstop's tick, or something came as the bell was armed
					every = 0 // the ticker was stopped: reset it
				default:
					next = quiet
				}
				if next != every {
					every = next
					t.Reset(every)
				}
			case <-ctx.Done():
				r.flush() // wake a blocked read
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); stopping.Wait() }
}

// ship sends the batch, sorted by time (records of different CPUs
// interleave). It blocks while the consumer is busy.
func (r *Reader) ship(out chan<- *Batch, batch **Batch) {
	b := *batch
	if b == nil || len(b.Packets) == 0 {
		return
	}
	byTime := func(a, b packet.Packet) int { return cmp.Compare(a.Nanos, b.Nanos) }
	if !slices.IsSortedFunc(b.Packets, byTime) {
		slices.SortStableFunc(b.Packets, byTime)
	}
	r.Stats.Received.Add(uint64(len(b.Packets)))
	r.Stats.Bytes.Add(uint64(len(b.buf)))
	out <- b
	*batch = nil
}

// runMmap is Run's loop over mmapRings: each wakeup reads every ring to
// its head, so a batch holds what all CPUs wrote up to then.
func (r *Reader) runMmap(ctx context.Context, out chan<- *Batch) error {
	var batch *Batch
	ship := func() { r.ship(out, &batch) }
	lost := func(n uint64) { r.Stats.Lost.Add(n) }
	final := false
	for {
		flushed, err := r.mm.wait()
		if r.mm.closing.Load() {
			ship()
			return nil // closed under us: the rings are about to go
		}
		if err != nil {
			ship()
			return fmt.Errorf("read perf rings: %w", err)
		}
		rang, again := r.mm.answerBell(r.clock)
		r.mm.settled.Store(false)
		if r.mm.hot {
			// A CPU's records are in two rings: merge them by time, as
			// RunDirect does (the batch's sort puts only its own right).
			// The heads of the two are not read at the same instant: the
			// kernel may write a record to one just after its head was
			// read, then a later one to the other just before its head
			// is. Records stamped since the cutoff wait for the next pass.
			release := r.mm.release // once a pass, not a packet
			r.mergeRecords(r.mm.passCutoff(final), func(h *bpf.Record, payload []byte) { r.addParsed(h, payload, &batch, ship, release) })
		} else {
			for _, rg := range r.mm.rings {
				r.mm.drain(rg, func(raw []byte, commit func()) { r.addRecord(raw, &batch, ship, commit) }, lost)
			}
		}
		if r.mm.rb != nil {
			r.mm.rb.drain(func(raw []byte, commit func()) { r.addRecord(raw, &batch, ship, commit) })
		}
		if (rang || again) && !flushed {
			ship() // the first packets after a quiet spell show at once
		}
		if rang && !r.mm.drained() {
			r.mm.passAgain()
		}
		if flushed {
			ship()
			if final {
				return nil
			}
			if ctx.Err() != nil {
				// One more pass after our own flush, as with perf.Reader.
				final = true
				r.mm.flush()
			}
		}
		r.mm.settled.Store(batch == nil)
	}
}

// addRecord validates one raw sample and copies its packet into the batch,
// shipping the batch first when it is full (beforeShip, if set, runs just
// before: the mmap reader releases ring space there).
func (r *Reader) addRecord(raw []byte, batch **Batch, ship func(), beforeShip func()) {
	hdr := &r.hdr
	payload, err := bpf.ParseInto(hdr, raw)
	if err != nil {
		r.Stats.BadRecords.Add(1)
		return
	}
	r.addParsed(hdr, payload, batch, ship, beforeShip)
}

// addParsed is addRecord's second half, for a record already parsed.
func (r *Reader) addParsed(hdr *bpf.Record, payload []byte, batch **Batch, ship func(), beforeShip func()) {
	if *batch != nil && !(*batch).room(len(payload)) {
		if beforeShip != nil {
			beforeShip()
		}
		ship()
	}
	if *batch == nil {
		if *batch = r.getBatch(); *batch == nil {
			r.Stats.Dropped.Add(1)
			return
		}
	}
	p := (*batch).push(payload)
	p.Nanos = r.clock.WallNanos(hdr.KtimeNs)
	p.Ifindex, p.OrigLen = hdr.Ifindex, hdr.TotLen
	p.Dir, p.Hook = hdr.Dir, hdr.Hook
}

// getBatch takes a free batch, waiting for one unless the reader is lossy.
func (r *Reader) getBatch() *Batch {
	return r.pool.get(!r.opts.Lossy)
}
